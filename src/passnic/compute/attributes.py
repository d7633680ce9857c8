"""What a user may change of a server without touching its guest: name, description, metadata,
tags and the lock. Each change is one transaction on the server's row; the lifecycle (and its
conductor) never reads these, so they are kept apart from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy.orm import Session, object_session

from passnic import policy
from passnic.compute.models import Server
from passnic.compute.quotas import QuotaService
from passnic.context import RequestContext
from passnic.db import Database
from passnic.errors import BadRequest, Conflict, NotFound

MAX_TAGS = 50
T = TypeVar("T")


def _check_tag(tag: str) -> None:
    if not tag or len(tag) > 60 or "," in tag or "/" in tag:
        raise BadRequest(f"Invalid tag {tag!r}: 1 to 60 characters, without ',' or '/'.")


def _check_metadata(items: Mapping[str, str]) -> None:
    for key, value in items.items():
        if not key or len(key) > 255 or len(value) > 255:
            raise BadRequest("Metadata keys must be 1 to 255 characters, values at most 255.")


class ServerAttributes:
    def __init__(self, db: Database, quotas: QuotaService) -> None:
        self.db = db
        self.quotas = quotas

    def _change(self, ctx: RequestContext, server_id: str, change: Callable[[Server], T]) -> T:
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            self._unlocked(ctx, server)
            return change(server)

    @staticmethod
    def _visible(s: Session, ctx: RequestContext, server_id: str) -> Server:
        server = s.get(Server, server_id)
        if server is None or not policy.allowed(ctx, "compute:server:owner", server.project_id):
            raise NotFound(f"Instance {server_id} could not be found.")
        return server

    @staticmethod
    def _unlocked(ctx: RequestContext, server: Server) -> None:
        if server.locked and not ctx.is_admin:
            raise Conflict(f"Instance {server.id} is locked")

    def check_unlocked(self, ctx: RequestContext, server_id: str) -> None:
        """Refuse a non-admin's action on a locked server (Nova's 409 "is locked")."""
        with self.db.transaction() as s:
            self._unlocked(ctx, self._visible(s, ctx, server_id))

    def update(
        self,
        ctx: RequestContext,
        server_id: str,
        name: str | None = None,
        description: str | None = None,
        set_description: bool = False,
    ) -> None:
        if name is not None and (not name.strip() or len(name) > 255):
            raise BadRequest("Invalid server name: it must be 1 to 255 characters.")
        if description is not None and len(description) > 255:
            raise BadRequest("Invalid description: at most 255 characters.")

        def change(server: Server) -> None:
            if name is not None:
                server.name = name
            if set_description:
                server.description = description

        self._change(ctx, server_id, change)

    def set_metadata(
        self, ctx: RequestContext, server_id: str, items: Mapping[str, str], replace: bool
    ) -> dict[str, str]:
        def change(server: Server) -> dict[str, str]:
            merged = dict(items) if replace else {**server.metadata_, **items}
            _check_metadata(merged)
            session = object_session(server)
            assert session is not None  # _change hands a server of its open transaction
            self.quotas.check_metadata(session, server.project_id, len(merged))
            server.metadata_ = merged
            return merged

        return self._change(ctx, server_id, change)

    def delete_metadata(self, ctx: RequestContext, server_id: str, key: str) -> None:
        def change(server: Server) -> None:
            if key not in server.metadata_:
                raise NotFound(f"Metadata item was not found: {key}")
            server.metadata_ = {k: v for k, v in server.metadata_.items() if k != key}

        self._change(ctx, server_id, change)

    def set_tags(self, ctx: RequestContext, server_id: str, tags: list[str]) -> list[str]:
        for tag in tags:
            _check_tag(tag)
        unique = list(dict.fromkeys(tags))
        if len(unique) > MAX_TAGS:
            raise BadRequest(f"A server has at most {MAX_TAGS} tags.")

        def change(server: Server) -> list[str]:
            server.tags = unique
            return unique

        return self._change(ctx, server_id, change)

    def add_tag(self, ctx: RequestContext, server_id: str, tag: str) -> bool:
        """Add a tag; False when the server already had it."""
        _check_tag(tag)

        def change(server: Server) -> bool:
            if tag in server.tags:
                return False
            if len(server.tags) >= MAX_TAGS:
                raise BadRequest(f"A server has at most {MAX_TAGS} tags.")
            server.tags = [*server.tags, tag]
            return True

        return self._change(ctx, server_id, change)

    def delete_tag(self, ctx: RequestContext, server_id: str, tag: str) -> None:
        def change(server: Server) -> None:
            if tag not in server.tags:
                raise NotFound(f"Tag {tag} could not be found.")
            server.tags = [t for t in server.tags if t != tag]

        self._change(ctx, server_id, change)

    def lock(self, ctx: RequestContext, server_id: str, reason: str | None) -> None:
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            server.locked, server.locked_reason = True, reason

    def unlock(self, ctx: RequestContext, server_id: str) -> None:
        with self.db.transaction() as s:
            server = self._visible(s, ctx, server_id)
            server.locked, server.locked_reason = False, None
