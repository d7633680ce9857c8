"""The database: one SQLAlchemy engine, transactions owned by the service layer, Alembic
migrations shipped in the package."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    DateTime,
    MetaData,
    Select,
    String,
    and_,
    create_engine,
    event,
    or_,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
)

from passnic.config import private_dir

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamps:
    """created_at / updated_at, as every OpenStack and sysinv resource shows them."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, onupdate=utcnow
    )


def uuid_pk() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_uuid)


T = TypeVar("T")


@dataclass(frozen=True)
class Paged(Generic[T]):
    """A page of a list, in the list's order, and whether more rows lie beyond it in the
    direction the page was read."""

    items: list[T]
    more: bool


def seek(
    query: Select[Any],
    keys: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    after: Sequence[Any] | None,
    *,
    limit: int,
    descending: bool = False,
) -> Select[Any]:
    """One page of ``query`` in SQL: ordered by ``keys`` (unique together, never null), only
    the rows past the marker row whose key values are ``after``, and at most ``limit`` + 1 rows
    (the extra one tells whether more follow). Keyset paging: the database seeks by the index
    instead of counting rows, so a far page costs what the first one does."""
    if after is not None:
        past = [
            and_(
                *(k == v for k, v in zip(keys[:i], after[:i], strict=True)),
                key < value if descending else key > value,
            )
            for i, (key, value) in enumerate(zip(keys, after, strict=True))
        ]
        query = query.where(or_(*past))
    order = [k.desc() if descending else k.asc() for k in keys]
    return query.order_by(None).order_by(*order).limit(limit + 1)


def isotime(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, the form OpenStack APIs print (SQLite drops the zone)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed (never on a rollback): how
    a step tells other threads and processes of work it made, only once that work is real."""
    if not session.info.get("on_commit_listening"):
        session.info["on_commit_listening"] = True
        event.listen(session, "after_commit", _run_on_commit)
        event.listen(session, "after_rollback", lambda s: s.info.pop("on_commit", None))
    session.info.setdefault("on_commit", []).append(action)


def _run_on_commit(session: Session) -> None:
    for action in session.info.pop("on_commit", None) or ():
        action()


def _private_file(path: Path) -> None:
    """The SQLite file readable by its owner only: it holds password hashes and switch
    passwords. SQLite gives its -wal and -shm files the database file's mode."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def load_models() -> None:
    """Import every domain's tables so Base.metadata knows them (Alembic, create_all)."""
    from passnic import models  # noqa: F401


class Database:
    """The engine and the session factory. Service methods open one transaction each."""

    def __init__(self, url: str) -> None:
        self.url = url
        # Parameters stay out of exception texts: they hold password hashes and switch passwords.
        kwargs: dict[str, Any] = {"future": True, "hide_parameters": True}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if "///" in url and path and path != ":memory:":
                _private_file(Path(path.split("?", 1)[0]))
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self._sessions.begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command

        command.upgrade(alembic_config(self.url), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
