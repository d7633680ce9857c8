"""Identity tables. Ids are 32 hex characters, as Keystone's."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from passnic.db import Base, Timestamps


def hex_id() -> str:
    return uuid.uuid4().hex


class Domain(Base):
    __tablename__ = "identity_domains"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=hex_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Project(Timestamps, Base):
    __tablename__ = "identity_projects"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=hex_id)
    name: Mapped[str] = mapped_column(String(64))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Timestamps, Base):
    __tablename__ = "identity_users"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=hex_id)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    default_project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="SET NULL"), default=None
    )
    #: consecutive failed sign-ins and when the last one was, for Keystone's lockout
    failed_auth_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_auth_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Role(Base):
    __tablename__ = "identity_roles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=hex_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class RoleAssignment(Base):
    """A user holds a role on a project (project scope is the only scope Passnic grants)."""

    __tablename__ = "identity_role_assignments"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )


class Token(Base):
    """An issued token. Only its SHA-256 is stored: a database leak yields no usable token."""

    __tablename__ = "identity_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("identity_users.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("identity_projects.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
