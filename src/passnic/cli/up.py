"""`passnic up`: start the cloud on this machine."""

from __future__ import annotations

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
) -> None:
    """Start Passnic: migrate, create the sample cloud on first start, serve every API."""
    from passnic.server import prepare, serve

    settings = Settings(home=(home or default_home()).expanduser(), database_url=database_url)
    console = Console(stderr=True, soft_wrap=True)
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
    serve(settings, host, port, workers)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
