"""What every networking resource shares: who sees it, finding it (404 exactly as if it did not
exist when the caller may not see it), list filters, and serializing check-then-write steps."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Boolean, ColumnElement, Integer, Select, inspect, select, text, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Base, Database, Paged, seek
from passnic.errors import BadRequest, Conflict, NotFound

M = TypeVar("M", bound=Base)
T = TypeVar("T")

Filters = Mapping[str, Sequence[str]]
"""Exact-match list filters by attribute name; several values of one name match any of them."""


@dataclass(frozen=True)
class Page:
    """One page of a list: at most ``limit`` resources after the ``marker`` resource (before it
    when ``reverse``), in the list's order."""

    limit: int
    marker: str | None = None
    reverse: bool = False


@dataclass(frozen=True)
class Kind(Generic[M]):
    """One kind of resource: its table, its name in messages, and what a project may see."""

    model: type[M]
    label: str
    #: the non-admin visibility rule, as SQL: (caller's project id) -> condition
    visible_to: Callable[[str], ColumnElement[bool]]
    filterable: tuple[str, ...] = ("id", "name", "project_id")
    #: how Neutron words a miss; ``{label}`` and ``{id}`` are filled in
    missing: str = "{label} {id} could not be found."

    @property
    def not_found_kind(self) -> str:
        return self.label.title().replace(" ", "") + "NotFound"

    def not_found(self, ident: str) -> NotFound:
        return NotFound(self.missing.format(label=self.label, id=ident), kind=self.not_found_kind)

    def visible(self, ctx: RequestContext) -> ColumnElement[bool]:
        if policy.allowed(ctx, "network:read_all_projects"):
            return true()
        return self.visible_to(ctx.project_id)

    def select(self, ctx: RequestContext, filters: Filters | None = None) -> Select[M]:
        """The caller's view of the collection, filtered, oldest first."""
        model: Any = self.model
        query = select(self.model).where(self.visible(ctx))
        for name, values in (filters or {}).items():
            if name not in self.filterable or not values:
                continue
            column = getattr(model, name)
            wanted = [
                v for v in (_coerce(self.model, name, raw) for raw in values) if v is not _ANY
            ]
            if len(wanted) < len(values):
                continue  # "None" means no filter, as the CLI sends for "all"
            query = query.where(column.in_(wanted))
        return query.order_by(model.created_at, model.id)

    def page(self, s: Session, ctx: RequestContext, query: Select[M], page: Page) -> Paged[M]:
        """One page of ``query`` (a :meth:`select`), read in SQL from the marker on. A marker
        the caller cannot see is a 404, as Neutron answers it."""
        model: Any = self.model
        keys = (model.created_at, model.id)
        after = None
        if page.marker is not None:
            # the marker's keys only: loading the resource would load its relations too
            query_keys = select(*keys).where(model.id == page.marker, self.visible(ctx))
            found = None if "\x00" in page.marker else s.execute(query_keys).first()
            if found is None:
                raise self.not_found(page.marker.replace("\x00", ""))
            after = tuple(found)
        rows = list(s.scalars(seek(query, keys, after, limit=page.limit, descending=page.reverse)))
        items = rows[: page.limit]
        if page.reverse:
            items.reverse()
        return Paged(items, more=len(rows) > page.limit)

    def get(self, s: Session, ctx: RequestContext, ident: str, *, lock: bool = False) -> M:
        """The resource, or a 404 that reads the same whether it is missing or hidden."""
        if "\x00" in ident:
            raise self.not_found(ident.replace("\x00", ""))
        model: Any = self.model
        query = select(self.model).where(model.id == ident, self.visible(ctx))
        if lock:
            query = query.with_for_update()
        found = s.scalar(query)
        if found is None:
            raise self.not_found(ident)
        return found


_ANY = object()


def _coerce(model: type[Base], name: str, raw: str) -> Any:
    column_type = inspect(model).columns[name].type
    if isinstance(column_type, Boolean):
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        if lowered == "none":
            return _ANY
        raise BadRequest(f"Invalid filter {name}={raw}: a boolean is expected", kind="InvalidInput")
    if isinstance(column_type, Integer):
        if raw.lower() == "none":
            return _ANY
        try:
            number = int(raw)
        except ValueError:
            number = None
        if number is None or abs(number) > 2**31 - 1:
            raise BadRequest(
                f"Invalid filter {name}={raw}: an integer is expected", kind="InvalidInput"
            )
        return number
    if "\x00" in raw:
        raise BadRequest(f"Invalid filter {name}: NUL characters", kind="InvalidInput")
    return raw


def serialize(s: Session, key: str) -> None:
    """Make check-then-write steps on ``key`` (the subnets of one network, the ranges of one
    data network) run one at a time, so two concurrent requests cannot both pass a check that
    only the database-wide view could refuse.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: take the database write lock now,
    before the checks read (SQLite has one writer at a time; taking it first makes the reads
    current and holds off the other writers until we commit).
    """
    bind = s.get_bind()
    if bind.dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(key.encode())})
    else:
        s.execute(text("UPDATE networks SET mtu = mtu WHERE 0 = 1"))


def retrying(db: Database, work: Callable[[Session], T], *, attempts: int = 6) -> T:
    """Run ``work`` in a transaction; when a uniqueness constraint fires because a concurrent
    request took the same VLAN ID, address or MAC first, run it again (its checks then see the
    winner and choose another, or refuse with a clear message)."""
    for attempt in range(attempts):
        try:
            with db.transaction() as s:
                return work(s)
        except IntegrityError:
            if attempt == attempts - 1:
                raise Conflict(
                    "The request conflicted with concurrent changes; please retry",
                    kind="Conflict",
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover
