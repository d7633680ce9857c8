"""An operator sets up a new compute host's agent by hand: ``passnic agent config`` (admin)
writes its config with a fresh credential, ``passnic agent run`` on the host reports in and
heartbeats; a newer credential replaces the older one."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
import yaml

from passnic.agent.discovery import discover_host
from passnic.agent.fakesysfs import build_sample_compute_sysfs
from passnic.agent.host import AgentError, password_login
from passnic.inventory.sample import BOOTSTRAP
from tests.conftest import BIN, LiveCloud

pytestmark = pytest.mark.osc


def _config(live: LiveCloud, name: str) -> dict[str, str]:
    path = live.home / "by-hand" / name
    proc = live.passnic(
        "passnic-admin", "agent", "config", "compute-3", "--output", str(path),
        "--state-dir", str(live.home / "by-hand" / "state"),
        "--sysfs-root", str(live.home / "by-hand" / "sysfs"),
    )  # fmt: skip
    assert "wrote" in proc.stderr and "agent-compute-3" in proc.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    data: dict[str, str] = yaml.safe_load(path.read_text())
    data["path"] = str(path)
    return data


def _can_log_in(live: LiveCloud, cred: dict[str, str]) -> bool:
    login = password_login(f"{live.url}/identity", cred["username"], cred["password"], "service")
    try:
        with httpx.Client() as http:
            login(http)
    except AgentError:
        return False
    return True


def _up(live: LiveCloud, host: str) -> bool:
    rows = live.openstack_json("passnic-admin", "compute", "service", "list")
    return any(r["Host"] == host and r["State"] == "up" for r in rows)


def test_agent_config_then_run(live: LiveCloud) -> None:
    sysfs = build_sample_compute_sysfs(live.home / "by-hand" / "sysfs", 3)
    live.cloud.inventory.report_host(BOOTSTRAP, discover_host("compute-3", sysfs))  # host-add
    first = _config(live, "first.yaml")
    assert (first["hostname"], first["driver"]) == ("compute-3", "fake")
    second = _config(live, "second.yaml")
    assert not _can_log_in(live, first) and _can_log_in(live, second)
    assert not _up(live, "compute-3")

    agent = subprocess.Popen(
        [str(BIN / "passnic"), "agent", "run", "--config", second["path"]],
        env=live.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _up(live, "compute-3") and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _up(live, "compute-3")
    finally:
        agent.terminate()
        agent.wait(timeout=10)
    assert agent.returncode == 0
