"""`passnic up`: start the cloud on this machine."""

from __future__ import annotations

import errno
import socket
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from passnic.config import Settings, default_home

if TYPE_CHECKING:
    from rich.console import Console

LogLevel = Literal["debug", "info", "warning", "error"]


def up(
    port: Annotated[int, typer.Option(help="Port every API is served on.")] = 8999,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    home: Annotated[
        Path | None, typer.Option(help="State directory (default $PASSNIC_HOME).")
    ] = None,
    database_url: Annotated[
        str,
        typer.Option(envvar="PASSNIC_DATABASE_URL", help="SQLAlchemy URL; default SQLite."),
    ] = "",
    workers: Annotated[int, typer.Option(min=1, help="API worker processes.")] = 1,
    lab: Annotated[
        bool | None,
        typer.Option(
            "--lab/--no-lab",
            help="Data plane: the lab (QEMU guests or namespaces, a switch; needs root) or the "
            "fake hypervisor and in-process switch. Default: the lab when root with namespaces "
            "and one worker.",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            "--log-level",
            help="Logs on stderr: one line per request and per scheduling, switch and host "
            "decision (info), more with debug.",
        ),
    ] = "info",
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Same as --log-level debug.")] = (
        False
    ),
) -> None:
    """Start Passnic: migrate, create the sample cloud on first start, serve every API."""
    from rich.console import Console

    # the lab is wired in here, by the command that asks for it: the server knows nothing of it
    from passnic.lab.attach import give_back_lab_switch, lab_data_plane, lab_possible
    from passnic.lab.netns import LabError
    from passnic.server import prepare, serve

    # The environment's settings (token lifetime, lockout, body limit), with the options' home
    # and database on top.
    settings = replace(
        Settings.from_env(), home=(home or default_home()).expanduser(), database_url=database_url
    )
    console = Console(stderr=True, soft_wrap=True)
    # Before anything is written: a taken port or an unusable home must not leave a sample
    # cloud or a clouds.yaml pointing at someone else's server behind.
    problem = port_problem(host, port) or home_problem(settings.home)
    if problem:
        console.print(f"[red]{problem}[/red]", highlight=False)
        raise typer.Exit(2)
    fake_reason = _choose_lab(console, lab, workers, lab_possible)
    with console.status("Preparing the database..."):
        prepared = prepare(settings, host, port)
    if prepared.bootstrapped:
        console.print(
            "[green]Created the sample cloud[/green] (projects, users, hosts, data network)."
        )
    db = settings.database_url.split("@")[-1]
    console.print(f"Passnic on http://{host}:{port}  (database: {db})")
    console.print(f"Clouds: {prepared.clouds_yaml}")
    console.print(f"  export OS_CLIENT_CONFIG_FILE={prepared.clouds_yaml}")
    for cred in prepared.credentials:
        console.print(
            f"  openstack --os-cloud {cred.cloud} ...   passnic --os-cloud {cred.cloud} ..."
        )
    console.print("Ctrl-C stops it.")
    if fake_reason is not None and (line := give_back_lab_switch(settings)) is not None:
        console.print(line, highlight=False)
    try:
        serve(
            settings,
            host,
            port,
            workers,
            data_plane=(
                lab_data_plane(settings.home / "lab", prepared.agents)
                if fake_reason is None
                else None
            ),
            agents=prepared.agents,
            say=lambda line: console.print(line, highlight=False),
            fake_reason=fake_reason or "",
            log_level="debug" if verbose else log_level,
        )
    except LabError as exc:
        console.print(f"[red]The lab could not start: {exc}[/red]")
        raise typer.Exit(1) from None


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (None: it can), found by binding it as uvicorn
    will (SO_REUSEADDR, so a port in TIME_WAIT is fine and only a listener is a problem)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"Cannot listen on {host}: {exc.strerror}. Choose another --host."
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} on {host} is already in use (another Passnic?): stop it or "
                    "choose another --port."
                )
            return f"Cannot listen on {host}:{port}: {exc.strerror}."
    return None


def home_problem(home: Path) -> str | None:
    """Why ``home`` cannot hold Passnic's state (None: it can); creates it when missing."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError):  # mkdir: the path exists and is no directory
            reason = "it is not a directory"
        return f"Home {home} is unusable: {reason}. Choose another --home (or $PASSNIC_HOME)."
    return None


def _choose_lab(
    console: Console, lab: bool | None, workers: int, lab_possible: Callable[[], str | None]
) -> str | None:
    """--lab, --no-lab or auto (the lab when root with namespaces and a single worker).
    Returns None for the lab, else why the fake data plane, as `passnic up` prints it."""
    if lab is False:
        return "--no-lab"
    if workers > 1:
        if lab:
            console.print("[red]--lab needs a single worker: drop --workers or use --no-lab.[/red]")
            raise typer.Exit(2)
        console.print(f"No lab with --workers {workers}: the lab needs a single worker.")
        return f"--workers {workers}"
    reason = lab_possible()
    if reason is None:
        return None
    if lab:
        console.print(f"[red]--lab needs root and network namespaces: {reason}[/red]")
        raise typer.Exit(2)
    return reason


def register(app: typer.Typer) -> None:
    app.command("up")(up)
