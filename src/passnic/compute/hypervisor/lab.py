"""The lab driver: a guest is a network namespace holding its passthrough NICs.

Passthrough hands a whole NIC to the guest; in the lab the NIC (a veth end cabled to the lab
switch) moves from its host's namespace into the guest's (``pn-vm-<first 8 of the id>``), where
it gets the next free ``ethX`` name. The driver then does what cloud-init does in a real guest
with ``network_data.json``: find the link by MAC and give it its static address (and default
route). Destroy and migration move the NIC back, under its host name, without addresses.

What is not modelled: CPUs, memory, disks and images (a namespace runs no OS); power off only
takes the guest's links down. Failures raise `HypervisorError` worded for the operator.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from passnic.compute.hypervisor import GuestSpec, HypervisorError
from passnic.lab import netns

NetworkData = Callable[[str], Mapping[str, Any] | None]
"""server id -> its network_data.json (None: nothing to configure)."""

VM_PREFIX = f"{netns.PREFIX}vm-"


def vm_netns(server_id: str) -> str:
    return netns.check_ifname(VM_PREFIX + server_id.replace("-", "")[:8])


@dataclass
class LabGuest:
    spec: GuestSpec
    state: str  # running | shutoff | migrated
    netns: str
    #: PCI address -> (host interface name, name in the guest)
    nics: dict[str, tuple[str, str]] = field(default_factory=dict)


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
    NIC, sees a new ethX (StarlingX's caution). Shared by every host's driver of one lab."""

    def __init__(self) -> None:
        self._seen: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def name(self, server_id: str, mac: str) -> str:
        with self._lock:
            macs = self._seen.setdefault(server_id, [])
            if mac not in macs:
                macs.append(mac)
            return f"eth{macs.index(mac)}"

    def forget(self, server_id: str) -> None:
        with self._lock:
            self._seen.pop(server_id, None)


class LabDriver:
    """Guests of one lab host. `nics` maps the host's PCI addresses to its interface names
    (`Lab.host_nics`); `network_data` gives a server's network_data.json."""

    def __init__(
        self,
        hostname: str,
        host_ns: str,
        nics: Mapping[str, str],
        network_data: NetworkData | None = None,
        names: GuestNames | None = None,
    ) -> None:
        self.hostname = hostname
        self.names = names or GuestNames()
        self.host_ns = host_ns
        self.nics = dict(nics)
        self.network_data = network_data
        self.guests: dict[str, LabGuest] = {}
        self._lock = threading.Lock()

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
            data = self.network_data(guest.spec.server_id) if self.network_data else None
            if data:
                configure_from_network_data(ns, data)
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

    def _set_links(self, server_id: str, up: bool, state: str) -> None:
        with self._lock:
            guest = self.guests.get(server_id)
            if guest is None:
                raise HypervisorError(f"no guest {server_id} on {self.hostname}")
            for _, guest_if in guest.nics.values():
                netns.set_up(guest_if, guest.netns, up=up)
            guest.state = state

    # ---- the driver interface ----

    def spawn(self, guest: GuestSpec) -> None:
        with self._lock:
            if guest.server_id in self.guests:
                raise HypervisorError(f"guest {guest.server_id} already exists on {self.hostname}")
            record = LabGuest(guest, "running", vm_netns(guest.server_id))
            self._attach(record, power_on=True)
            self.guests[guest.server_id] = record

    def destroy(self, server_id: str) -> None:
        with self._lock:
            guest = self.guests.pop(server_id, None)
            # a guest that migrated away holds no NIC here, and its namespace name is now
            # the destination's guest: deleting it would cut the migrated VM off
            if guest is not None and guest.state != "migrated":
                self._detach(guest)
                self.names.forget(server_id)

    def power_off(self, server_id: str) -> None:
        self._set_links(server_id, False, "shutoff")

    def power_on(self, server_id: str) -> None:
        self._set_links(server_id, True, "running")

    def reboot(self, server_id: str, hard: bool) -> None:
        self._set_links(server_id, False, "shutoff")
        self._set_links(server_id, True, "running")

    def migrate_out(self, server_id: str) -> None:
        with self._lock:
            guest = self.guests.get(server_id)
            if guest is None:
                raise HypervisorError(f"no guest {server_id} on {self.hostname}")
            self._detach(guest)
            guest.state = "migrated"

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        with self._lock:
            old = self.guests.get(guest.server_id)
            if old is not None and old.nics:
                self._detach(old)
            record = LabGuest(
                guest, "running" if power_on else "shutoff", vm_netns(guest.server_id)
            )
            self._attach(record, power_on=power_on)
            self.guests[guest.server_id] = record

    def guest_interfaces(self, server_id: str) -> dict[str, str]:
        """MAC -> interface name inside the guest (what the guest sees)."""
        guest = self.guests[server_id]
        return {
            mac: name for mac, name in _links_by_mac(guest.netns).items() if name.startswith("eth")
        }


def lab_driver_factory(
    lab: Any, network_data: NetworkData | None = None
) -> Callable[[str], LabDriver]:
    """hostname -> a `LabDriver` for that host of a started `passnic.lab.topology.Lab`
    (``AgentDirectory(lab_driver_factory(lab, ...))``)."""
    from passnic.lab.topology import host_netns

    names = GuestNames()

    def factory(hostname: str) -> LabDriver:
        return LabDriver(
            hostname, host_netns(hostname), lab.host_nics(hostname), network_data, names
        )

    return factory
