"""`passnic up` serves every API on one port and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import BIN, free_port


def test_up_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PASSNIC_DATABASE_URL"}
    proc = subprocess.Popen(
        [str(BIN / "passnic"), "up", "--port", str(port), "--home", str(home), "--no-lab"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                root = httpx.get(f"http://127.0.0.1:{port}/", timeout=1).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "passnic up did not start"
                time.sleep(0.2)
        assert set(root["services"]) == {
            "identity",
            "compute",
            "network",
            "image",
            "platform",
            "fabric",
        }
        clouds = yaml.safe_load((home / "clouds.yaml").read_text())["clouds"]
        assert set(clouds) == {"passnic-admin", "passnic-user1", "passnic-user2"}
        assert clouds["passnic-admin"]["auth"]["auth_url"] == f"http://127.0.0.1:{port}/identity"
        assert (home / "clouds.yaml").stat().st_mode & 0o077 == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "Created the sample cloud" in output
    assert "Data plane: fake hypervisor and in-process switch" in output
