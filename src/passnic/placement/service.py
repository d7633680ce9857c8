"""The database side of placement: the fleet as the pure scheduler sees it, and claims.

Each API worker keeps the whole fleet in memory as a ``FleetIndex`` (the pure core: a boot
costs O(hosts tried), not O(fleet)) and keeps it current from the database, so that a boot
reads a handful of rows whatever the fleet's size:

* the inventory (hosts, their pci-passthrough NICs) is copied when its revision moves on
  (``InventoryService.revision``: one primary-key read per boot; any inventory write moves it);
* claims and releases number the hosts they touch in ``placement_host_changes`` (in commit
  order: the number is taken under the placement lock); before choosing, a worker reads the
  rows numbered above the last one it saw (an indexed range scan) and refreshes those hosts
  only, from their claims and allocations.

The choice is then made inside the claiming transaction, with the claims of every worker up to
date, and the chosen NICs are INSERTed as ``DeviceClaim`` rows in that same transaction, so the
caller's port binding commits with them or not at all. Two API workers never get the same NIC:

* placement transactions (claims and releases) run one at a time (a PostgreSQL advisory lock;
  SQLite's single writer lock, taken before anything is read), so each sees the claims of the
  one before;
* and, should anything write claims without that lock, the UNIQUE (hostname, pci_address)
  constraint refuses the second INSERT; ``run`` then starts the whole transaction again (a
  bounded number of times) with the index rebuilt from the database, and the scheduler
  chooses among what is still free.

When no host fits, the explanation comes from the same index; a project user's view of it (other
projects' servers unnamed) is built from the full fleet, read only in that case.

vCPU/RAM/disk allocations are written in the same transaction; they are consistent under the
same lock but, unlike NICs, not guarded by a constraint.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from passnic.db import Database
from passnic.errors import ServiceUnavailable
from passnic.inventory.service import (
    ComputeHost,
    InventoryService,
    NicInUse,
    PassthroughDevice,
)
from passnic.logs import log_event
from passnic.placement.model import (
    Device,
    FleetView,
    HostState,
    NoValidHost,
    NumaNode,
    PlacementRequest,
    hidden_holder,
)
from passnic.placement.models import DeviceClaim, HostChange, ResourceAllocation
from passnic.placement.scheduler import FleetIndex

T = TypeVar("T")

_LOCK_KEY = zlib.crc32(b"passnic-placement")

log = logging.getLogger("passnic.placement")


@dataclass(frozen=True)
class Inventory:
    """Hosts and their pci-passthrough NICs, read before the claiming transaction."""

    hosts: tuple[ComputeHost, ...]
    devices: tuple[PassthroughDevice, ...]


@dataclass(frozen=True)
class DeviceSource:
    """What asked for device request ``i``: a direct-physical port, or a flavor alias."""

    port_id: str | None = None
    alias_name: str | None = None
    physical_network: str = ""


@dataclass(frozen=True)
class Allocation:
    """Where a server went: its host, the guest's NUMA node, and the claims per request."""

    host: str
    numa_node: int | None
    claims: tuple[tuple[DeviceClaim, ...], ...]

    @property
    def all_claims(self) -> tuple[DeviceClaim, ...]:
        return tuple(c for chosen in self.claims for c in chosen)


#: capacity of a resource the host agent does not report (0): not a limit (discovery leaves
#: disk_gb 0, as it cannot tell which disk holds guests)
UNREPORTED = 2**31 - 1


def _capacity(value: int) -> int:
    return value if value > 0 else UNREPORTED


def host_state(host: ComputeHost, used: ResourceAllocation | None) -> HostState:
    """A host in the scheduler's words: schedulable only when unlocked, enabled, up and, as
    its agent reports, able to pass NICs through (every Passnic server is a passthrough one)."""
    if host.administrative != "unlocked":
        reason = "locked"
    elif host.operational != "enabled":
        reason = "disabled"
    elif host.availability not in ("available", "degraded"):
        reason = "offline"
    elif host.prerequisites:
        reason = "lacking passthrough prerequisites (" + "; ".join(host.prerequisites) + ")"
    else:
        reason = ""
    return HostState(
        name=host.hostname,
        schedulable=not reason,
        reason=reason,
        vcpus=_capacity(host.vcpus),
        vcpus_used=used.vcpus if used else 0,
        ram_mb=_capacity(host.memory_mb),
        ram_mb_used=used.ram_mb if used else 0,
        disk_gb=_capacity(host.disk_gb),
        disk_gb_used=used.disk_gb if used else 0,
        numa_nodes=tuple(NumaNode(n) for n in host.numa_nodes),
    )


def device(nic: PassthroughDevice, holder: str | None) -> Device:
    return Device(
        host=nic.hostname,
        pci_address=nic.pciaddr,
        vendor_id=nic.vendor_id or "",
        product_id=nic.product_id or "",
        numa_node=nic.numa_node if nic.numa_node >= 0 else None,
        sriov_capable=nic.sriov_capable,
        data_networks=frozenset(nic.datanetworks),
        interface=nic.ifname,
        mac=nic.mac,
        holder=holder,
    )


class _Copy:
    """This worker's copy of the fleet: the inventory as of ``revision``, and the index built
    from it and from the claims up to change number ``seq``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.revision = -1
        self.inventory = Inventory((), ())
        #: the same inventory by host name, to refresh a few hosts without walking the fleet
        self.hosts: dict[str, tuple[ComputeHost, list[PassthroughDevice]]] = {}
        self.index: FleetIndex | None = None
        self.indexed_revision = -1
        self.seq = 0


class PlacementService:
    #: how many times a claiming transaction is started again after a constraint fired
    ATTEMPTS = 8

    def __init__(self, db: Database, inventory: InventoryService) -> None:
        self.db = db
        self.inventory = inventory
        self._copy = _Copy()

    def snapshot(self) -> Inventory:
        """Read the inventory (its own transaction: call it outside any other)."""
        return Inventory(
            hosts=tuple(self.inventory.compute_hosts()),
            devices=tuple(self.inventory.passthrough_devices()),
        )

    def run(self, work: Callable[[Session], T]) -> T:
        """Run a claiming step: ``work`` in one transaction, started again when a claim raced
        another (constraint or SQLite lock error)."""
        for _attempt in range(self.ATTEMPTS):
            self._refresh_inventory()
            try:
                with self.db.transaction() as s:
                    return work(s)
            except IntegrityError:
                # a claim written without the lock (so not numbered): the index cannot tell
                # what else it missed, so the next attempt rebuilds it from the database
                with self._copy.lock:
                    self._copy.index = None
            except OperationalError:
                continue
        raise ServiceUnavailable(
            f"Could not claim a pci-passthrough NIC after {self.ATTEMPTS} attempts: other "
            "requests kept taking the same ones; try again"
        )

    def _refresh_inventory(self) -> None:
        """Copy the inventory again when its revision moved on. The revision is read before
        the copy: a write in between makes the copy look older than it is, never newer, so it
        is copied again next time rather than missed."""
        with self.db.transaction() as s:
            revision = self.inventory.revision(s)
        if revision == self._copy.revision:
            return
        inventory = self.snapshot()
        hosts: dict[str, tuple[ComputeHost, list[PassthroughDevice]]] = {
            h.hostname: (h, []) for h in inventory.hosts
        }
        for nic in inventory.devices:
            if nic.hostname in hosts:
                hosts[nic.hostname][1].append(nic)
        with self._copy.lock:
            self._copy.inventory, self._copy.hosts = inventory, hosts
            self._copy.revision = revision

    def _current(self, s: Session) -> tuple[FleetIndex, Inventory]:
        """The index, brought up to date in ``s`` (under the placement lock): rebuilt when the
        inventory copy is newer than the index, else only the hosts changed since."""
        copy = self._copy
        if copy.index is None or copy.indexed_revision != copy.revision:
            seq = s.scalar(select(func.max(HostChange.seq))) or 0
            copy.index = FleetIndex(self.fleet(s, copy.inventory))
            copy.indexed_revision, copy.seq = copy.revision, seq
            return copy.index, copy.inventory
        changed = dict(
            s.execute(
                select(HostChange.hostname, HostChange.seq).where(HostChange.seq > copy.seq)
            ).all()
        )
        known = [copy.hosts[name] for name in changed if name in copy.hosts]
        if known:
            few = Inventory(
                hosts=tuple(h for h, _ in known), devices=tuple(d for _, ds in known for d in ds)
            )
            view = self.fleet(s, few, hostnames=[h.hostname for h, _ in known])
            devices: dict[str, list[Device]] = {h.name: [] for h in view.hosts}
            for d in view.devices:
                devices[d.host].append(d)
            for state in view.hosts:
                copy.index.update_host(state, devices[state.name])
        if changed:
            copy.seq = max(changed.values())
        return copy.index, copy.inventory

    def fleet(
        self,
        s: Session,
        inventory: Inventory,
        shown: Collection[str] | None = None,
        hostnames: Collection[str] | None = None,
    ) -> FleetView:
        """The fleet (or the hosts named) with every NIC's holder and every host's used
        capacity, as of now. Holders not in ``shown`` (consumer ids; None: all) hold their NICs
        unnamed."""
        claims = select(DeviceClaim)
        allocations = select(ResourceAllocation)
        if hostnames is not None:
            claims = claims.where(DeviceClaim.hostname.in_(list(hostnames)))
            allocations = allocations.where(ResourceAllocation.hostname.in_(list(hostnames)))
        holders = {
            (c.hostname, c.pci_address): (
                c.consumer_name or c.consumer_id
                if shown is None or c.consumer_id in shown
                else hidden_holder(c.consumer_id)
            )
            for c in s.scalars(claims)
        }
        used: dict[str, ResourceAllocation] = {}
        for a in s.scalars(allocations):
            total = used.setdefault(
                a.hostname, ResourceAllocation(hostname=a.hostname, vcpus=0, ram_mb=0, disk_gb=0)
            )
            total.vcpus += a.vcpus
            total.ram_mb += a.ram_mb
            total.disk_gb += a.disk_gb
        hosts = [h for h in inventory.hosts if hostnames is None or h.hostname in hostnames]
        known = {h.hostname for h in hosts}
        return FleetView(
            hosts=tuple(host_state(h, used.get(h.hostname)) for h in hosts),
            devices=tuple(
                device(nic, holders.get((nic.hostname, nic.pciaddr)))
                for nic in inventory.devices
                if nic.hostname in known
            ),
        )

    def place(
        self,
        s: Session,
        consumer_id: str,
        consumer_name: str,
        request: PlacementRequest,
        sources: Sequence[DeviceSource],
        shown: Callable[[], Collection[str]] | None = None,
    ) -> Allocation | NoValidHost:
        """Choose a host for ``request`` and claim its NICs and capacity in ``s``; or say why
        no host can take it (nothing is written then).

        ``shown``: gives the servers (consumer ids) whose names the reason may give, i.e. those
        of the project that will read it (asked only when no host fits); the others are
        "another project's server". None names every server (an admin's view). When names are
        hidden, ``details`` has them all."""
        self.serialize(s)
        with self._copy.lock:
            index, inventory = self._current(s)
            decision = index.choose(request)
        if isinstance(decision, NoValidHost) and shown is not None:
            # the requester's view (other projects' servers unnamed): the whole fleet is read,
            # in this case only; should it find a host after all, that host is taken
            seen = FleetIndex(self.fleet(s, inventory, shown())).choose(request)
            decision = (
                replace(seen, details=decision.message) if isinstance(seen, NoValidHost) else seen
            )
        if isinstance(decision, NoValidHost):
            log_event(
                log,
                "no_valid_host",
                logging.WARNING,
                server=consumer_name,
                server_id=consumer_id,
                reason=decision.message,
            )
            return decision
        log_event(
            log,
            "host_chosen",
            server=consumer_name,
            server_id=consumer_id,
            host=decision.host,
            numa_node=decision.numa_node,
            nics=",".join(d.pci_address for d in decision.all_devices) or None,
        )
        claims = tuple(
            tuple(
                DeviceClaim(
                    hostname=d.host,
                    pci_address=d.pci_address,
                    consumer_id=consumer_id,
                    consumer_name=consumer_name,
                    ifname=d.interface,
                    vendor_id=d.vendor_id,
                    product_id=d.product_id,
                    mac=d.mac,
                    numa_node=d.numa_node,
                    physical_network=source.physical_network,
                    port_id=source.port_id,
                    alias_name=source.alias_name,
                )
                for d in chosen
            )
            for chosen, source in zip(decision.devices, sources, strict=True)
        )
        for claim in (c for chosen in claims for c in chosen):
            s.add(claim)
        flavor = request.flavor
        s.add(
            ResourceAllocation(
                consumer_id=consumer_id,
                hostname=decision.host,
                vcpus=flavor.vcpus,
                ram_mb=flavor.ram_mb,
                disk_gb=flavor.disk_gb,
            )
        )
        s.flush()  # a racing claim of the same NIC fails here, not at commit
        self._changed(s, [decision.host])
        return Allocation(decision.host, decision.numa_node, claims)

    def claims(
        self, s: Session, consumer_id: str, hostname: str | None = None
    ) -> list[DeviceClaim]:
        stmt = select(DeviceClaim).where(DeviceClaim.consumer_id == consumer_id)
        if hostname is not None:
            stmt = stmt.where(DeviceClaim.hostname == hostname)
        return list(s.scalars(stmt.order_by(DeviceClaim.hostname, DeviceClaim.pci_address)))

    def claims_of(self, s: Session, consumer_ids: Sequence[str]) -> dict[str, list[DeviceClaim]]:
        """The claims of many servers at once (for listings)."""
        out: dict[str, list[DeviceClaim]] = {c: [] for c in consumer_ids}
        if consumer_ids:
            stmt = (
                select(DeviceClaim)
                .where(DeviceClaim.consumer_id.in_(list(consumer_ids)))
                .order_by(DeviceClaim.hostname, DeviceClaim.pci_address)
            )
            for claim in s.scalars(stmt):
                out[claim.consumer_id].append(claim)
        return out

    def release(self, s: Session, consumer_id: str, hostname: str | None = None) -> None:
        """Give back what a server holds (on one host, or everywhere)."""
        self.serialize(s)
        hosts: set[str] = set()
        for model in (DeviceClaim, ResourceAllocation):
            held = select(model.hostname).where(model.consumer_id == consumer_id)
            if hostname is not None:
                held = held.where(model.hostname == hostname)
            hosts.update(s.scalars(held))
        self._changed(s, sorted(hosts))
        for model in (DeviceClaim, ResourceAllocation):
            stmt = delete(model).where(model.consumer_id == consumer_id)
            if hostname is not None:
                stmt = stmt.where(model.hostname == hostname)
            s.execute(stmt)

    def servers_on(self, hostname: str) -> list[str]:
        """The servers (consumer ids) holding capacity or a NIC on ``hostname``."""
        with self.db.transaction() as s:
            allocated = s.scalars(
                select(ResourceAllocation.consumer_id).where(
                    ResourceAllocation.hostname == hostname
                )
            )
            claimed = s.scalars(
                select(DeviceClaim.consumer_id).where(DeviceClaim.hostname == hostname)
            )
            return sorted({*allocated, *claimed})

    def list_claims(self, hostname: str | None = None) -> list[DeviceClaim]:
        """Every claimed NIC (of one host, or all): for operators and consistency checks."""
        with self.db.transaction() as s:
            stmt = select(DeviceClaim).order_by(DeviceClaim.hostname, DeviceClaim.pci_address)
            if hostname is not None:
                stmt = stmt.where(DeviceClaim.hostname == hostname)
            return list(s.scalars(stmt))

    def nics_in_use(self, hostname: str) -> list[NicInUse]:
        """The NICs servers hold on a host, for the inventory's refusals (lock, interface
        changes)."""
        return [
            NicInUse(c.hostname, c.pci_address, c.consumer_name or c.consumer_id)
            for c in self.list_claims(hostname)
        ]

    def _changed(self, s: Session, hostnames: Sequence[str]) -> None:
        """Number the change of these hosts (under the placement lock: numbers follow the
        commit order) for the other workers' indexes."""
        if not hostnames:
            return
        seq = (s.scalar(select(func.max(HostChange.seq))) or 0) + 1
        for name in hostnames:
            moved = s.execute(update(HostChange).where(HostChange.hostname == name).values(seq=seq))
            if not getattr(moved, "rowcount", 0):
                s.add(HostChange(hostname=name, seq=seq))
        s.flush()

    def serialize(self, s: Session) -> None:
        """One placement at a time across every worker (see the module docstring). ``place``
        takes it; a caller that reads what the choice depends on (a server group's hosts)
        takes it first, so the next placement waits for this one's commit."""
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        else:
            s.execute(text("UPDATE placement_allocations SET vcpus = vcpus WHERE 0 = 1"))


__all__ = ["Allocation", "DeviceSource", "Inventory", "PlacementService"]
