"""`passnic up` serves every API on one port, logs each request, stops cleanly on SIGTERM, and
refuses a taken port or an unusable home before it writes anything."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from passnic.cli.main import app
from passnic.cli.state import State
from passnic.server import Prepared
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
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "passnic up did not start"
                time.sleep(0.2)
        root = answer.json()
        request_id = answer.headers["x-openstack-request-id"]
        assert re.fullmatch(r"req-[0-9a-f-]{36}", request_id)
        assert set(root["services"]) == {
            "identity",
            "compute",
            "network",
            "image",
            "platform",
            "fabric",
            "host-agent",
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
    assert "Data plane: fake hypervisor and in-process switch (--no-lab)" in output
    # our request line, not uvicorn's access log
    line = next(line for line in output.splitlines() if request_id in line)
    assert re.search(
        r" INFO passnic\.request request method=GET path=/ status=200 duration_ms=[0-9.]+ "
        rf"request_id={request_id} user_id=- project_id=-$",
        line,
    ), line
    assert '"GET / HTTP/1.1"' not in output


def run_up(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PASSNIC_DATABASE_URL"}
    return subprocess.run(
        [str(BIN / "passnic"), "up", "--no-lab", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_up_on_a_taken_port_fails_before_writing_anything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_up("--port", str(port), "--home", str(home))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"Port {port} on 127.0.0.1 is already in use (another Passnic?): stop it or choose "
        "another --port."
    )
    assert proc.stdout == ""
    assert not home.exists()


def test_up_with_an_unusable_home_fails_before_writing_anything(tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a directory")
    proc = run_up("--port", str(free_port()), "--home", str(home / "home"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"Home {home / 'home'} is unusable: Not a directory. Choose another --home (or "
        "$PASSNIC_HOME)."
    )
    assert home.read_text() == "not a directory"
    proc = run_up("--port", str(free_port()), "--home", str(home))
    assert proc.returncode == 2
    assert "is unusable: it is not a directory." in proc.stderr


@pytest.mark.parametrize(
    ("flags", "level"),
    [
        ([], "info"),
        (["-v"], "debug"),
        (["--log-level", "error"], "error"),
        (["--verbose"], "debug"),
    ],
)
def test_log_level_and_verbose_reach_the_server(
    flags: list[str], level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}
    prepared = Prepared(tmp_path / "clouds.yaml", "", [], False, [])
    monkeypatch.setattr("passnic.server.prepare", lambda *_args: prepared)
    monkeypatch.setattr("passnic.server.serve", lambda *_args, **kw: served.update(kw))
    argv = ["up", "--no-lab", "--home", str(tmp_path), "--port", str(free_port()), *flags]
    result = CliRunner().invoke(app, argv, obj=State())
    assert result.exit_code == 0, result.output
    assert (served["log_level"], served["fake_reason"]) == (level, "--no-lab")
    assert served["data_plane"] is None
