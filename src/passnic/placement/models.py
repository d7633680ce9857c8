"""Placement's tables: what each server holds on each host.

``DeviceClaim``: one row per pci-passthrough NIC a server holds. The UNIQUE constraint on
(hostname, pci_address) is what makes a NIC impossible to give twice: two API workers that pick
the same NIC at once both INSERT, the database accepts one and refuses the other, and the loser
chooses again. Nothing is claimed in memory only.

``ResourceAllocation``: the vCPUs, RAM and disk a server takes on a host, so the scheduler
knows what is left.

A server holds rows on one host, except during a cold migration (status VERIFY_RESIZE) when it
holds its old ones on the source host and its new ones on the destination; confirm drops the
first set, revert the second.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from passnic.db import Base, Timestamps, uuid_pk


class DeviceClaim(Timestamps, Base):
    __tablename__ = "placement_device_claims"
    __table_args__ = (UniqueConstraint("hostname", "pci_address"),)

    uuid: Mapped[str] = uuid_pk()
    hostname: Mapped[str] = mapped_column(String(255))
    pci_address: Mapped[str] = mapped_column(String(32))
    #: the server that holds the NIC, and its name (for "in use by vm2")
    consumer_id: Mapped[str] = mapped_column(String(36), index=True)
    consumer_name: Mapped[str] = mapped_column(String(255), default="")
    #: the interface the NIC is (sysinv ifname), for messages
    ifname: Mapped[str] = mapped_column(String(255), default="")
    vendor_id: Mapped[str] = mapped_column(String(8))
    product_id: Mapped[str] = mapped_column(String(8))
    #: the NIC's own MAC: a direct-physical port takes it while bound
    mac: Mapped[str] = mapped_column(String(32), default="")
    numa_node: Mapped[int | None] = mapped_column(Integer, default=None)
    #: the data network of the port's network ("" for a flavor's PCI alias)
    physical_network: Mapped[str] = mapped_column(String(255), default="")
    #: what asked for the NIC: a direct-physical port, or an alias of the server's flavor
    port_id: Mapped[str | None] = mapped_column(String(36), default=None)
    alias_name: Mapped[str | None] = mapped_column(String(255), default=None)

    @property
    def pci_vendor_info(self) -> str:
        return f"{self.vendor_id}:{self.product_id}"


class ResourceAllocation(Timestamps, Base):
    __tablename__ = "placement_allocations"

    consumer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    ram_mb: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb: Mapped[int] = mapped_column(Integer, default=0)


class HostChange(Base):
    """The last placement change (claim or release) on each host, numbered in commit order.

    Every API worker keeps a ``FleetIndex`` of the whole fleet in memory; before it places a
    server it reads the rows numbered above the last one it saw (an index range scan, about
    one row per boot since) and refreshes only those hosts. Writers number their change under
    the placement lock, so the numbers follow the commit order and none is skipped."""

    __tablename__ = "placement_host_changes"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
