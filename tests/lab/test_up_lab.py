"""`passnic up` puts its data plane on the lab when it can (root, namespaces), says which,
and leaves no lab namespace, interface or process behind when it stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from passnic.agent.host import password_login
from passnic.lab import netns
from passnic.lab.attach import NAMESPACE_DRIVER
from passnic.lab.topology import Lab, read_prefix
from tests.conftest import BIN, free_port

LAB_LINE = re.compile(
    r"Data plane: lab (pn-[0-9a-f]{4}-)\* \((.*)\), switch tor-1 over SSH at (\S+)"
)
SAMPLE_HOSTS = ("compute-0", "compute-1", "compute-2")
FAKE_LINE = "Data plane: fake hypervisor and in-process switch (--no-lab)"


@dataclass
class Stopped:
    returncode: int
    output: str
    switch: dict[str, Any] | None
    #: the compute hosts whose agent reported in (nova-compute up)
    hosts_up: set[str]
    #: each agent's hypervisor driver, from its config file
    drivers: dict[str, str]


def _admin_token(base: str, home: Path) -> str:
    auth = yaml.safe_load((home / "clouds.yaml").read_text())["clouds"]["passnic-admin"]["auth"]
    login = password_login(
        f"{base}/identity", auth["username"], auth["password"], auth["project_name"]
    )
    with httpx.Client(timeout=10) as http:
        return login(http)


def _hosts_up(base: str, headers: dict[str, str], hostnames: set[str]) -> set[str]:
    """The hosts whose agents reported in, once all of `hostnames` have or after 30 s."""
    deadline = time.monotonic() + 30
    while True:
        resp = httpx.get(f"{base}/compute/v2.1/os-services", headers=headers, timeout=10)
        assert resp.status_code == 200, resp.text
        up = {s["host"] for s in resp.json()["services"] if s["state"] == "up"}
        if hostnames <= up or time.monotonic() > deadline:
            return up
        time.sleep(0.2)


def run_up(home: Path, *flags: str, during: Callable[[str], None] | None = None) -> Stopped:
    """Start `passnic up`, wait until it answers and its agents reported in, read tor-1
    through the API, run `during` (given the base URL), SIGTERM it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PASSNIC_DATABASE_URL"}
    proc = subprocess.Popen(
        [str(BIN / "passnic"), "up", "--port", str(port), "--home", str(home), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    switch = None
    hosts_up: set[str] = set()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "passnic up did not start"
                time.sleep(0.2)
        headers = {"X-Auth-Token": _admin_token(base, home)}
        resp = httpx.get(f"{base}/fabric/v1/switches/tor-1", headers=headers, timeout=10)
        assert resp.status_code == 200, resp.text
        switch = resp.json()["switch"]
        hosts_up = _hosts_up(base, headers, set(SAMPLE_HOSTS))
        if during is not None:
            during(base)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    drivers = {
        path.stem: yaml.safe_load(path.read_text())["driver"]
        for path in (home / "agents").glob("*.yaml")
    }
    return Stopped(proc.returncode, output, switch, hosts_up, drivers)


def test_up_runs_on_the_lab_and_removes_it_on_sigterm(lab_prefix: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = run_up(home)
    assert first.returncode == 0, first.output
    found = LAB_LINE.search(first.output)
    assert found, first.output
    assert first.switch is not None
    assert first.switch["driver"] == "cisco_ios"
    assert first.switch["address"] == found.group(3)
    # each host's agent is a process running the lab's hypervisor, and it reported in
    qemu = found.group(2).startswith("QEMU")
    assert first.drivers == dict.fromkeys(SAMPLE_HOSTS, "libvirt" if qemu else NAMESPACE_DRIVER)
    assert first.hosts_up == set(SAMPLE_HOSTS)
    assert netns.leftovers(found.group(1)) == []
    assert not (home / "lab" / "lab.pid").exists()

    # a restart on the same home repoints tor-1 at the new lab switch
    second = run_up(home, "--lab")
    assert second.returncode == 0, second.output
    again = LAB_LINE.search(second.output)
    assert again, second.output
    assert second.switch is not None
    assert second.switch["driver"] == "cisco_ios"
    assert second.switch["address"] == again.group(3)
    assert [p["name"] for p in second.switch["ports"]] == [p["name"] for p in first.switch["ports"]]
    assert second.hosts_up == set(SAMPLE_HOSTS)
    assert netns.leftovers(again.group(1)) == []


def test_up_no_lab_uses_the_fake_data_plane(lab_prefix: str, tmp_path: Path) -> None:
    stopped = run_up(tmp_path / "home", "--no-lab")
    assert stopped.returncode == 0, stopped.output
    assert FAKE_LINE in stopped.output
    assert stopped.switch is not None
    assert stopped.switch["driver"] == "soft"  # the in-process switch
    assert stopped.drivers == dict.fromkeys(SAMPLE_HOSTS, "fake")
    assert stopped.hosts_up == set(SAMPLE_HOSTS)
    assert netns.leftovers(lab_prefix) == []


def test_up_lab_refuses_several_workers(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "passnic"), "up", "--lab", "--workers", "2", "--home", str(tmp_path / "h")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--lab needs a single worker" in proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="checks the message a non-root user sees")
def test_up_lab_needs_root(tmp_path: Path) -> None:  # pragma: no cover - root here
    proc = subprocess.run(
        [str(BIN / "passnic"), "up", "--lab", "--home", str(tmp_path / "h")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--lab needs root" in proc.stderr


@pytest.mark.parametrize(
    ("flag", "workers", "reason", "expected"),
    [
        (None, 1, None, None),
        (None, 1, "not root", "not root"),
        (None, 3, None, "--workers 3"),
        (False, 1, None, "--no-lab"),
        (True, 1, None, None),
    ],
)
def test_choosing_the_data_plane(
    flag: bool | None, workers: int, reason: str | None, expected: str | None
) -> None:
    """None is the lab; otherwise the reason `passnic up` prints for the fake data plane."""
    from rich.console import Console

    from passnic.cli.up import _choose_lab

    console = Console(record=True, width=200)
    assert _choose_lab(console, flag, workers, lambda: reason) == expected
    if workers > 1:
        assert "the lab needs a single worker" in console.export_text()


def test_a_lab_run_beside_passnic_up_leaves_its_lab_intact(lab_prefix: str, tmp_path: Path) -> None:
    """What a lab test does (build a lab, tear it down, clean up after itself) while a
    `passnic up` lab runs: the up lab keeps every namespace and interface it had."""
    home = tmp_path / "home"
    seen: dict[str, list[str]] = {}

    def beside(_base: str) -> None:
        up_prefix = read_prefix(home / "lab")
        assert up_prefix is not None and up_prefix != lab_prefix
        seen["before"] = netns.leftovers(up_prefix)
        with Lab(tmp_path / "other", prefix=lab_prefix):
            assert netns.leftovers(lab_prefix)
        netns.cleanup(lab_prefix, tmp_path / "other")
        seen["after"] = netns.leftovers(up_prefix)

    stopped = run_up(home, "--lab", during=beside)
    assert stopped.returncode == 0, stopped.output
    assert seen["before"] and seen["after"] == seen["before"]
    assert netns.leftovers(lab_prefix) == []
