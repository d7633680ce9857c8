"""The scheduler core: where does a server with pci-passthrough NICs go, and why not.

Nova's ``PciPassthroughFilter`` deep-copies every host's PCI stats for every request
(peers §1.8, §5: ~0.42 ms per host, linear in the fleet). :class:`FleetIndex` instead keeps,
for every kind of device (a data network, a vendor:product pair), the schedulable hosts that
have a FREE one, in two heaps ordered by the host's free-NIC count (pack: fewest first;
spread: most first; ties by name). A request walks only the heap of its most selective kind
and stops at the first host that fits, so success costs O(k log n) for k hosts tried, not
O(fleet). Claims and releases push fresh heap entries (O(log n)); outdated entries are skipped
by a version check and swept when a heap gets twice the size it needs. Capacity (vCPU, RAM,
disk) is not indexed: a host with free NICs but no room is tried, and skipped, each time.

Pack is the default: like Nova's ``PCIWeigher``, hosts with the fewest free passthrough NICs
come first, keeping whole hosts free for later multi-NIC servers. A request without devices
walks all schedulable hosts in the same order.

Not thread-safe: the caller serialises ``choose`` + ``claim`` (one lock), which also closes
Nova's filter/claim race (bug 1986838): ``claim`` re-checks and raises ``Conflict``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import replace

from passnic.errors import BadRequest, Conflict
from passnic.placement.explain import explain, natural
from passnic.placement.fit import fit_devices, guest_nodes, socket_map
from passnic.placement.model import (
    Decision,
    Device,
    DeviceRequest,
    Flavor,
    FleetView,
    HostState,
    NoValidHost,
    Placement,
    PlacementRequest,
    Weigher,
)

#: A kind of device: ("net", data_network) or ("pci", vendor_id, product_id); ANY: all hosts.
Key = tuple[str, ...]
ANY: Key = ("any",)
#: (weight, host name, version): weight is the free-NIC count, negated for spread.
_Entry = tuple[int, str, int]


def device_keys(device: Device) -> list[Key]:
    keys: list[Key] = [("net", network) for network in sorted(device.data_networks)]
    keys.append(("pci", device.vendor_id, device.product_id))
    return keys


def request_keys(request: DeviceRequest) -> list[Key]:
    """The kinds a device must be of to match; the index walks the rarest one."""
    keys: list[Key] = []
    if request.data_network is not None:
        keys.append(("net", request.data_network))
    if request.vendor_id is not None and request.product_id is not None:
        keys.append(("pci", request.vendor_id, request.product_id))
    return keys


class _Host:
    """A host's mutable bookkeeping inside the index."""

    __slots__ = (
        "devices",
        "free_by_key",
        "free_count",
        "keys",
        "nodes",
        "sockets",
        "state",
        "version",
    )

    def __init__(self, state: HostState, devices: Iterable[Device]) -> None:
        self.state = state
        self.devices = {d.pci_address: d for d in sorted(devices, key=lambda d: d.pci_address)}
        self.keys: set[Key] = {k for d in self.devices.values() for k in device_keys(d)}
        self.free_by_key: dict[Key, int] = {}
        for d in self.devices.values():
            if d.holder is None:
                for k in device_keys(d):
                    self.free_by_key[k] = self.free_by_key.get(k, 0) + 1
        self.free_count = sum(1 for d in self.devices.values() if d.holder is None)
        self.nodes = guest_nodes(state.numa_nodes, list(self.devices.values()))
        self.sockets = socket_map(state.numa_nodes)
        self.version = 0

    def free_devices(self) -> list[Device]:
        return [d for d in self.devices.values() if d.holder is None]

    def set_holder(self, device: Device, holder: str | None) -> Device:
        updated = replace(device, holder=holder)
        self.devices[device.pci_address] = updated
        step = -1 if holder is not None else 1
        self.free_count += step
        for k in device_keys(device):
            self.free_by_key[k] = self.free_by_key.get(k, 0) + step
        return updated


class FleetIndex:
    """Free devices indexed by kind and host, ordered for pack and spread; see the module."""

    def __init__(self, fleet: FleetView) -> None:
        self._hosts: dict[str, _Host] = {}
        self._members: dict[Key, set[str]] = {ANY: set()}
        self._heaps: dict[tuple[Key, Weigher], list[_Entry]] = {}
        #: every host owning a device of a kind, free or not: where explanations look
        self._owners: dict[Key, set[str]] = {}
        self._version = 0
        by_host: dict[str, list[Device]] = {h.name: [] for h in fleet.hosts}
        for device in fleet.devices:
            if device.host not in by_host:
                raise BadRequest(f"device {device.pci_address} is on unknown host {device.host}")
            by_host[device.host].append(device)
        for state in fleet.hosts:
            self._add(state, by_host[state.name])

    # ---- scheduling ------------------------------------------------------------------------

    def choose(self, request: PlacementRequest) -> Decision:
        """The best host for ``request`` with its devices, or why there is none."""
        if request.target_host is not None:
            host = self._hosts.get(request.target_host)
            if host is not None and request.allows(request.target_host):
                placement = self._fit(host, request)
                if placement is not None:
                    return placement
            return self._explain(request)
        group = request.group
        if group is not None and group.policy == "affinity" and group.hosts:
            # the group's host(s) only: no need to walk the fleet
            for name in sorted(group.hosts, key=natural):
                candidate = self._hosts.get(name)
                if candidate is not None and name not in request.exclude_hosts:
                    placement = self._fit(candidate, request)
                    if placement is not None:
                        return placement
            return self._explain(request)
        placement = self._walk(request)
        return placement if placement is not None else self._explain(request)

    def claim(self, placement: Placement, holder: str) -> Placement:
        """Give ``placement``'s devices and flavor to ``holder``; raise ``Conflict`` if the
        host changed since ``choose`` (locked, filled up, a device taken)."""
        host = self._hosts.get(placement.host)
        if host is None:
            raise Conflict(f"host {placement.host} is no longer known")
        if not host.state.schedulable:
            raise Conflict(f"host {placement.host} is {host.state.reason}")
        if not host.state.fits(placement.flavor):
            raise Conflict(f"host {placement.host} no longer has room for the flavor")
        wanted = [d.pci_address for d in placement.all_devices]
        if len(set(wanted)) != len(wanted):
            raise Conflict("a device is chosen twice")
        for address in wanted:
            device = host.devices.get(address)
            if device is None:
                raise Conflict(f"{placement.host} has no pci-passthrough NIC at {address}")
            if device.holder is not None:
                raise Conflict(
                    f"the NIC at {address} on {placement.host} is in use by {device.holder}"
                )
        host.state = _used(host.state, placement.flavor, 1)
        claimed = tuple(
            tuple(host.set_holder(host.devices[d.pci_address], holder) for d in chosen)
            for chosen in placement.devices
        )
        self._reindex(host)
        return replace(placement, devices=claimed)

    def release(self, host_name: str, pci_addresses: Iterable[str], flavor: Flavor) -> None:
        """Give back a server's devices and flavor (deleted, or moved away)."""
        host = self._hosts.get(host_name)
        if host is None:
            raise BadRequest(f"host {host_name} is not known")
        addresses = list(pci_addresses)
        for address in addresses:
            device = host.devices.get(address)
            if device is None or device.holder is None:
                raise BadRequest(f"no NIC at {address} on {host_name} is in use")
        for address in addresses:
            host.set_holder(host.devices[address], None)
        host.state = _used(host.state, flavor, -1)
        self._reindex(host)

    # ---- inventory changes -----------------------------------------------------------------

    def update_host(self, state: HostState, devices: Iterable[Device] | None = None) -> None:
        """Add or replace a host (locked/unlocked, capacity changed); with ``devices``, also
        replace its NICs (an interface reassigned while the host was locked)."""
        old = self._hosts.get(state.name)
        kept = list(old.devices.values()) if old is not None and devices is None else devices
        self.remove_host(state.name)
        self._add(state, kept or [])

    def remove_host(self, name: str) -> None:
        host = self._hosts.pop(name, None)
        if host is None:
            return
        for key in (*host.keys, ANY):
            self._members.get(key, set()).discard(name)
        for key in host.keys:
            self._owners[key].discard(name)

    def view(self) -> FleetView:
        """The current fleet, holders and used capacity included."""
        return FleetView(
            hosts=tuple(h.state for h in self._hosts.values()),
            devices=tuple(d for h in self._hosts.values() for d in h.devices.values()),
        )

    # ---- internals -------------------------------------------------------------------------

    def _add(self, state: HostState, devices: Iterable[Device]) -> None:
        devices = list(devices)
        for device in devices:
            if device.host != state.name:
                raise BadRequest(
                    f"device {device.pci_address} is on {device.host}, not {state.name}"
                )
        if len({d.pci_address for d in devices}) != len(devices):
            raise BadRequest(f"host {state.name} lists a pci_address twice")
        host = _Host(state, devices)
        self._hosts[state.name] = host
        for key in host.keys:
            self._owners.setdefault(key, set()).add(state.name)
        self._reindex(host)

    def _reindex(self, host: _Host) -> None:
        """Push the host's current weight into each heap it belongs to; older entries for it
        become stale because the version moves on."""
        self._version += 1
        host.version = self._version
        name = host.state.name
        for key in (*host.keys, ANY):
            members = self._members.setdefault(key, set())
            member = host.state.schedulable and (key == ANY or host.free_by_key.get(key, 0) > 0)
            if not member:
                members.discard(name)
                continue
            members.add(name)
            weighted: tuple[tuple[Weigher, int], ...] = (
                ("pack", host.free_count),
                ("spread", -host.free_count),
            )
            for weigher, weight in weighted:
                heap = self._heaps.setdefault((key, weigher), [])
                heapq.heappush(heap, (weight, name, host.version))
                if len(heap) > 2 * len(members) + 32:
                    self._rebuild(key, weigher)

    def _rebuild(self, key: Key, weigher: Weigher) -> None:
        sign = 1 if weigher == "pack" else -1
        heap = [
            (sign * self._hosts[n].free_count, n, self._hosts[n].version)
            for n in self._members[key]
        ]
        heapq.heapify(heap)
        self._heaps[(key, weigher)] = heap

    def _walk(self, request: PlacementRequest) -> Placement | None:
        """Try hosts best-first from the heap of the request's rarest device kind."""
        keys = [k for r in request.devices for k in request_keys(r)] or [ANY]
        key = min(keys, key=lambda k: len(self._members.get(k, ())))
        if not self._members.get(key):
            return None
        heap = self._heaps[(key, request.weigher)]
        tried: list[_Entry] = []
        found: Placement | None = None
        while heap:
            entry = heapq.heappop(heap)
            host = self._hosts.get(entry[1])
            if host is None or host.version != entry[2]:
                continue  # stale: the host changed or left since this entry was pushed
            tried.append(entry)
            if not request.allows(entry[1]):
                continue
            found = self._fit(host, request)
            if found is not None:
                break
        for entry in tried:
            heapq.heappush(heap, entry)
        return found

    def _fit(self, host: _Host, request: PlacementRequest) -> Placement | None:
        state = host.state
        if not state.schedulable or not state.fits(request.flavor):
            return None
        if not request.devices:
            return Placement(state.name, None, (), request.flavor)
        policies = [request.policy_of(i) for i in range(len(request.devices))]
        fitted = fit_devices(
            host.free_devices(), request.devices, policies, host.nodes, host.sockets
        )
        if fitted is None:
            return None
        return Placement(state.name, fitted[0], fitted[1], request.flavor)

    def _explain(self, request: PlacementRequest) -> NoValidHost:
        target = request.target_host
        if target is not None:
            found: set[str] = {target} if target in self._hosts else set()
        elif request.devices:
            owners = [self._owners.get(k, set()) for r in request.devices for k in request_keys(r)]
            found = owners[0].intersection(*owners[1:])
        else:
            found = set(self._hosts)
        hosts = [
            (self._hosts[n].state, list(self._hosts[n].devices.values()))
            for n in sorted(found, key=natural)
        ]
        return explain(request, hosts)


def _used(state: HostState, flavor: Flavor, sign: int) -> HostState:
    return replace(
        state,
        vcpus_used=state.vcpus_used + sign * flavor.vcpus,
        ram_mb_used=state.ram_mb_used + sign * flavor.ram_mb,
        disk_gb_used=state.disk_gb_used + sign * flavor.disk_gb,
    )


def choose(fleet: FleetView, request: PlacementRequest) -> Decision:
    """The pure form: index ``fleet`` and choose once (O(fleet); services keep an index)."""
    return FleetIndex(fleet).choose(request)
