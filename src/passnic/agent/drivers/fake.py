"""The fake driver: keeps its guests in a JSON file and never touches hardware.

It is what the sample cloud runs where the lab cannot (not root, no namespaces) and what tests
run. Its guests live in the agent's state directory, so like real guests they outlive an agent
that is killed. Tests make it fail on purpose with ``fail_next("spawn", "no hugepages left")``:
the next call of that operation raises ``HypervisorError`` with the message, once (a file
``fail-next.json`` in the state directory does the same for an agent in another process), and
the option ``delay`` makes every operation take that many seconds. ``lldp.json`` in the state
directory says what the host's NICs hear over LLDP.

With a state directory each guest has a small disk file (``disks/<server id>``, a line per
boot) that a cold migration carries to the destination as a real disk would be; the option
``prerequisites`` (a list of sentences) makes the host report that it lacks passthrough.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, cast

from passnic.agent.drivers import GuestState, HypervisorError
from passnic.agent.lldp import Neighbour
from passnic.compute.protocol import GuestSpec

OPERATIONS = ("spawn", "destroy", "power_off", "power_on", "reboot", "migrate_out", "migrate_in")


class FakeDriver:
    def __init__(
        self,
        hostname: str,
        state_dir: Path | None = None,
        options: dict[str, Any] | None = None,
        images: Any = None,
    ) -> None:
        self.hostname = hostname
        self.state_dir = state_dir
        #: every call, in order: (operation, server id)
        self.calls: list[tuple[str, str]] = []
        self._failures: dict[str, list[str]] = {}
        #: seconds each operation takes (option ``delay``): a crash test's window
        self.delay = float((options or {}).get("delay", 0))
        self._lacks = [str(r) for r in (options or {}).get("prerequisites", [])]
        self._lock = threading.Lock()
        self._guests: dict[str, dict[str, Any]] = self._load()

    # ---- state on disk ----

    def _file(self, name: str) -> Path | None:
        return self.state_dir / name if self.state_dir is not None else None

    def _load(self) -> dict[str, dict[str, Any]]:
        path = self._file("fake-guests.json")
        if path is None or not path.exists():
            return {}
        data: dict[str, dict[str, Any]] = json.loads(path.read_text())
        return data

    def _save(self) -> None:
        path = self._file("fake-guests.json")
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._guests))
        os.replace(tmp, path)

    # ---- LLDP ----

    def lldp_neighbours(self) -> dict[str, Neighbour]:
        """What the host's NICs hear: ``lldp.json`` in the state directory (``{ifname:
        {"chassis_id", "port_id", "system_name"}}``), which tests write and rewrite."""
        path = self._file("lldp.json")
        if path is None or not path.exists():
            return {}
        return {name: Neighbour(**n) for name, n in json.loads(path.read_text()).items()}

    # ---- failures on purpose ----

    def fail_next(self, operation: str, message: str) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        with self._lock:
            self._failures.setdefault(operation, []).append(message)

    def _record(self, operation: str, server_id: str) -> None:
        with self._lock:
            self.calls.append((operation, server_id))
            path = self._file("fail-next.json")
            if path is not None and path.exists():
                for op, message in json.loads(path.read_text()).items():
                    self._failures.setdefault(op, []).append(message)
                path.unlink()
            pending = self._failures.get(operation)
            if pending:
                raise HypervisorError(pending.pop(0))
        if self.delay:
            time.sleep(self.delay)

    # ---- the driver ----

    def guests(self) -> dict[str, GuestState]:
        return {sid: cast(GuestState, g["state"]) for sid, g in self._guests.items()}

    def _define(self, guest: GuestSpec, state: GuestState) -> None:
        disk = self.disk_file(guest.server_id)
        if disk is not None:  # kept when it is there: a revert, or a disk copied here
            disk.parent.mkdir(parents=True, exist_ok=True)
            with open(disk, "a") as handle:
                handle.write(f"defined on {self.hostname}\n")
        old = self._guests.get(guest.server_id, {})
        console = old.get("console", "") + _boot_lines(guest) if state == "running" else ""
        self._guests[guest.server_id] = {
            "spec": guest.model_dump(mode="json"),
            "state": state,
            "console": console or old.get("console", ""),
        }
        self._save()

    def _set(self, server_id: str, state: GuestState) -> None:
        guest = self._guests.get(server_id)
        if guest is None:
            raise HypervisorError(f"no guest {server_id} on {self.hostname}")
        guest["state"] = state
        if state == "running":
            guest["console"] += _boot_lines(GuestSpec.model_validate(guest["spec"]))
        self._save()

    def spawn(self, guest: GuestSpec) -> None:
        self._record("spawn", guest.server_id)
        self._define(guest, "running")

    def destroy(self, server_id: str) -> None:
        self._record("destroy", server_id)
        if self._guests.pop(server_id, None) is not None:
            self._save()
        disk = self.disk_file(server_id)
        if disk is not None:
            disk.unlink(missing_ok=True)

    def power_off(self, server_id: str) -> None:
        self._record("power_off", server_id)
        self._set(server_id, "stopped")

    def power_on(self, server_id: str) -> None:
        self._record("power_on", server_id)
        self._set(server_id, "running")

    def reboot(self, server_id: str, hard: bool) -> None:
        self._record("reboot", server_id)
        self._set(server_id, "running")

    def migrate_out(self, server_id: str) -> None:
        self._record("migrate_out", server_id)
        self._set(server_id, "parked")

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        self._record("migrate_in", guest.server_id)
        self._define(guest, "running" if power_on else "stopped")

    def spec(self, server_id: str) -> GuestSpec:
        """The spec a guest was last defined with (for tests)."""
        return GuestSpec.model_validate(self._guests[server_id]["spec"])

    def console(self, server_id: str) -> str:
        guest = self._guests.get(server_id)
        return str(guest["console"]) if guest is not None else ""

    def prerequisites(self) -> list[str]:
        return list(self._lacks)

    def disk_file(self, server_id: str) -> Path | None:
        return self.state_dir / "disks" / server_id if self.state_dir is not None else None


def _boot_lines(guest: GuestSpec) -> str:
    """What the fake guest 'prints' when it starts: its NICs by MAC, with their addresses."""
    lines = [f"Passnic fake guest {guest.name} ({guest.server_id}) started"]
    addresses: dict[str, list[str]] = {}
    data = guest.network_data or {}
    by_link = {
        link.get("id"): str(link.get("ethernet_mac_address", "")).lower()
        for link in data.get("links", [])
    }
    for net in data.get("networks", []):
        mac = by_link.get(net.get("link"))
        if mac:
            addresses.setdefault(mac, []).append(str(net.get("ip_address")))
    for index, device in enumerate(guest.devices):
        mac = device.mac.lower()
        addrs = " ".join(addresses.get(mac, [])) or "no address"
        lines.append(f"eth{index}: {mac} {addrs} (PCI {device.pci_address})")
    return "\n".join(lines) + "\n"
