"""Hypervisor drivers: what a host agent runs to start, stop and move guests.

A driver manages the guests of ONE host and runs only inside that host's agent
(``passnic.agent.host``), never in the controller. Its state lives in the hypervisor (or, for
the test and lab drivers, in the agent's state directory), so an agent that restarts finds its
guests again: guests outlive their agent.

Every call either completes or raises ``HypervisorError`` with a sentence for the operator; the
agent reports it and the controller records it as the server's fault.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, Literal, Protocol

from passnic.compute.protocol import GuestSpec

#: what a driver says of a guest it has
GuestState = Literal["running", "stopped", "parked"]


class HypervisorError(Exception):
    """A driver could not do what it was asked; the message is shown as the server's fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HypervisorDriver(Protocol):
    def guests(self) -> dict[str, GuestState]:
        """Every guest this host has, by server id."""

    def spawn(self, guest: GuestSpec) -> None:
        """Define the guest with its devices and start it."""

    def destroy(self, server_id: str) -> None:
        """Stop and undefine the guest, giving its devices back to the host. Idempotent."""

    def power_off(self, server_id: str) -> None: ...

    def power_on(self, server_id: str) -> None: ...

    def reboot(self, server_id: str, hard: bool) -> None: ...

    def migrate_out(self, server_id: str) -> None:
        """Cold migration, source side: stop the guest and detach its devices, keeping its
        definition and disk so a revert can start it again here (it is then ``parked``)."""

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        """Cold migration, destination side (or source side on revert): define the guest with
        the devices claimed here and start it unless it was stopped before the move."""

    def console(self, server_id: str) -> str:
        """What the guest printed on its console (empty when it has none)."""

    def prerequisites(self) -> list[str]:
        """Why this host cannot run passthrough guests, one sentence each (empty when it
        can). The agent reports them with its inventory; the scheduler avoids such a host."""

    def disk_file(self, server_id: str) -> Path | None:
        """Where the guest's own disk lives on this host, or None when it has none to move.
        A cold migration copies this file: the source's agent uploads it once the guest is
        parked, the destination's agent writes it to the same place on its host before it
        calls ``migrate_in``, which must then keep it."""


#: driver name -> "module:class"; each class is built as
#: ``cls(hostname, state_dir, options, images)`` where ``images`` is the agent's
#: ``ImageSource`` (``passnic.agent.images``: Glance with the agent's token; None in tests).
#: Imported by name so the agent loads only the driver it runs.
DRIVERS = {
    "fake": "passnic.agent.drivers.fake:FakeDriver",
    "libvirt": "passnic.agent.drivers.libvirt:LibvirtDriver",
}


def load_driver(
    name: str, hostname: str, state_dir: Path, options: dict[str, Any], images: Any = None
) -> Any:
    """The driver ``name`` for ``hostname``: one of `DRIVERS`, or a driver from outside the
    agent given as ``module:Class`` (the lab's namespace driver); ValueError when there is
    no such driver. `images` is the agent's Glance access (`passnic.agent.images`)."""
    module, colon, cls = DRIVERS.get(name, name).partition(":")
    if not colon:
        raise ValueError(f"unknown hypervisor driver {name!r}; known: {', '.join(DRIVERS)}")
    try:
        driver = getattr(import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"unknown hypervisor driver {name!r}: {exc}") from exc
    return driver(hostname, state_dir, options, images)
