"""The ``passnic`` command: one Typer app assembled from a table of command modules.

Each entry names a module and either its ``register(app)`` function or a Typer sub-app to mount.
Modules are imported by name so a missing optional part (the host agent on a slim install)
costs only its own commands, with a clear message when one of them is used.
"""

from __future__ import annotations

import copy
import importlib
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from passnic.cli.client import CliError
from passnic.cli.state import State, get_state


@dataclass(frozen=True)
class CommandSource:
    """``module:attr``: a ``register(app)`` function, or, with ``mount``, a Typer app mounted
    as that sub-command."""

    module: str
    attr: str = "register"
    mount: str | None = None


COMMAND_SOURCES = (
    CommandSource("passnic.cli.inventory"),
    CommandSource("passnic.cli.compute"),
    CommandSource("passnic.cli.fabric"),
    CommandSource("passnic.cli.up"),
    CommandSource("passnic.cli.lab"),
    CommandSource("passnic.agent.cli", "agent_app", mount="agent"),
)


class PassnicGroup(TyperGroup):
    """Turns a CliError from any command (sub-apps included) into its message on stderr and
    exit status 1: operators get the server's words, not a traceback."""

    def invoke(self, ctx: Any) -> Any:  # Any: typer's vendored click Context is private
        try:
            return super().invoke(ctx)
        except CliError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(1) from None


# Help is Click's plain text, not Rich's panels: importing Rich and laying out every command
# costs about as much as the rest of the start-up together, and `passnic --help` is typed often.
app = typer.Typer(
    name="passnic",
    cls=PassnicGroup,
    help="Passnic: VMs with PCI passthrough NICs on VLAN project networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    os_cloud: Annotated[
        str | None,
        typer.Option(
            "--os-cloud",
            envvar="OS_CLOUD",
            help="Cloud name in clouds.yaml (as for the openstack CLI).",
        ),
    ] = None,
) -> None:
    state = get_state(ctx)
    if os_cloud:
        state.cloud_name = os_cloud
    ctx.call_on_close(state.close)


def _missing(source: CommandSource, error: ImportError) -> typer.Typer:
    """A stand-in sub-app that explains why its commands are unavailable."""
    stub = typer.Typer(
        help=f"(unavailable: {source.module} cannot be imported)", rich_markup_mode=None
    )

    @stub.callback(invoke_without_command=True)
    def _unavailable() -> None:
        raise CliError(f"'{source.mount}' is unavailable: {error}")

    return stub


def _is_missing(error: ModuleNotFoundError, module: str) -> bool:
    """True when ``module`` itself (or a parent package) is absent, not when it is present but
    one of its own imports fails: that is a bug to surface, not to hide."""
    return error.name is not None and (module == error.name or module.startswith(error.name + "."))


def load_commands(
    target: typer.Typer, sources: tuple[CommandSource, ...] = COMMAND_SOURCES
) -> None:
    for source in sources:
        try:
            found = getattr(importlib.import_module(source.module), source.attr)
        except ModuleNotFoundError as exc:
            if not _is_missing(exc, source.module):
                raise
            if source.mount:
                target.add_typer(_missing(source, exc), name=source.mount)
            continue
        if source.mount:
            target.add_typer(found, name=source.mount)
        else:
            found(target)


load_commands(app)


def _command_named(argv: list[str]) -> str | None:
    """The sub-command ``argv`` runs: its first word that is not a root option."""
    words = iter(argv)
    for word in words:
        if word == "--os-cloud":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def only_command(full: typer.Typer, argv: list[str]) -> typer.Typer:
    """``full`` reduced to the one command (or sub-app) ``argv`` names, when it names one.

    Typer turns every registered function into a Click command (type hints, signatures)
    before it runs any: about 20 ms each, 50 commands. A command only needs itself; help and
    mistyped names keep the whole app, so they still list everything."""
    name = _command_named(argv)
    if name is None:
        return full
    commands = [
        c
        for c in full.registered_commands
        if (c.name or typer.main.get_command_name(getattr(c.callback, "__name__", ""))) == name
    ]
    groups = [g for g in full.registered_groups if g.name == name]
    if not commands and not groups:
        return full
    reduced = copy.copy(full)
    reduced.registered_commands, reduced.registered_groups = commands, groups
    return reduced


def main() -> None:
    only_command(app, sys.argv[1:])(prog_name="passnic", obj=State())
