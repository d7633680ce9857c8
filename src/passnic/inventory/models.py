"""The host inventory tables, named as StarlingX sysinv names them (research §1.1).

Every row has a uuid primary key; hosts, data networks and interface-data-network
assignments also carry sysinv's small integer ``id`` because operators address them by it
(``system host-lock 1``) and the JSON shows it (``forihostid``, ``datanetwork_id``).

Relationships that the API always shows are loaded eagerly, so objects returned by the service
stay complete after their transaction ends (``uses``/``used_by`` two levels deep: an interface's
lowers and uppers, and theirs).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from passnic.db import Base, Timestamps, uuid_pk

#: interfaces_to_interfaces: ``used_by`` (the upper: VLAN, AE, VF) uses ``uses`` (the lower).
interfaces_to_interfaces = Table(
    "interfaces_to_interfaces",
    Base.metadata,
    Column(
        "used_by_uuid",
        String(36),
        ForeignKey("interfaces.uuid", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "uses_uuid",
        String(36),
        ForeignKey("interfaces.uuid", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class Host(Timestamps, Base):
    """sysinv ``i_host``: a server with its state and what the scheduler may place on it."""

    __tablename__ = "i_host"

    uuid: Mapped[str] = uuid_pk()
    id: Mapped[int] = mapped_column(Integer, unique=True)
    hostname: Mapped[str] = mapped_column(String(255), unique=True)
    personality: Mapped[str] = mapped_column(String(32))
    subfunctions: Mapped[str] = mapped_column(String(255))
    administrative: Mapped[str] = mapped_column(String(32), default="locked")
    operational: Mapped[str] = mapped_column(String(32), default="disabled")
    availability: Mapped[str] = mapped_column(String(32), default="online")
    action: Mapped[str] = mapped_column(String(32), default="none")
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    #: the management NIC's MAC an operator gives at host-add (sysinv boots the host by it)
    mgmt_mac: Mapped[str | None] = mapped_column(String(17), unique=True, default=None)
    #: why its agent says it cannot run passthrough guests ([] when it can, None: not said)
    prerequisites: Mapped[list[str] | None] = mapped_column(JSON, default=None)


class NumaNode(Timestamps, Base):
    """sysinv ``i_node``: one NUMA node (processor) of a host."""

    __tablename__ = "i_node"
    __table_args__ = (UniqueConstraint("host_uuid", "numa_node"),)

    uuid: Mapped[str] = uuid_pk()
    host_uuid: Mapped[str] = mapped_column(ForeignKey("i_host.uuid", ondelete="CASCADE"))
    numa_node: Mapped[int] = mapped_column(Integer)


class EthernetPort(Timestamps, Base):
    """sysinv ``ethernet_ports``: a physical NIC port as the host agent reports it.

    The agent's report is the source of truth for every column but ``interface_uuid``.
    """

    __tablename__ = "ethernet_ports"
    __table_args__ = (UniqueConstraint("host_uuid", "pciaddr", "dev_id"),)

    uuid: Mapped[str] = uuid_pk()
    host_uuid: Mapped[str] = mapped_column(ForeignKey("i_host.uuid", ondelete="CASCADE"))
    node_uuid: Mapped[str | None] = mapped_column(ForeignKey("i_node.uuid", ondelete="SET NULL"))
    interface_uuid: Mapped[str | None] = mapped_column(
        ForeignKey("interfaces.uuid", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(255))
    pciaddr: Mapped[str] = mapped_column(String(255))
    dev_id: Mapped[int] = mapped_column(Integer, default=0)
    pclass: Mapped[str] = mapped_column(String(255))
    pvendor: Mapped[str] = mapped_column(String(255))
    pdevice: Mapped[str] = mapped_column(String(255))
    psvendor: Mapped[str] = mapped_column(String(255), default="")
    psdevice: Mapped[str] = mapped_column(String(255), default="")
    numa_node: Mapped[int] = mapped_column(Integer, default=0)
    sriov_totalvfs: Mapped[int | None] = mapped_column(Integer)
    sriov_numvfs: Mapped[int] = mapped_column(Integer, default=0)
    sriov_vf_driver: Mapped[str | None] = mapped_column(String(255))
    sriov_vf_pdevice_id: Mapped[str | None] = mapped_column(String(255))
    #: comma-separated VF PCI addresses, as sysinv stores them
    sriov_vfs_pci_address: Mapped[str] = mapped_column(Text, default="")
    driver: Mapped[str | None] = mapped_column(String(255))
    mac: Mapped[str] = mapped_column(String(255))
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    speed: Mapped[int | None] = mapped_column(Integer)
    link_mode: Mapped[str | None] = mapped_column(String(255))

    host: Mapped[Host] = relationship(lazy="joined", innerjoin=True)

    @property
    def vf_addresses(self) -> list[str]:
        return [a for a in self.sriov_vfs_pci_address.split(",") if a]


class LldpNeighbour(Timestamps, Base):
    """sysinv ``lldp_neighbours``: what a port last heard over LLDP, as its agent reported it
    (the row goes when a report says the port hears nothing)."""

    __tablename__ = "lldp_neighbours"

    uuid: Mapped[str] = uuid_pk()
    host_uuid: Mapped[str] = mapped_column(ForeignKey("i_host.uuid", ondelete="CASCADE"))
    port_uuid: Mapped[str] = mapped_column(
        ForeignKey("ethernet_ports.uuid", ondelete="CASCADE"), unique=True
    )
    chassis_id: Mapped[str] = mapped_column(String(255))
    port_identifier: Mapped[str] = mapped_column(String(255))
    system_name: Mapped[str] = mapped_column(String(255), default="")
    system_description: Mapped[str] = mapped_column(String(255), default="")
    port_description: Mapped[str] = mapped_column(String(255), default="")
    ttl: Mapped[int] = mapped_column(Integer, default=120)

    port: Mapped[EthernetPort] = relationship(lazy="joined", innerjoin=True)


class Interface(Timestamps, Base):
    """sysinv ``interfaces`` (all iftypes in one table): how the operator uses ports.

    ``ifclass`` NULL is sysinv's "none". ``monitoring`` is host interface monitoring, which a
    pci-passthrough interface cannot have (the host does not see the NIC's link).
    """

    __tablename__ = "interfaces"
    __table_args__ = (UniqueConstraint("host_uuid", "ifname"),)

    uuid: Mapped[str] = uuid_pk()
    host_uuid: Mapped[str] = mapped_column(ForeignKey("i_host.uuid", ondelete="CASCADE"))
    ifname: Mapped[str] = mapped_column(String(255))
    iftype: Mapped[str] = mapped_column(String(32))
    ifclass: Mapped[str | None] = mapped_column(String(32))
    imac: Mapped[str | None] = mapped_column(String(255))
    imtu: Mapped[int] = mapped_column(Integer, default=1500)
    vlan_id: Mapped[int | None] = mapped_column(Integer)
    aemode: Mapped[str | None] = mapped_column(String(32))
    txhashpolicy: Mapped[str | None] = mapped_column(String(32))
    sriov_numvfs: Mapped[int] = mapped_column(Integer, default=0)
    sriov_vf_driver: Mapped[str | None] = mapped_column(String(32))
    ptp_role: Mapped[str] = mapped_column(String(32), default="none")
    max_tx_rate: Mapped[int | None] = mapped_column(Integer)
    monitoring: Mapped[bool] = mapped_column(Boolean, default=False)

    host: Mapped[Host] = relationship(lazy="joined", innerjoin=True)
    ports: Mapped[list[EthernetPort]] = relationship(
        lazy="selectin", order_by=EthernetPort.name, passive_deletes=True
    )
    uses: Mapped[list[Interface]] = relationship(
        secondary=interfaces_to_interfaces,
        primaryjoin=lambda: Interface.uuid == interfaces_to_interfaces.c.used_by_uuid,
        secondaryjoin=lambda: Interface.uuid == interfaces_to_interfaces.c.uses_uuid,
        back_populates="used_by",
        lazy="selectin",
        join_depth=2,
        order_by=lambda: Interface.ifname,
    )
    used_by: Mapped[list[Interface]] = relationship(
        secondary=interfaces_to_interfaces,
        primaryjoin=lambda: Interface.uuid == interfaces_to_interfaces.c.uses_uuid,
        secondaryjoin=lambda: Interface.uuid == interfaces_to_interfaces.c.used_by_uuid,
        back_populates="uses",
        lazy="selectin",
        join_depth=2,
        order_by=lambda: Interface.ifname,
    )
    datanetworks: Mapped[list[InterfaceDataNetwork]] = relationship(
        back_populates="interface",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class DataNetwork(Timestamps, Base):
    """sysinv ``datanetworks`` (flat, vlan and vxlan in one table; vxlan columns nullable)."""

    __tablename__ = "datanetworks"

    uuid: Mapped[str] = uuid_pk()
    id: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    network_type: Mapped[str] = mapped_column(String(32))
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    description: Mapped[str | None] = mapped_column(String(255))
    multicast_group: Mapped[str | None] = mapped_column(String(64))
    port_num: Mapped[int | None] = mapped_column(Integer)
    ttl: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(32))


class InterfaceDataNetwork(Timestamps, Base):
    """sysinv ``interface_datanetworks``: an interface assigned to a data network."""

    __tablename__ = "interface_datanetworks"
    __table_args__ = (UniqueConstraint("interface_uuid", "datanetwork_uuid"),)

    uuid: Mapped[str] = uuid_pk()
    id: Mapped[int] = mapped_column(Integer, unique=True)
    interface_uuid: Mapped[str] = mapped_column(ForeignKey("interfaces.uuid", ondelete="CASCADE"))
    datanetwork_uuid: Mapped[str] = mapped_column(
        ForeignKey("datanetworks.uuid", ondelete="CASCADE")
    )

    interface: Mapped[Interface] = relationship(
        back_populates="datanetworks", lazy="joined", innerjoin=True
    )
    datanetwork: Mapped[DataNetwork] = relationship(lazy="joined", innerjoin=True)


class InventoryRevision(Base):
    """One row counting the inventory's write transactions: readers that keep a copy of the
    inventory (the placement index of every API worker) compare it to know their copy is
    current, with one primary-key read instead of reading the inventory again."""

    __tablename__ = "inventory_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
