"""Hypervisor drivers: what a host agent runs to start, stop and move guests.

A driver manages the guests of ONE host. The controller never calls a driver directly; it calls
that host's agent (``passnic.compute.agents``), which runs the driver chosen for the host.

Every call either completes or raises ``HypervisorError`` with a sentence for the operator; the
compute service then records it as the server's fault and gives back what it had claimed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class HypervisorError(Exception):
    """A driver could not do what it was asked; the message is shown as the server's fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class GuestDevice:
    """A whole PCI function handed to the guest (libvirt ``<hostdev mode='subsystem'>``)."""

    pci_address: str
    vendor_id: str
    product_id: str
    mac: str


@dataclass(frozen=True)
class GuestSpec:
    """Everything a host needs to define a guest."""

    server_id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    image_id: str | None
    devices: tuple[GuestDevice, ...] = field(default_factory=tuple)


class HypervisorDriver(Protocol):
    def spawn(self, guest: GuestSpec) -> None:
        """Define the guest with its devices and start it."""

    def destroy(self, server_id: str) -> None:
        """Stop and undefine the guest, giving its devices back to the host. Idempotent."""

    def power_off(self, server_id: str) -> None: ...

    def power_on(self, server_id: str) -> None: ...

    def reboot(self, server_id: str, hard: bool) -> None: ...

    def migrate_out(self, server_id: str) -> None:
        """Cold migration, source side: stop the guest and detach its devices, keeping its
        definition so a revert can start it again here (``migrate_in`` with the old spec)."""

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        """Cold migration, destination side (or source side on revert): define the guest with
        the devices claimed here and start it unless it was stopped before the move."""


DriverFactory = Callable[[str], HypervisorDriver]
"""hostname -> a driver for that host."""


def driver_factory(name: str) -> DriverFactory:
    """The driver class registered under ``name`` (``fake`` is the only one shipped)."""
    if name == "fake":
        from passnic.compute.hypervisor.fake import FakeDriver

        return FakeDriver
    raise ValueError(f"unknown hypervisor driver {name!r}; known: fake")
