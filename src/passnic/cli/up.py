"""`passnic up`: start the cloud on this machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from passnic.config import Settings, default_home


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
            help="Data plane: the lab (namespaces pn-*, needs root) or the fake hypervisor and "
            "in-process switch. Default: the lab when root with namespaces and one worker.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start Passnic: migrate, create the sample cloud on first start, serve every API."""
    from passnic.lab.netns import LabError
    from passnic.server import lab_possible, prepare, serve

    # The environment's settings (token lifetime, lockout, body limit), with the options' home
    # and database on top.
    settings = replace(
        Settings.from_env(), home=(home or default_home()).expanduser(), database_url=database_url
    )
    console = Console(stderr=True, soft_wrap=True)
    use_lab = _choose_lab(console, lab, workers, lab_possible)
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
    try:
        serve(
            settings,
            host,
            port,
            workers,
            lab=use_lab,
            say=lambda line: console.print(line, highlight=False),
        )
    except LabError as exc:
        console.print(f"[red]The lab could not start: {exc}[/red]")
        raise typer.Exit(1) from None


def _choose_lab(
    console: Console, lab: bool | None, workers: int, lab_possible: Callable[[], str | None]
) -> bool:
    """--lab, --no-lab or auto (the lab when root with namespaces and a single worker)."""
    if lab is False:
        return False
    if workers > 1:
        if lab:
            console.print("[red]--lab needs a single worker: drop --workers or use --no-lab.[/red]")
            raise typer.Exit(2)
        console.print(f"No lab with --workers {workers}: the lab needs a single worker.")
        return False
    reason = lab_possible()
    if reason is None:
        return True
    if lab:
        console.print(f"[red]--lab needs root and network namespaces: {reason}[/red]")
        raise typer.Exit(2)
    return False


def register(app: typer.Typer) -> None:
    app.command("up")(up)
