"""Switch drivers: one interface, a netmiko driver for real switches and an in-process test
switch (`soft`).

A driver is declarative: `apply` takes the desired configuration of many ports and converges
them in one session (switch logins are slow and often limited to one at a time), saving the
configuration in that session when asked and answering what the ports were before; `read`
returns what the switch actually has, for the audit, and `save` makes the running configuration
survive a reboot. Failures raise `SwitchError`, worded for the operator and free of addresses and
credentials.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from passnic.errors import ServiceUnavailable
from passnic.fabric.portconfig import PortConfig


class SwitchError(ServiceUnavailable):
    """The switch could not be reached, refused a command, or did not do what it was told."""


class SwitchDriver(Protocol):
    def apply(
        self, ports: Mapping[str, PortConfig], *, save: bool = False
    ) -> dict[str, PortConfig]:
        """Make each named port match its desired configuration, in one session; with `save`,
        persist the configuration if anything changed. What the ports were before (those the
        switch has)."""

    def read(self, port_names: Iterable[str]) -> dict[str, PortConfig]:
        """The actual configuration of the named ports; ports the switch lacks are left out."""

    def save(self) -> None:
        """Persist the running configuration."""
