"""The assembled ``passnic`` app: --os-cloud/OS_CLOUD reach the client, command modules come from
one table, and every CliError (sub-apps included) ends as a message on stderr with exit 1."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import httpx
import pytest
import typer
import yaml
from typer.testing import CliRunner

from passnic.cli.client import CliError
from passnic.cli.main import CommandSource as Source
from passnic.cli.main import PassnicGroup, app, load_commands
from passnic.cli.state import State
from tests.cli.fakecloud import BASE, FakeCloud

runner = CliRunner()


def clouds_yaml(tmp_path: Path) -> Path:
    auth = {
        "auth_url": f"{BASE}/identity",
        "username": "admin",
        "password": "secret",
        "project_name": "admin",
    }
    data = {"clouds": {"lab": {"auth": auth, "region_name": "RegionOne"}, "other": {"auth": {}}}}
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_os_cloud_option_selects_the_cloud(tmp_path: Path) -> None:
    fake = FakeCloud()
    state = State(
        transport=fake.transport, environ={"OS_CLIENT_CONFIG_FILE": str(clouds_yaml(tmp_path))}
    )
    result = runner.invoke(app, ["--os-cloud", "lab", "host-list", "-f", "value"], obj=state)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 compute-0 worker")
    auth = fake.sent("POST", "/auth/tokens")[0].body["auth"]
    assert auth["identity"]["password"]["user"]["name"] == "admin"


def test_os_cloud_variable_selects_the_cloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLOUD", "lab")
    fake = FakeCloud()
    state = State(
        transport=fake.transport, environ={"OS_CLIENT_CONFIG_FILE": str(clouds_yaml(tmp_path))}
    )
    assert runner.invoke(app, ["host-list"], obj=state).exit_code == 0
    assert state.cloud_name == "lab"


def test_configuration_errors_are_one_line_on_stderr(tmp_path: Path) -> None:
    state = State(environ={"OS_CLIENT_CONFIG_FILE": str(clouds_yaml(tmp_path))})
    result = runner.invoke(app, ["--os-cloud", "nosuch", "host-list"], obj=state)
    assert result.exit_code == 1
    assert result.stderr.startswith("Cloud nosuch was not found in ")
    assert "Traceback" not in result.output


def test_connection_refused_is_reported_with_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    env = {"OS_AUTH_URL": "http://127.0.0.1:1/identity", "OS_USERNAME": "a", "OS_PASSWORD": "b"}
    env["OS_PROJECT_NAME"] = "c"
    state = State(transport=httpx.MockTransport(refuse), environ=env)
    result = runner.invoke(app, ["host-list"], obj=state)
    assert result.exit_code == 1
    assert "Unable to connect to http://127.0.0.1:1/identity: connection refused" in result.stderr


def test_registered_command_modules() -> None:
    names = {c.name for c in typer.main.get_command(app).commands.values()}  # type: ignore[attr-defined]
    assert {"host-list", "host-if-modify", "interface-datanetwork-assign", "up", "agent"} <= names


def _module(name: str, monkeypatch: pytest.MonkeyPatch, **attrs: object) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_command_table_registers_mounts_and_stubs_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    sub = typer.Typer()

    @sub.command()
    def boom() -> None:
        raise CliError("sub-app refused")

    def register(target: typer.Typer) -> None:
        target.command("hello")(lambda: typer.echo("hi"))

    _module("fake_cmds", monkeypatch, register=register)
    _module("fake_sub", monkeypatch, sub=sub)
    target = typer.Typer(cls=PassnicGroup)
    load_commands(
        target,
        (
            Source("fake_cmds"),
            Source("fake_sub", "sub", mount="sub"),
            Source("passnic_no_such_module", "agent_app", mount="gone"),
            Source("passnic_no_such_module_either"),
        ),
    )
    assert runner.invoke(target, ["hello"]).stdout == "hi\n"
    result = runner.invoke(target, ["sub", "boom"])
    assert (result.exit_code, result.stderr) == (1, "sub-app refused\n")
    result = runner.invoke(target, ["gone"])
    assert result.exit_code == 1
    assert "'gone' is unavailable: No module named 'passnic_no_such_module'" in result.stderr


def test_a_broken_import_inside_a_present_module_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "half_broken.py").write_text("import passnic_dependency_that_is_missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError):
        load_commands(typer.Typer(), (Source("half_broken"),))


@pytest.mark.parametrize("command", [["host-if-list"], ["up"], []])
def test_flags_read_as_flags_in_help(command: list[str]) -> None:
    """Plain help: a flag shows no type (Rich's showed ``<bool>``, as if ``--all`` wanted an
    argument); an option that takes a value shows its type."""
    result = runner.invoke(app, [*command, "--help"], obj=State(), terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output
    assert "--workers <int range>" in runner.invoke(app, ["up", "--help"], obj=State()).output
