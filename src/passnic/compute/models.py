"""Compute tables, named as Nova names them: flavors with extra specs and project access, PCI
aliases, servers (with the ports they use) and migrations.

A server keeps a copy of its flavor (Nova's embedded flavor, microversion 2.47): deleting or
changing a flavor never changes a running server. Devices a server holds are not here but in
placement's claims table (``passnic.placement.models.DeviceClaim``), whose UNIQUE constraint
is what stops two boots from getting one NIC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from passnic.db import Base, Timestamps, new_uuid, uuid_pk


class Flavor(Timestamps, Base):
    """A Nova flavor; ``id`` is Nova's ``flavorid`` (a string the operator may choose)."""

    __tablename__ = "compute_flavors"

    id: Mapped[str] = mapped_column(String(255), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    ram: Mapped[int] = mapped_column(Integer)
    disk: Mapped[int] = mapped_column(Integer, default=0)
    ephemeral: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text, default=None)

    extra_specs: Mapped[list[FlavorExtraSpec]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )
    projects: Mapped[list[FlavorProject]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def specs(self) -> dict[str, str]:
        return {spec.key: spec.value for spec in self.extra_specs}


class FlavorExtraSpec(Base):
    __tablename__ = "compute_flavor_extra_specs"

    flavor_id: Mapped[str] = mapped_column(
        ForeignKey("compute_flavors.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class FlavorProject(Base):
    """os-flavor-access: a project that may use a private flavor."""

    __tablename__ = "compute_flavor_projects"

    flavor_id: Mapped[str] = mapped_column(
        ForeignKey("compute_flavors.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class PciAlias(Timestamps, Base):
    """Nova's ``[pci]alias``, kept in the database so the API can manage it: the name a flavor's
    ``pci_passthrough:alias`` extra spec uses for "a NIC with this vendor and product id"."""

    __tablename__ = "compute_pci_aliases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(4))
    product_id: Mapped[str] = mapped_column(String(4))
    device_type: Mapped[str] = mapped_column(String(16), default="type-PCI")
    numa_policy: Mapped[str] = mapped_column(String(16), default="legacy")


class Server(Timestamps, Base):
    """A Nova instance. ``status`` is the API status; vm_state/task_state/power_state are Nova's
    finer states (``OS-EXT-STS:*``). ``host`` is where the guest runs (its devices are there)."""

    __tablename__ = "compute_servers"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    image_id: Mapped[str | None] = mapped_column(String(36))
    flavor_id: Mapped[str] = mapped_column(String(255))
    #: the flavor as it was at boot: {original_name, vcpus, ram, disk, ephemeral, swap,
    #: extra_specs}
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the PCI aliases the flavor asked for, resolved at boot: [{name, count, vendor_id, ...}]
    pci_requests: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(32), default="BUILD")
    vm_state: Mapped[str] = mapped_column(String(32), default="building")
    #: not None while an operation is under way: the conductor finds its work by it
    task_state: Mapped[str | None] = mapped_column(String(32), default="scheduling", index=True)
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    launched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    fault_code: Mapped[int | None] = mapped_column(Integer, default=None)
    fault_message: Mapped[str | None] = mapped_column(Text, default=None)
    fault_created: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    #: the key pair named at boot (its public key goes to the guest's config drive)
    key_name: Mapped[str | None] = mapped_column(String(255), default=None)
    #: ``user_data`` given at boot, base64 as the API took it (the config drive's user_data)
    user_data: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    #: the addresses the user says reach the server (Nova keeps them as given)
    access_ipv4: Mapped[str | None] = mapped_column(String(64), default=None)
    access_ipv6: Mapped[str | None] = mapped_column(String(64), default=None)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: a locked server refuses actions from anyone but an admin (Nova's lock)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_reason: Mapped[str | None] = mapped_column(Text, default=None)
    #: the instance action in progress (its steps are recorded as its events)
    action_id: Mapped[int | None] = mapped_column(Integer, default=None)

    ports: Mapped[list[ServerPort]] = relationship(
        lazy="selectin",
        order_by="ServerPort.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ServerPort(Base):
    """A Neutron port a server uses, in the order given at boot. ``created`` marks ports the
    server made itself (``--nic net-id=``): they are deleted with it."""

    __tablename__ = "compute_server_ports"

    server_id: Mapped[str] = mapped_column(
        ForeignKey("compute_servers.id", ondelete="CASCADE"), primary_key=True
    )
    port_id: Mapped[str] = mapped_column(String(36), primary_key=True, unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[bool] = mapped_column(Boolean, default=False)


class Keypair(Timestamps, Base):
    """A user's SSH public key (Nova keeps only the public half; a generated pair's private
    key is answered once, at creation)."""

    __tablename__ = "compute_keypairs"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), default="ssh")
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))


class Quota(Base):
    """A limit an admin set for a project (``os-quota-sets``); a resource without a row has
    Nova's default."""

    __tablename__ = "compute_quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class ServerGroup(Timestamps, Base):
    """Nova's server group: a policy (affinity, anti-affinity, soft-*) over its members."""

    __tablename__ = "compute_server_groups"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    members: Mapped[list[ServerGroupMember]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )


class ServerGroupMember(Base):
    """A server in a group; a server is in at most one group (UNIQUE server_id)."""

    __tablename__ = "compute_server_group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("compute_server_groups.id", ondelete="CASCADE"), primary_key=True
    )
    server_id: Mapped[str] = mapped_column(String(36), primary_key=True, unique=True)


class Migration(Timestamps, Base):
    """A cold (or live) migration, as ``/os-migrations`` shows it. Kept after the server is
    deleted, as Nova keeps it."""

    __tablename__ = "compute_migrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    server_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    migration_type: Mapped[str] = mapped_column(String(32), default="migration")
    status: Mapped[str] = mapped_column(String(32), default="pre-migrating")
    source_compute: Mapped[str] = mapped_column(String(255))
    dest_compute: Mapped[str | None] = mapped_column(String(255), default=None)
    flavor_id: Mapped[str] = mapped_column(String(255))
    #: a resize's old flavor as the server had it (``flavor`` and ``pci_requests``), put back
    #: by a revert or a failed move: the flavor itself may have changed since
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: vm_state before the move: a stopped server stays stopped after confirm or revert
    old_vm_state: Mapped[str] = mapped_column(String(32), default="active")
    #: why the move failed, when it did
    error: Mapped[str | None] = mapped_column(Text, default=None)


class ComputeNode(Base):
    """A compute host as the controller's compute service sees it (Nova's compute service
    record): the agent bound to it, its last heartbeat, and the generation of its desired
    guests (changed whenever they change, so a waiting agent learns of new work)."""

    __tablename__ = "compute_nodes"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: the Keystone user whose token may act as this host's agent
    agent_user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: what the controller last concluded from the heartbeats (to act on a change only once)
    up: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)


class Guest(Base):
    """A server on one host: what the controller wants there (``power``, ``reboots``,
    ``spec``) beside what that host's agent last reported (``actual_*``). A server has one
    row per host that holds something of it (two during a cold migration). A row whose server
    is gone stays, desired ``absent``, until the agent confirms the guest is gone."""

    __tablename__ = "compute_guests"

    server_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    power: Mapped[str] = mapped_column(String(16))
    reboots: Mapped[int] = mapped_column(Integer, default=0)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: grows with every change of what is wanted; the agent says which version it acted on, so
    #: a report about an older wish is never taken for an answer to the newer one
    version: Mapped[int] = mapped_column(Integer, default=1)
    actual_version: Mapped[int] = mapped_column(Integer, default=0)
    actual_state: Mapped[str | None] = mapped_column(String(16), default=None)
    actual_reboots: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    console: Mapped[str | None] = mapped_column(Text, default=None)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class InstanceAction(Base):
    """Nova's instance action: one operation a user asked for, with its steps as events."""

    __tablename__ = "compute_instance_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    server_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finish_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: "Error" when a step failed (Nova's wording)
    message: Mapped[str | None] = mapped_column(Text, default=None)

    events: Mapped[list[InstanceActionEvent]] = relationship(
        lazy="selectin",
        order_by="InstanceActionEvent.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class InstanceActionEvent(Base):
    """One step of an action, recorded when it starts and again when it ends."""

    __tablename__ = "compute_instance_action_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("compute_instance_actions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finish_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: Success or Error once finished
    result: Mapped[str | None] = mapped_column(String(16), default=None)
    #: what the step did or why it failed, in operator words
    details: Mapped[str | None] = mapped_column(Text, default=None)
