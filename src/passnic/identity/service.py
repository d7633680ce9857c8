"""Identity rules: who may sign in, what a token says, who may manage projects and users."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passnic import policy
from passnic.config import Settings
from passnic.context import RequestContext
from passnic.db import Database, utcnow
from passnic.errors import BadRequest, Conflict, Forbidden, NotAuthenticated, NotFound
from passnic.identity.models import (
    ApplicationCredential,
    Domain,
    Project,
    ProjectTag,
    Role,
    RoleAssignment,
    Token,
    User,
)

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"
STANDARD_ROLES = ("admin", "member", "reader")

policy.register(
    {
        "identity:list_projects": "admin",
        "identity:list_user_projects": "self",
        "identity:validate_token": "admin",
        "identity:get_project": "owner",
        "identity:create_project": "admin",
        "identity:update_project": "admin",
        "identity:delete_project": "admin",
        "identity:list_users": "admin",
        "identity:get_user": "self",
        "identity:create_user": "admin",
        "identity:update_user": "admin",
        "identity:delete_user": "admin",
        "identity:list_roles": "any",
        "identity:create_role": "admin",
        "identity:list_role_assignments": "admin",
        "identity:grant": "admin",
        "identity:list_domains": "any",
        "identity:get_project_tags": "owner",
        "identity:update_project_tags": "admin",
        # a user manages their own application credentials (an admin anyone's)
        "identity:application_credential": "self",
    }
)

#: Argon2 parameter profiles by name (settings.password_hashing). The cheap one exists for test
#: suites, which hash and verify thousands of passwords; a hash records its own parameters, so
#: verifying works whichever profile wrote it.
PASSWORD_HASHERS = {
    "rfc9106-low-memory": PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY),
    "cheapest": PasswordHasher.from_parameters(profiles.CHEAPEST),
}
_T = TypeVar("_T")


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Ref:
    """A named thing with its domain, as a token or an assignment shows it."""

    id: str
    name: str
    domain_id: str | None = None
    domain_name: str | None = None


MAX_NAME = 255
"""Keystone's limit on project, user and role names."""
MAX_TAGS = 80
"""Keystone's limit on the tags of one project."""


@dataclass(frozen=True)
class TokenInfo:
    """What a token says. ``project`` is None for an unscoped token (no roles, no catalog)."""

    user: Ref
    project: Ref | None
    roles: tuple[Ref, ...]
    issued_at: datetime
    expires_at: datetime
    methods: tuple[str, ...] = ("password",)
    application_credential: ApplicationCredentialRef | None = None


@dataclass(frozen=True)
class ApplicationCredentialRef:
    id: str
    name: str
    restricted: bool


@dataclass(frozen=True)
class ApplicationCredentialAuth:
    """The application_credential method: by id, or by name with its user."""

    secret: str
    id: str | None = None
    name: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    user_domain_name: str | None = None


@dataclass(frozen=True)
class TagFilters:
    """Project list filters on tags: all of ``tags``, any of ``tags_any``, and the negations."""

    tags: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    not_tags_any: tuple[str, ...] = ()


@dataclass(frozen=True)
class PasswordAuth:
    """The password method of POST /v3/auth/tokens. Without a project (by id or name) the
    token is scoped to the user's default project, or unscoped when ``unscoped`` is asked for
    or the user has none."""

    password: str
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    user_domain_name: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    unscoped: bool = False


@dataclass(frozen=True)
class ProjectScope:
    """The project a token method asks for (by id, or by name in a domain)."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True)
class Assignment:
    role: Ref
    user: Ref
    project: Ref


class IdentityService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        if settings.password_hashing not in PASSWORD_HASHERS:
            raise ValueError(
                f"Unknown password hashing profile {settings.password_hashing!r}: "
                f"choose one of {', '.join(PASSWORD_HASHERS)}"
            )
        self._hasher = PASSWORD_HASHERS[settings.password_hashing]

    # ---- bootstrap ---------------------------------------------------------------------

    def is_bootstrapped(self) -> bool:
        with self.db.transaction() as s:
            return s.get(Domain, DEFAULT_DOMAIN_ID) is not None

    def bootstrap(self) -> None:
        """The Default domain and the standard roles; idempotent."""
        with self.db.transaction() as s:
            if s.get(Domain, DEFAULT_DOMAIN_ID) is None:
                s.add(Domain(id=DEFAULT_DOMAIN_ID, name=DEFAULT_DOMAIN_NAME))
            existing = set(s.scalars(select(Role.name)))
            s.add_all(Role(name=name) for name in STANDARD_ROLES if name not in existing)

    def seed_project(self, name: str, description: str = "") -> Project:
        with self.db.transaction() as s:
            project = Project(name=name, domain_id=DEFAULT_DOMAIN_ID, description=description)
            s.add(project)
            return project

    def seed_user(self, name: str, password: str, project: Project, role: str) -> User:
        with self.db.transaction() as s:
            user = User(
                name=name,
                domain_id=DEFAULT_DOMAIN_ID,
                password_hash=self._hasher.hash(password),
                default_project_id=project.id,
            )
            s.add(user)
            s.flush()
            s.add(
                RoleAssignment(
                    user_id=user.id, project_id=project.id, role_id=self._role(s, role).id
                )
            )
            return user

    # ---- tokens ------------------------------------------------------------------------

    @cached_property
    def _dummy_hash(self) -> str:
        """Verified when there is no real hash, so an unknown name costs what a wrong password
        costs and timing cannot tell which names exist."""
        return self._hasher.hash(secrets.token_urlsafe(16))

    def _password_matches(self, password_hash: str | None, password: str) -> bool:
        try:
            self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def _locked_out(self, user: User, now: datetime) -> bool:
        limit = self.settings.lockout_failure_attempts
        return (
            limit > 0
            and user.failed_auth_count >= limit
            and user.failed_auth_at is not None
            and _aware(user.failed_auth_at) + self.settings.lockout_duration > now
        )

    def _record_sign_in(self, user_id: str, succeeded: bool) -> None:
        """Count failed sign-ins in a row (a lapsed lockout starts the count again) in a
        transaction of its own, so the refusal that follows does not roll it back."""
        with self.db.transaction() as s:
            user = s.get(User, user_id, with_for_update=True)
            if user is None:
                return
            now = utcnow()
            if succeeded:
                user.failed_auth_count, user.failed_auth_at = 0, None
                return
            lapsed = (
                user.failed_auth_at is None
                or _aware(user.failed_auth_at) + self.settings.lockout_duration <= now
            )
            user.failed_auth_count = 1 if lapsed else user.failed_auth_count + 1
            user.failed_auth_at = now

    def authenticate(self, auth: PasswordAuth) -> tuple[str, TokenInfo]:
        """Check the password and scope; issue a token. Every failure reads the same and costs
        the same (a locked-out user, an unknown name, a wrong password), so a caller cannot
        probe which user names exist. The hash is verified outside any transaction."""
        failure = NotAuthenticated("The request you have made requires authentication.")
        with self.db.transaction() as s:
            found = self._find_user_for_auth(s, auth)
            user_id = found.id if found is not None else None
            usable = found is not None and found.enabled and not self._locked_out(found, utcnow())
            password_hash = found.password_hash if found is not None and usable else None
            failed_before = found.failed_auth_count if found is not None else 0
        matches = self._password_matches(password_hash, auth.password)
        if user_id is not None and usable and (failed_before or not matches):
            self._record_sign_in(user_id, matches)
        if user_id is None or not matches:
            raise failure
        scope = ProjectScope(
            auth.project_id, auth.project_name, auth.project_domain_id, auth.project_domain_name
        )
        with self.db.transaction() as s:
            user = s.get(User, user_id)
            if user is None or not user.enabled:
                raise failure
            project = None
            if auth.project_id or auth.project_name:
                project = self._find_project_for_auth(s, scope)
            elif user.default_project_id and not auth.unscoped:
                project = self._find_project_for_auth(s, ProjectScope(user.default_project_id))
            return self._issue(s, user, project, None)

    def rescope(self, token: str, scope: ProjectScope) -> tuple[str, TokenInfo]:
        """The token method: a new token for the same user, scoped to ``scope``, ending when the
        presented one ends (how dashboards pick a project after an unscoped sign-in)."""
        with self.db.transaction() as s:
            row = self._live_token(s, token)
            if row.application_credential_id is not None:
                raise Forbidden("A token issued for an application credential cannot be rescoped.")
            user = s.get(User, row.user_id)
            if user is None or not user.enabled:
                raise NotAuthenticated("The request you have made requires authentication.")
            project = self._find_project_for_auth(s, scope)
            new, info = self._issue(s, user, project, None, expires_at=_aware(row.expires_at))
            return new, replace(info, methods=("token",))

    def authenticate_application_credential(
        self, auth: ApplicationCredentialAuth
    ) -> tuple[str, TokenInfo]:
        """Sign in with an application credential's secret: a token on its project with its
        roles (those the user still holds). Failures read the same as for a password."""
        failure = NotAuthenticated("The request you have made requires authentication.")
        with self.db.transaction() as s:
            cred = self._find_application_credential(s, auth)
            secret_hash = cred.secret_hash if cred is not None else None
            cred_id = cred.id if cred is not None else None
        if not self._password_matches(secret_hash, auth.secret) or cred_id is None:
            raise failure
        with self.db.transaction() as s:
            cred = s.get(ApplicationCredential, cred_id)
            now = utcnow()
            if cred is None or (cred.expires_at is not None and _aware(cred.expires_at) <= now):
                raise failure
            user = s.get(User, cred.user_id)
            project = s.get(Project, cred.project_id)
            if user is None or not user.enabled or project is None or not project.enabled:
                raise failure
            expires = now + self.settings.token_ttl
            if cred.expires_at is not None:
                expires = min(expires, _aware(cred.expires_at))
            return self._issue(s, user, project, cred, expires_at=expires)

    def _issue(
        self,
        s: Session,
        user: User,
        project: Project | None,
        cred: ApplicationCredential | None,
        *,
        expires_at: datetime | None = None,
    ) -> tuple[str, TokenInfo]:
        roles: tuple[Ref, ...] = ()
        if project is not None:
            roles = self._roles_on(s, user.id, project.id, cred)
            if not roles:
                raise NotAuthenticated(
                    f"User {user.id} has no access to project {project.id}", kind="Unauthorized"
                )
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = Token(
            id=_token_key(token),
            user_id=user.id,
            project_id=project.id if project is not None else None,
            application_credential_id=cred.id if cred is not None else None,
            issued_at=now,
            expires_at=expires_at or now + self.settings.token_ttl,
        )
        s.add(row)
        s.execute(
            delete(Token).where(Token.expires_at < now),
            execution_options={"synchronize_session": False},
        )
        return token, self._info(s, user, project, roles, row, cred)

    def validate_token(self, token: str) -> RequestContext:
        """The caller a token names; an unscoped token gives an empty project and no roles.
        Every API request pays this: two statements (``_live``)."""
        with self.db.transaction() as s:
            live = self._live(s, token)
        return RequestContext(
            user_id=live.user_id,
            user_name=live.user_name,
            project_id=live.project_id or "",
            project_name=live.project_name or "",
            roles=frozenset(r.name for r in live.roles),
            token_id=live.key,
        )

    def check_token(self, ctx: RequestContext, token: str) -> TokenInfo:
        """GET /v3/auth/tokens: the token's owner or an admin may see what a token says."""
        info = self.token_info(token)
        if info.user.id != ctx.user_id:
            policy.enforce(ctx, "identity:validate_token")
        return info

    def token_info(self, token: str) -> TokenInfo:
        """What a valid token says in full (``_live`` decides whether it is valid)."""
        with self.db.transaction() as s:
            live = self._live(s, token)
            row, user = s.get(Token, live.key), s.get(User, live.user_id)
            if row is None or user is None:  # deleted since _live read them
                raise NotAuthenticated("The request you have made requires authentication.")
            project = None if live.project_id is None else s.get(Project, live.project_id)
            cred = None if live.cred_id is None else s.get(ApplicationCredential, live.cred_id)
            return self._info(s, user, project, live.roles, row, cred)

    def _live(self, s: Session, token: str) -> _LiveToken:
        """The token if it is valid now: not revoked nor expired, its user enabled and, when
        scoped, its project enabled and some of its roles still held (through an application
        credential, only the credential's). The token, its user and its project in one
        statement, then the roles."""
        failure = NotAuthenticated("The request you have made requires authentication.")
        key = _token_key(token)
        found = s.execute(
            select(
                Token.user_id,
                Token.project_id,
                Token.application_credential_id,
                Token.revoked,
                Token.expires_at,
                User.name,
                User.enabled,
                Project.name,
                Project.enabled,
            )
            .join(User, User.id == Token.user_id)
            .outerjoin(Project, Project.id == Token.project_id)
            .where(Token.id == key)
        ).one_or_none()
        if found is None:
            raise failure
        user_id, project_id, cred_id, revoked, expires_at = found[:5]
        user_name, user_enabled, project_name, project_enabled = found[5:]
        if revoked or _aware(expires_at) <= utcnow() or not user_enabled:
            raise failure
        roles: tuple[Ref, ...] = ()
        if project_id is not None:
            if not project_enabled:  # disabled, or deleted (no row joined)
                raise failure
            cred = None if cred_id is None else s.get(ApplicationCredential, cred_id)
            roles = self._roles_on(s, user_id, project_id, cred)
            if not roles:  # every role the token carried was revoked meanwhile
                raise failure
        return _LiveToken(key, user_id, user_name, project_id, project_name, cred_id, roles)

    def _live_token(self, s: Session, token: str) -> Token:
        row = s.get(Token, _token_key(token))
        if row is None or row.revoked or _aware(row.expires_at) <= utcnow():
            raise NotAuthenticated("The request you have made requires authentication.")
        return row

    def revoke_token(self, ctx: RequestContext, token: str) -> None:
        """A user may revoke their own tokens; an admin any token."""
        with self.db.transaction() as s:
            row = s.get(Token, _token_key(token))
            if row is None or row.revoked:
                raise NotFound("Could not find token.")
            if row.user_id != ctx.user_id:
                policy.enforce(ctx, "identity:grant")
            row.revoked = True

    # ---- domains -----------------------------------------------------------------------

    def list_domains(self, ctx: RequestContext, name: str | None = None) -> list[Domain]:
        policy.enforce(ctx, "identity:list_domains")
        with self.db.transaction() as s:
            query = select(Domain).order_by(Domain.name)
            if name is not None:
                query = query.where(Domain.name == name)
            return list(s.scalars(query))

    def get_domain(self, ctx: RequestContext, domain_id: str) -> Domain:
        policy.enforce(ctx, "identity:list_domains")
        with self.db.transaction() as s:
            domain = s.get(Domain, domain_id)
            if domain is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            return domain

    # ---- projects ----------------------------------------------------------------------

    def list_projects(
        self,
        ctx: RequestContext,
        name: str | None = None,
        domain_id: str | None = None,
        filters: TagFilters | None = None,
    ) -> list[Project]:
        """Admins only, as Keystone: members list their own with ``user_projects``.
        ``tags`` keeps projects holding all the given tags, ``tags_any`` any of them;
        ``not_tags``/``not_tags_any`` drop those."""
        policy.enforce(ctx, "identity:list_projects")
        with self.db.transaction() as s:
            query = select(Project).order_by(Project.name)
            if name is not None:
                query = query.where(Project.name == name)
            if domain_id is not None:
                query = query.where(Project.domain_id == domain_id)
            filters = filters or TagFilters()

            def holding(tags: tuple[str, ...], every: bool) -> ColumnElement[bool]:
                rows = select(ProjectTag.project_id).where(ProjectTag.name.in_(tags))
                if every:
                    rows = rows.group_by(ProjectTag.project_id).having(
                        func.count(ProjectTag.name) == len(set(tags))
                    )
                return Project.id.in_(rows)

            if filters.tags:
                query = query.where(holding(filters.tags, True))
            if filters.tags_any:
                query = query.where(holding(filters.tags_any, False))
            if filters.not_tags:
                query = query.where(~holding(filters.not_tags, True))
            if filters.not_tags_any:
                query = query.where(~holding(filters.not_tags_any, False))
            return list(s.scalars(query))

    def project_names(self) -> dict[str, str]:
        """Every project's name by id: the read-model other domains use to name projects."""
        with self.db.transaction() as s:
            return {i: n for i, n in s.execute(select(Project.id, Project.name)).all()}

    def project_tags(self, ctx: RequestContext, project_id: str) -> list[str]:
        return self.tags_of([self.get_project(ctx, project_id)])[project_id]

    def tags_of(self, projects: Sequence[Project]) -> dict[str, list[str]]:
        """The tags of each project, in one query (for the views of a list)."""
        out: dict[str, list[str]] = {p.id: [] for p in projects}
        if not out:
            return out
        with self.db.transaction() as s:
            rows = s.execute(
                select(ProjectTag.project_id, ProjectTag.name)
                .where(ProjectTag.project_id.in_(out))
                .order_by(ProjectTag.name)
            )
            for project_id, tag in rows:
                out[project_id].append(tag)
        return out

    def set_project_tags(self, ctx: RequestContext, project_id: str, tags: list[str]) -> list[str]:
        """Replace every tag of a project (PUT /projects/{id}/tags)."""
        policy.enforce(ctx, "identity:update_project_tags")
        wanted = _checked_tags(tags)
        with self.db.transaction() as s:
            self._project(s, project_id)
            s.execute(delete(ProjectTag).where(ProjectTag.project_id == project_id))
            s.add_all(ProjectTag(project_id=project_id, name=tag) for tag in wanted)
        return wanted

    def add_project_tag(self, ctx: RequestContext, project_id: str, tag: str) -> None:
        policy.enforce(ctx, "identity:update_project_tags")
        _check_tag(tag)
        with self.db.transaction() as s:
            self._project(s, project_id)
            if s.get(ProjectTag, (project_id, tag)) is not None:
                return
            count = s.scalar(select(func.count()).where(ProjectTag.project_id == project_id))
            if (count or 0) >= MAX_TAGS:
                raise BadRequest(f"Invalid input: a project holds at most {MAX_TAGS} tags.")
            s.add(ProjectTag(project_id=project_id, name=tag))

    def delete_project_tag(self, ctx: RequestContext, project_id: str, tag: str) -> None:
        policy.enforce(ctx, "identity:update_project_tags")
        with self.db.transaction() as s:
            self._project(s, project_id)
            row = s.get(ProjectTag, (project_id, tag))
            if row is None:
                raise NotFound(f"Could not find project tag: {tag}.")
            s.delete(row)

    def user_projects(self, ctx: RequestContext, user_id: str) -> list[Project]:
        """The enabled projects a user holds a role on (GET /v3/users/{id}/projects and
        /v3/auth/projects): the user itself or an admin may ask."""
        policy.enforce(ctx, "identity:list_user_projects", user_id=user_id)
        with self.db.transaction() as s:
            held = select(RoleAssignment.project_id).where(RoleAssignment.user_id == user_id)
            query = select(Project).where(Project.id.in_(held), Project.enabled)
            return list(s.scalars(query.order_by(Project.name)))

    def get_project(self, ctx: RequestContext, project_id: str) -> Project:
        with self.db.transaction() as s:
            project = s.get(Project, project_id)
            if project is None or not policy.allowed(ctx, "identity:get_project", project.id):
                raise NotFound(f"Could not find project: {project_id}.")
            return project

    def create_project(
        self,
        ctx: RequestContext,
        name: str,
        domain_id: str = DEFAULT_DOMAIN_ID,
        description: str = "",
        enabled: bool = True,
        tags: Sequence[str] = (),
    ) -> Project:
        policy.enforce(ctx, "identity:create_project")
        _check_name(name, "project")
        wanted = _checked_tags(tags)
        with self.db.transaction() as s:
            self._domain(s, domain_id)
            if s.scalar(
                select(Project).where(Project.domain_id == domain_id, Project.name == name)
            ):
                raise Conflict(
                    f"Conflict occurred attempting to store project - it is not permitted to "
                    f"have two projects with the same name in the same domain : {name}."
                )
            project = Project(
                name=name, domain_id=domain_id, description=description, enabled=enabled
            )
            s.add(project)
            s.flush()
            s.add_all(ProjectTag(project_id=project.id, name=tag) for tag in wanted)
            return project

    def update_project(self, ctx: RequestContext, project_id: str, **fields: Any) -> Project:
        policy.enforce(ctx, "identity:update_project")
        with self.db.transaction() as s:
            project = self._project(s, project_id)
            if "name" in fields:
                _check_name(fields["name"], "project")
            for key in ("name", "description", "enabled"):
                if key in fields:
                    setattr(project, key, fields[key])
            if "tags" in fields:
                wanted = _checked_tags(fields["tags"])
                s.execute(delete(ProjectTag).where(ProjectTag.project_id == project.id))
                s.add_all(ProjectTag(project_id=project.id, name=tag) for tag in wanted)
            return _flush_unique(s, project, "project")

    def delete_project(self, ctx: RequestContext, project_id: str) -> None:
        policy.enforce(ctx, "identity:delete_project")
        with self.db.transaction() as s:
            s.delete(self._project(s, project_id))

    # ---- users -------------------------------------------------------------------------

    def list_users(
        self, ctx: RequestContext, name: str | None = None, domain_id: str | None = None
    ) -> list[User]:
        with self.db.transaction() as s:
            query = select(User).order_by(User.name)
            if not policy.allowed(ctx, "identity:list_users"):
                query = query.where(User.id == ctx.user_id)
            if name is not None:
                query = query.where(User.name == name)
            if domain_id is not None:
                query = query.where(User.domain_id == domain_id)
            return list(s.scalars(query))

    def get_user(self, ctx: RequestContext, user_id: str) -> User:
        with self.db.transaction() as s:
            user = s.get(User, user_id)
            if user is None or not policy.allowed(ctx, "identity:get_user", user_id=user.id):
                raise NotFound(f"Could not find user: {user_id}.")
            return user

    def create_user(
        self,
        ctx: RequestContext,
        name: str,
        password: str | None = None,
        domain_id: str = DEFAULT_DOMAIN_ID,
        default_project_id: str | None = None,
        email: str | None = None,
        description: str = "",
        enabled: bool = True,
    ) -> User:
        policy.enforce(ctx, "identity:create_user")
        _check_name(name, "user")
        with self.db.transaction() as s:
            self._domain(s, domain_id)
            if default_project_id is not None:
                self._project(s, default_project_id)
            if s.scalar(select(User).where(User.domain_id == domain_id, User.name == name)):
                raise Conflict(
                    f"Conflict occurred attempting to store user - Duplicate entry found "
                    f"with name {name} at domain ID {domain_id}."
                )
            user = User(
                name=name,
                domain_id=domain_id,
                password_hash=self._hasher.hash(password) if password else None,
                default_project_id=default_project_id,
                email=email,
                description=description,
                enabled=enabled,
            )
            s.add(user)
            return user

    def update_user(self, ctx: RequestContext, user_id: str, **fields: Any) -> User:
        policy.enforce(ctx, "identity:update_user")
        with self.db.transaction() as s:
            user = self._user(s, user_id)
            if "name" in fields:
                _check_name(fields["name"], "user")
            if "default_project_id" in fields and fields["default_project_id"] is not None:
                self._project(s, fields["default_project_id"])
            for key in ("name", "description", "enabled", "email", "default_project_id"):
                if key in fields:
                    setattr(user, key, fields[key])
            if fields.get("password"):
                user.password_hash = self._hasher.hash(fields["password"])
            if fields.get("password") or fields.get("enabled") is False:
                # A new password or a disabled account ends every session the user had.
                s.execute(update(Token).where(Token.user_id == user.id).values(revoked=True))
            return _flush_unique(s, user, "user")

    def delete_user(self, ctx: RequestContext, user_id: str) -> None:
        policy.enforce(ctx, "identity:delete_user")
        with self.db.transaction() as s:
            s.delete(self._user(s, user_id))

    # ---- roles and assignments ---------------------------------------------------------

    def list_roles(self, ctx: RequestContext, name: str | None = None) -> list[Role]:
        policy.enforce(ctx, "identity:list_roles")
        with self.db.transaction() as s:
            query = select(Role).order_by(Role.name)
            if name is not None:
                query = query.where(Role.name == name)
            return list(s.scalars(query))

    def get_role(self, ctx: RequestContext, role_id: str) -> Role:
        policy.enforce(ctx, "identity:list_roles")
        with self.db.transaction() as s:
            role = s.get(Role, role_id)
            if role is None:
                raise NotFound(f"Could not find role: {role_id}.")
            return role

    def create_role(self, ctx: RequestContext, name: str) -> Role:
        policy.enforce(ctx, "identity:create_role")
        _check_name(name, "role")
        with self.db.transaction() as s:
            if s.scalar(select(Role).where(Role.name == name)):
                raise Conflict(
                    f"Conflict occurred attempting to store role - Duplicate entry: {name}."
                )
            role = Role(name=name)
            s.add(role)
            return role

    def grant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        """Idempotent, as Keystone's PUT of a grant is."""
        policy.enforce(ctx, "identity:grant")
        with self.db.transaction() as s:
            self._project(s, project_id)
            self._user(s, user_id)
            self._role_by_id(s, role_id)
            if s.get(RoleAssignment, (user_id, project_id, role_id)) is None:
                s.add(RoleAssignment(user_id=user_id, project_id=project_id, role_id=role_id))

    def revoke(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> None:
        policy.enforce(ctx, "identity:grant")
        with self.db.transaction() as s:
            row = s.get(RoleAssignment, (user_id, project_id, role_id))
            if row is None:
                raise NotFound(f"Could not find role assignment with role: {role_id}.")
            s.delete(row)

    def check_grant(self, ctx: RequestContext, project_id: str, user_id: str, role_id: str) -> bool:
        policy.enforce(ctx, "identity:grant")
        with self.db.transaction() as s:
            return s.get(RoleAssignment, (user_id, project_id, role_id)) is not None

    def user_roles_on(self, ctx: RequestContext, project_id: str, user_id: str) -> list[Role]:
        policy.enforce(ctx, "identity:list_role_assignments")
        with self.db.transaction() as s:
            self._project(s, project_id)
            self._user(s, user_id)
            ids = [ref.id for ref in self._roles_on(s, user_id, project_id)]
            return list(s.scalars(select(Role).where(Role.id.in_(ids)).order_by(Role.name)))

    def role_assignments(
        self,
        ctx: RequestContext,
        user_id: str | None = None,
        project_id: str | None = None,
        role_id: str | None = None,
    ) -> list[Assignment]:
        """Admins see all; others see their own assignments."""
        if not policy.allowed(ctx, "identity:list_role_assignments"):
            user_id = ctx.user_id if user_id in (None, ctx.user_id) else "\x00"
        with self.db.transaction() as s:
            query = (
                select(RoleAssignment, Role, User, Project)
                .join(Role, Role.id == RoleAssignment.role_id)
                .join(User, User.id == RoleAssignment.user_id)
                .join(Project, Project.id == RoleAssignment.project_id)
                .order_by(Project.name, User.name, Role.name)
            )
            if user_id is not None:
                query = query.where(RoleAssignment.user_id == user_id)
            if project_id is not None:
                query = query.where(RoleAssignment.project_id == project_id)
            if role_id is not None:
                query = query.where(RoleAssignment.role_id == role_id)
            domains = {d.id: d.name for d in s.scalars(select(Domain))}
            return [
                Assignment(
                    role=Ref(role.id, role.name),
                    user=Ref(user.id, user.name, user.domain_id, domains.get(user.domain_id)),
                    project=Ref(
                        project.id, project.name, project.domain_id, domains.get(project.domain_id)
                    ),
                )
                for _ra, role, user, project in s.execute(query)
            ]

    def service_user(self, name: str, password: str, project_name: str, role_name: str) -> str:
        """A service account (a host agent's): the user ``name`` with this password and only
        ``role_name`` on ``project_name``, each created if missing; the user's id. Called by
        services acting for an admin who was already checked."""
        with self.db.transaction() as s:
            project = s.scalar(
                select(Project).where(
                    Project.domain_id == DEFAULT_DOMAIN_ID, Project.name == project_name
                )
            )
            if project is None:
                project = Project(name=project_name, domain_id=DEFAULT_DOMAIN_ID)
                s.add(project)
            role = s.scalar(select(Role).where(Role.name == role_name))
            if role is None:
                role = Role(name=role_name)
                s.add(role)
            user = s.scalar(
                select(User).where(User.domain_id == DEFAULT_DOMAIN_ID, User.name == name)
            )
            if user is None:
                user = User(name=name, domain_id=DEFAULT_DOMAIN_ID)
                s.add(user)
            else:  # a new password: the old credential's tokens end with it
                s.execute(update(Token).where(Token.user_id == user.id).values(revoked=True))
            user.password_hash = self._hasher.hash(password)
            user.default_project_id = project.id
            s.flush()
            if s.get(RoleAssignment, (user.id, project.id, role.id)) is None:
                s.add(RoleAssignment(user_id=user.id, project_id=project.id, role_id=role.id))
            return user.id

    # ---- application credentials --------------------------------------------------------

    def create_application_credential(
        self,
        ctx: RequestContext,
        user_id: str,
        name: str,
        secret: str | None = None,
        description: str | None = None,
        expires_at: datetime | None = None,
        roles: Sequence[tuple[str | None, str | None]] = (),
        unrestricted: bool = False,
    ) -> tuple[ApplicationCredential, str]:
        """A credential on the caller's project for the caller itself (Keystone lets nobody
        create one for somebody else); ``roles`` as (id, name) pairs, by default all the
        caller's roles there. The secret is generated when not given and shown only now."""
        if user_id != ctx.user_id:
            raise Forbidden("Application credentials can only be created for yourself.")
        if not ctx.project_id:
            raise Forbidden(
                "A project-scoped token is required to create an application credential."
            )
        _check_name(name, "application credential")
        secret = secret or secrets.token_urlsafe(48)
        now = utcnow()
        if expires_at is not None and _aware(expires_at) <= now:
            raise BadRequest("Invalid input: expires_at must be in the future.")
        with self.db.transaction() as s:
            if self._restricted_caller(s, ctx):
                raise Forbidden(
                    "A restricted application credential cannot create application credentials."
                )
            held = {ref.id: ref.name for ref in self._roles_on(s, user_id, ctx.project_id)}
            chosen: list[str] = []
            for rid, rname in roles:
                match = [i for i, n in held.items() if i == rid or (rid is None and n == rname)]
                if not match:
                    raise Forbidden(
                        f"Invalid role: the user does not hold role {rid or rname} on the project."
                    )
                chosen.append(match[0])
            if s.scalar(
                select(ApplicationCredential.id).where(
                    ApplicationCredential.user_id == user_id, ApplicationCredential.name == name
                )
            ):
                raise Conflict(
                    f"Conflict occurred attempting to store application_credential - "
                    f"Duplicate entry found with name {name}."
                )
            cred = ApplicationCredential(
                name=name,
                description=description,
                user_id=user_id,
                project_id=ctx.project_id,
                secret_hash=self._hasher.hash(secret),
                role_ids=sorted(set(chosen)) or sorted(held),
                unrestricted=unrestricted,
                expires_at=expires_at,
            )
            s.add(cred)
            s.flush()
            return cred, secret

    def list_application_credentials(
        self, ctx: RequestContext, user_id: str, name: str | None = None
    ) -> list[ApplicationCredential]:
        policy.enforce(ctx, "identity:application_credential", user_id=user_id)
        with self.db.transaction() as s:
            self._user(s, user_id)
            query = select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
            if name is not None:
                query = query.where(ApplicationCredential.name == name)
            return list(s.scalars(query.order_by(ApplicationCredential.name)))

    def get_application_credential(
        self, ctx: RequestContext, user_id: str, cred_id: str
    ) -> ApplicationCredential:
        policy.enforce(ctx, "identity:application_credential", user_id=user_id)
        with self.db.transaction() as s:
            return self._application_credential(s, user_id, cred_id)

    def delete_application_credential(
        self, ctx: RequestContext, user_id: str, cred_id: str
    ) -> None:
        """Deleting a credential ends the tokens issued for it (the rows cascade)."""
        policy.enforce(ctx, "identity:application_credential", user_id=user_id)
        with self.db.transaction() as s:
            if self._restricted_caller(s, ctx):
                raise Forbidden(
                    "A restricted application credential cannot delete application credentials."
                )
            s.delete(self._application_credential(s, user_id, cred_id))

    def roles_by_id(self, role_ids: Sequence[str]) -> list[Role]:
        with self.db.transaction() as s:
            return list(s.scalars(select(Role).where(Role.id.in_(role_ids)).order_by(Role.name)))

    def _application_credential(
        self, s: Session, user_id: str, cred_id: str
    ) -> ApplicationCredential:
        cred = s.get(ApplicationCredential, cred_id)
        if cred is None or cred.user_id != user_id:
            raise NotFound(f"Could not find Application Credential: {cred_id}.")
        return cred

    def _restricted_caller(self, s: Session, ctx: RequestContext) -> bool:
        row = s.get(Token, ctx.token_id) if ctx.token_id else None
        if row is None or row.application_credential_id is None:
            return False
        cred = s.get(ApplicationCredential, row.application_credential_id)
        return cred is None or not cred.unrestricted

    # ---- lookups -----------------------------------------------------------------------

    def _domain(self, s: Session, domain_id: str) -> Domain:
        domain = s.get(Domain, domain_id)
        if domain is None:
            raise NotFound(f"Could not find domain: {domain_id}.")
        return domain

    def _project(self, s: Session, project_id: str) -> Project:
        project = s.get(Project, project_id)
        if project is None:
            raise NotFound(f"Could not find project: {project_id}.")
        return project

    def _user(self, s: Session, user_id: str) -> User:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound(f"Could not find user: {user_id}.")
        return user

    def _role_by_id(self, s: Session, role_id: str) -> Role:
        role = s.get(Role, role_id)
        if role is None:
            raise NotFound(f"Could not find role: {role_id}.")
        return role

    def _role(self, s: Session, name: str) -> Role:
        role = s.scalar(select(Role).where(Role.name == name))
        if role is None:
            raise NotFound(f"Could not find role: {name}.")
        return role

    def _resolve_domain(self, s: Session, domain_id: str | None, name: str | None) -> str:
        if domain_id:
            return domain_id
        if name:
            found = s.scalar(select(Domain.id).where(Domain.name == name))
            if found is None:
                raise NotAuthenticated(f"Could not find domain: {name}.")
            return found
        return DEFAULT_DOMAIN_ID

    def _find_user_for_auth(self, s: Session, auth: PasswordAuth) -> User | None:
        if auth.user_id:
            return s.get(User, auth.user_id)
        if not auth.user_name:
            raise BadRequest("Expecting to find user id or name in auth request.")
        domain_id = self._resolve_domain(s, auth.user_domain_id, auth.user_domain_name)
        return s.scalar(
            select(User).where(User.domain_id == domain_id, User.name == auth.user_name)
        )

    def _find_project_for_auth(self, s: Session, scope: ProjectScope) -> Project:
        project: Project | None
        if scope.id:
            project = s.get(Project, scope.id)
        elif scope.name:
            domain_id = self._resolve_domain(s, scope.domain_id, scope.domain_name)
            project = s.scalar(
                select(Project).where(Project.domain_id == domain_id, Project.name == scope.name)
            )
        else:
            raise BadRequest("Expecting to find a project id or name in the scope.")
        if project is None or not project.enabled:
            raise NotAuthenticated("The request you have made requires authentication.")
        return project

    def _find_application_credential(
        self, s: Session, auth: ApplicationCredentialAuth
    ) -> ApplicationCredential | None:
        if auth.id:
            return s.get(ApplicationCredential, auth.id)
        if not auth.name or not (auth.user_id or auth.user_name):
            raise BadRequest(
                "Expecting to find an application credential id, or its name and user."
            )
        user_id = auth.user_id
        if user_id is None:
            domain_id = self._resolve_domain(s, auth.user_domain_id, auth.user_domain_name)
            user_id = s.scalar(
                select(User.id).where(User.domain_id == domain_id, User.name == auth.user_name)
            )
        return s.scalar(
            select(ApplicationCredential).where(
                ApplicationCredential.user_id == user_id, ApplicationCredential.name == auth.name
            )
        )

    def _roles_on(
        self,
        s: Session,
        user_id: str,
        project_id: str,
        cred: ApplicationCredential | None = None,
    ) -> tuple[Ref, ...]:
        """The user's roles on the project; through an application credential, only those of
        its roles the user still holds."""
        query = (
            select(Role.id, Role.name)
            .join(RoleAssignment, RoleAssignment.role_id == Role.id)
            .where(RoleAssignment.user_id == user_id, RoleAssignment.project_id == project_id)
            .order_by(Role.name)
        )
        if cred is not None:
            query = query.where(Role.id.in_(cred.role_ids))
        return tuple(Ref(rid, name) for rid, name in s.execute(query))

    def _info(
        self,
        s: Session,
        user: User,
        project: Project | None,
        roles: Sequence[Ref],
        token: Token,
        cred: ApplicationCredential | None = None,
    ) -> TokenInfo:
        domains = {d.id: d.name for d in s.scalars(select(Domain))}
        return TokenInfo(
            user=Ref(user.id, user.name, user.domain_id, domains.get(user.domain_id)),
            project=None
            if project is None
            else Ref(project.id, project.name, project.domain_id, domains.get(project.domain_id)),
            roles=tuple(roles),
            issued_at=_aware(token.issued_at),
            expires_at=_aware(token.expires_at),
            methods=("application_credential",) if cred is not None else ("password",),
            application_credential=None
            if cred is None
            else ApplicationCredentialRef(cred.id, cred.name, not cred.unrestricted),
        )


@dataclass(frozen=True)
class _LiveToken:
    """A token found valid, with what a request context needs of it."""

    key: str
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    cred_id: str | None
    roles: tuple[Ref, ...]


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise BadRequest(f"Invalid {what} name: a {what} name must be 1 to {MAX_NAME} characters.")


def _checked_tags(tags: Sequence[str]) -> list[str]:
    wanted = sorted(set(tags))
    for tag in wanted:
        _check_tag(tag)
    if len(wanted) > MAX_TAGS:
        raise BadRequest(f"Invalid input: a project holds at most {MAX_TAGS} tags.")
    return wanted


def _check_tag(tag: Any) -> None:
    """Keystone's tag rules: 1-255 characters, no '/' or ','."""
    if not isinstance(tag, str) or not tag or len(tag) > MAX_NAME or "/" in tag or "," in tag:
        raise BadRequest(
            f"Invalid input: {tag!r} is not a valid tag: 1 to {MAX_NAME} characters, "
            "without '/' or ','."
        )


def _flush_unique(s: Session, obj: _T, what: str) -> _T:
    try:
        s.flush()
    except IntegrityError:
        raise Conflict(f"Conflict occurred attempting to store {what} - duplicate name.") from None
    return obj
