"""The fake driver: records guests in memory and never touches hardware.

Its memory is per process: with several API workers each keeps its own record, so unknown
guests are tolerated. Tests make it fail on purpose with ``fail_next("spawn", "no hugepages
left")``: the next call of that operation raises ``HypervisorError`` with the message, once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from passnic.compute.hypervisor import GuestSpec, HypervisorError

OPERATIONS = ("spawn", "destroy", "power_off", "power_on", "reboot", "migrate_out", "migrate_in")


@dataclass
class FakeGuest:
    spec: GuestSpec
    state: str  # running | shutoff | migrated (left on the source of a cold migration)


class FakeDriver:
    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.guests: dict[str, FakeGuest] = {}
        #: every call, in order: (operation, server id)
        self.calls: list[tuple[str, str]] = []
        self._failures: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def fail_next(self, operation: str, message: str) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        with self._lock:
            self._failures.setdefault(operation, []).append(message)

    def _record(self, operation: str, server_id: str) -> None:
        with self._lock:
            self.calls.append((operation, server_id))
            pending = self._failures.get(operation)
            if pending:
                raise HypervisorError(pending.pop(0))

    def _set_state(self, server_id: str, state: str) -> None:
        # A guest spawned by another API worker process is unknown here: the fake only records.
        guest = self.guests.get(server_id)
        if guest is not None:
            guest.state = state

    def spawn(self, guest: GuestSpec) -> None:
        self._record("spawn", guest.server_id)
        self.guests[guest.server_id] = FakeGuest(guest, "running")

    def destroy(self, server_id: str) -> None:
        self._record("destroy", server_id)
        self.guests.pop(server_id, None)

    def power_off(self, server_id: str) -> None:
        self._record("power_off", server_id)
        self._set_state(server_id, "shutoff")

    def power_on(self, server_id: str) -> None:
        self._record("power_on", server_id)
        self._set_state(server_id, "running")

    def reboot(self, server_id: str, hard: bool) -> None:
        self._record("reboot", server_id)
        self._set_state(server_id, "running")

    def migrate_out(self, server_id: str) -> None:
        self._record("migrate_out", server_id)
        self._set_state(server_id, "migrated")

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        self._record("migrate_in", guest.server_id)
        self.guests[guest.server_id] = FakeGuest(guest, "running" if power_on else "shutoff")
