"""Compute hosts as the controller sees them: each host's agent, its heartbeats, and the
guests it should run (desired) beside the guests it says it runs (actual).

The controller never calls a host. It writes what a host should run into ``compute_guests``
(``want``), in the same transaction as the step that decided it, and bumps the host's
generation; the host's agent, which connects out to the controller and waits for a new
generation (``passnic.compute.protocol``), converges its hypervisor and reports back
(``sync``). The conductor reads those reports to finish each step.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from passnic import policy
from passnic.compute.models import ComputeNode, Guest
from passnic.compute.protocol import (
    ActualGuest,
    AgentCredential,
    DesiredGuest,
    GuestSpec,
    Power,
    SyncAnswer,
    SyncRequest,
)
from passnic.compute.watch import CHANNEL, HostWatch
from passnic.context import RequestContext
from passnic.db import Database, on_commit, utcnow
from passnic.errors import BadRequest, Conflict, Forbidden, NotFound
from passnic.identity.service import IdentityService
from passnic.inventory.service import InventoryService

policy.register({"compute:host:admin": "admin"})

#: the role a host agent's credential holds; it grants nothing but the agent calls of its host
AGENT_ROLE = "agent"
AGENT_PROJECT = "service"


def agent_username(hostname: str) -> str:
    return f"agent-{hostname}"


@dataclass(frozen=True)
class NodeView:
    """A host's compute service, as ``os-services`` and ``os-hypervisors`` show it."""

    hostname: str
    up: bool
    heartbeat_at: datetime | None
    disabled: bool
    disabled_reason: str | None


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; every one we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class HostService:
    def __init__(
        self,
        db: Database,
        inventory: InventoryService,
        identity: IdentityService,
        heartbeat_timeout: timedelta,
        disk_dir: Path | None = None,
    ) -> None:
        self.db = db
        #: disks in transit between two hosts' agents during a cold migration
        self.disk_dir = disk_dir
        self.inventory = inventory
        self.identity = identity
        self.heartbeat_timeout = heartbeat_timeout
        self.watch = HostWatch(db)
        #: told the server ids whose actual state an agent changed (the conductor listens)
        self.on_report: Callable[[set[str]], None] = lambda _ids: None

    # ==== desired state (inside the caller's transaction) =================================

    def want(
        self,
        s: Session,
        server_id: str,
        hostname: str,
        power: Power,
        spec: GuestSpec | None = None,
        *,
        reboot: bool = False,
    ) -> None:
        """What ``hostname`` should do with this server's guest from now on."""
        row = s.get(Guest, (server_id, hostname))
        if row is None:
            if power == "absent" or spec is None:
                return  # nothing of it was ever wanted there
            row = Guest(
                server_id=server_id,
                hostname=hostname,
                power=power,
                reboots=0,
                spec=spec.model_dump(mode="json"),
                version=1,
                actual_version=0,
                actual_reboots=0,
            )
            s.add(row)
        else:
            row.power = power
            if spec is not None:
                row.spec = spec.model_dump(mode="json")
            if reboot:
                row.reboots += 1
            row.version += 1
            row.error = None
        self._bump(s, hostname)

    def guest(self, s: Session, server_id: str, hostname: str) -> Guest | None:
        return s.get(Guest, (server_id, hostname))

    def guests_of(self, s: Session, server_id: str) -> list[Guest]:
        return list(s.scalars(select(Guest).where(Guest.server_id == server_id)))

    def _bump(self, s: Session, hostname: str) -> None:
        """A new generation for the host (one growing counter for all hosts) and a wake-up
        for its agent once this transaction commits."""
        nxt = (s.scalar(select(func.max(ComputeNode.generation))) or 0) + 1
        node = s.get(ComputeNode, hostname)
        if node is None:
            s.add(ComputeNode(hostname=hostname, generation=nxt, up=False, disabled=False))
        else:
            node.generation = nxt
        if s.get_bind().dialect.name == "postgresql":
            s.execute(
                text("SELECT pg_notify(:channel, :hostname)"),
                {"channel": CHANNEL, "hostname": hostname},
            )
        on_commit(s, lambda: self.watch.wake([hostname]))

    # ==== the agent's side ================================================================

    def authorize(self, s: Session, ctx: RequestContext, hostname: str) -> ComputeNode:
        """An admin, or the agent credential bound to this very host."""
        node = s.get(ComputeNode, hostname)
        if ctx.is_admin or (
            AGENT_ROLE in ctx.roles and node is not None and node.agent_user_id == ctx.user_id
        ):
            if node is None:
                node = ComputeNode(hostname=hostname, generation=0, up=False, disabled=False)
                s.add(node)
            return node
        raise Forbidden(f"This credential may not act as the agent of host {hostname}.")

    def sync(
        self, ctx: RequestContext, hostname: str, req: SyncRequest
    ) -> tuple[SyncAnswer, set[str]]:
        """Record a heartbeat and what the host runs; answer what it should run. Also the ids
        of the servers whose actual state changed (the conductor has work for them)."""
        changed: set[str] = set()
        with self.db.transaction() as s:
            node = self.authorize(s, ctx, hostname)
            node.heartbeat_at = utcnow()
            came_back = not node.up
            node.up = True
            reported = {g.server_id: g for g in req.guests}
            rows = list(s.scalars(select(Guest).where(Guest.hostname == hostname)))
            for row in rows:
                if self._record(row, reported.get(row.server_id)):
                    changed.add(row.server_id)
                if row.power == "absent" and row.actual_state == "absent":
                    s.delete(row)
            s.flush()
            answer = self._answer(s, node)
        if came_back:
            self.inventory.set_reachable(hostname, True)
        if changed:
            self.on_report(changed)
        return answer, changed

    def heartbeat(self, ctx: RequestContext, hostname: str) -> float:
        """The agent is alive, even while a slow hypervisor call keeps it from syncing; the
        seconds within which it must beat again."""
        with self.db.transaction() as s:
            node = self.authorize(s, ctx, hostname)
            node.heartbeat_at = utcnow()
            came_back = not node.up
            node.up = True
        if came_back:
            self.inventory.set_reachable(hostname, True)
        return self.heartbeat_timeout.total_seconds()

    def answer(self, hostname: str) -> SyncAnswer:
        with self.db.transaction() as s:
            node = s.get(ComputeNode, hostname)
            if node is None:
                raise NotFound(f"Host {hostname} has no compute service.")
            return self._answer(s, node)

    def generation(self, hostname: str) -> int:
        with self.db.transaction() as s:
            return (
                s.scalar(select(ComputeNode.generation).where(ComputeNode.hostname == hostname))
                or 0
            )

    def _answer(self, s: Session, node: ComputeNode) -> SyncAnswer:
        rows = s.scalars(
            select(Guest).where(Guest.hostname == node.hostname).order_by(Guest.server_id)
        )
        return SyncAnswer(
            generation=node.generation,
            guests=[
                DesiredGuest(
                    power=cast(Power, row.power),
                    version=row.version,
                    reboots=row.reboots,
                    spec=GuestSpec.model_validate(row.spec),
                )
                for row in rows
            ],
            heartbeat_timeout=self.heartbeat_timeout.total_seconds(),
        )

    @staticmethod
    def _record(row: Guest, actual: ActualGuest | None) -> bool:
        """Take a report into the row; True when the state the conductor reads changed."""
        row.reported_at = utcnow()
        new: tuple[str | None, int, int, str | None]
        if actual is None:  # the host has no such guest
            new = ("absent", row.actual_version, 0, None)
        else:
            if actual.console is not None:
                row.console = actual.console
            new = (actual.state, actual.version, actual.reboots, actual.error)
        old = (row.actual_state, row.actual_version, row.actual_reboots, row.error)
        if new == old:
            return False
        row.actual_state, row.actual_version, row.actual_reboots, row.error = new
        return True

    # ==== heartbeats ======================================================================

    def is_up(self, node: ComputeNode | None, now: datetime | None = None) -> bool:
        if node is None or not node.up:
            return False
        beat = _aware(node.heartbeat_at)
        return beat is not None and (now or utcnow()) - beat <= self.heartbeat_timeout

    def host_up(self, s: Session, hostname: str) -> bool:
        return self.is_up(s.get(ComputeNode, hostname))

    def up_hosts(self, s: Session, hostnames: Iterable[str]) -> dict[str, bool]:
        """Whether each host's agent is heard, in one query."""
        names = set(hostnames)
        nodes = {
            n.hostname: n
            for n in s.scalars(select(ComputeNode).where(ComputeNode.hostname.in_(names)))
        }
        now = utcnow()
        return {h: self.is_up(nodes.get(h), now) for h in names}

    def sweep_heartbeats(self) -> list[str]:
        """Hosts whose agent went quiet are down; then every host with an agent gets the
        availability its agent's state says (level-triggered: a heartbeat and a sweep racing
        in two workers cannot leave a host offline that beats, or online that does not).
        The names of the hosts whose availability changed."""
        cutoff = utcnow() - self.heartbeat_timeout
        with self.db.transaction() as s:
            s.execute(
                update(ComputeNode)
                .where(ComputeNode.up.is_(True), ComputeNode.heartbeat_at < cutoff)
                .values(up=False)
                .execution_options(synchronize_session=False)
            )
        with self.db.transaction() as s:
            up = dict(
                s.execute(
                    select(ComputeNode.hostname, ComputeNode.up).where(
                        ComputeNode.heartbeat_at.is_not(None)
                    )
                ).all()
            )
        changed = []
        for hostname, availability in self.inventory.availabilities().items():
            if hostname not in up:
                continue  # no agent heard yet: nothing to say about it
            if (availability == "offline") == up[hostname]:
                self.inventory.set_reachable(hostname, up[hostname])
                changed.append(hostname)
        return changed

    def nodes(self, hostnames: Sequence[str]) -> list[NodeView]:
        with self.db.transaction() as s:
            found = {
                n.hostname: n
                for n in s.scalars(select(ComputeNode).where(ComputeNode.hostname.in_(hostnames)))
            }
        now = utcnow()
        return [
            NodeView(
                hostname=h,
                up=self.is_up(found.get(h), now),
                heartbeat_at=_aware(found[h].heartbeat_at) if h in found else None,
                disabled=found[h].disabled if h in found else False,
                disabled_reason=found[h].disabled_reason if h in found else None,
            )
            for h in hostnames
        ]

    # ==== credentials =====================================================================

    def create_agent_credential(
        self, ctx: RequestContext, hostname: str, auth_url: str
    ) -> AgentCredential:
        """A Keystone user that may act as ``hostname``'s agent and nothing else (a new
        password each time: the old one stops working)."""
        policy.enforce(ctx, "compute:host:admin")
        hosts = {h.hostname for h in self.inventory.compute_hosts()}
        if hostname not in hosts:
            raise NotFound(f"Compute host {hostname} could not be found.")
        password = secrets.token_urlsafe(24)
        username = agent_username(hostname)
        user_id = self.identity.service_user(username, password, AGENT_PROJECT, AGENT_ROLE)
        with self.db.transaction() as s:
            node = s.get(ComputeNode, hostname)
            if node is None:
                node = ComputeNode(hostname=hostname, generation=0, up=False, disabled=False)
                s.add(node)
            node.agent_user_id = user_id
        return AgentCredential(
            hostname=hostname,
            auth_url=auth_url,
            username=username,
            password=password,
            project_name=AGENT_PROJECT,
        )

    def set_disabled(
        self, ctx: RequestContext, hostname: str, disabled: bool, reason: str | None
    ) -> NodeView:
        policy.enforce(ctx, "compute:host:admin")
        with self.db.transaction() as s:
            node = s.get(ComputeNode, hostname)
            if node is None:
                raise NotFound(f"Compute host {hostname} could not be found.")
            if reason is not None and len(reason) > 255:
                raise BadRequest("disabled_reason is longer than 255 characters.")
            node.disabled, node.disabled_reason = disabled, reason if disabled else None
        return self.nodes([hostname])[0]

    def disabled_hosts(self, s: Session) -> set[str]:
        return set(s.scalars(select(ComputeNode.hostname).where(ComputeNode.disabled.is_(True))))

    # ==== a cold migration's disk ========================================================
    #
    # Hosts share no storage and never talk to each other: the source's agent uploads the
    # parked guest's disk here (before it says the guest is parked), the destination's agent
    # downloads it before it defines the guest, and the step that ends the move drops it.
    # Each transfer is whole or nothing (a temporary file renamed once its SHA-256 matched),
    # so an agent killed mid-way simply sends or fetches it again.

    def _disk(self, server_id: str) -> Path:
        if self.disk_dir is None:
            raise Conflict("This controller has no place for disks in transit.")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", server_id):
            raise NotFound(f"Server {server_id} could not be found.")
        return self.disk_dir / server_id

    def receive_disk(
        self,
        ctx: RequestContext,
        hostname: str,
        server_id: str,
        chunks: Iterable[bytes],
        sha256: str | None,
    ) -> None:
        """The source host's agent sends the disk of a guest it holds parked."""
        with self.db.transaction() as s:
            self.authorize(s, ctx, hostname)
            row = s.get(Guest, (server_id, hostname))
            if row is None or row.power != "parked":
                raise Conflict(f"Host {hostname} is not moving server {server_id} away.")
        if not sha256:
            raise BadRequest("X-Sha256 is required: the disk's SHA-256, to check it arrived.")
        target = self._disk(server_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{server_id}.")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != sha256.lower():
                raise BadRequest(f"The disk of server {server_id} arrived damaged.")
            target.with_suffix(".sha256").write_text(digest.hexdigest())
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def disk(self, ctx: RequestContext, hostname: str, server_id: str) -> tuple[Path, str]:
        """The disk a guest moving to ``hostname`` had on its source host, with its SHA-256;
        NotFound when the source had none to send."""
        with self.db.transaction() as s:
            self.authorize(s, ctx, hostname)
            row = s.get(Guest, (server_id, hostname))
            if row is None or not row.spec.get("migrated_from") or row.power == "absent":
                raise Conflict(f"Server {server_id} is not moving to host {hostname}.")
        path = self._disk(server_id)
        try:
            return path, path.with_suffix(".sha256").read_text()
        except FileNotFoundError:
            raise NotFound(f"No disk of server {server_id} is in transit.") from None

    def drop_disk(self, server_id: str) -> None:
        """The move ended (either way): the copy in transit is no longer needed."""
        if self.disk_dir is not None and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", server_id):
            path = self.disk_dir / server_id
            path.unlink(missing_ok=True)
            path.with_suffix(".sha256").unlink(missing_ok=True)

    def console(self, s: Session, server_id: str, hostname: str | None) -> str:
        row = s.get(Guest, (server_id, hostname)) if hostname else None
        return row.console or "" if row is not None else ""


def hosts_of(guests: Iterable[Guest]) -> set[str]:
    return {g.hostname for g in guests}
