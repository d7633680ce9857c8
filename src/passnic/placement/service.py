"""The database side of placement: the fleet as the pure scheduler sees it, and claims.

Per request, correctness first: the inventory (hosts and their pci-passthrough NICs) is read,
the claims and allocations are read inside the caller's transaction, a ``FleetIndex`` is built
from both and asked to ``choose``; the chosen NICs are then INSERTed as ``DeviceClaim`` rows in
that same transaction, so the caller's port binding commits with them or not at all.

Two API workers (or processes) never get the same NIC:

* placement transactions run one at a time (a PostgreSQL advisory lock; SQLite's single
  writer lock, taken before the claims are read), so each sees the claims of the one before;
* and, should anything write claims without that lock, the UNIQUE (hostname, pci_address)
  constraint refuses the second INSERT; ``run`` then starts the whole transaction again (a
  bounded number of times) and the scheduler chooses among what is still free.

vCPU/RAM/disk allocations are written in the same transaction; they are consistent under the
same lock but, unlike NICs, not guarded by a constraint.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy import delete, select, text
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
from passnic.placement.models import DeviceClaim, ResourceAllocation
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


class PlacementService:
    #: how many times a claiming transaction is started again after a constraint fired
    ATTEMPTS = 8

    def __init__(self, db: Database, inventory: InventoryService) -> None:
        self.db = db
        self.inventory = inventory

    def snapshot(self) -> Inventory:
        """Read the inventory (its own transaction: call it outside any other)."""
        return Inventory(
            hosts=tuple(self.inventory.compute_hosts()),
            devices=tuple(self.inventory.passthrough_devices()),
        )

    def run(self, work: Callable[[Session, Inventory], T]) -> T:
        """Run a claiming step: a fresh inventory snapshot, then ``work`` in one transaction,
        started again when a claim raced another (constraint or SQLite lock error)."""
        for _attempt in range(self.ATTEMPTS):
            inventory = self.snapshot()
            try:
                with self.db.transaction() as s:
                    return work(s, inventory)
            except (IntegrityError, OperationalError):
                continue
        raise ServiceUnavailable(
            f"Could not claim a pci-passthrough NIC after {self.ATTEMPTS} attempts: other "
            "requests kept taking the same ones; try again"
        )

    def fleet(
        self, s: Session, inventory: Inventory, shown: Collection[str] | None = None
    ) -> FleetView:
        """The fleet with every NIC's holder and every host's used capacity, as of now.
        Holders not in ``shown`` (consumer ids; None: all) hold their NICs unnamed."""
        holders = {
            (c.hostname, c.pci_address): (
                c.consumer_name or c.consumer_id
                if shown is None or c.consumer_id in shown
                else hidden_holder(c.consumer_id)
            )
            for c in s.scalars(select(DeviceClaim))
        }
        used: dict[str, ResourceAllocation] = {}
        for a in s.scalars(select(ResourceAllocation)):
            total = used.setdefault(
                a.hostname, ResourceAllocation(hostname=a.hostname, vcpus=0, ram_mb=0, disk_gb=0)
            )
            total.vcpus += a.vcpus
            total.ram_mb += a.ram_mb
            total.disk_gb += a.disk_gb
        known = {h.hostname for h in inventory.hosts}
        return FleetView(
            hosts=tuple(host_state(h, used.get(h.hostname)) for h in inventory.hosts),
            devices=tuple(
                device(nic, holders.get((nic.hostname, nic.pciaddr)))
                for nic in inventory.devices
                if nic.hostname in known
            ),
        )

    def place(
        self,
        s: Session,
        inventory: Inventory,
        consumer_id: str,
        consumer_name: str,
        request: PlacementRequest,
        sources: Sequence[DeviceSource],
        shown: Collection[str] | None = None,
    ) -> Allocation | NoValidHost:
        """Choose a host for ``request`` and claim its NICs and capacity in ``s``; or say why
        no host can take it (nothing is written then).

        ``shown``: the servers (consumer ids) whose names the reason may give, i.e. those of
        the project that will read it; the others are "another project's server". None names
        every server (an admin's view). When names are hidden, ``details`` has them all."""
        self.serialize(s)
        decision = FleetIndex(self.fleet(s, inventory, shown)).choose(request)
        if isinstance(decision, NoValidHost):
            log_event(
                log,
                "no_valid_host",
                logging.WARNING,
                server=consumer_name,
                server_id=consumer_id,
                reason=decision.message,
            )
            if shown is None:
                return decision
            full = FleetIndex(self.fleet(s, inventory)).choose(request)
            details = full.message if isinstance(full, NoValidHost) else ""
            return replace(decision, details=details)
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

    def serialize(self, s: Session) -> None:
        """One placement at a time across every worker (see the module docstring). ``place``
        takes it; a caller that reads what the choice depends on (a server group's hosts)
        takes it first, so the next placement waits for this one's commit."""
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        else:
            s.execute(text("UPDATE placement_allocations SET vcpus = vcpus WHERE 0 = 1"))


__all__ = ["Allocation", "DeviceSource", "Inventory", "PlacementService"]
