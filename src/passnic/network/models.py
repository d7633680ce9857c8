"""Networking tables, named as Neutron names them.

A network has exactly one segment (Passnic has no multi-segment networks), so the segment lives
on the network row: ``network_type``, ``physical_network`` (the name of an inventory data
network) and ``segmentation_id`` (the VLAN ID; NULL for flat). The database enforces the segment
invariants: one network per (data network, VLAN ID), one flat network per data network, VLAN IDs
in 1-4094 and no VLAN ID on a flat network.

Collections that the API always shows (a port's fixed IPs and security groups, a security
group's rules, a trunk's sub-ports, a network's subnets) are loaded eagerly, so objects returned
by the service stay complete after their transaction ends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from passnic.db import Base, Timestamps, uuid_pk

FLAT = "flat"
VLAN = "vlan"


class Standard(Timestamps):
    """Neutron's standard attributes: name, description, owner, revision."""

    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)

    def bump(self) -> None:
        """A changed resource shows a higher revision_number, as Neutron's do."""
        self.revision_number = (self.revision_number or 0) + 1


class Network(Standard, Base):
    __tablename__ = "networks"
    __table_args__ = (
        UniqueConstraint("physical_network", "segmentation_id"),
        Index(
            "uq_networks_flat_physical_network",
            "physical_network",
            unique=True,
            sqlite_where=text("network_type = 'flat'"),
            postgresql_where=text("network_type = 'flat'"),
        ),
        CheckConstraint(
            "(network_type = 'vlan' AND segmentation_id BETWEEN 1 AND 4094)"
            " OR (network_type = 'flat' AND segmentation_id IS NULL)",
            name="segment",
        ),
    )

    id: Mapped[str] = uuid_pk()
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    mtu: Mapped[int] = mapped_column(Integer)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    network_type: Mapped[str] = mapped_column(String(16))
    physical_network: Mapped[str] = mapped_column(String(255))
    segmentation_id: Mapped[int | None] = mapped_column(Integer)

    subnets: Mapped[list[Subnet]] = relationship(
        back_populates="network",
        lazy="selectin",
        order_by=lambda: (Subnet.created_at, Subnet.id),
        passive_deletes=True,
    )


class Subnet(Standard, Base):
    __tablename__ = "subnets"
    __table_args__ = (UniqueConstraint("network_id", "cidr"),)

    id: Mapped[str] = uuid_pk()
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    #: [{"start": ip, "end": ip}, ...]
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: [{"destination": cidr, "nexthop": ip}, ...]
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32))
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32))

    network: Mapped[Network] = relationship(back_populates="subnets", lazy="raise")


class IPAllocation(Base):
    """One address of a subnet held by a port. The primary key makes (subnet, ip) unique."""

    __tablename__ = "ipallocations"

    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    #: the canonical text form of the address (``str(ipaddress.ip_address(...))``)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))


port_security_groups = Table(
    "securitygroupportbindings",
    Base.metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "security_group_id",
        String(36),
        ForeignKey("securitygroups.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
)


class Port(Standard, Base):
    __tablename__ = "ports"

    id: Mapped[str] = uuid_pk()
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="RESTRICT"), index=True
    )
    mac_address: Mapped[str] = mapped_column(String(17), unique=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    vnic_type: Mapped[str] = mapped_column(String(32), default="normal")
    binding_host_id: Mapped[str] = mapped_column(String(255), default="")
    binding_profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    binding_vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    binding_vif_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    qos_policy_id: Mapped[str | None] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="RESTRICT")
    )
    #: [{"ip_address": ip or cidr, "mac_address": mac}, ...]
    allowed_address_pairs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    fixed_ips: Mapped[list[IPAllocation]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: IPAllocation.ip_address,
    )
    security_groups: Mapped[list[SecurityGroup]] = relationship(
        secondary=port_security_groups,
        lazy="selectin",
        order_by=lambda: SecurityGroup.id,
    )
    trunk: Mapped[Trunk | None] = relationship(
        back_populates="parent", lazy="selectin", foreign_keys=lambda: [Trunk.port_id]
    )
    subport: Mapped[SubPort | None] = relationship(
        lazy="selectin", foreign_keys=lambda: [SubPort.port_id], viewonly=True
    )


class NetworkSegmentRange(Timestamps, Base):
    """VLAN IDs of one data network that projects may be given (private) or all may use."""

    __tablename__ = "network_segment_ranges"
    __table_args__ = (
        CheckConstraint("minimum >= 1 AND maximum <= 4094 AND minimum <= maximum", name="bounds"),
        CheckConstraint("shared OR project_id IS NOT NULL", name="owner"),
    )

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), default="")
    default: Mapped[bool] = mapped_column(Boolean, default=False)
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    project_id: Mapped[str | None] = mapped_column(String(64), index=True)
    network_type: Mapped[str] = mapped_column(String(16), default=VLAN)
    physical_network: Mapped[str] = mapped_column(String(255), index=True)
    minimum: Mapped[int] = mapped_column(Integer)
    maximum: Mapped[int] = mapped_column(Integer)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)


class SecurityGroup(Standard, Base):
    __tablename__ = "securitygroups"

    id: Mapped[str] = uuid_pk()
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)

    rules: Mapped[list[SecurityGroupRule]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys=lambda: [SecurityGroupRule.security_group_id],
        order_by=lambda: (SecurityGroupRule.created_at, SecurityGroupRule.id),
    )


class DefaultSecurityGroup(Base):
    """Which group is a project's ``default``; the primary key makes lazy creation race-safe."""

    __tablename__ = "default_security_group"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"), unique=True
    )


class SecurityGroupRule(Timestamps, Base):
    __tablename__ = "securitygrouprules"

    id: Mapped[str] = uuid_pk()
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True
    )
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE")
    )
    direction: Mapped[str] = mapped_column(String(8))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40))
    port_range_min: Mapped[int | None] = mapped_column(Integer)
    port_range_max: Mapped[int | None] = mapped_column(Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=1)


class QosPolicy(Standard, Base):
    __tablename__ = "qos_policies"

    id: Mapped[str] = uuid_pk()
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    bandwidth_limit_rules: Mapped[list[QosBandwidthLimitRule]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: QosBandwidthLimitRule.direction,
    )


class QosBandwidthLimitRule(Base):
    __tablename__ = "qos_bandwidth_limit_rules"
    __table_args__ = (UniqueConstraint("qos_policy_id", "direction"),)

    id: Mapped[str] = uuid_pk()
    qos_policy_id: Mapped[str] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="CASCADE"), index=True
    )
    max_kbps: Mapped[int] = mapped_column(Integer)
    max_burst_kbps: Mapped[int] = mapped_column(Integer, default=0)
    direction: Mapped[str] = mapped_column(String(8), default="egress")


class Trunk(Standard, Base):
    __tablename__ = "trunks"

    id: Mapped[str] = uuid_pk()
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="RESTRICT"), unique=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")

    parent: Mapped[Port] = relationship(
        back_populates="trunk", lazy="raise", foreign_keys=[port_id]
    )
    sub_ports: Mapped[list[SubPort]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: (SubPort.segmentation_id, SubPort.port_id),
    )


class SubPort(Base):
    """A port carried by a trunk on a VLAN. The primary key: a port is in one trunk at most."""

    __tablename__ = "subports"
    __table_args__ = (UniqueConstraint("trunk_id", "segmentation_type", "segmentation_id"),)

    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="RESTRICT"), primary_key=True
    )
    trunk_id: Mapped[str] = mapped_column(ForeignKey("trunks.id", ondelete="CASCADE"), index=True)
    segmentation_type: Mapped[str] = mapped_column(String(16), default=VLAN)
    segmentation_id: Mapped[int] = mapped_column(Integer)


class Quota(Base):
    """A project's own limits; a missing row or a null column means the configured default."""

    __tablename__ = "network_quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    network: Mapped[int | None] = mapped_column(Integer, default=None)
    subnet: Mapped[int | None] = mapped_column(Integer, default=None)
    port: Mapped[int | None] = mapped_column(Integer, default=None)
