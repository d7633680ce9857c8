"""Servers: boot, power, delete, and cold migration of VMs that own PCI passthrough NICs.

Each operation is a few steps, each step ONE transaction, with the host agent called between
them (never inside a transaction):

* boot: (1) check the request, record the server BUILD and reserve its ports; (2) choose a host
  and claim its NICs and capacity, bind the ports to the claimed NICs (placement's claim and
  network's binding in the same transaction); (3) the host agent spawns the guest; (4) ACTIVE.
  If no host fits, step 2 records ERROR with the scheduler's stage-by-stage reason instead. If
  the agent fails, a last transaction records ERROR with its message, gives the claims back,
  unbinds the ports and detaches them: a failed boot never keeps a NIC.
* delete, stop/start/reboot, migrate, confirm, revert follow the same pattern. A step first
  takes the server with a conditional UPDATE on its row (status and task_state as expected), so
  two workers cannot run conflicting actions on one server; a loser gets 409.

Boot is synchronous: ``POST /servers`` answers once the server is ACTIVE or ERROR, so
``openstack server create --wait`` sees the final status on its first poll.

Ports (``networks`` of the boot request):

* ``{"port": id}``: a ``direct-physical`` port asks for one passthrough NIC on its network's
  data network (any NIC there, with or without SR-IOV); a ``normal`` port is attached without a
  NIC (it carries the address only); other vnic types are refused.
* ``{"uuid": network}``: Passnic creates a ``direct-physical`` port on the network (a Passnic
  VM's NICs are passthrough NICs) and deletes it with the server.
* ``"auto"``, ``"none"`` or nothing: no port; a flavor with ``pci_passthrough:alias`` still
  gets its NICs (StarlingX's path for NICs without SR-IOV).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol, cast

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passnic import policy
from passnic.compute.agents import AgentDirectory, HostAgent
from passnic.compute.flavors import NUMA_POLICY_SPEC, AliasRequest, FlavorService
from passnic.compute.hypervisor import GuestDevice, GuestSpec, HypervisorError
from passnic.compute.metadata import network_data
from passnic.compute.models import Migration, Server, ServerPort
from passnic.compute.names import name_matches
from passnic.context import RequestContext
from passnic.db import Database, new_uuid, utcnow
from passnic.errors import BadRequest, Conflict, NotFound, PassnicError, ServiceUnavailable
from passnic.image.service import ImageService
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
from passnic.placement.service import DeviceSource, Inventory, PlacementService

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
    """The fabric: converges the switch ports cabled to these hosts' NICs, or raises
    ServiceUnavailable with the switch's message (nothing half-applied)."""

    def provision(self, hostnames: Iterable[str]) -> None: ...


#: migrations that still hold something on both hosts
OPEN_MIGRATIONS = ("pre-migrating", "migrating", "finished", "confirming", "reverting")


@dataclass(frozen=True)
class NicRequest:
    """One entry of a boot request's ``networks``: a port, or a network to make a port on."""

    port_id: str | None = None
    network_id: str | None = None
    fixed_ip: str | None = None


@dataclass(frozen=True)
class BootRequest:
    name: str
    flavor_id: str
    image_id: str | None
    nics: tuple[NicRequest, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)


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

    @property
    def fault(self) -> dict[str, Any] | None:
        s = self.server
        if s.status != "ERROR" or s.fault_message is None:
            return None
        return {"code": s.fault_code or 500, "message": s.fault_message, "created": s.fault_created}


@dataclass(frozen=True)
class _Move:
    """What the agent steps of a migration need, decided in the claiming transaction."""

    source: str
    dest: str
    outgoing: GuestSpec
    incoming: GuestSpec
    power_on: bool


class ComputeService:
    def __init__(
        self,
        db: Database,
        image: ImageService,
        network: NetworkService,
        placement: PlacementService,
        agents: AgentDirectory | None = None,
    ) -> None:
        self.db = db
        self.flavors = FlavorService(db)
        self.image = image
        self.network = network
        self.placement = placement
        self.agents = agents or AgentDirectory()
        self.fabric: FabricHook | None = None

    # ==== boot ============================================================================

    def create_server(self, ctx: RequestContext, req: BootRequest) -> ServerView:
        policy.enforce(ctx, "compute:server:create", ctx.project_id)
        if not req.name.strip() or len(req.name) > 255:
            raise BadRequest("Invalid server name: it must be 1 to 255 characters.")
        if req.image_id is not None:
            try:
                self.image.get(ctx, req.image_id)
            except NotFound:
                raise BadRequest(f"Image {req.image_id} could not be found.") from None
        server_id = new_uuid()
        created = self._create_ports(ctx, server_id, req)
        try:
            with self.db.transaction() as s:
                self._record_boot(s, ctx, server_id, req, created)
        except IntegrityError:
            # two boots reserved one port at once: compute_server_ports.port_id is unique
            for port_id in created:
                self._forget_port(port_id)
            raise Conflict("A port of this request was just taken by another server.") from None
        except Exception:
            for port_id in created:
                self._forget_port(port_id)
            raise
        self._build(server_id)
        return self.get_server(ctx, server_id)

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

    def _forget_port(self, port_id: str) -> None:
        with self.db.transaction() as s:
            self.network.delete_port_in(s, port_id)

    def _record_boot(
        self, s: Session, ctx: RequestContext, server_id: str, req: BootRequest, created: list[str]
    ) -> None:
        try:
            flavor = self.flavors.usable_flavor(s, ctx, req.flavor_id)
        except NotFound:
            raise BadRequest(f"Flavor {req.flavor_id} could not be found.") from None
        specs = flavor.specs
        aliases = self.flavors.flavor_requests(s, specs)
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
            flavor={
                "original_name": flavor.name,
                "vcpus": flavor.vcpus,
                "ram": flavor.ram,
                "disk": flavor.disk,
                "ephemeral": flavor.ephemeral,
                "swap": flavor.swap,
                "extra_specs": specs,
            },
            pci_requests=[a.as_dict() for a in aliases],
            status="BUILD",
            vm_state="building",
            task_state="scheduling",
            power_state=NOSTATE,
            metadata_=dict(req.metadata),
            ports=ports,
        )
        s.add(server)
        s.flush()
        self._placement_request(s, server)  # refuse a request no host could ever satisfy now

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

    def _build(self, server_id: str) -> None:
        def claim(s: Session, inventory: Inventory) -> tuple[str, GuestSpec] | None:
            server = self._take(s, server_id, ("BUILD",), ("scheduling",), "spawning")
            if server is None:
                return None  # deleted meanwhile
            request, sources = self._placement_request(s, server)
            found = self.placement.place(s, inventory, server.id, server.name, request, sources)
            if isinstance(found, NoValidHost):
                self._fail(s, server, found.message)
                return None
            self._bind(s, server, found.all_claims)
            server.host = found.host
            return found.host, self._guest(server, found.all_claims)

        try:
            placed = self.placement.run(claim)
        except PassnicError as exc:  # e.g. a binding refused: the server must not stay BUILD
            with self.db.transaction() as s:
                server = self._take(s, server_id, ("BUILD",), ("scheduling",), None)
                if server is not None:
                    self._fail(s, server, f"Build of server {server.name} failed: {exc.message}")
            return
        if placed is None:
            return
        hostname, guest = placed
        try:
            self._provision([hostname])  # the switch port first: before the guest sends a frame
        except ServiceUnavailable as exc:
            with self.db.transaction() as s:
                server = self._take(s, server_id, ("BUILD",), ("spawning",), None)
                if server is not None:
                    reason = f"Build of server {server.name} on {hostname} failed: {exc.message}"
                    self._fail(s, server, reason)
            self._provision_quietly([hostname])
            return
        try:
            self.agents.for_host(hostname).spawn(guest)
        except HypervisorError as exc:
            self._quietly(hostname, lambda agent: agent.destroy(server_id))
            with self.db.transaction() as s:
                server = self._take(s, server_id, ("BUILD",), ("spawning",), None)
                if server is not None:
                    reason = f"Build of server {server.name} on {hostname} failed: {exc.message}"
                    self._fail(s, server, reason)
            self._provision_quietly([hostname])
            return
        with self.db.transaction() as s:
            server = self._take(s, server_id, ("BUILD",), ("spawning",), None)
            if server is not None:
                self._settle(server, "ACTIVE")
                server.launched_at = utcnow()
                return
        # deleted while spawning: the delete released everything; make sure no guest remains
        self._quietly(hostname, lambda agent: agent.destroy(server_id))
        self._provision_quietly([hostname])

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
        for sp in server.ports:
            seg = self.network.port_segment(s, sp.port_id)
            if seg.port.vnic_type != DIRECT_PHYSICAL:
                continue
            label = f"port {seg.port.name or seg.port.id}"
            requests.append(DeviceRequest.port(seg.physical_network, label=label))
            sources.append(DeviceSource(port_id=seg.port.id, physical_network=seg.physical_network))
        for raw in server.pci_requests:
            alias = AliasRequest(**raw)
            requests.append(
                DeviceRequest.alias(
                    alias.vendor_id,
                    alias.product_id,
                    count=alias.count,
                    device_type=_device_type(alias.device_type),
                    label=f"PCI alias {alias.alias}",
                    numa_policy=_numa_policy(alias.numa_policy),
                )
            )
            sources.append(DeviceSource(alias_name=alias.alias))
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
        )
        return request, sources

    # ==== reads ===========================================================================

    def get_server(self, ctx: RequestContext, server_id: str) -> ServerView:
        with self.db.transaction() as s:
            return self._view(s, self._visible(s, ctx, server_id))

    def list_servers(
        self,
        ctx: RequestContext,
        *,
        name: str | None = None,
        status: str | None = None,
        all_projects: bool = False,
        project_id: str | None = None,
        host: str | None = None,
    ) -> list[ServerView]:
        """A project sees its own servers; admins may ask for every project's (all_tenants),
        one project's, or one host's. An admin's lookup by name spans every project, so
        `openstack server migrate vm1` finds a user's vm1 (Nova would only search the admin's
        own project and answer "No Server found")."""
        admin = policy.allowed(ctx, "compute:server:list_all_projects")
        with self.db.transaction() as s:
            stmt = select(Server).order_by(Server.created_at.desc(), Server.id)
            if not admin:
                stmt = stmt.where(Server.project_id == ctx.project_id)
            elif project_id is not None:
                stmt = stmt.where(Server.project_id == project_id)
            elif not all_projects and host is None and name is None:
                stmt = stmt.where(Server.project_id == ctx.project_id)
            if admin and host is not None:
                stmt = stmt.where(Server.host == host)
            if status is not None:
                stmt = stmt.where(Server.status == status.upper())
            servers = [sv for sv in s.scalars(stmt) if name_matches(name, sv.name)]
            return [self._view(s, sv) for sv in servers]

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
        port_ids = [sp.port_id for sp in server.ports]  # a port gone missing is not shown
        nics = tuple(_nic(seg) for seg in self.network.existing_port_segments(s, port_ids))
        devices = tuple(self.placement.claims(s, server.id, server.host or None))
        return ServerView(server, nics, devices)

    # ==== delete ==========================================================================

    def delete_server(self, ctx: RequestContext, server_id: str) -> None:
        """Any state may be deleted. The guest is destroyed on every host that holds something
        of it; then its NICs are released, its ports unbound (a fresh MAC each) and detached,
        and the ports it made itself deleted."""
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            if self._take(s, server_id, None, None, "deleting") is None:
                raise NotFound(f"Instance {server_id} could not be found.")
            hosts = {c.hostname for c in self.placement.claims(s, server.id)}
            hosts.update(h for h in (server.host,) if h)
        for hostname in sorted(hosts):
            try:
                self.agents.for_host(hostname).destroy(server_id)
            except HypervisorError as exc:
                message = f"Delete of server {server.name} failed on {hostname}: {exc.message}"
                with self.db.transaction() as s:
                    held = self._take(s, server_id, None, ("deleting",), None)
                    if held is not None:
                        self._error(held, message)
                raise ServiceUnavailable(message) from None
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, ("deleting",), "deleting")
            if held is None:
                return  # a concurrent delete finished first
            self.placement.release(s, held.id)
            self._detach_ports(s, held)
            for migration in s.scalars(
                select(Migration).where(
                    Migration.server_id == held.id, Migration.status.in_(OPEN_MIGRATIONS)
                )
            ):
                migration.status = "confirmed" if migration.status == "finished" else "error"
            s.delete(held)
        self._provision_quietly(hosts)  # freed NICs: their switch ports are quarantined

    # ==== power ===========================================================================

    def stop_server(self, ctx: RequestContext, server_id: str) -> None:
        self._power(
            ctx,
            server_id,
            "os-stop",
            ("ACTIVE", "ERROR"),
            "powering-off",
            "SHUTOFF",
            lambda agent: agent.power_off(server_id),
        )

    def start_server(self, ctx: RequestContext, server_id: str) -> None:
        self._power(
            ctx,
            server_id,
            "os-start",
            ("SHUTOFF",),
            "powering-on",
            "ACTIVE",
            lambda agent: agent.power_on(server_id),
        )

    def reboot_server(self, ctx: RequestContext, server_id: str, hard: bool) -> None:
        allowed = ("ACTIVE", "SHUTOFF", "ERROR") if hard else ("ACTIVE",)
        task = "rebooting_hard" if hard else "rebooting"
        self._power(
            ctx,
            server_id,
            "reboot",
            allowed,
            task,
            "ACTIVE",
            lambda agent: agent.reboot(server_id, hard),
        )

    def _power(
        self,
        ctx: RequestContext,
        server_id: str,
        action: str,
        allowed: tuple[str, ...],
        task: str,
        result: str,
        call: Callable[[HostAgent], None],
    ) -> None:
        with self.db.transaction() as s:
            server = self._begin(s, ctx, server_id, action, allowed, task)
            hostname = server.host or ""
            if not hostname:  # raised inside: the task is rolled back
                raise Conflict(f"Cannot '{action}' instance {server_id}: it runs on no host.")
        try:
            call(self.agents.for_host(hostname))
        except HypervisorError as exc:
            message = f"{action} of server {server.name} failed on {hostname}: {exc.message}"
            with self.db.transaction() as s:
                held = self._take(s, server_id, None, (task,), None)
                if held is not None:
                    self._error(held, message)
            raise ServiceUnavailable(message) from None
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, (task,), None)
            if held is not None:
                self._settle(held, result)

    # ==== migration =======================================================================

    def migrate_server(self, ctx: RequestContext, server_id: str, host: str | None = None) -> None:
        """Cold migration: claim free NICs of the same kinds on another host, move the port
        bindings there (each port takes its new NIC's MAC and keeps its addresses), move the
        guest; the server waits in VERIFY_RESIZE for confirm (drop the old NICs) or revert."""
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

    def _holding(self, s: Session, server: Server, claim: DeviceClaim) -> str:
        nic = f"PCI passthrough NIC {claim.pci_address} on {claim.hostname}"
        if claim.port_id is not None:
            seg = self.network.port_segment(s, claim.port_id)
            return f"port {seg.port.name or seg.port.id} ({seg.port.vnic_type}) holds {nic}"
        flavor = server.flavor.get("original_name", server.flavor_id)
        return f"PCI alias {claim.alias_name} of flavor {flavor} holds {nic}"

    def _move(self, ctx: RequestContext, server_id: str, host: str | None, live: bool) -> None:
        action = "os-migrateLive" if live else "migrate"
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
                flavor_id=server.flavor_id,
                old_vm_state=server.vm_state,
            )
            s.add(migration)
            s.flush()
            migration_id = migration.id
            server.status = "MIGRATING" if live else "RESIZE"
        task = "migrating" if live else "resize_prep"

        def claim(s: Session, inventory: Inventory) -> _Move | str:
            held = self._take(s, server_id, None, (task,), task)
            m = s.get(Migration, migration_id)
            if held is None or m is None:
                return f"Server {server_id} was deleted during its migration."
            request, sources = self._placement_request(
                s, held, exclude=(m.source_compute,), target=host
            )
            found = self.placement.place(s, inventory, held.id, held.name, request, sources)
            if isinstance(found, NoValidHost):
                return found.message
            old = self.placement.claims(s, held.id, m.source_compute)
            self._bind(s, held, found.all_claims)
            m.dest_compute, m.status = found.host, "migrating"
            return _Move(
                source=m.source_compute,
                dest=found.host,
                outgoing=self._guest(held, old),
                incoming=self._guest(held, found.all_claims),
                power_on=m.old_vm_state != "stopped",
            )

        try:
            move = self.placement.run(claim)
        except PassnicError as exc:
            move = exc.message
        if isinstance(move, str):
            with self.db.transaction() as s:
                held = self._take(s, server_id, None, (task,), None)
                m = s.get(Migration, migration_id)
                if m is not None and m.status == "pre-migrating":
                    m.status, m.error = "error", move
                if held is not None:
                    self._settle(held, _resting(m.old_vm_state if m else "active"))
            raise BadRequest(move)
        try:
            self._provision([move.dest])  # the new NIC's port before the guest starts on it
        except ServiceUnavailable as exc:
            self._unclaim_move(server_id, migration_id, move, exc.message, task)
        try:
            self.agents.for_host(move.source).migrate_out(server_id)
            self.agents.for_host(move.dest).migrate_in(move.incoming, move.power_on)
        except HypervisorError as exc:
            self._undo_move(server_id, migration_id, move, exc.message, task)
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, (task,), None)
            m = s.get(Migration, migration_id)
            if held is None or m is None:
                return
            held.host = move.dest
            if live:
                self.placement.release(s, held.id, move.source)
                m.status = "completed"
                self._settle(held, "ACTIVE")
            else:
                m.status = "finished"
                held.status, held.vm_state = "VERIFY_RESIZE", "resized"
                held.power_state = RUNNING if move.power_on else SHUTDOWN
        if live:
            self._provision_quietly([move.source])

    def _unclaim_move(
        self, server_id: str, migration_id: int, move: _Move, reason: str, task: str
    ) -> NoReturn:
        """The destination's switch refused: the guest never left; give the new NICs back."""
        message = f"Migration of server {server_id} to {move.dest} failed: {reason}"
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, (task,), None)
            m = s.get(Migration, migration_id)
            if m is not None:
                m.status, m.error = "error", reason
            if held is not None:
                self.placement.release(s, held.id, move.dest)
                self._bind(s, held, self.placement.claims(s, held.id, move.source))
                self._settle(held, _resting(m.old_vm_state if m else "active"))
        self._provision_quietly([move.dest])
        raise ServiceUnavailable(message)

    def _undo_move(
        self, server_id: str, migration_id: int, move: _Move, reason: str, task: str
    ) -> NoReturn:
        """The agents failed: put the guest back on its source with its old NICs. The server
        goes back to its state before the move if the source took it, else ERROR."""
        self._quietly(move.dest, lambda agent: agent.destroy(server_id))
        try:
            self.agents.for_host(move.source).migrate_in(move.outgoing, move.power_on)
            restarted = True
        except HypervisorError:
            restarted = False
        message = f"Migration of server {server_id} to {move.dest} failed: {reason}"
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, (task,), None)
            m = s.get(Migration, migration_id)
            if m is not None:
                m.status, m.error = "error", reason
            if held is not None:
                self.placement.release(s, held.id, move.dest)
                self._bind(s, held, self.placement.claims(s, held.id, move.source))
                if restarted:
                    self._settle(held, _resting(m.old_vm_state if m else "active"))
                else:
                    self._error(held, message + f"; it could not be restarted on {move.source}")
        self._provision_quietly([move.dest])
        raise ServiceUnavailable(message)

    def confirm_resize(self, ctx: RequestContext, server_id: str) -> None:
        """Keep the server where it moved: the source host's NICs and capacity are freed."""
        _server, m = self._resolve_resize(ctx, server_id, "confirmResize", "resize_confirming")
        self._quietly(m.source_compute, lambda agent: agent.destroy(server_id))
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, ("resize_confirming",), None)
            migration = s.get(Migration, m.id)
            if held is None or migration is None:
                return
            self.placement.release(s, held.id, migration.source_compute)
            migration.status = "confirmed"
            self._settle(held, _resting(migration.old_vm_state))
        self._provision_quietly([m.source_compute])

    def revert_resize(self, ctx: RequestContext, server_id: str) -> None:
        """Go back to the source host: its NICs (still claimed) are bound again, so each port
        gets its old MAC back; the destination's NICs are freed."""
        server, m = self._resolve_resize(ctx, server_id, "revertResize", "resize_reverting")
        dest = m.dest_compute or ""
        power_on = m.old_vm_state != "stopped"
        with self.db.transaction() as s:
            old = self.placement.claims(s, server_id, m.source_compute)
            guest = self._guest(server, old)
        try:
            self.agents.for_host(dest).destroy(server_id)
            self.agents.for_host(m.source_compute).migrate_in(guest, power_on)
        except HypervisorError as exc:
            message = f"Revert of server {server.name} to {m.source_compute} failed: {exc.message}"
            with self.db.transaction() as s:
                held = self._take(s, server_id, None, ("resize_reverting",), None)
                if held is not None:
                    self._error(held, message)
            raise ServiceUnavailable(message) from None
        with self.db.transaction() as s:
            held = self._take(s, server_id, None, ("resize_reverting",), None)
            migration = s.get(Migration, m.id)
            if held is None or migration is None:
                return
            self.placement.release(s, held.id, dest)
            self._bind(s, held, self.placement.claims(s, held.id, migration.source_compute))
            held.host = migration.source_compute
            migration.status = "reverted"
            self._settle(held, _resting(migration.old_vm_state))
        self._provision_quietly([dest])

    def _resolve_resize(
        self, ctx: RequestContext, server_id: str, action: str, task: str
    ) -> tuple[Server, Migration]:
        with self.db.transaction() as s:
            server = self._begin(s, ctx, server_id, action, ("VERIFY_RESIZE",), task)
            m = s.scalar(
                select(Migration)
                .where(Migration.server_id == server_id, Migration.status == "finished")
                .order_by(Migration.id.desc())
            )
            if m is None:
                raise NotFound(f"Instance {server_id} has no migration to {action}.")
            m.status = "confirming" if action == "confirmResize" else "reverting"
            return server, m

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
            s.refresh(server)
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

    def _fail(self, s: Session, server: Server, message: str) -> None:
        """A boot that cannot finish: nothing is kept (claims, bindings, ports), ERROR."""
        self.placement.release(s, server.id)
        self._detach_ports(s, server)
        server.host = None
        self._error(server, message)

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

    def _guest(self, server: Server, claims: Iterable[DeviceClaim]) -> GuestSpec:
        f = server.flavor
        return GuestSpec(
            server_id=server.id,
            name=server.name,
            vcpus=int(f["vcpus"]),
            ram_mb=int(f["ram"]),
            disk_gb=int(f["disk"]),
            image_id=server.image_id,
            devices=tuple(
                GuestDevice(c.pci_address, c.vendor_id, c.product_id, c.mac) for c in claims
            ),
        )

    def _provision(self, hostnames: Iterable[str]) -> None:
        if self.fabric is not None:
            self.fabric.provision([h for h in hostnames if h])

    def _provision_quietly(self, hostnames: Iterable[str]) -> None:
        """Quarantine freed NICs; a switch failure here is left to the fabric audit."""
        try:
            self._provision(hostnames)
        except PassnicError as exc:
            log.warning("switch provisioning after a release failed: %s", exc.message)

    def _quietly(self, hostname: str, call: Callable[[HostAgent], None]) -> None:
        """Best-effort cleanup on a host: its failure changes nothing we record."""
        if not hostname:
            return
        with contextlib.suppress(HypervisorError):
            call(self.agents.for_host(hostname))


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
