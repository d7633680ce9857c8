"""Servers: boot, power, delete, and cold migration of VMs that own PCI passthrough NICs.

The API records what was asked and answers at once (202); the steps run in the conductor
(``passnic.compute.conductor``), each step ONE transaction that moves the server from one
recorded task_state to the next, with every side effect between two steps idempotent. A boot
takes its first step, the scheduling, in the request itself, after the record committed (a
database transaction, nothing to wait for): its answer comes with the host chosen.

* boot: ``scheduling`` (choose a host, claim its NICs and bind the ports to them, in one
  transaction) -> ``networking`` (the switch ports of those NICs carry the network's VLAN) ->
  ``spawning`` (the host's agent is told to run the guest; the step ends when it says it
  does) -> ACTIVE. Any failure: ERROR with a fault, the claims given back, the ports
  unbound, the guest removed from the host: a failed boot never keeps a NIC.
* delete, stop/start/reboot, cold migration (``resize_prep`` -> ``resize_migrating`` ->
  ``resize_migrated`` -> ``resize_finish`` -> VERIFY_RESIZE), confirm and revert follow the
  same pattern.

A step first takes the server with a conditional UPDATE on its row (status and task_state as
expected), so two workers never run one step twice; a killed controller leaves each server in
a recorded task_state, and the conductor of the next start resumes it from there (hosts are
told the desired state of their guests, never a command, so telling them again is harmless).
Each step is also written as an event of the server's instance action (``actions``).

Ports (``networks`` of the boot request):

* ``{"port": id}``: a ``direct-physical`` port asks for one passthrough NIC on its network's
  data network (any NIC there, with or without SR-IOV); a ``normal`` port is attached without a
  NIC (it carries the address only); other vnic types are refused.
* ``{"uuid": network}``: Passnic creates a ``direct-physical`` port on the network (a Passnic
  VM's NICs are passthrough NICs) and deletes it with the server. With a flavor that asks for
  NICs through ``pci_passthrough:alias``, these ports are bound to the alias NICs, in order (so
  their switch ports carry the network's VLAN); further ones ask for NICs of their own.
* ``"auto"``, ``"none"`` or nothing: no port; a flavor with ``pci_passthrough:alias`` still
  gets its NICs (StarlingX's path for NICs without SR-IOV), but they carry no network: their
  switch ports stay quarantined, and the boot's instance action says so.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, cast, get_args

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from passnic import policy
from passnic.compute import actions
from passnic.compute.attributes import ServerAttributes
from passnic.compute.flavors import NUMA_POLICY_SPEC, AliasRequest, FlavorService
from passnic.compute.hosts import HostService, NodeView
from passnic.compute.keypairs import KeypairService, ServerGroupService
from passnic.compute.metadata import network_data
from passnic.compute.models import Flavor as FlavorRow
from passnic.compute.models import Guest, InstanceAction, Migration, Server, ServerPort
from passnic.compute.names import name_matches
from passnic.compute.protocol import GuestDevice, GuestImage, GuestSpec, Power
from passnic.compute.quotas import QuotaService
from passnic.context import RequestContext
from passnic.db import Database, new_uuid, on_commit, seek, utcnow
from passnic.errors import BadRequest, Conflict, NotFound, PassnicError
from passnic.image.service import ImageService
from passnic.inventory.service import ComputeHost
from passnic.logs import current_request_id
from passnic.network.models import Subnet
from passnic.network.ports import DIRECT_PHYSICAL, FixedIp, PortSegment
from passnic.network.service import NetworkService
from passnic.placement.model import (
    DeviceRequest,
    DeviceType,
    Flavor,
    NoValidHost,
    NumaPolicy,
    PlacementRequest,
)
from passnic.placement.models import DeviceClaim
from passnic.placement.service import DeviceSource, PlacementService

policy.register(
    {
        "compute:server:create": "member",
        "compute:server:owner": "owner",
        "compute:server:list_all_projects": "admin",
        "compute:server:migrate": "admin",
        "compute:migration:read": "admin",
    }
)

DEVICE_OWNER = "compute:nova"
NORMAL = "normal"

# Nova's power_state values (OS-EXT-STS:power_state)
NOSTATE, RUNNING, SHUTDOWN = 0, 1, 4

log = logging.getLogger(__name__)


class FabricHook(Protocol):
    """The fabric: converges the switch ports cabled to these hosts' NICs and says what each
    port now is, or raises ServiceUnavailable with the switch's message (nothing
    half-applied)."""

    def provision(self, hostnames: Iterable[str]) -> list[str]: ...


#: migrations that still hold something on both hosts
OPEN_MIGRATIONS = ("pre-migrating", "migrating", "finished", "confirming", "reverting")

#: task_state -> (power wanted of the guest, status once it is so, event name)
POWER_TASKS: dict[str, tuple[Power, str, str]] = {
    "powering-off": ("stopped", "SHUTOFF", "stop"),
    "powering-on": ("running", "ACTIVE", "start"),
    "rebooting": ("running", "ACTIVE", "reboot"),
    "rebooting_hard": ("running", "ACTIVE", "reboot"),
}
MOVE_TASKS = ("resize_prep", "migrating")


@dataclass(frozen=True)
class NicRequest:
    """One entry of a boot request's ``networks``: a port, or a network to make a port on."""

    port_id: str | None = None
    network_id: str | None = None
    fixed_ip: str | None = None


SortKey = Literal["created_at", "updated_at", "display_name", "uuid"]
#: the ``sort_key`` values a server list takes
SORT_KEYS: tuple[SortKey, ...] = get_args(SortKey)


@dataclass(frozen=True)
class ServerQuery:
    """What a server list asks for (Nova's filters, ``sort_key``/``sort_dir``, paging)."""

    name: str | None = None
    status: str | None = None
    all_projects: bool = False
    project_id: str | None = None
    host: str | None = None
    flavor_id: str | None = None
    image_id: str | None = None
    ip: str | None = None
    changes_since: datetime | None = None
    changes_before: datetime | None = None
    sort_key: SortKey = "created_at"
    desc: bool = True
    marker: str | None = None
    limit: int | None = None


def _utc(moment: datetime) -> datetime:
    """In UTC, as the columns hold it (SQLite keeps the digits, not the zone)."""
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class RebuildRequest:
    """A rebuild: the image, and the server attributes it changes (only those given):
    ``name``, ``metadata``, ``user_data``, ``key_name``, ``description``."""

    image_id: str
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BootRequest:
    name: str
    flavor_id: str
    image_id: str | None
    nics: tuple[NicRequest, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    key_name: str | None = None
    description: str | None = None
    #: base64, at most 65535 characters (checked by the API)
    user_data: str | None = None
    #: the server group to join (the ``group`` scheduler hint)
    group_id: str | None = None
    #: names (or ids) of security groups; direct-physical ports have none, but an unknown one
    #: is refused as Nova refuses it
    security_groups: tuple[str, ...] = ()
    access_ipv4: str | None = None
    access_ipv6: str | None = None


@dataclass(frozen=True)
class Nic:
    """A port of a server as its views show it."""

    port_id: str
    port_name: str
    network_id: str
    network_name: str
    mac: str
    vnic_type: str
    mtu: int
    segmentation_id: int | None
    fixed_ips: tuple[tuple[str, str], ...]  # (ip address, subnet id)


@dataclass(frozen=True)
class ServerView:
    server: Server
    nics: tuple[Nic, ...]
    devices: tuple[DeviceClaim, ...]
    #: whether the agent of the server's host is heard (None: on no host)
    host_up: bool | None = None

    @property
    def fault(self) -> dict[str, Any] | None:
        s = self.server
        if s.status != "ERROR" or s.fault_message is None:
            return None
        return {"code": s.fault_code or 500, "message": s.fault_message, "created": s.fault_created}


@dataclass(frozen=True)
class Hypervisor:
    """A compute host as ``os-hypervisors`` and ``os-services`` show it."""

    host: ComputeHost
    node: NodeView
    nics_total: int
    nics_used: int
    servers: int
    #: what the servers on the host take of it, by their flavors
    vcpus_used: int = 0
    memory_mb_used: int = 0
    local_gb_used: int = 0


class ComputeService:
    def __init__(
        self,
        db: Database,
        image: ImageService,
        network: NetworkService,
        placement: PlacementService,
        hosts: HostService,
        fabric: FabricHook,
        step_timeout: timedelta = timedelta(minutes=5),
    ) -> None:
        self.db = db
        self.flavors = FlavorService(db)
        self.quotas = QuotaService(db)
        self.keypairs = KeypairService(db, self.quotas)
        self.server_groups = ServerGroupService(db, self.quotas)
        self.attributes = ServerAttributes(db, self.quotas)
        self.image = image
        self.network = network
        self.placement = placement
        self.hosts = hosts
        self.fabric = fabric
        #: how long a step waits for a host's agent before the operation fails
        self.step_timeout = step_timeout
        #: told the ids of servers with a step to take (the conductor sets it)
        self.enqueue: Callable[[Iterable[str]], None] = lambda _ids: None

    # ==== boot ============================================================================

    def create_server(self, ctx: RequestContext, req: BootRequest) -> str:
        """Record the server (BUILD, scheduling) and its ports, then take the scheduling step
        at once, in the caller's thread: the answer comes with the host chosen (or the server
        in ERROR) and no hand-over to the conductor, which takes the later steps. After a
        crash in between, the conductor's sweep takes it. The server's id: Nova's answer to
        a boot holds no more, so no view is built."""
        policy.enforce(ctx, "compute:server:create", ctx.project_id)
        if not req.name.strip() or len(req.name) > 255:
            raise BadRequest("Invalid server name: it must be 1 to 255 characters.")
        minimum = (0, 0)  # the image's min_ram (MB) and min_disk (GB)
        if req.image_id is not None:
            try:
                image = self.image.get(ctx, req.image_id)
            except NotFound:
                raise BadRequest(f"Image {req.image_id} could not be found.") from None
            minimum = (image.min_ram or 0, image.min_disk or 0)
        self._check_security_groups(ctx, req.security_groups)
        server_id = new_uuid()
        created = self._create_ports(ctx, server_id, req)
        try:
            with self.db.transaction() as s:
                self._record_boot(s, ctx, server_id, req, created, minimum)
        except IntegrityError:
            # two boots reserved one port at once: compute_server_ports.port_id is unique
            for port_id in created:
                self._forget_port(port_id)
            raise Conflict("A port of this request was just taken by another server.") from None
        except Exception:
            for port_id in created:
                self._forget_port(port_id)
            raise
        try:
            self.advance(server_id)
        except Exception:  # the database failed under the step: the conductor's sweep retries
            log.exception("scheduling server %s in its request failed", server_id)
        return server_id

    def _create_ports(self, ctx: RequestContext, server_id: str, req: BootRequest) -> list[str]:
        """Ports for ``{"uuid": network}`` entries, made before the server is recorded (the
        network service owns their transactions); forgotten again if the boot is refused."""
        created: list[str] = []
        try:
            for nic in req.nics:
                if nic.network_id is None:
                    continue
                try:
                    port = self.network.create_port(
                        ctx,
                        network_id=nic.network_id,
                        name=f"{req.name}-{nic.network_id[:8]}",
                        vnic_type=DIRECT_PHYSICAL,
                        fixed_ips=[FixedIp(ip_address=nic.fixed_ip)] if nic.fixed_ip else None,
                        device_id=server_id,
                        device_owner=DEVICE_OWNER,
                    )
                except NotFound:
                    raise BadRequest(f"Network {nic.network_id} could not be found.") from None
                created.append(port.id)
        except Exception:
            for port_id in created:
                self._forget_port(port_id)
            raise
        return created

    def _check_security_groups(self, ctx: RequestContext, names: Sequence[str]) -> None:
        if not names:
            return
        known = {key for g in self.network.list_security_groups(ctx) for key in (g.id, g.name)} | {
            "default"
        }
        for name in names:
            if name not in known:
                raise BadRequest(f"Security group {name} not found.")

    def _forget_port(self, port_id: str) -> None:
        with self.db.transaction() as s:
            self.network.delete_port_in(s, port_id)

    def _record_boot(
        self,
        s: Session,
        ctx: RequestContext,
        server_id: str,
        req: BootRequest,
        created: list[str],
        minimum: tuple[int, int],
    ) -> None:
        try:
            flavor = self.flavors.usable_flavor(s, ctx, req.flavor_id)
        except NotFound:
            raise BadRequest(f"Flavor {req.flavor_id} could not be found.") from None
        min_ram, min_disk = minimum
        if flavor.ram < min_ram:
            raise BadRequest("Flavor's memory is too small for requested image.")
        if flavor.disk and flavor.disk < min_disk:  # a 0 GB root disk is sized by the image
            raise BadRequest(
                f"Flavor's disk is too small for requested image. Flavor disk is "
                f"{flavor.disk} GB, minimum size is {min_disk} GB."
            )
        # counted with the INSERT below, under the project's quota lock
        self.quotas.claim_server(s, ctx.project_id, ctx.user_id, flavor.vcpus, flavor.ram)
        self.quotas.check_metadata(s, ctx.project_id, len(req.metadata))
        aliases = self._alias_requests(s, flavor.name, flavor.specs)
        created_iter = iter(created)
        ports: list[ServerPort] = []
        for position, nic in enumerate(req.nics):
            if nic.port_id is not None:
                self._reserve_port(s, ctx, server_id, nic.port_id)
                ports.append(ServerPort(port_id=nic.port_id, position=position, created=False))
            else:
                port_id = next(created_iter)
                ports.append(ServerPort(port_id=port_id, position=position, created=True))
        server = Server(
            id=server_id,
            name=req.name,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            image_id=req.image_id,
            flavor_id=flavor.id,
            flavor=_flavor_record(flavor),
            pci_requests=[a.as_dict() for a in aliases],
            status="BUILD",
            vm_state="building",
            task_state="scheduling",
            power_state=NOSTATE,
            metadata_=dict(req.metadata),
            key_name=req.key_name,
            description=req.description,
            user_data=req.user_data,
            access_ipv4=req.access_ipv4,
            access_ipv6=req.access_ipv6,
            ports=ports,
        )
        if req.key_name is not None:
            try:
                self.keypairs.find(s, ctx.user_id, req.key_name)
            except NotFound:
                raise BadRequest(f"Invalid key_name provided: {req.key_name}.") from None
        s.add(server)
        s.flush()
        if req.group_id is not None:
            self.server_groups.join(s, ctx, req.group_id, server)
        self._placement_request(s, server)  # refuse a request no host could ever satisfy now
        actions.begin_action(s, ctx, server, "create")
        actions.start(s, server, "schedule")

    def _reserve_port(self, s: Session, ctx: RequestContext, server_id: str, port_id: str) -> None:
        try:
            seg = self.network.port_segment(s, port_id)
        except NotFound:
            raise BadRequest(f"Port {port_id} could not be found.") from None
        port = seg.port
        if not ctx.owns(port.project_id):
            raise BadRequest(f"Port {port_id} could not be found.")
        if port.device_id:
            raise Conflict(f"Port {port_id} is still in use by {port.device_owner or 'a device'}.")
        if port.vnic_type not in (DIRECT_PHYSICAL, NORMAL):
            raise BadRequest(
                f"Port {port_id} has vnic_type {port.vnic_type}: Passnic gives a VM a whole "
                "NIC; use a direct-physical port (or a normal one for an address only)."
            )
        self.network.set_device(s, port_id, server_id, DEVICE_OWNER)

    def _placement_request(
        self,
        s: Session,
        server: Server,
        *,
        exclude: Iterable[str] = (),
        target: str | None = None,
    ) -> tuple[PlacementRequest, list[DeviceSource]]:
        f = server.flavor
        specs: dict[str, str] = f.get("extra_specs") or {}
        requests: list[DeviceRequest] = []
        sources: list[DeviceSource] = []
        aliases = [AliasRequest(**raw) for raw in server.pci_requests]
        segments = [self.network.port_segment(s, sp.port_id) for sp in server.ports]
        on_alias = _alias_ports(server, segments, sum(a.count for a in aliases))
        alias_carried = {seg.port.id for seg in on_alias}
        for seg in segments:
            if seg.port.vnic_type != DIRECT_PHYSICAL or seg.port.id in alias_carried:
                continue
            label = f"port {seg.port.name or seg.port.id}"
            requests.append(DeviceRequest.port(seg.physical_network, label=label))
            sources.append(DeviceSource(port_id=seg.port.id, physical_network=seg.physical_network))
        for alias in aliases:
            # one request per NIC that carries a port, one for the rest
            bound = [on_alias.pop(0) for _ in range(min(alias.count, len(on_alias)))]
            parts: list[tuple[int, PortSegment | None]] = [(1, carried) for carried in bound]
            parts.append((alias.count - len(bound), None))
            for count, carried in parts:
                if not count:
                    continue
                label = f"PCI alias {alias.alias}"
                requests.append(
                    DeviceRequest.alias(
                        alias.vendor_id,
                        alias.product_id,
                        count=count,
                        device_type=_device_type(alias.device_type),
                        label=label if carried is None else f"{label} for port {carried.port.id}",
                        numa_policy=_numa_policy(alias.numa_policy),
                    )
                )
                sources.append(
                    DeviceSource(alias_name=alias.alias)
                    if carried is None
                    else DeviceSource(
                        alias_name=alias.alias,
                        port_id=carried.port.id,
                        physical_network=carried.physical_network,
                    )
                )
        swap_gb = -(-int(f.get("swap") or 0) // 1024)
        request = PlacementRequest(
            flavor=Flavor(
                vcpus=int(f["vcpus"]),
                ram_mb=int(f["ram"]),
                disk_gb=int(f["disk"]) + int(f.get("ephemeral") or 0) + swap_gb,
            ),
            devices=tuple(requests),
            numa_policy=_numa_policy(specs.get(NUMA_POLICY_SPEC)) or "legacy",
            target_host=target,
            exclude_hosts=frozenset(exclude),
            group=self.server_groups.rule(s, server.id),
        )
        return request, sources

    # ==== reads ===========================================================================

    def get_server(self, ctx: RequestContext, server_id: str) -> ServerView:
        with self.db.transaction() as s:
            return self._view(s, self._visible(s, ctx, server_id))

    def list_servers(
        self, ctx: RequestContext, query: ServerQuery | None = None
    ) -> tuple[list[ServerView], str | None]:
        """One page of servers and the marker of the next (None: the last page). A project
        sees its own servers; admins may ask for every project's (all_tenants), one
        project's, or one host's. An admin's lookup by name spans every project, so
        `openstack server migrate vm1` finds a user's vm1 (Nova would only search the admin's
        own project and answer "No Server found"). Filters, order and paging are SQL (keyset
        paging past the marker), except the regular expressions of ``name`` and ``ip``,
        matched row by row as they stream in order."""
        q = query or ServerQuery()
        admin = policy.allowed(ctx, "compute:server:list_all_projects")
        changed = func.coalesce(Server.updated_at, Server.created_at)
        sort: dict[str, ColumnElement[Any] | InstrumentedAttribute[Any]] = {
            "created_at": Server.created_at,
            "updated_at": changed,
            "display_name": Server.name,
            "uuid": Server.id,
        }
        keys = [sort[q.sort_key], Server.id] if q.sort_key != "uuid" else [Server.id]
        stmt = select(Server)
        if not admin:
            stmt = stmt.where(Server.project_id == ctx.project_id)
        elif q.project_id is not None:
            stmt = stmt.where(Server.project_id == q.project_id)
        elif not q.all_projects and q.host is None and q.name is None:
            stmt = stmt.where(Server.project_id == ctx.project_id)
        if admin and q.host is not None:
            stmt = stmt.where(Server.host == q.host)
        if q.status is not None:
            stmt = stmt.where(Server.status == q.status.upper())
        if q.flavor_id is not None:
            stmt = stmt.where(Server.flavor_id == q.flavor_id)
        if q.image_id is not None:
            stmt = stmt.where(Server.image_id == q.image_id)
        if q.changes_since is not None:
            stmt = stmt.where(changed >= _utc(q.changes_since))
        if q.changes_before is not None:
            stmt = stmt.where(changed <= _utc(q.changes_before))
        with self.db.transaction() as s:
            after = None
            if q.marker is not None:
                mark = s.execute(select(*keys).where(Server.id == q.marker)).first()
                if mark is None:
                    raise BadRequest(f"marker [{q.marker}] not found")
                after = tuple(mark)
            limit = q.limit if q.limit is not None else 2**31
            if q.name is None and q.ip is None:
                rows = list(s.scalars(seek(stmt, keys, after, limit=limit, descending=q.desc)))
                views = self._views(s, rows)
            else:
                views = self._matching(
                    s, seek(stmt, keys, after, limit=2**31, descending=q.desc), q, limit
                )
        if len(views) > limit:
            views = views[:limit]
            return views, views[-1].server.id if views else None
        return views, None

    def _matching(
        self, s: Session, stmt: Select[Any], q: ServerQuery, limit: int
    ) -> list[ServerView]:
        """Up to ``limit`` + 1 servers of ``stmt`` whose name and fixed IPs match the query's
        patterns, read in chunks so a first page stops early."""
        found: list[ServerView] = []
        for chunk in s.scalars(stmt.execution_options(yield_per=200)).partitions():
            named = [sv for sv in chunk if name_matches(q.name, sv.name)]
            for view in self._views(s, named):
                ips = [ip for nic in view.nics for ip, _subnet in nic.fixed_ips]
                if q.ip is None or any(name_matches(q.ip, ip) for ip in ips):
                    found.append(view)
            if len(found) > limit:
                break
        return found

    def server_refs(
        self, *, ids: Collection[str] | None = None, ref: str | None = None
    ) -> list[tuple[str, str, str]]:
        """(id, name, project id) of these servers, or of the one named or identified by
        `ref` (an id first, else the first of that name): the read-model other domains use
        to name servers."""
        with self.db.transaction() as s:
            stmt = select(Server.id, Server.name, Server.project_id)
            if ids is not None:
                rows = s.execute(stmt.where(Server.id.in_(list(ids)))).all()
                return [(i, n, p) for i, n, p in rows]
            found = s.execute(stmt.where(Server.id == ref)).first()
            if found is None:
                found = s.execute(stmt.where(Server.name == ref).limit(1)).first()
            return [] if found is None else [(found[0], found[1], found[2])]

    def network_data(self, ctx: RequestContext, server_id: str) -> dict[str, Any]:
        """OpenStack's ``network_data.json`` for the guest: one ``phy`` link per passthrough
        NIC, found by MAC; addresses and routes of the ports' subnets."""
        with self.db.transaction() as s:
            view = self._view(s, self._visible(s, ctx, server_id))
            subnet_ids = {sid for nic in view.nics for _ip, sid in nic.fixed_ips}
            subnets = {
                sub.id: sub for sub in s.scalars(select(Subnet).where(Subnet.id.in_(subnet_ids)))
            }
            return network_data(view, subnets)

    def _visible(self, s: Session, ctx: RequestContext, server_id: str) -> Server:
        server = s.get(Server, server_id)
        if server is None or not policy.allowed(ctx, "compute:server:owner", server.project_id):
            raise NotFound(f"Instance {server_id} could not be found.")
        return server

    def _view(self, s: Session, server: Server) -> ServerView:
        return self._views(s, [server])[0]

    def _views(self, s: Session, servers: Sequence[Server]) -> list[ServerView]:
        """Views of many servers in a bounded number of queries, whatever their number: their
        ports and segments, their claims and their hosts' state are each read once."""
        port_ids = [sp.port_id for sv in servers for sp in sv.ports]
        segments = {seg.port.id: seg for seg in self.network.existing_port_segments(s, port_ids)}
        claims = self.placement.claims_of(s, [sv.id for sv in servers])
        up = self.hosts.up_hosts(s, {sv.host for sv in servers if sv.host})
        return [
            ServerView(
                sv,
                # a port gone missing is not shown
                tuple(_nic(segments[sp.port_id]) for sp in sv.ports if sp.port_id in segments),
                tuple(c for c in claims[sv.id] if not sv.host or c.hostname == sv.host),
                up[sv.host] if sv.host else None,
            )
            for sv in servers
        ]

    # ==== what users ask for: recorded, then left to the conductor =======================

    def delete_server(self, ctx: RequestContext, server_id: str) -> None:
        """Any state may be deleted: the hosts are told to remove the guest; once they have
        (or are down), its NICs are released, its ports unbound (a fresh MAC each) and
        detached, and the ports it made itself deleted."""
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            if self._take(s, server_id, None, None, "deleting") is None:
                raise NotFound(f"Instance {server_id} could not be found.")
            actions.end_action(s, server)  # whatever was under way is superseded
            actions.begin_action(s, ctx, server, "delete")
            actions.start(s, server, "destroy")
            for guest in self.hosts.guests_of(s, server_id):
                self.hosts.want(s, server_id, guest.hostname, "absent")
            self._soon(s, server_id)

    def stop_server(self, ctx: RequestContext, server_id: str) -> None:
        self._power(ctx, server_id, "os-stop", ("ACTIVE", "ERROR"), "powering-off")

    def start_server(self, ctx: RequestContext, server_id: str) -> None:
        self._power(ctx, server_id, "os-start", ("SHUTOFF",), "powering-on")

    def reboot_server(self, ctx: RequestContext, server_id: str, hard: bool) -> None:
        allowed = ("ACTIVE", "SHUTOFF", "ERROR") if hard else ("ACTIVE",)
        self._power(ctx, server_id, "reboot", allowed, "rebooting_hard" if hard else "rebooting")

    def _power(
        self,
        ctx: RequestContext,
        server_id: str,
        action: str,
        allowed: tuple[str, ...],
        task: str,
    ) -> None:
        power, _status, event = POWER_TASKS[task]
        with self.db.transaction() as s:
            server = self._begin(s, ctx, server_id, action, allowed, task)
            if not server.host or self._guest_row(s, server) is None:
                raise Conflict(f"Cannot '{action}' instance {server_id}: it runs on no host.")
            actions.begin_action(s, ctx, server, event)
            actions.start(s, server, event, server.host)
            spec = None
            if server.status == "ERROR" or task == "rebooting_hard":
                # a hard reboot redefines the guest from what the controller knows
                spec = self._guest(s, server, self.placement.claims(s, server.id, server.host))
            self.hosts.want(
                s, server_id, server.host, power, spec, reboot=task.startswith("rebooting")
            )
            self._soon(s, server_id)

    def rebuild_server(self, ctx: RequestContext, server_id: str, req: RebuildRequest) -> None:
        """Rebuild: the guest is removed from its host and defined again from the (new) image,
        with a fresh disk and config drive, on the same host with the same NICs (their claims,
        ports and switch ports are untouched). A stopped server stays stopped."""
        try:
            image = self.image.get(ctx, req.image_id)
        except NotFound:
            raise BadRequest(f"Image {req.image_id} could not be found.") from None
        changes = dict(req.changes)
        name = changes.get("name", "x")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise BadRequest("Invalid server name: it must be 1 to 255 characters.")
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            if int(server.flavor["ram"]) < (image.min_ram or 0):
                raise BadRequest("Flavor's memory is too small for requested image.")
            if changes.get("metadata") is not None:
                self.quotas.check_metadata(s, server.project_id, len(changes["metadata"]))
            if changes.get("key_name") is not None:
                try:
                    self.keypairs.find(s, server.user_id, changes["key_name"])
                except NotFound:
                    raise BadRequest(f"Invalid key_name provided: {changes['key_name']}.") from None
            allowed = ("ACTIVE", "SHUTOFF", "ERROR")
            server = self._begin(s, ctx, server_id, "rebuild", allowed, "rebuilding")
            if not server.host or self._guest_row(s, server) is None:
                raise Conflict(f"Cannot 'rebuild' instance {server_id}: it runs on no host.")
            server.image_id, server.status = req.image_id, "REBUILD"
            for attribute, value in changes.items():
                setattr(server, "metadata_" if attribute == "metadata" else attribute, value)
            actions.begin_action(s, ctx, server, "rebuild")
            actions.start(s, server, "rebuild", server.host)
            self.hosts.want(s, server_id, server.host, "absent")  # its disk goes with it
            self._soon(s, server_id)

    def migrate_server(self, ctx: RequestContext, server_id: str, host: str | None = None) -> None:
        """Cold migration: claim free NICs of the same kinds on another host, move the port
        bindings there (each port takes its new NIC's MAC and keeps its addresses), move the
        guest; the server waits in VERIFY_RESIZE for confirm (drop the old NICs) or revert.
        The host is chosen before answering: no host is a 400, as in Nova."""
        policy.enforce(ctx, "compute:server:migrate")
        self._move(ctx, server_id, host, live=False)

    def live_migrate_server(
        self, ctx: RequestContext, server_id: str, host: str | None = None
    ) -> None:
        """Refused for a server that holds a passthrough NIC: the guest drives the device
        directly and its state cannot move with the memory. Other servers move at once."""
        policy.enforce(ctx, "compute:server:migrate")
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            claims = self.placement.claims(s, server.id, server.host or None)
            reasons = [self._holding(s, server, c) for c in claims]
        if reasons:
            raise BadRequest(
                f"Live migration of server {server.name} is not possible: {'; '.join(reasons)}; "
                "use cold migration (openstack server migrate)"
            )
        self._move(ctx, server_id, host, live=True)

    def resize_server(self, ctx: RequestContext, server_id: str, flavor_ref: str) -> None:
        """Resize: a cold migration that applies another flavor, its size and its PCI alias
        requests (the NICs are claimed on the destination per the NEW flavor). The server
        takes the new flavor at once; a revert, or a move that fails, gives it back the old
        one (kept with the migration) and the NICs claimed for it."""
        self._move(ctx, server_id, None, live=False, flavor_ref=flavor_ref)

    def _move(
        self,
        ctx: RequestContext,
        server_id: str,
        host: str | None,
        live: bool,
        flavor_ref: str | None = None,
    ) -> None:
        action = "os-migrateLive" if live else "migrate" if flavor_ref is None else "resize"
        with self.db.transaction() as s:
            server = self._begin(
                s,
                ctx,
                server_id,
                action,
                ("ACTIVE",) if live else ("ACTIVE", "SHUTOFF"),
                "migrating" if live else "resize_prep",
            )
            if not server.host:
                raise Conflict(f"Cannot '{action}' instance {server_id}: it runs on no host.")
            if host == server.host:
                raise BadRequest(
                    f"Server {server.name} already runs on {host}: choose another host."
                )
            migration = Migration(
                server_id=server.id,
                project_id=server.project_id,
                user_id=server.user_id,
                migration_type="live-migration" if live else "migration",
                source_compute=server.host,
                dest_compute=host,  # asked for; the scheduler's choice replaces it
                flavor_id=server.flavor_id,
                old_vm_state=server.vm_state,
            )
            if flavor_ref is not None:
                migration.migration_type = "resize"
                migration.old_flavor = self._apply_flavor(s, ctx, server, flavor_ref)
            s.add(migration)
            server.status = "MIGRATING" if live else "RESIZE"
            actions.begin_action(s, ctx, server, "live-migration" if live else action)
            actions.start(s, server, "schedule")
        refused = self._step_move_schedule(server_id)
        if refused is not None:
            said, whole = refused
            raise BadRequest(whole if ctx.is_admin else said)
        self.enqueue([server_id])

    def _apply_flavor(
        self, s: Session, ctx: RequestContext, server: Server, flavor_ref: str
    ) -> dict[str, Any]:
        """Give the server the flavor ``flavor_ref`` (refused as Nova refuses it); returns
        what it had, for a revert."""
        try:
            flavor = self.flavors.usable_flavor(s, ctx, flavor_ref)
        except NotFound:
            raise BadRequest(f"Unable to find flavor {flavor_ref}.") from None
        if flavor.id == server.flavor_id:
            raise BadRequest("When resizing, instances must change flavor!")
        f = server.flavor
        if flavor.disk < int(f["disk"]) or flavor.ephemeral < int(f.get("ephemeral") or 0):
            raise BadRequest(
                f"Resize of server {server.name} to flavor {flavor.name} would shrink its "
                "disk: a guest's disk is never made smaller (Nova: unable to resize disk down)."
            )
        aliases = self._alias_requests(s, flavor.name, flavor.specs)
        # Nova counts the growth of cores and RAM against the project's quota
        self.quotas.claim_server(
            s,
            server.project_id,
            server.user_id,
            max(0, flavor.vcpus - int(f["vcpus"])),
            max(0, flavor.ram - int(f["ram"])),
            instances=0,
        )
        old = {"flavor": dict(f), "pci_requests": list(server.pci_requests)}
        server.flavor_id, server.flavor = flavor.id, _flavor_record(flavor)
        server.pci_requests = [a.as_dict() for a in aliases]
        return old

    def _alias_requests(
        self, s: Session, flavor_name: str, specs: Mapping[str, str]
    ) -> list[AliasRequest]:
        """The flavor's PCI requests; an alias that does not exist (a flavor may name one
        before it is made, as in Nova) refuses the boot or resize with a 400 saying so."""
        try:
            return self.flavors.flavor_requests(s, specs)
        except NotFound as exc:
            raise BadRequest(f"Flavor {flavor_name} cannot be used: {exc.message}") from None

    def _restore_flavor(self, server: Server, m: Migration | None) -> None:
        """A resize that is reverted or fails: the server has its old flavor again."""
        if m is None or m.old_flavor is None:
            return
        server.flavor_id = m.flavor_id
        server.flavor = m.old_flavor["flavor"]
        server.pci_requests = m.old_flavor["pci_requests"]

    def _holding(self, s: Session, server: Server, claim: DeviceClaim) -> str:
        nic = f"PCI passthrough NIC {claim.pci_address} on {claim.hostname}"
        if claim.port_id is not None:
            seg = self.network.port_segment(s, claim.port_id)
            return f"port {seg.port.name or seg.port.id} ({seg.port.vnic_type}) holds {nic}"
        flavor = server.flavor.get("original_name", server.flavor_id)
        return f"PCI alias {claim.alias_name} of flavor {flavor} holds {nic}"

    def confirm_resize(self, ctx: RequestContext, server_id: str) -> None:
        """Keep the server where it moved: the source host removes its parked guest, then its
        NICs and capacity are freed."""
        with self.db.transaction() as s:
            server, m = self._resolve_resize(s, ctx, server_id, "confirmResize")
            m.status = "confirming"
            self.hosts.want(s, server_id, m.source_compute, "absent")
            actions.start(s, server, "confirm", m.source_compute)
            self._soon(s, server_id)

    def revert_resize(self, ctx: RequestContext, server_id: str) -> None:
        """Go back to the source host: the destination removes its guest and frees its NICs;
        the source's NICs (still claimed) are bound again, so each port gets its old MAC
        back, and the parked guest there starts again."""
        with self.db.transaction() as s:
            server, m = self._resolve_resize(s, ctx, server_id, "revertResize")
            m.status = "reverting"
            self.hosts.want(s, server_id, m.dest_compute or "", "absent")
            actions.start(s, server, "revert", m.dest_compute)
            self._soon(s, server_id)

    def _resolve_resize(
        self, s: Session, ctx: RequestContext, server_id: str, action: str
    ) -> tuple[Server, Migration]:
        task = "resize_confirming" if action == "confirmResize" else "resize_reverting"
        server = self._begin(s, ctx, server_id, action, ("VERIFY_RESIZE",), task)
        m = self._migration(s, server_id, ("finished",))
        if m is None:
            raise NotFound(f"Instance {server_id} has no migration to {action}.")
        actions.begin_action(s, ctx, server, action)
        return server, m

    # ==== the conductor's steps ===========================================================

    def advance(self, server_id: str) -> None:
        """Take the next step of whatever the server is doing, if it can be taken now. Any
        failure ends the operation in ERROR with a fault: never a server stuck mid-way."""
        with self.db.transaction() as s:
            task, request_id = s.execute(
                select(Server.task_state, InstanceAction.request_id)
                .outerjoin(InstanceAction, InstanceAction.id == Server.action_id)
                .where(Server.id == server_id)
            ).one_or_none() or (None, None)
        step = self._steps().get(task or "")
        if step is None:
            return
        token = current_request_id.set(request_id)  # its log lines name the user's request
        try:
            step(server_id)
        except Exception as exc:  # the step's own failures are handled inside it
            log.exception("step %s of server %s failed", task, server_id)
            message = _words(exc) if isinstance(exc, PassnicError) else type(exc).__name__
            self._abandon(server_id, task or "", f"Unexpected error during {task}: {message}")
        finally:
            current_request_id.reset(token)

    def _steps(self) -> dict[str, Callable[[str], Any]]:
        return {
            "scheduling": self._step_schedule,
            "networking": self._step_switch,
            "spawning": self._step_spawned,
            "deleting": self._step_delete,
            **dict.fromkeys(POWER_TASKS, self._step_power),
            **dict.fromkeys(MOVE_TASKS, self._step_move_schedule),
            "resize_migrating": self._step_move_switch,
            "resize_migrated": self._step_move_out,
            "resize_finish": self._step_move_in,
            "resize_confirming": self._step_confirm,
            "resize_reverting": self._step_revert,
            "rebuilding": self._step_rebuild,
            "rebuild_spawning": self._step_rebuild,
        }

    def _abandon(self, server_id: str, task: str, message: str) -> None:
        """An unexpected failure in a step: the operation ends in ERROR; a build gives all
        back, other operations keep what the server held where it runs."""
        hosts: set[str] = set()
        with self.db.transaction() as s:
            server = self._take(s, server_id, None, (task,), None)
            if server is None:
                return
            if task == "deleting":  # a delete must still be possible: leave it to retry
                server.task_state = "deleting"
                return
            m = self._migration(s, server_id, OPEN_MIGRATIONS)
            if m is not None:
                m.status, m.error = "error", message
            actions.finish(s, server, task, error=message)
            actions.end_action(s, server)
            if server.status == "BUILD":
                hosts.update(self._fail(s, server, message))
            else:
                self._error(server, message)
        self._provision_quietly(hosts)

    # ---- boot ----

    def _step_schedule(self, server_id: str) -> None:
        def claim(s: Session) -> None:
            server = self._take(s, server_id, ("BUILD",), ("scheduling",), "scheduling")
            if server is None:
                return  # deleted meanwhile, or another worker took this step
            actions.start(s, server, "schedule")
            self.placement.serialize(s)  # the group's hosts as the last placement left them
            request, sources = self._placement_request(s, server)
            own = _own_servers(s, server.project_id)
            found = self.placement.place(s, server.id, server.name, request, sources, shown=own)
            if isinstance(found, NoValidHost):
                if found.details:  # the whole story, for the operator's log
                    log.info("no valid host for server %s: %s", server.id, found.details)
                actions.finish(s, server, "schedule", error=found.message)
                actions.end_action(s, server)
                self._fail(s, server, found.message)
                return
            self._bind(s, server, found.all_claims)
            server.host, server.task_state = found.host, "networking"
            actions.finish(
                s, server, "schedule", host=found.host, details=_claimed(found.all_claims)
            )
            actions.start(s, server, "switch_port", found.host)
            self._soon(s, server_id)

        try:
            self.placement.run(claim)
        except PassnicError as exc:  # e.g. a binding refused: the server must not stay BUILD
            with self.db.transaction() as s:
                name = s.scalar(select(Server.name).where(Server.id == server_id))
            self._abandon(server_id, "scheduling", f"Build of server {name} failed: {exc.message}")

    def _step_switch(self, server_id: str) -> None:
        """The switch ports of the claimed NICs first: before the guest sends a frame."""
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            if server is None or server.task_state != "networking" or not server.host:
                return
            hostname, name = server.host, server.name
        try:
            done = self.fabric.provision([hostname])
        except PassnicError as exc:
            reason = f"Build of server {name} on {hostname} failed: {exc.message}"
            self._fail_step(server_id, ("BUILD",), "networking", "switch_port", reason)
            return
        with self.db.transaction() as s:
            server = self._take(s, server_id, ("BUILD",), ("networking",), "spawning")
            if server is None:
                return
            claims = self.placement.claims(s, server_id, hostname)
            details = [*done, *_unbound_alias_nics(claims)]
            actions.finish(s, server, "switch_port", details="; ".join(details) or None)
            actions.start(s, server, "spawn", hostname)
            self.hosts.want(s, server_id, hostname, "running", self._guest(s, server, claims))

    def _step_spawned(self, server_id: str) -> None:
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            if server is None or server.task_state != "spawning":
                return
            outcome = self._outcome(s, server, self._guest_row(s, server), "running")
            if outcome is None:
                return
            reason = f"Build of server {server.name} on {server.host} failed: {outcome}"
        if outcome:
            self._fail_step(server_id, ("BUILD",), "spawning", "spawn", reason)
            return
        with self.db.transaction() as s:
            server = self._take(s, server_id, ("BUILD",), ("spawning",), None)
            if server is not None:
                self._settle(server, "ACTIVE")
                server.launched_at = utcnow()
                actions.finish(s, server, "spawn", details=f"guest running on {server.host}")
                actions.end_action(s, server)

    def _fail_step(
        self, server_id: str, statuses: tuple[str, ...], task: str, event: str, reason: str
    ) -> None:
        """A boot step failed: ERROR, and everything given back."""
        with self.db.transaction() as s:
            server = self._take(s, server_id, statuses, (task,), None)
            if server is None:
                return
            actions.finish(s, server, event, error=reason)
            actions.end_action(s, server)
            hosts = self._fail(s, server, reason)
        self._provision_quietly(hosts)

    # ---- delete ----

    def _step_delete(self, server_id: str) -> None:
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            if server is None or server.task_state != "deleting":
                return
            guests = self.hosts.guests_of(s, server_id)
            refused = [
                g for g in guests if g.actual_state == "error" and g.actual_version >= g.version
            ]
            if refused:  # the host could not remove it: the NIC stays with the server
                held = self._take(s, server_id, None, ("deleting",), None)
                if held is not None:
                    g = refused[0]
                    message = f"Delete of server {held.name} failed on {g.hostname}: {g.error}"
                    actions.finish(s, held, "destroy", error=message)
                    actions.end_action(s, held)
                    self._error(held, message)
                return
            waiting = [
                g.hostname
                for g in guests
                if g.actual_state != "absent" and self.hosts.host_up(s, g.hostname)
            ]
            if waiting and not self._timed_out(server):
                return
            held = self._take(s, server_id, None, ("deleting",), "deleting")
            if held is None:
                return
            self.hosts.drop_disk(server_id)  # deleted in the middle of a move
            hosts = {c.hostname for c in self.placement.claims(s, server_id)}
            hosts.update(g.hostname for g in guests)
            hosts.update(h for h in (held.host,) if h)
            gone = [g.hostname for g in guests if g.actual_state == "absent"]
            left = sorted(set(hosts) - set(gone))
            self.placement.release(s, server_id)
            self._detach_ports(s, held)
        # the freed NICs' switch ports are quarantined before the server is gone
        self._provision_quietly(hosts)
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, ("deleting",), "deleting")
            if held is None:
                return
            actions.finish(
                s,
                held,
                "destroy",
                details=f"guest removed from {', '.join(sorted(gone)) or 'no host'}"
                + (f"; {', '.join(left)} will remove it when its agent returns" if left else ""),
            )
            actions.end_action(s, held)
            for migration in s.scalars(
                select(Migration).where(
                    Migration.server_id == server_id, Migration.status.in_(OPEN_MIGRATIONS)
                )
            ):
                migration.status = "confirmed" if migration.status == "finished" else "error"
            s.delete(held)

    # ---- power ----

    def _step_power(self, server_id: str) -> None:
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            if server is None or server.task_state not in POWER_TASKS:
                return
            task = server.task_state
            power, status, event = POWER_TASKS[task]
            outcome = self._outcome(s, server, self._guest_row(s, server), power)
            if outcome is None:
                return
            held = self._take(s, server_id, None, (task,), None)
            if held is None:
                return
            if outcome:
                message = f"{event} of server {held.name} failed on {held.host}: {outcome}"
                actions.finish(s, held, event, error=message)
                self._error(held, message)
            else:
                actions.finish(s, held, event, details=f"guest {power} on {held.host}")
                self._settle(held, status)
            actions.end_action(s, held)

    # ---- rebuild ----

    def _step_rebuild(self, server_id: str) -> None:
        """``rebuilding``: once the old guest is gone from the host, the new one is wanted
        there (``rebuild_spawning``); ``rebuild_spawning``: once it runs (or is stopped, as
        it was), the server is back."""
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            if server is None or server.task_state not in ("rebuilding", "rebuild_spawning"):
                return
            task = server.task_state
            power: Power = "stopped" if server.vm_state == "stopped" else "running"
            guest = self._guest_row(s, server)
            if task == "rebuilding" and (guest is None or guest.actual_state == "absent"):
                outcome: str | None = ""  # removed (its row goes once the host confirms it)
            else:
                wanted: Power = "absent" if task == "rebuilding" else power
                outcome = self._outcome(s, server, guest, wanted)
            if outcome is None:
                return
            held = self._take(s, server_id, ("REBUILD",), (task,), task)
            if held is None:
                return
            if outcome:
                message = f"Rebuild of server {held.name} failed on {held.host}: {outcome}"
                actions.finish(s, held, "rebuild", error=message)
                actions.end_action(s, held)
                self._error(held, message)
            elif task == "rebuilding":
                spec = self._guest(s, held, self.placement.claims(s, held.id, held.host))
                self.hosts.want(s, server_id, held.host or "", power, spec)
                held.task_state = "rebuild_spawning"
                self._soon(s, server_id)
            else:
                image = held.image_id or "no image"
                actions.finish(
                    s, held, "rebuild", details=f"guest {power} on {held.host} from {image}"
                )
                actions.end_action(s, held)
                self._settle(held, "ACTIVE" if power == "running" else "SHUTOFF")

    # ---- migration ----

    def _step_move_schedule(self, server_id: str) -> tuple[str, str] | None:
        """Claim NICs on another host and bind the ports to them; or put the server back as
        it was and say why no host fits, returned for the API's 400: as the server's project
        may read it (what the fault and the action record say), and the whole story (for
        an admin)."""

        def claim(s: Session) -> tuple[str, str] | None:
            server = s.get(Server, server_id)
            if server is None or server.task_state not in MOVE_TASKS:
                return None
            task = server.task_state
            held = self._take(s, server_id, None, (task,), task)
            m = self._migration(s, server_id, ("pre-migrating",))
            if held is None or m is None:
                return None
            self.placement.serialize(s)  # the group's hosts as the last placement left them
            request, sources = self._placement_request(
                s, held, exclude=(m.source_compute,), target=m.dest_compute
            )
            own = _own_servers(s, held.project_id)
            found = self.placement.place(s, held.id, held.name, request, sources, shown=own)
            if isinstance(found, NoValidHost):
                m.status, m.error = "error", found.message
                self._restore_flavor(held, m)
                actions.finish(s, held, "schedule", error=found.message)
                actions.end_action(s, held)
                self._settle(held, _resting(m.old_vm_state))
                return found.message, found.details or found.message
            self._bind(s, held, found.all_claims)
            m.dest_compute, m.status = found.host, "migrating"
            held.task_state = "resize_migrating"
            actions.finish(s, held, "schedule", host=found.host, details=_claimed(found.all_claims))
            actions.start(s, held, "switch_port", found.host)
            return None

        try:
            return self.placement.run(claim)
        except PassnicError as exc:
            with self.db.transaction() as s:
                server = self._take(s, server_id, None, MOVE_TASKS, None)
                m = self._migration(s, server_id, ("pre-migrating",))
                if m is not None:
                    m.status, m.error = "error", exc.message
                if server is not None:
                    self._restore_flavor(server, m)
                    actions.finish(s, server, "schedule", error=exc.message)
                    actions.end_action(s, server)
                    self._settle(server, _resting(m.old_vm_state if m else "active"))
            return exc.message, exc.message

    def _step_move_switch(self, server_id: str) -> None:
        """The new NICs' switch ports before the guest starts on them; then the source parks
        the guest (stopped, its NICs detached, its disk kept for a revert)."""
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            m = self._migration(s, server_id, ("migrating",))
            if server is None or m is None or server.task_state != "resize_migrating":
                return
            dest = m.dest_compute or ""
        try:
            done = self.fabric.provision([dest])
        except PassnicError as exc:
            self._undo_move(server_id, "resize_migrating", "switch_port", exc.message)
            return
        with self.db.transaction() as s:
            server = self._take(s, server_id, None, ("resize_migrating",), "resize_migrated")
            m = self._migration(s, server_id, ("migrating",))
            if server is None or m is None:
                return
            actions.finish(s, server, "switch_port", details="; ".join(done) or None)
            actions.start(s, server, "migrate_out", m.source_compute)
            self.hosts.want(s, server_id, m.source_compute, "parked")

    def _step_move_out(self, server_id: str) -> None:
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            m = self._migration(s, server_id, ("migrating",))
            if server is None or m is None or server.task_state != "resize_migrated":
                return
            source = self.hosts.guest(s, server_id, m.source_compute)
            outcome = self._outcome(s, server, source, "parked")
            if outcome is None:
                return
            if outcome:
                failed = outcome
            else:
                held = self._take(s, server_id, None, ("resize_migrated",), "resize_finish")
                if held is None:
                    return
                actions.finish(s, held, "migrate_out", host=m.source_compute)
                dest = m.dest_compute or ""
                actions.start(s, held, "migrate_in", dest)
                power: Power = "stopped" if m.old_vm_state == "stopped" else "running"
                claims = self.placement.claims(s, server_id, dest)
                spec = self._guest(s, held, claims).model_copy(
                    update={"migrated_from": m.source_compute}
                )
                self.hosts.want(s, server_id, dest, power, spec)
                return
        self._undo_move(server_id, "resize_migrated", "migrate_out", failed)

    def _step_move_in(self, server_id: str) -> None:
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            m = self._migration(s, server_id, ("migrating",))
            if server is None or m is None or server.task_state != "resize_finish":
                return
            dest = m.dest_compute or ""
            power: Power = "stopped" if m.old_vm_state == "stopped" else "running"
            outcome = self._outcome(s, server, self.hosts.guest(s, server_id, dest), power)
            if outcome is None:
                return
            self.hosts.drop_disk(server_id)  # the destination has it now, or failed with it
            if not outcome:
                held = self._take(s, server_id, None, ("resize_finish",), None)
                if held is None:
                    return
                held.host = dest
                actions.finish(s, held, "migrate_in", host=dest)
                actions.end_action(s, held)
                if m.migration_type == "live-migration":
                    self.placement.release(s, server_id, m.source_compute)
                    self.hosts.want(s, server_id, m.source_compute, "absent")
                    m.status = "completed"
                    self._settle(held, "ACTIVE")
                else:
                    m.status = "finished"
                    held.status, held.vm_state = "VERIFY_RESIZE", "resized"
                    held.power_state = RUNNING if power == "running" else SHUTDOWN
                return
        self._undo_move(server_id, "resize_finish", "migrate_in", outcome)

    def _undo_move(self, server_id: str, task: str, event: str, reason: str) -> None:
        """A move failed: the guest goes back to its source with its old NICs (the parked
        guest starts again there), the new NICs are freed, the server is as it was before."""
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, (task,), None)
            m = self._migration(s, server_id, ("migrating",))
            if held is None or m is None:
                return
            dest = m.dest_compute or ""
            self.hosts.drop_disk(server_id)
            message = f"Migration of server {held.name} to {dest} failed: {reason}"
            m.status, m.error = "error", reason
            actions.finish(s, held, event, error=message)
            actions.end_action(s, held)
            self.hosts.want(s, server_id, dest, "absent")
            self.placement.release(s, server_id, dest)
            self._restore_flavor(held, m)
            old = self.placement.claims(s, server_id, m.source_compute)
            self._bind(s, held, old)
            power: Power = "stopped" if m.old_vm_state == "stopped" else "running"
            self.hosts.want(s, server_id, m.source_compute, power, self._guest(s, held, old))
            held.host = m.source_compute
            self._settle(held, _resting(m.old_vm_state))
        self._provision_quietly([dest, m.source_compute])

    def _step_confirm(self, server_id: str) -> None:
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            m = self._migration(s, server_id, ("confirming",))
            if server is None or m is None or server.task_state != "resize_confirming":
                return
            source = m.source_compute
            guest = self.hosts.guest(s, server_id, source)
            gone = guest is None or guest.actual_state == "absent"
            if not gone and self.hosts.host_up(s, source) and not self._timed_out(server):
                return
            self.placement.release(s, server_id, source)
        # the freed NICs' switch ports are quarantined before the server says it is done
        self._provision_quietly([source])
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, ("resize_confirming",), None)
            m = self._migration(s, server_id, ("confirming",))
            if held is None or m is None:
                return
            m.status = "confirmed"
            actions.finish(s, held, "confirm", details=f"NICs of {source} released")
            actions.end_action(s, held)
            self._settle(held, _resting(m.old_vm_state))

    def _step_revert(self, server_id: str) -> None:
        """Two waits: the destination removes its guest (then its NICs are freed and the
        source's bound again), then the source runs the guest again."""
        with self.db.transaction() as s:
            server = s.get(Server, server_id)
            m = self._migration(s, server_id, ("reverting",))
            if server is None or m is None or server.task_state != "resize_reverting":
                return
            dest, source = m.dest_compute or "", m.source_compute
            if server.host == dest:
                guest = self.hosts.guest(s, server_id, dest)
                gone = guest is None or guest.actual_state == "absent"
                if not gone and self.hosts.host_up(s, dest) and not self._timed_out(server):
                    return
                held = self._take(s, server_id, None, ("resize_reverting",), "resize_reverting")
                if held is None:
                    return
                self.placement.release(s, server_id, dest)
                self._restore_flavor(held, m)
                old = self.placement.claims(s, server_id, source)
                self._bind(s, held, old)
                held.host = source
                power: Power = "stopped" if m.old_vm_state == "stopped" else "running"
                self.hosts.want(s, server_id, source, power, self._guest(s, held, old))
                freed = [dest, source]
            else:
                power = "stopped" if m.old_vm_state == "stopped" else "running"
                outcome = self._outcome(s, server, self.hosts.guest(s, server_id, source), power)
                if outcome is None:
                    return
                held = self._take(s, server_id, None, ("resize_reverting",), None)
                if held is None:
                    return
                if outcome:
                    message = f"Revert of server {held.name} to {source} failed: {outcome}"
                    actions.finish(s, held, "revert", error=message)
                    self._error(held, message)
                    m.status, m.error = "error", outcome
                else:
                    actions.finish(s, held, "revert", host=source)
                    m.status = "reverted"
                    self._settle(held, _resting(m.old_vm_state))
                actions.end_action(s, held)
                return
        self._provision_quietly(freed)

    def _migration(self, s: Session, server_id: str, statuses: Sequence[str]) -> Migration | None:
        return s.scalar(
            select(Migration)
            .where(Migration.server_id == server_id, Migration.status.in_(list(statuses)))
            .order_by(Migration.id.desc())
            .limit(1)
        )

    # ---- waiting on an agent ----

    def _outcome(self, s: Session, server: Server, guest: Guest | None, power: str) -> str | None:
        """Where the host stands on the newest wish for this guest: None while it has not
        acted yet, "" once it has done it, else why not (its error, or the time out)."""
        if guest is not None and guest.actual_version >= guest.version:
            if guest.actual_state == power and guest.actual_reboots >= guest.reboots:
                return ""
            if guest.actual_state == "error":
                return guest.error or "the host's agent reported an error"
        if self._timed_out(server):
            host = guest.hostname if guest is not None else server.host
            seconds = int(self.step_timeout.total_seconds())
            state = "is down" if not self.hosts.host_up(s, host or "") else "did not answer"
            return f"the agent of host {host} {state}: nothing was done within {seconds} s"
        return None

    def _timed_out(self, server: Server) -> bool:
        since = server.updated_at or server.created_at
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return utcnow() - since > self.step_timeout

    def _guest_row(self, s: Session, server: Server) -> Guest | None:
        return self.hosts.guest(s, server.id, server.host) if server.host else None

    def _soon(self, s: Session, server_id: str) -> None:
        """The conductor takes the server's next step once this transaction commits."""
        on_commit(s, lambda: self.enqueue([server_id]))

    def stuck(self, grace: timedelta) -> list[str]:
        """Servers with an operation under way that nobody moved for ``grace``: after a
        crash, or waiting on an agent (the conductor looks at them again)."""
        cutoff = utcnow() - grace
        with self.db.transaction() as s:
            return list(
                s.scalars(
                    select(Server.id).where(
                        Server.task_state.is_not(None),
                        or_(Server.updated_at.is_(None), Server.updated_at < cutoff),
                    )
                )
            )

    def task_states(self) -> list[tuple[str, str, str]]:
        """(id, status, task_state) of every server with an operation under way."""
        with self.db.transaction() as s:
            rows = s.execute(
                select(Server.id, Server.status, Server.task_state)
                .where(Server.task_state.is_not(None))
                .order_by(Server.id)
            )
            return [(i, st, task or "") for i, st, task in rows]

    # ==== what users read of an operation =================================================

    def console_output(self, ctx: RequestContext, server_id: str, length: int | None) -> str:
        """The guest's console as its host's agent captured it (the last ``length`` lines)."""
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            text = self.hosts.console(s, server.id, server.host)
        if length is None:
            return text
        lines = text.splitlines(keepends=True)
        return "".join(lines[-length:]) if length > 0 else ""

    def list_actions(self, ctx: RequestContext, server_id: str) -> list[InstanceAction]:
        with self.db.transaction() as s:
            self._visible_or_deleted(s, ctx, server_id)
            return actions.list_actions(s, server_id)

    def get_action(self, ctx: RequestContext, server_id: str, request_id: str) -> InstanceAction:
        with self.db.transaction() as s:
            self._visible_or_deleted(s, ctx, server_id)
            found = actions.get_action(s, server_id, request_id)
            if found is None:
                raise NotFound(f"Action {request_id} not found")
            return found

    def hypervisors(self, ctx: RequestContext) -> list[Hypervisor]:
        """Every compute host with its agent's state and its passthrough NICs in use/free."""
        policy.enforce(ctx, "compute:host:admin")
        hosts = self.placement.inventory.compute_hosts()
        nodes = {n.hostname: n for n in self.hosts.nodes([h.hostname for h in hosts])}
        nics: dict[str, int] = {}
        for device in self.placement.inventory.passthrough_devices():
            nics[device.hostname] = nics.get(device.hostname, 0) + 1
        used: dict[str, int] = {}
        for claim in self.placement.list_claims():
            used[claim.hostname] = used.get(claim.hostname, 0) + 1
        # servers, vcpus, MB of RAM and GB of disk taken on each host
        taken: dict[str, list[int]] = {}
        with self.db.transaction() as s:
            for host, flavor in s.execute(
                select(Server.host, Server.flavor).where(Server.host.is_not(None))
            ):
                counts = taken.setdefault(host or "", [0, 0, 0, 0])
                for i, key in enumerate(("vcpus", "ram", "disk"), start=1):
                    counts[i] += int(flavor.get(key) or 0)
                counts[0] += 1
        none = [0, 0, 0, 0]
        return [
            Hypervisor(
                host=h,
                node=nodes[h.hostname],
                nics_total=nics.get(h.hostname, 0),
                nics_used=used.get(h.hostname, 0),
                servers=taken.get(h.hostname, none)[0],
                vcpus_used=taken.get(h.hostname, none)[1],
                memory_mb_used=taken.get(h.hostname, none)[2],
                local_gb_used=taken.get(h.hostname, none)[3],
            )
            for h in hosts
        ]

    def nics_held(self, ctx: RequestContext, hostname: str) -> list[DeviceClaim]:
        """The NICs servers hold on a host, through a port or a flavor's PCI alias (admin)."""
        policy.enforce(ctx, "compute:host:admin")
        return self.placement.list_claims(hostname)

    def _visible_or_deleted(self, s: Session, ctx: RequestContext, server_id: str) -> None:
        """A server's actions outlive it, as in Nova: its owner or an admin may read them."""
        server = s.get(Server, server_id)
        if server is not None:
            self._visible(s, ctx, server_id)
            return
        first = s.scalar(select(InstanceAction).where(InstanceAction.server_id == server_id))
        if first is None or not policy.allowed(ctx, "compute:server:owner", first.project_id):
            raise NotFound(f"Instance {server_id} could not be found.")

    def list_migrations(
        self,
        ctx: RequestContext,
        *,
        server_id: str | None = None,
        host: str | None = None,
        status: str | None = None,
        migration_type: str | None = None,
    ) -> list[Migration]:
        policy.enforce(ctx, "compute:migration:read")
        with self.db.transaction() as s:
            if server_id is not None:
                self._visible(s, ctx, server_id)
            stmt = select(Migration).order_by(Migration.id.desc())
            if server_id is not None:
                stmt = stmt.where(Migration.server_id == server_id)
            if host is not None:
                stmt = stmt.where(
                    or_(Migration.source_compute == host, Migration.dest_compute == host)
                )
            if status is not None:
                stmt = stmt.where(Migration.status == status)
            if migration_type is not None:
                stmt = stmt.where(Migration.migration_type == migration_type)
            return list(s.scalars(stmt))

    # ==== steps shared by the operations ==================================================

    def _take(
        self,
        s: Session,
        server_id: str,
        statuses: Sequence[str] | None,
        task_states: Sequence[str | None] | None,
        new_task: str | None,
    ) -> Server | None:
        """Set the server's task_state if it is in one of ``statuses`` with one of
        ``task_states`` (None: any), as one conditional UPDATE: the row lock that keeps two
        workers from acting on one server at once. None if it was not."""
        conditions: list[Any] = [Server.id == server_id]
        if statuses is not None:
            conditions.append(Server.status.in_(list(statuses)))
        if task_states is not None:
            named = [t for t in task_states if t is not None]
            either = [Server.task_state.in_(named)] if named else []
            if None in task_states:
                either.append(Server.task_state.is_(None))
            conditions.append(or_(*either))
        done = s.execute(
            update(Server)
            .where(*conditions)
            .values(task_state=new_task, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(done, "rowcount", 0) != 1:
            return None
        return s.get(Server, server_id, populate_existing=True)

    def _begin(
        self,
        s: Session,
        ctx: RequestContext,
        server_id: str,
        action: str,
        statuses: tuple[str, ...],
        task: str,
    ) -> Server:
        """Start a caller's action, or say why it cannot start now (Nova's 409 wording)."""
        server = self._visible(s, ctx, server_id)
        taken = self._take(s, server_id, statuses, (None,), task)
        if taken is None:
            current = s.get(Server, server_id, populate_existing=True)
            if current is None:  # deleted meanwhile by another request
                raise NotFound(f"Instance {server_id} could not be found.")
            server = current
            if server.task_state is not None:
                raise Conflict(
                    f"Cannot '{action}' instance {server_id} while it is in task_state "
                    f"{server.task_state}"
                )
            raise Conflict(
                f"Cannot '{action}' instance {server_id} while it is in vm_state {server.vm_state}"
            )
        return taken

    def _bind(self, s: Session, server: Server, claims: Iterable[DeviceClaim]) -> None:
        """Bind each port to the NIC claimed for it (the port takes the NIC's MAC)."""
        for claim in claims:
            if claim.port_id is None:
                continue
            seg = self.network.port_segment(s, claim.port_id)
            self.network.bind_port(
                s,
                claim.port_id,
                claim.hostname,
                claim.pci_address,
                claim.pci_vendor_info,
                claim.physical_network,
                claim.mac,
                seg.segmentation_id,
            )

    def _detach_ports(self, s: Session, server: Server) -> None:
        """Unbind (fresh MAC) and free the server's ports; delete those it made."""
        for sp in list(server.ports):
            seg = self.network.port_segment(s, sp.port_id)
            if sp.created:
                self.network.delete_port_in(s, sp.port_id)
                continue
            if seg.port.binding_host_id:
                self.network.unbind_port(s, sp.port_id)
            self.network.set_device(s, sp.port_id, "", "")
        server.ports.clear()

    def _fail(self, s: Session, server: Server, message: str) -> set[str]:
        """A boot that cannot finish: nothing is kept (claims, bindings, ports, the guest on
        its host), ERROR. The hosts whose switch ports should be quarantined again."""
        hosts = {c.hostname for c in self.placement.claims(s, server.id)}
        for guest in self.hosts.guests_of(s, server.id):
            self.hosts.want(s, server.id, guest.hostname, "absent")
            hosts.add(guest.hostname)
        self.placement.release(s, server.id)
        self._detach_ports(s, server)
        server.host = None
        self._error(server, message)
        return hosts

    def _error(self, server: Server, message: str) -> None:
        server.status, server.vm_state, server.task_state = "ERROR", "error", None
        if server.host is None:
            server.power_state = NOSTATE
        server.fault_code, server.fault_message, server.fault_created = 500, message, utcnow()

    def _settle(self, server: Server, status: str) -> None:
        running = status == "ACTIVE"
        server.status = status
        server.vm_state = "active" if running else "stopped"
        server.task_state = None
        server.power_state = RUNNING if running else SHUTDOWN

    def _guest(self, s: Session, server: Server, claims: Iterable[DeviceClaim]) -> GuestSpec:
        """What the host needs to define the guest: its size, image, NICs, and the
        network_data.json its config drive carries (the ports' MACs are the NICs' now)."""
        f = server.flavor
        view = self._view(s, server)
        subnet_ids = {sid for nic in view.nics for _ip, sid in nic.fixed_ips}
        subnets = {
            sub.id: sub for sub in s.scalars(select(Subnet).where(Subnet.id.in_(subnet_ids)))
        }
        keys: dict[str, str] = {}
        if server.key_name is not None:
            with contextlib.suppress(NotFound):  # deleted since the boot: none to give
                keys[server.key_name] = self.keypairs.find(
                    s, server.user_id, server.key_name
                ).public_key
        images = self.image.boot_records(server.image_id) if server.image_id else []
        return GuestSpec(
            server_id=server.id,
            name=server.name,
            vcpus=int(f["vcpus"]),
            ram_mb=int(f["ram"]),
            disk_gb=int(f["disk"]),
            image_id=server.image_id,
            images=tuple(GuestImage.model_validate(i) for i in images),
            user_data=server.user_data,
            public_keys=keys,
            devices=tuple(
                GuestDevice(
                    pci_address=c.pci_address,
                    vendor_id=c.vendor_id,
                    product_id=c.product_id,
                    mac=c.mac,
                )
                for c in claims
            ),
            network_data=network_data(view, subnets),
        )

    def _provision_quietly(self, hostnames: Iterable[str]) -> None:
        """Quarantine freed NICs; a switch failure here is left to the fabric audit."""
        try:
            self.fabric.provision([h for h in hostnames if h])
        except Exception as exc:  # a cleanup never fails the step it follows
            log.warning("switch provisioning after a release failed: %s", _words(exc))


def _words(exc: Exception) -> str:
    return exc.message if isinstance(exc, PassnicError) else f"{type(exc).__name__}: {exc}"


def _flavor_record(flavor: FlavorRow) -> dict[str, Any]:
    """The flavor as a server keeps it (Nova's embedded flavor): later edits of the flavor
    do not change a server that has it."""
    return {
        "original_name": flavor.name,
        "vcpus": flavor.vcpus,
        "ram": flavor.ram,
        "disk": flavor.disk,
        "ephemeral": flavor.ephemeral,
        "swap": flavor.swap,
        "extra_specs": flavor.specs,
    }


def _claimed(claims: Iterable[DeviceClaim]) -> str:
    """The NICs a step claimed, for its event: which NIC on which host, for which port."""
    parts = []
    for c in claims:
        what = f"port {c.port_id}" if c.port_id else f"alias {c.alias_name}"
        parts.append(f"{c.hostname} {c.ifname} ({c.pci_address}, MAC {c.mac}) for {what}")
    return "claimed " + "; ".join(parts) if parts else "no NIC needed"


def _own_servers(s: Session, project_id: str) -> Callable[[], set[str]]:
    """The servers a "no valid host" reason may name to the project that reads it (asked
    only when no host fits)."""
    return lambda: set(s.scalars(select(Server.id).where(Server.project_id == project_id)))


def _alias_ports(server: Server, segments: Sequence[PortSegment], nics: int) -> list[PortSegment]:
    """The ports the flavor's PCI alias NICs carry: a boot's ``{"uuid": network}`` entries
    (ports Passnic made), in order, one per alias NIC; further ones ask for NICs of their own."""
    made = {sp.port_id for sp in server.ports if sp.created}
    ordered = [
        seg for seg in segments if seg.port.id in made and seg.port.vnic_type == DIRECT_PHYSICAL
    ]
    return ordered[:nics]


def _unbound_alias_nics(claims: Iterable[DeviceClaim]) -> list[str]:
    """What the server's instance action says of NICs held through an alias without a port."""
    return [
        f"{c.hostname} {c.ifname} (PCI alias {c.alias_name}) carries no network: its switch "
        "port stays quarantined (boot with --nic net-id=<network> to give it one)"
        for c in claims
        if c.port_id is None
    ]


def _resting(old_vm_state: str) -> str:
    """The status a server returns to after a move: stopped stays stopped."""
    return "SHUTOFF" if old_vm_state == "stopped" else "ACTIVE"


def _nic(seg: PortSegment) -> Nic:
    port = seg.port
    return Nic(
        port_id=port.id,
        port_name=port.name,
        network_id=port.network_id,
        network_name=seg.network_name,
        mac=port.mac_address,
        vnic_type=port.vnic_type,
        mtu=seg.mtu,
        segmentation_id=seg.segmentation_id,
        fixed_ips=tuple((ip.ip_address, ip.subnet_id) for ip in port.fixed_ips),
    )


def _numa_policy(value: str | None) -> NumaPolicy | None:
    """A policy checked when the flavor or alias was saved."""
    return cast(NumaPolicy, value) if value else None


def _device_type(value: str) -> DeviceType:
    return cast(DeviceType, value)


def ip_version(address: str) -> int:
    return ipaddress.ip_address(address).version


__all__ = ["BootRequest", "ComputeService", "Nic", "NicRequest", "ServerView"]
