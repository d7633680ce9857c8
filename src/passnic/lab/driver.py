"""The lab driver (run by a lab host's agent): a guest is a network namespace holding its
passthrough NICs.

Passthrough hands a whole NIC to the guest; in the lab the NIC (a veth end cabled to the lab
switch) moves from its host's namespace into the guest's (``pn-<lab id>-vm-<8 of the id>``),
where it gets the next free ``ethX`` name. The driver then does what cloud-init does in a real guest
with ``network_data.json``: find the link by MAC and give it its static address (and default
route). Destroy and migration move the NIC back, under its host name, without addresses.

What is not modelled: CPUs, memory, disks and images (a namespace runs no OS); power off only
takes the guest's links down. Failures raise `HypervisorError` worded for the operator.

The namespaces outlive the agent; the driver keeps its record of them in the agent's state
directory, and the guest's interface-name table (its "disk") in the lab's guest directory, so
it moves with the guest from host to host.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from passnic.agent.drivers import GuestState, HypervisorError
from passnic.agent.lldp import Listener, Neighbour, open_sockets
from passnic.compute.protocol import GuestSpec
from passnic.lab import netns


def vm_netns(vm_prefix: str, server_id: str) -> str:
    """A guest's namespace: the lab's `vm_prefix` (`Lab.vm_prefix`) and 8 of its id."""
    return netns.check_netns(vm_prefix + server_id.replace("-", "")[:8])


@dataclass
class LabGuest:
    spec: GuestSpec
    state: GuestState
    netns: str
    #: PCI address -> (host interface name, name in the guest)
    nics: dict[str, tuple[str, str]] = field(default_factory=dict)
    console: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.model_dump(mode="json"),
            "state": self.state,
            "netns": self.netns,
            "nics": self.nics,
            "console": self.console,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabGuest:
        return cls(
            spec=GuestSpec.model_validate(data["spec"]),
            state=cast(GuestState, data["state"]),
            netns=data["netns"],
            nics={k: (v[0], v[1]) for k, v in data.get("nics", {}).items()},
            console=data.get("console", ""),
        )


def _links_by_mac(ns: str) -> dict[str, str]:
    return {link.mac.lower(): link.name for link in netns.links(ns)}


def configure_from_network_data(ns: str, data: Mapping[str, Any]) -> list[str]:
    """cloud-init's part: give each link found by MAC its static IPv4 address and routes.
    Returns the ``ifname address`` lines configured."""
    by_mac = _links_by_mac(ns)
    link_names = {}
    for link in data.get("links", []):
        mac = str(link.get("ethernet_mac_address") or "").lower()
        if mac in by_mac:
            link_names[link["id"]] = by_mac[mac]
    done = []
    for net in data.get("networks", []):
        ifname = link_names.get(net.get("link"))
        if ifname is None or net.get("type") != "ipv4":
            continue
        iface = ipaddress.ip_interface(f"{net['ip_address']}/{net['netmask']}")
        netns.add_address(ifname, str(iface), ns=ns)
        done.append(f"{ifname} {iface}")
        for route in net.get("routes", []):
            if route.get("network") == "0.0.0.0" and route.get("netmask") == "0.0.0.0":
                netns.ip(
                    "route",
                    "replace",
                    "default",
                    "via",
                    route["gateway"],
                    "dev",
                    ifname,
                    ns=ns,
                    check=False,
                )
    return done


class GuestNames:
    """What a guest's udev remembers (70-persistent-net.rules): each MAC it has seen keeps its
    ethX and a new MAC gets the next name. This is why a cold-migrated guest, handed another
    NIC, sees a new ethX (StarlingX's caution). Kept in the lab's guest directory, one file
    per guest: the guest's own disk, which moves with it from host to host."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def _path(self, server_id: str) -> Path:
        return self.directory / f"{server_id}.names.json"

    def name(self, server_id: str, mac: str) -> str:
        with self._lock:
            path = self._path(server_id)
            macs: list[str] = json.loads(path.read_text()) if path.exists() else []
            if mac not in macs:
                macs.append(mac)
                self.directory.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(macs))
            return f"eth{macs.index(mac)}"

    def forget(self, server_id: str) -> None:
        with self._lock:
            self._path(server_id).unlink(missing_ok=True)


class LabDriver:
    """Guests of one lab host. Options: ``host_netns`` (the host's namespace), ``nics`` (PCI
    address -> interface name, `Lab.host_nics`), ``vm_prefix`` (`Lab.vm_prefix`) and
    ``guest_dir`` (the guests' disks)."""

    def __init__(
        self, hostname: str, state_dir: Path, options: Mapping[str, Any], images: Any = None
    ) -> None:
        self.hostname = hostname
        self.host_ns = str(options["host_netns"])
        self.vm_prefix = str(options["vm_prefix"])
        self.nics = {str(k): str(v) for k, v in dict(options["nics"]).items()}
        self.names = GuestNames(Path(options["guest_dir"]))
        self._file = state_dir / "lab-guests.json"
        self._guests: dict[str, LabGuest] = {}
        if self._file.exists():
            data = json.loads(self._file.read_text())
            self._guests = {sid: LabGuest.from_json(g) for sid, g in data.items()}
        self._lock = threading.Lock()
        self._lldp: Listener | None = None

    def lldp_neighbours(self) -> dict[str, Neighbour]:
        """What the host's lab NICs hear from the lab switch: a listener on them in the host's
        namespace, started on the first call (a NIC given to a guest hears nothing)."""
        if self._lldp is None:
            names = {name: name for name in self.nics.values()}
            self._lldp = Listener(netns.in_netns(self.host_ns, lambda: open_sockets(names)))
            self._lldp.start()
        return self._lldp.neighbours()

    def _save(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps({sid: g.as_json() for sid, g in self._guests.items()}))
        os.replace(tmp, self._file)

    # ---- helpers ----

    def _attach(self, guest: LabGuest, power_on: bool) -> None:
        ns = netns.add_netns(guest.netns)
        try:
            for device in guest.spec.devices:
                host_if = self.nics.get(device.pci_address)
                if host_if is None:
                    raise HypervisorError(
                        f"host {self.hostname} has no lab NIC at PCI {device.pci_address}"
                    )
                if not netns.link_exists(host_if, self.host_ns):
                    raise HypervisorError(
                        f"NIC {host_if} ({device.pci_address}) of {self.hostname} is in use"
                    )
                netns.set_up(host_if, self.host_ns, up=False)
                netns.move(host_if, self.host_ns, ns)
                # recorded at once: deleting a namespace destroys the veths left in it
                guest.nics[device.pci_address] = (host_if, host_if)
                mac = next(m for m, name in _links_by_mac(ns).items() if name == host_if)
                guest_if = self.names.name(guest.spec.server_id, mac)
                netns.rename(host_if, guest_if, ns=ns)
                guest.nics[device.pci_address] = (host_if, guest_if)
                netns.set_up(guest_if, ns, up=power_on)
            configured = []
            if guest.spec.network_data:
                configured = configure_from_network_data(ns, guest.spec.network_data)
            guest.console += _console(guest, ns, configured)
        except HypervisorError:
            self._detach(guest)
            raise
        except Exception as exc:  # ip failures, an unreadable network_data...: undo, then say so
            self._detach(guest)
            raise HypervisorError(f"could not attach the NICs on {self.hostname}: {exc}") from exc

    def _detach(self, guest: LabGuest) -> None:
        """Give the NICs back to the host, as the host knew them; remove the namespace."""
        for pci, (host_if, guest_if) in list(guest.nics.items()):
            if netns.link_exists(guest_if, guest.netns):
                netns.flush_addresses(guest_if, guest.netns)
                if guest_if != host_if:
                    netns.rename(guest_if, host_if, ns=guest.netns)
                netns.move(host_if, guest.netns, self.host_ns)
                netns.set_up(host_if, self.host_ns)
            del guest.nics[pci]
        netns.del_netns(guest.netns)

    def _set_links(self, server_id: str, up: bool, state: GuestState) -> None:
        with self._lock:
            guest = self._guests.get(server_id)
            if guest is None:
                raise HypervisorError(f"no guest {server_id} on {self.hostname}")
            for _, guest_if in guest.nics.values():
                netns.set_up(guest_if, guest.netns, up=up)
            guest.state = state
            self._save()

    # ---- the driver interface ----

    def guests(self) -> dict[str, GuestState]:
        return {sid: g.state for sid, g in self._guests.items()}

    def console(self, server_id: str) -> str:
        guest = self._guests.get(server_id)
        return guest.console if guest is not None else ""

    def prerequisites(self) -> list[str]:
        return []  # the lab's form (a NIC moved into a namespace) needs no IOMMU

    def disk_file(self, server_id: str) -> Path | None:
        return None  # a namespace guest has no disk

    def spawn(self, guest: GuestSpec) -> None:
        with self._lock:
            if guest.server_id in self._guests:
                raise HypervisorError(f"guest {guest.server_id} already exists on {self.hostname}")
            record = LabGuest(guest, "running", vm_netns(self.vm_prefix, guest.server_id))
            self._attach(record, power_on=True)
            self._guests[guest.server_id] = record
            self._save()

    def destroy(self, server_id: str) -> None:
        with self._lock:
            guest = self._guests.pop(server_id, None)
            # a guest that migrated away holds no NIC here, and its namespace name is now
            # the destination's guest: deleting it would cut the migrated VM off
            if guest is not None and guest.state != "parked":
                self._detach(guest)
                self.names.forget(server_id)
            self._save()

    def power_off(self, server_id: str) -> None:
        self._set_links(server_id, False, "stopped")

    def power_on(self, server_id: str) -> None:
        self._set_links(server_id, True, "running")

    def reboot(self, server_id: str, hard: bool) -> None:
        self._set_links(server_id, False, "stopped")
        self._set_links(server_id, True, "running")

    def migrate_out(self, server_id: str) -> None:
        with self._lock:
            guest = self._guests.get(server_id)
            if guest is None:
                raise HypervisorError(f"no guest {server_id} on {self.hostname}")
            self._detach(guest)
            guest.state = "parked"
            self._save()

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        with self._lock:
            old = self._guests.get(guest.server_id)
            if old is not None and old.nics:
                self._detach(old)
            record = LabGuest(
                guest,
                "running" if power_on else "stopped",
                vm_netns(self.vm_prefix, guest.server_id),
                console=old.console if old is not None else "",
            )
            self._attach(record, power_on=power_on)
            self._guests[guest.server_id] = record
            self._save()


def guest_interfaces(vm_prefix: str, server_id: str) -> dict[str, str]:
    """MAC -> interface name inside a running lab guest (what the guest sees)."""
    return {
        mac: name
        for mac, name in _links_by_mac(vm_netns(vm_prefix, server_id)).items()
        if name.startswith("eth")
    }


def _console(guest: LabGuest, ns: str, configured: list[str]) -> str:
    """What the guest would print at boot: each NIC by name with its MAC, and addresses."""
    lines = [f"lab guest {guest.spec.name} ({guest.spec.server_id}) in namespace {ns}"]
    by_name = {name: mac for mac, name in _links_by_mac(ns).items()}
    for _pci, (_host_if, guest_if) in sorted(guest.nics.items()):
        addresses = [c.split(" ", 1)[1] for c in configured if c.split(" ", 1)[0] == guest_if]
        lines.append(
            f"{guest_if}: {by_name.get(guest_if, '?')} {' '.join(addresses) or 'no address'}"
        )
    return "\n".join(lines) + "\n"
