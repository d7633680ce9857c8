"""`passnic demo` and `passnic lab-clean`: the StarlingX procedure on the lab, and removing
every trace of one lab (its domains, namespaces, interfaces, processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    keep_home: Annotated[
        bool, typer.Option(help="Keep the temporary PASSNIC_HOME (database, lab files).")
    ] = False,
) -> None:
    """Run the PCI-passthrough procedure end to end on a fresh cloud (a controller on a free
    loopback port, one agent process per compute host) and the lab; exit 0 only when all five
    checks hold. Needs root (network namespaces); the servers are QEMU guests when QEMU and
    libvirt are installed, else namespaces."""
    from rich.console import Console

    from passnic.lab.demo import run_demo

    result = run_demo(Console(soft_wrap=True), keep_home=keep_home)
    raise typer.Exit(0 if result.ok else 1)


def lab_clean(
    lab_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Lab directory (default $PASSNIC_HOME/lab)."),
    ] = None,
) -> None:
    """Remove the lab of a directory (a crashed one): its domains, namespaces, interfaces and
    processes, all named with the prefix it recorded there. Other labs are left alone."""
    from passnic.lab.attach import lab_clean as clean
    from passnic.lab.demo import default_lab_dir

    removed = clean(lab_dir or default_lab_dir())
    for line in removed:
        typer.echo(f"removed {line}")
    if not removed:
        typer.echo("nothing to remove")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("lab-clean")(lab_clean)
