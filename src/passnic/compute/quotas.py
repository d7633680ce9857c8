"""Nova's quota sets, enforced in the transaction that takes what they limit.

A project's limits are Nova's defaults unless an admin set others (``compute_quotas`` holds
only the overrides). What is in use is counted from the rows themselves (servers and their
embedded flavors, key pairs, server groups), never kept as a separate counter that could
drift. The count and the INSERT it allows happen in one transaction, after a lock that every
API worker takes for that project (a PostgreSQL advisory lock; SQLite's single writer lock):
two workers booting the project's last allowed server one after the other, the second one
counts the first one's server, so both can never pass.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from passnic import policy
from passnic.compute.models import Keypair, Quota, Server, ServerGroup, ServerGroupMember
from passnic.context import RequestContext
from passnic.db import Database
from passnic.errors import BadRequest, Forbidden, NotFound

policy.register({"compute:quota:update": "admin"})

#: Nova's defaults (``[quota]`` in nova.conf); -1 is unlimited
DEFAULTS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "metadata_items": 128,
    "key_pairs": 100,
    "server_groups": 10,
    "server_group_members": 10,
}
UNLIMITED = -1


class QuotaService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- reading and setting -----------------------------------------------------------

    def get(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._readable(ctx, project_id)
        with self.db.transaction() as s:
            return self.limits(s, project_id)

    def usage(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        """What the project uses now (key pairs: the caller's own, as Nova counts them)."""
        self._readable(ctx, project_id)
        with self.db.transaction() as s:
            return self.used(s, project_id, ctx.user_id)

    def update(
        self, ctx: RequestContext, project_id: str, values: Mapping[str, int]
    ) -> dict[str, int]:
        """Set some of a project's limits (admin); a value below what is in use is refused,
        as Nova refuses it, so a quota never claims more room than it gives."""
        policy.enforce(ctx, "compute:quota:update")
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise BadRequest(f"Invalid input: unknown quota resources {', '.join(unknown)}.")
        for resource, value in values.items():
            if value < UNLIMITED:
                raise BadRequest(
                    f"Quota limit {value} for {resource} must be greater than or equal to -1."
                )
        with self.db.transaction() as s:
            self.lock(s, project_id)
            used = self.used(s, project_id, ctx.user_id)
            for resource, value in values.items():
                if value != UNLIMITED and used.get(resource, 0) > value:
                    raise BadRequest(
                        f"Quota limit {value} for {resource} must be greater than or equal to "
                        f"already used and reserved {used[resource]}."
                    )
                row = s.get(Quota, (project_id, resource))
                if row is None:
                    s.add(Quota(project_id=project_id, resource=resource, hard_limit=value))
                else:
                    row.hard_limit = value
            s.flush()
            return self.limits(s, project_id)

    def reset(self, ctx: RequestContext, project_id: str) -> None:
        """Back to the defaults (``DELETE os-quota-sets/{project}``)."""
        policy.enforce(ctx, "compute:quota:update")
        with self.db.transaction() as s:
            for row in s.scalars(select(Quota).where(Quota.project_id == project_id)):
                s.delete(row)

    @staticmethod
    def limits(s: Session, project_id: str) -> dict[str, int]:
        limits = dict(DEFAULTS)
        for row in s.scalars(select(Quota).where(Quota.project_id == project_id)):
            limits[row.resource] = row.hard_limit
        return limits

    @staticmethod
    def servers_used(s: Session, project_id: str) -> dict[str, int]:
        """The project's instances, cores and RAM, summed by the database (one row whatever
        the number of servers)."""
        instances, cores, ram = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Server.flavor["vcpus"].as_integer()), 0),
                func.coalesce(func.sum(Server.flavor["ram"].as_integer()), 0),
            ).where(Server.project_id == project_id)
        ).one()
        return {"instances": int(instances), "cores": int(cores), "ram": int(ram)}

    @classmethod
    def used(cls, s: Session, project_id: str, user_id: str) -> dict[str, int]:
        key_pairs = s.scalar(
            select(func.count()).select_from(Keypair).where(Keypair.user_id == user_id)
        )
        groups = s.scalar(
            select(func.count())
            .select_from(ServerGroup)
            .where(ServerGroup.project_id == project_id)
        )
        return {
            **cls.servers_used(s, project_id),
            "key_pairs": key_pairs or 0,
            "server_groups": groups or 0,
        }

    # ---- enforcing ---------------------------------------------------------------------

    @staticmethod
    def lock(s: Session, project_id: str) -> None:
        """Serialise the project's quota checks across workers until ``s`` ends."""
        if s.get_bind().dialect.name == "postgresql":
            key = zlib.crc32(f"passnic-quota:{project_id}".encode())
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        else:  # SQLite: take the one writer lock before counting
            s.execute(text("UPDATE compute_quotas SET hard_limit = hard_limit WHERE 0 = 1"))

    def claim_server(
        self, s: Session, project_id: str, user_id: str, cores: int, ram: int, instances: int = 1
    ) -> None:
        """Lock, count and refuse a server (or a resize's growth: ``instances=0``) beyond the
        project's instances, cores or RAM; the caller writes it in ``s`` before the commit
        that ends the lock."""
        self.lock(s, project_id)
        limits = self.limits(s, project_id)
        counted = ("instances", instances), ("cores", cores), ("ram", ram)
        if all(limits[resource] == UNLIMITED for resource, _ in counted):
            return
        used = self.servers_used(s, project_id)
        for resource, wanted in counted:
            limit = limits[resource]
            if wanted and limit != UNLIMITED and used[resource] + wanted > limit:
                raise Forbidden(
                    f"Quota exceeded for {resource}: Requested {wanted}, but already used "
                    f"{used[resource]} of {limit} {resource}"
                )

    def claim_keypair(self, s: Session, project_id: str, user_id: str) -> None:
        self.lock(s, project_id)
        limit = self.limits(s, project_id)["key_pairs"]
        used = (
            s.scalar(select(func.count()).select_from(Keypair).where(Keypair.user_id == user_id))
            or 0
        )
        if limit != UNLIMITED and used + 1 > limit:
            raise Forbidden("Quota exceeded, too many key pairs.")

    def claim_server_group(self, s: Session, project_id: str) -> None:
        self.lock(s, project_id)
        limit = self.limits(s, project_id)["server_groups"]
        used = (
            s.scalar(
                select(func.count())
                .select_from(ServerGroup)
                .where(ServerGroup.project_id == project_id)
            )
            or 0
        )
        if limit != UNLIMITED and used + 1 > limit:
            raise Forbidden("Quota exceeded, too many server groups.")

    def claim_member(self, s: Session, project_id: str, group_id: str) -> None:
        """Room for one more server in the group (the caller holds the project's lock)."""
        limit = self.limits(s, project_id)["server_group_members"]
        used = (
            s.scalar(
                select(func.count())
                .select_from(ServerGroupMember)
                .join(Server, Server.id == ServerGroupMember.server_id)
                .where(ServerGroupMember.group_id == group_id)
            )
            or 0
        )
        if limit != UNLIMITED and used + 1 > limit:
            raise Forbidden("Quota exceeded, too many servers in group")

    def check_metadata(self, s: Session, project_id: str, count: int) -> None:
        limit = self.limits(s, project_id)["metadata_items"]
        if limit != UNLIMITED and count > limit:
            raise Forbidden(f"Maximum number of metadata items exceeds {limit}")

    @staticmethod
    def _readable(ctx: RequestContext, project_id: str) -> None:
        if not ctx.owns(project_id):
            raise NotFound(f"Quota for project {project_id} could not be found.")
