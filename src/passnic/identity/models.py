"""Identity tables. Ids are 32 hex characters, as Keystone's."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class ProjectTag(Base):
    """A project's tag (Keystone's simple string tags, filterable with ``tags``/``tags-any``)."""

    __tablename__ = "identity_project_tags"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


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


class ApplicationCredential(Base):
    """A secret a user hands to a program (a host agent, a script) that signs in as the user on
    one project with a subset of the user's roles there. Only the secret's hash is kept."""

    __tablename__ = "identity_application_credentials"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=hex_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    user_id: Mapped[str] = mapped_column(ForeignKey("identity_users.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("identity_projects.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(255))
    #: the role ids it carries (each must still be held by the user when it is used)
    role_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    unrestricted: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Token(Base):
    """An issued token. Only its SHA-256 is stored: a database leak yields no usable token.
    A token without a project is unscoped: it only lists the projects a user may scope to."""

    __tablename__ = "identity_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("identity_users.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), default=None
    )
    #: the application credential it was issued for; deleting that ends the token
    application_credential_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_application_credentials.id", ondelete="CASCADE"), default=None
    )
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
