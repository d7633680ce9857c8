"""The CLI keeps its token between invocations (one sign-in, not one per command) and starts
without importing what only some commands need."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from passnic.cli.client import load_cloud_config, token_cache_dir
from tests.cli.fakecloud import ENV, FakeCloud
from tests.conftest import free_port

Run = Callable[..., Result]
SRC = Path(__file__).resolve().parents[2] / "src"


def _cache_file(tmp_path: Path, environ: dict[str, str] | None = None) -> Path:
    env = {**ENV, **(environ or {}), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return token_cache_dir(env) / f"{load_cloud_config(None, env).cache_key()}.json"


def test_second_invocation_reuses_the_token(run: Run, fake: FakeCloud, tmp_path: Path) -> None:
    assert run("host-list").exit_code == 0
    assert run("host-list").exit_code == 0
    assert len(fake.sent("POST", "/auth/tokens")) == 1
    # discovery is skipped too: the cached body has the catalog
    assert len([r for r in fake.requests if r.path.rstrip("/") == "/identity"]) == 1
    cached = _cache_file(tmp_path)
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert stat.S_IMODE(cached.parent.stat().st_mode) == 0o700
    assert json.loads(cached.read_text())["token"] == "tok-1"


def test_rejected_token_signs_in_again(run: Run, fake: FakeCloud, tmp_path: Path) -> None:
    assert run("host-list").exit_code == 0
    cached = _cache_file(tmp_path)
    data = json.loads(cached.read_text())
    cached.write_text(json.dumps({**data, "token": "revoked"}))
    result = run("host-list")
    assert result.exit_code == 0, result.output
    assert len(fake.sent("POST", "/auth/tokens")) == 2
    assert json.loads(cached.read_text())["token"] == "tok-1"


def test_expired_token_is_not_used(run: Run, fake: FakeCloud, tmp_path: Path) -> None:
    assert run("host-list").exit_code == 0
    cached = _cache_file(tmp_path)
    data = json.loads(cached.read_text())
    data["body"]["expires_at"] = "2001-01-01T00:00:00Z"
    cached.write_text(json.dumps(data))
    assert run("host-list").exit_code == 0
    assert len(fake.sent("POST", "/auth/tokens")) == 2


def test_each_user_and_project_has_its_own_token(tmp_path: Path) -> None:
    admin = _cache_file(tmp_path)
    other_project = _cache_file(tmp_path, {"OS_PROJECT_NAME": "project1"})
    other_user = _cache_file(tmp_path, {"OS_USERNAME": "user1"})
    other_cloud = _cache_file(tmp_path, {"OS_AUTH_URL": "http://elsewhere/identity"})
    assert len({admin, other_project, other_user, other_cloud}) == 4


PROBE = """
import atexit, sys
out = sys.argv.pop(1)
def dump():
    with open(out, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(dump)
from passnic.cli.main import main
main()
"""


def _imported(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules ``passnic <args>`` has loaded when it exits, in a clean process."""
    out = tmp_path / "modules.txt"
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        **(env or {}),
    }
    subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        capture_output=True,
        env=environ,
        cwd=tmp_path,
        timeout=120,
    )
    return set(out.read_text().split())


# (not pydantic: Typer itself imports it)
HEAVY = {
    "sqlalchemy",
    "fastapi",
    "argon2",
    "openstack",
    "keystoneauth1",
    "passnic.inventory.report",
}


def test_help_imports_no_http_client_output_or_server_code(tmp_path: Path) -> None:
    modules = _imported(tmp_path, "--help")
    assert "typer" in modules and "passnic.cli.inventory" in modules  # the probe works
    assert not (HEAVY | {"httpx", "yaml", "rich"}) & modules
    assert len(modules) < 300, len(modules)  # ~200 measured; a heavy import adds hundreds


def test_command_with_cached_token_imports_no_server_code(tmp_path: Path) -> None:
    """host-list with a cached token: the standard library's HTTP client (not httpx), no
    sign-in and no server-side code (the cloud here is a closed port, so the command fails
    after its one request)."""
    base = f"http://127.0.0.1:{free_port()}"
    env = {**ENV, "OS_AUTH_URL": f"{base}/identity", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    cached = token_cache_dir(env) / f"{load_cloud_config(None, env).cache_key()}.json"
    cached.parent.mkdir(parents=True)
    catalog = [
        {
            "type": "platform",
            "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": base}],
        }
    ]
    body = {"expires_at": "2099-01-01T00:00:00Z", "catalog": catalog}
    cached.write_text(json.dumps({"token": "t", "body": body}))
    modules = _imported(tmp_path, "host-list", env=env)
    assert "http.client" in modules
    assert not (HEAVY | {"httpx"}) & modules


def test_only_the_named_command_is_built() -> None:
    from passnic.cli.main import app, only_command

    def names(t: object) -> list[str]:
        return [c.callback.__name__ for c in t.registered_commands]  # type: ignore[attr-defined]

    assert names(only_command(app, ["--os-cloud", "x", "host-list", "-f", "json"])) == ["host_list"]
    agent = only_command(app, ["agent", "discover"])
    assert names(agent) == [] and [g.name for g in agent.registered_groups] == ["agent"]
    for argv in (["--help"], ["no-such-command"], []):
        assert only_command(app, argv) is app
    assert len(app.registered_commands) > 40  # the global app is left whole
