"""Key pairs and server groups: what a user keeps beside their servers.

A key pair belongs to its user (Nova's rule: names are unique per user, an admin may act for
another user with ``user_id``). A server group belongs to its project and holds each server at
most once.
"""

from __future__ import annotations

import base64
import hashlib
import re

import asyncssh
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passnic import policy
from passnic.compute.models import Keypair, Server, ServerGroup, ServerGroupMember
from passnic.compute.quotas import QuotaService
from passnic.context import RequestContext
from passnic.db import Database
from passnic.errors import BadRequest, Conflict, NotFound
from passnic.placement.model import GroupPolicy, GroupRule

policy.register(
    {
        "compute:keypair:other_user": "admin",
        "compute:server_group:create": "member",
        "compute:server_group:owner": "owner",
        "compute:server_group:all_projects": "admin",
    }
)

KEYPAIR_NAME = re.compile(r"^[a-zA-Z0-9 _\-.@]{1,255}$")
POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint: the MD5 of the key blob, as colon-separated hex."""
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class KeypairService:
    def __init__(self, db: Database, quotas: QuotaService) -> None:
        self.db = db
        self.quotas = quotas

    def _owner(self, ctx: RequestContext, user_id: str | None) -> str:
        if user_id and user_id != ctx.user_id:
            policy.enforce(ctx, "compute:keypair:other_user")
            return user_id
        return ctx.user_id

    def create(
        self,
        ctx: RequestContext,
        name: str,
        public_key: str | None,
        key_type: str = "ssh",
        user_id: str | None = None,
    ) -> tuple[Keypair, str | None]:
        """Import ``public_key``, or generate a pair (ed25519) and answer its private key once:
        Passnic never stores it."""
        owner = self._owner(ctx, user_id)
        if not KEYPAIR_NAME.match(name):
            raise BadRequest(
                "Keypair name must be 1 to 255 letters, digits, spaces, '_', '-', '.' or '@'."
            )
        if key_type != "ssh":
            raise BadRequest(f"Keypair type {key_type} is not supported: only ssh keys are.")
        private: str | None = None
        if public_key is None:
            key = asyncssh.generate_private_key("ssh-ed25519", comment=name)
            private = key.export_private_key().decode()
            public_key = key.export_public_key().decode().strip()
        else:
            try:
                asyncssh.import_public_key(public_key)
            except (asyncssh.KeyImportError, ValueError):
                raise BadRequest("Keypair data is invalid: not an OpenSSH public key.") from None
            public_key = public_key.strip()
        row = Keypair(
            user_id=owner,
            name=name,
            type=key_type,
            public_key=public_key,
            fingerprint=fingerprint(public_key),
        )
        try:
            with self.db.transaction() as s:
                self.quotas.claim_keypair(s, ctx.project_id, owner)
                s.add(row)
                s.flush()
                s.expunge(row)
        except IntegrityError:
            raise Conflict(f"Key pair '{name}' already exists.") from None
        return row, private

    def list_keypairs(self, ctx: RequestContext, user_id: str | None = None) -> list[Keypair]:
        owner = self._owner(ctx, user_id)
        with self.db.transaction() as s:
            stmt = select(Keypair).where(Keypair.user_id == owner).order_by(Keypair.name)
            rows = list(s.scalars(stmt))
            s.expunge_all()
            return rows

    def get(self, ctx: RequestContext, name: str, user_id: str | None = None) -> Keypair:
        with self.db.transaction() as s:
            row = self.find(s, self._owner(ctx, user_id), name)
            s.expunge(row)
            return row

    def delete(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        with self.db.transaction() as s:
            s.delete(self.find(s, self._owner(ctx, user_id), name))

    @staticmethod
    def find(s: Session, user_id: str, name: str) -> Keypair:
        row = s.scalar(select(Keypair).where(Keypair.user_id == user_id, Keypair.name == name))
        if row is None:
            raise NotFound(f"Keypair {name} not found for user {user_id}.")
        return row


class ServerGroupService:
    def __init__(self, db: Database, quotas: QuotaService) -> None:
        self.db = db
        self.quotas = quotas

    def create(self, ctx: RequestContext, name: str, group_policy: str) -> ServerGroup:
        policy.enforce(ctx, "compute:server_group:create", ctx.project_id)
        if not name.strip() or len(name) > 255:
            raise BadRequest("Invalid server group name: it must be 1 to 255 characters.")
        if group_policy not in POLICIES:
            raise BadRequest(f"Invalid server group policy {group_policy!r}: one of {POLICIES}.")
        with self.db.transaction() as s:
            self.quotas.claim_server_group(s, ctx.project_id)
            group = ServerGroup(
                name=name, policy=group_policy, project_id=ctx.project_id, user_id=ctx.user_id
            )
            s.add(group)
            s.flush()
            s.refresh(group)
            s.expunge(group)
            return group

    def list_groups(self, ctx: RequestContext, all_projects: bool = False) -> list[ServerGroup]:
        every = all_projects and policy.allowed(ctx, "compute:server_group:all_projects")
        with self.db.transaction() as s:
            stmt = select(ServerGroup).order_by(ServerGroup.created_at, ServerGroup.id)
            if not every:
                stmt = stmt.where(ServerGroup.project_id == ctx.project_id)
            groups = list(s.scalars(stmt))
            s.expunge_all()
            return groups

    def get(self, ctx: RequestContext, group_id: str) -> ServerGroup:
        with self.db.transaction() as s:
            group = self._visible(s, ctx, group_id)
            s.expunge(group)
            return group

    def delete(self, ctx: RequestContext, group_id: str) -> None:
        with self.db.transaction() as s:
            s.delete(self._visible(s, ctx, group_id))

    def members(self, group_ids: list[str]) -> dict[str, list[str]]:
        """Each group's servers that still exist (a deleted server leaves its group)."""
        with self.db.transaction() as s:
            stmt = (
                select(ServerGroupMember.group_id, ServerGroupMember.server_id)
                .join(Server, Server.id == ServerGroupMember.server_id)
                .where(ServerGroupMember.group_id.in_(group_ids))
            )
            found: dict[str, list[str]] = {g: [] for g in group_ids}
            for group_id, server_id in s.execute(stmt):
                found[group_id].append(server_id)
            return found

    def of_server(self, server_id: str) -> list[str]:
        """The id of the server's group, as a list (Nova's ``server_groups``)."""
        with self.db.transaction() as s:
            stmt = select(ServerGroupMember.group_id).where(
                ServerGroupMember.server_id == server_id
            )
            return list(s.scalars(stmt))

    def join(self, s: Session, ctx: RequestContext, group_id: str, server: Server) -> None:
        """Put a booting server in a group (the boot's ``group`` scheduler hint); the caller
        holds the project's quota lock."""
        try:
            group = self._visible(s, ctx, group_id)
        except NotFound:
            raise BadRequest(f"Server group {group_id} could not be found.") from None
        self.quotas.claim_member(s, group.project_id, group_id)
        s.add(ServerGroupMember(group_id=group_id, server_id=server.id))

    @staticmethod
    def rule(s: Session, server_id: str) -> GroupRule | None:
        """The scheduler's rule for a member: its group's hard policy and the hosts of the
        other members (soft policies are preferences Passnic does not weigh: no rule)."""
        group = s.scalar(
            select(ServerGroup)
            .join(ServerGroupMember, ServerGroupMember.group_id == ServerGroup.id)
            .where(ServerGroupMember.server_id == server_id)
        )
        if group is None or group.policy not in ("affinity", "anti-affinity"):
            return None
        hosts = s.scalars(
            select(Server.host)
            .join(ServerGroupMember, ServerGroupMember.server_id == Server.id)
            .where(
                ServerGroupMember.group_id == group.id,
                Server.id != server_id,
                Server.host.is_not(None),
            )
        )
        policy_name: GroupPolicy = "affinity" if group.policy == "affinity" else "anti-affinity"
        return GroupRule(group.name, policy_name, frozenset(h for h in hosts if h))

    @staticmethod
    def _visible(s: Session, ctx: RequestContext, group_id: str) -> ServerGroup:
        group = s.get(ServerGroup, group_id)
        if group is None or not policy.allowed(ctx, "compute:server_group:owner", group.project_id):
            raise NotFound(f"Server group {group_id} could not be found.")
        return group
