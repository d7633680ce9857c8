"""The fabric's tables: switches, their ports, the cabling from host NICs to switch ports
(typed or learned over LLDP), and alarms (drift the audit found, LLDP disagreeing with the
cabling).

The desired configuration of a port is never stored: it follows from the cabling and from the
network domain's binding of a port to the NIC, so it cannot disagree with them. Only an admin's
explicit trunk exception for one server is stored, on the switch port.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from passnic.db import Base, Timestamps, utcnow, uuid_pk


class FabricSwitch(Timestamps, Base):
    __tablename__ = "fabric_switches"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    address: Mapped[str] = mapped_column(String(255), default="")
    #: a key of the driver table (`soft`, `cisco_ios`, ...)
    driver: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(255), default="")
    #: Fernet-encrypted (`passnic.fabric.credentials`); never returned by the API
    password: Mapped[str] = mapped_column(String(1024), default="")
    #: persist the running configuration after each change (`write memory` or the OS's own)
    save_config: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: the VLAN a flat network's frames use on this switch
    native_vlan: Mapped[int] = mapped_column(Integer, default=1)
    #: None: a quarantined port is only shut down; else also parked on this VLAN
    quarantine_vlan: Mapped[int | None] = mapped_column(Integer, default=None)

    ports: Mapped[list[FabricSwitchPort]] = relationship(
        back_populates="switch",
        cascade="all, delete-orphan",
        order_by="FabricSwitchPort.position",
    )


class FabricSwitchPort(Timestamps, Base):
    __tablename__ = "fabric_switch_ports"
    __table_args__ = (UniqueConstraint("switch_id", "name"),)

    id: Mapped[str] = uuid_pk()
    switch_id: Mapped[str] = mapped_column(ForeignKey("fabric_switches.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: `edge` ports face host NICs and are managed; `uplink` ports are left alone
    role: Mapped[str] = mapped_column(String(16), default="edge")
    #: an admin's trunk exception: the server it is for, and its allowed VLANs ("10,20")
    trunk_server_id: Mapped[str | None] = mapped_column(String(36), default=None)
    trunk_vlans: Mapped[str] = mapped_column(String(255), default="")

    switch: Mapped[FabricSwitch] = relationship(back_populates="ports")


class FabricLink(Timestamps, Base):
    """A cable: host NIC (host, interface name, PCI address) to a switch port."""

    __tablename__ = "fabric_links"
    __table_args__ = (UniqueConstraint("hostname", "ifname"),)

    id: Mapped[str] = uuid_pk()
    hostname: Mapped[str] = mapped_column(String(255))
    ifname: Mapped[str] = mapped_column(String(255))
    pci_address: Mapped[str] = mapped_column(String(32), default="")
    switch_port_id: Mapped[str] = mapped_column(
        ForeignKey("fabric_switch_ports.id", ondelete="CASCADE"), unique=True
    )
    #: `manual` (link-set) wins over `lldp` (learned from the host agent)
    source: Mapped[str] = mapped_column(String(16), default="manual")

    switch_port: Mapped[FabricSwitchPort] = relationship()


class FabricAlarm(Base):
    """One drift an audit found on a managed port (``fabric-drift``): active while the port is
    wrong; resolved when the audit repaired it or the port came right (kept, so repairs leave
    a trace). Or what LLDP says against the cabling (``lldp-mismatch``, ``lldp-moved``):
    active until LLDP agrees or the operator sets the link."""

    __tablename__ = "fabric_alarms"

    id: Mapped[str] = uuid_pk()
    switch_port_id: Mapped[str] = mapped_column(
        ForeignKey("fabric_switch_ports.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(1024))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    switch_port: Mapped[FabricSwitchPort] = relationship()
