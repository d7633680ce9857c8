"""Keystone v3 wire format under /identity."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from passnic.errors import BadRequest, Forbidden, NotAuthenticated, NotFound
from passnic.identity.models import ApplicationCredential, Domain, Project, Role, User
from passnic.identity.service import (
    ApplicationCredentialAuth,
    Assignment,
    PasswordAuth,
    ProjectScope,
    Ref,
    TagFilters,
    TokenInfo,
)
from passnic.web import (
    TITLES,
    CloudDep,
    ContextDep,
    base_url,
    register_fault_format,
)

router = APIRouter(prefix="/identity")
VERSION = "v3.14"

# Every Passnic API with the path it is served under and the catalog type clients look for.
SERVICES = (
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("network", "neutron", "/networking"),
    ("image", "glance", "/image"),
    ("platform", "sysinv", "/inventory"),
    ("fabric", "passnic-fabric", "/fabric"),
    ("host-agent", "passnic-agent", "/agent"),
)


def _keystone_fault(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "title": TITLES.get(status, kind), "message": message}}


register_fault_format("/identity", _keystone_fault)


def _v3_doc(request: Request) -> dict[str, Any]:
    return {
        "id": VERSION,
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base_url(request)}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


@router.get("")
@router.get("/")
def versions(request: Request) -> JSONResponse:
    return JSONResponse({"versions": {"values": [_v3_doc(request)]}}, status_code=300)


@router.get("/v3")
@router.get("/v3/")
def version_v3(request: Request) -> dict[str, Any]:
    return {"version": _v3_doc(request)}


# ---- tokens ----------------------------------------------------------------------------


def _ref(ref: Ref) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ref.id, "name": ref.name}
    if ref.domain_id is not None:
        out["domain"] = {"id": ref.domain_id, "name": ref.domain_name}
    return out


def catalog(request: Request, region: str) -> list[dict[str, Any]]:
    base = base_url(request)
    return [
        {
            "type": stype,
            "name": name,
            "id": stype,
            "endpoints": [
                {
                    "id": f"{stype}-public",
                    "interface": "public",
                    "region": region,
                    "region_id": region,
                    "url": f"{base}{path}",
                }
            ],
        }
        for stype, name, path in SERVICES
    ]


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _token_body(request: Request, info: TokenInfo, region: str) -> dict[str, Any]:
    """An unscoped token, as Keystone's, has no project, roles or catalog."""
    token: dict[str, Any] = {
        "methods": list(info.methods),
        "user": _ref(info.user),
        "issued_at": _time(info.issued_at),
        "expires_at": _time(info.expires_at),
        "audit_ids": [],
    }
    if info.project is not None:
        token.update(
            project=_ref(info.project),
            roles=[{"id": r.id, "name": r.name} for r in info.roles],
            is_domain=False,
            catalog=catalog(request, region),
        )
    cred = info.application_credential
    if cred is not None:
        token["application_credential"] = {
            "id": cred.id,
            "name": cred.name,
            "restricted": cred.restricted,
        }
    return {"token": token}


# ---- request bodies: types and lengths as Keystone's JSON schemas; a miss is a 400 ----------


class _Body(BaseModel):
    """Strict JSON types (no "yes" for a boolean, no 5 for a name); unknown keys are ignored,
    as Keystone ignores them."""

    model_config = ConfigDict(strict=True, extra="ignore")


Id = Annotated[str, Field(max_length=64)]
Name = Annotated[str, Field(max_length=255)]
Password = Annotated[str, Field(max_length=4096)]
"""Keystone's default ``max_password_length``."""


class DomainRef(_Body):
    id: Id | None = None
    name: Name | None = None


class AuthUser(_Body):
    id: Id | None = None
    name: Name | None = None
    password: Password
    domain: DomainRef | None = None


class PasswordMethod(_Body):
    user: AuthUser


class TokenMethod(_Body):
    id: Annotated[str, Field(max_length=4096)]


class CredentialUser(_Body):
    id: Id | None = None
    name: Name | None = None
    domain: DomainRef | None = None


class ApplicationCredentialMethod(_Body):
    id: Id | None = None
    name: Name | None = None
    secret: Password
    user: CredentialUser | None = None


class AuthIdentity(_Body):
    methods: list[str]
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: ApplicationCredentialMethod | None = None


class ProjectScopeBody(_Body):
    id: Id | None = None
    name: Name | None = None
    domain: DomainRef | None = None


class AuthScope(_Body):
    """A project scope, or ``unscoped``; Passnic grants no domain or system scope (those keys
    are refused)."""

    model_config = ConfigDict(strict=True, extra="allow")
    project: ProjectScopeBody | None = None
    unscoped: dict[str, Any] | None = None


class Auth(_Body):
    identity: AuthIdentity
    scope: AuthScope | None = None


class AuthRequest(_Body):
    auth: Auth


METHODS = ("password", "token", "application_credential")


def _project_scope(auth: Auth) -> ProjectScopeBody | None:
    scope = auth.scope or AuthScope()
    if scope.project is None and scope.model_extra:
        raise NotAuthenticated("Passnic issues project-scoped tokens: scope to a project.")
    return scope.project


def _password_auth(auth: Auth) -> PasswordAuth:
    if auth.identity.password is None:
        raise BadRequest("Expecting to find identity.password.user in auth request.")
    user = auth.identity.password.user
    project = _project_scope(auth) or ProjectScopeBody()
    user_domain = user.domain or DomainRef()
    project_domain = project.domain or DomainRef()
    return PasswordAuth(
        unscoped=auth.scope is not None and auth.scope.unscoped is not None,
        password=user.password,
        user_id=user.id,
        user_name=user.name,
        user_domain_id=user_domain.id,
        user_domain_name=user_domain.name,
        project_id=project.id,
        project_name=project.name,
        project_domain_id=project_domain.id,
        project_domain_name=project_domain.name,
    )


def _credential_auth(auth: Auth) -> ApplicationCredentialAuth:
    cred = auth.identity.application_credential
    if cred is None:
        raise BadRequest("Expecting to find identity.application_credential in auth request.")
    if auth.scope is not None:
        raise BadRequest("An application credential token is scoped by the credential itself.")
    user = cred.user or CredentialUser()
    domain = user.domain or DomainRef()
    return ApplicationCredentialAuth(
        secret=cred.secret,
        id=cred.id,
        name=cred.name,
        user_id=user.id,
        user_name=user.name,
        user_domain_id=domain.id,
        user_domain_name=domain.name,
    )


@router.post("/v3/auth/tokens")
def issue_token(request: Request, cloud: CloudDep, body: AuthRequest) -> JSONResponse:
    auth = body.auth
    method = next((m for m in auth.identity.methods if m in METHODS), None)
    if method is None or len(set(auth.identity.methods)) > 1:
        raise BadRequest(f"Give one authentication method of {', '.join(METHODS)}.")
    if method == "password":
        token, info = cloud.identity.authenticate(_password_auth(auth))
    elif method == "application_credential":
        token, info = cloud.identity.authenticate_application_credential(_credential_auth(auth))
    else:
        if auth.identity.token is None:
            raise BadRequest("Expecting to find identity.token.id in auth request.")
        project = _project_scope(auth)
        if project is None:
            raise BadRequest("The token method needs a project scope.")
        domain = project.domain or DomainRef()
        scope = ProjectScope(project.id, project.name, domain.id, domain.name)
        token, info = cloud.identity.rescope(auth.identity.token.id, scope)
    return JSONResponse(
        _token_body(request, info, cloud.settings.region),
        status_code=201,
        headers={"X-Subject-Token": token},
    )


def _subject(request: Request) -> str:
    subject = request.headers.get("X-Subject-Token")
    if not subject:
        raise BadRequest("X-Subject-Token header is required.")
    return subject


@router.get("/v3/auth/tokens")
def validate_token(request: Request, cloud: CloudDep, ctx: ContextDep) -> JSONResponse:
    subject = _subject(request)
    info = cloud.identity.check_token(ctx, subject)
    return JSONResponse(
        _token_body(request, info, cloud.settings.region), headers={"X-Subject-Token": subject}
    )


@router.delete("/v3/auth/tokens", status_code=204)
def revoke_token(request: Request, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.identity.revoke_token(ctx, _subject(request))
    return Response(status_code=204)


# ---- resources ---------------------------------------------------------------------------


def _links(request: Request, path: str) -> dict[str, Any]:
    return {"self": f"{base_url(request)}/identity/v3/{path}"}


def _domain(request: Request, d: Domain) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "links": _links(request, f"domains/{d.id}"),
    }


def _project(request: Request, p: Project, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "is_domain": False,
        "parent_id": p.domain_id,
        "tags": tags or [],
        "links": _links(request, f"projects/{p.id}"),
    }


def _user(request: Request, u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "email": u.email,
        "description": u.description,
        "default_project_id": u.default_project_id,
        "password_expires_at": None,
        "links": _links(request, f"users/{u.id}"),
    }


def _role(request: Request, r: Role) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "domain_id": None,
        "links": _links(request, f"roles/{r.id}"),
    }


def _collection(request: Request, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: items, "links": {"self": str(request.url), "next": None, "previous": None}}


Tag = Annotated[str, Field(min_length=1, max_length=255)]


class ProjectCreate(_Body):
    name: Name
    domain_id: Id | None = None
    description: str | None = None
    enabled: bool = True
    tags: list[Tag] = []


class ProjectUpdate(_Body):
    name: Name | None = None
    description: str | None = None
    enabled: bool | None = None
    tags: list[Tag] | None = None


class TagsBody(_Body):
    tags: list[Tag]


class UserCreate(_Body):
    name: Name
    password: Password | None = None
    domain_id: Id | None = None
    default_project_id: Id | None = None
    email: Name | None = None
    description: str | None = None
    enabled: bool = True


class UserUpdate(_Body):
    name: Name | None = None
    password: Password | None = None
    default_project_id: Id | None = None
    email: Name | None = None
    description: str | None = None
    enabled: bool | None = None


class RoleCreate(_Body):
    name: Name


class ProjectBody(_Body):
    project: ProjectCreate


class ProjectPatch(_Body):
    project: ProjectUpdate


class UserBody(_Body):
    user: UserCreate


class UserPatch(_Body):
    user: UserUpdate


class RoleBody(_Body):
    role: RoleCreate


def _changes(update: BaseModel) -> dict[str, Any]:
    """The fields a PATCH sets; null leaves a field as it is."""
    return {k: v for k, v in update.model_dump(exclude_unset=True).items() if v is not None}


@router.get("/v3/domains")
def list_domains(
    request: Request, cloud: CloudDep, ctx: ContextDep, name: str | None = None
) -> dict[str, Any]:
    items = [_domain(request, d) for d in cloud.identity.list_domains(ctx, name)]
    return _collection(request, "domains", items)


@router.get("/v3/domains/{domain_id}")
def get_domain(request: Request, domain_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"domain": _domain(request, cloud.identity.get_domain(ctx, domain_id))}


def _projects(request: Request, cloud: CloudDep, projects: list[Project]) -> dict[str, Any]:
    tags = cloud.identity.tags_of(projects)
    return _collection(request, "projects", [_project(request, p, tags[p.id]) for p in projects])


def _tag_list(value: str | None) -> tuple[str, ...]:
    """``tags=a,b``: Keystone's comma-separated form."""
    return tuple(t for t in (value or "").split(",") if t)


@router.get("/v3/projects")
def list_projects(
    request: Request,
    cloud: CloudDep,
    ctx: ContextDep,
    name: str | None = None,
    domain_id: str | None = None,
) -> dict[str, Any]:
    q = request.query_params
    tags = TagFilters(
        tags=_tag_list(q.get("tags")),
        tags_any=_tag_list(q.get("tags-any")),
        not_tags=_tag_list(q.get("not-tags")),
        not_tags_any=_tag_list(q.get("not-tags-any")),
    )
    return _projects(request, cloud, cloud.identity.list_projects(ctx, name, domain_id, tags))


@router.get("/v3/auth/projects")
def auth_projects(request: Request, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    """The projects the caller may scope a token to (an unscoped token's first question)."""
    return _projects(request, cloud, cloud.identity.user_projects(ctx, ctx.user_id))


@router.get("/v3/auth/domains")
def auth_domains(request: Request, _ctx: ContextDep) -> dict[str, Any]:
    """Passnic grants no domain-scoped tokens: always empty (dashboards ask on sign-in)."""
    return _collection(request, "domains", [])


@router.get("/v3/auth/catalog")
def auth_catalog(request: Request, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    if not ctx.project_id:
        raise Forbidden("A project-scoped token is required to produce a service catalog.")
    return {
        "catalog": catalog(request, cloud.settings.region),
        "links": {"self": str(request.url), "next": None, "previous": None},
    }


@router.get("/v3/users/{user_id}/projects")
def user_projects(request: Request, user_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return _projects(request, cloud, cloud.identity.user_projects(ctx, user_id))


@router.get("/v3/projects/{project_id}")
def get_project(request: Request, project_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    project = cloud.identity.get_project(ctx, project_id)
    return {"project": _project(request, project, cloud.identity.tags_of([project])[project.id])}


_TAGS = "/v3/projects/{project_id}/tags"


@router.get(_TAGS)
def list_project_tags(project_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"tags": cloud.identity.project_tags(ctx, project_id)}


@router.put(_TAGS)
def replace_project_tags(project_id: str, cloud: CloudDep, ctx: ContextDep, body: TagsBody) -> Any:
    return {"tags": cloud.identity.set_project_tags(ctx, project_id, body.tags)}


@router.delete(_TAGS, status_code=204)
def delete_project_tags(project_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.identity.set_project_tags(ctx, project_id, [])
    return Response(status_code=204)


@router.get(_TAGS + "/{tag}", status_code=204)
def check_project_tag(project_id: str, tag: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    if tag not in cloud.identity.project_tags(ctx, project_id):
        raise NotFound(f"Could not find project tag: {tag}.")
    return Response(status_code=204)


@router.put(_TAGS + "/{tag}", status_code=201)
def add_project_tag(
    request: Request, project_id: str, tag: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    cloud.identity.add_project_tag(ctx, project_id, tag)
    return Response(status_code=201, headers={"Location": str(request.url)})


@router.delete(_TAGS + "/{tag}", status_code=204)
def delete_project_tag(project_id: str, tag: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.identity.delete_project_tag(ctx, project_id, tag)
    return Response(status_code=204)


@router.post("/v3/projects", status_code=201)
def create_project(request: Request, cloud: CloudDep, ctx: ContextDep, body: ProjectBody) -> Any:
    obj = body.project
    project = cloud.identity.create_project(
        ctx,
        name=obj.name,
        domain_id=obj.domain_id or "default",
        description=obj.description or "",
        enabled=obj.enabled,
        tags=obj.tags,
    )
    return {"project": _project(request, project, cloud.identity.tags_of([project])[project.id])}


@router.patch("/v3/projects/{project_id}")
def update_project(
    request: Request, project_id: str, cloud: CloudDep, ctx: ContextDep, body: ProjectPatch
) -> Any:
    fields = _changes(body.project)
    project = cloud.identity.update_project(ctx, project_id, **fields)
    return {"project": _project(request, project, cloud.identity.tags_of([project])[project.id])}


@router.delete("/v3/projects/{project_id}", status_code=204)
def delete_project(project_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.identity.delete_project(ctx, project_id)
    return Response(status_code=204)


@router.get("/v3/users")
def list_users(
    request: Request,
    cloud: CloudDep,
    ctx: ContextDep,
    name: str | None = None,
    domain_id: str | None = None,
) -> dict[str, Any]:
    items = [_user(request, u) for u in cloud.identity.list_users(ctx, name, domain_id)]
    return _collection(request, "users", items)


@router.get("/v3/users/{user_id}")
def get_user(request: Request, user_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"user": _user(request, cloud.identity.get_user(ctx, user_id))}


@router.post("/v3/users", status_code=201)
def create_user(request: Request, cloud: CloudDep, ctx: ContextDep, body: UserBody) -> Any:
    obj = body.user
    user = cloud.identity.create_user(
        ctx,
        name=obj.name,
        password=obj.password,
        domain_id=obj.domain_id or "default",
        default_project_id=obj.default_project_id or None,
        email=obj.email,
        description=obj.description or "",
        enabled=obj.enabled,
    )
    return {"user": _user(request, user)}


@router.patch("/v3/users/{user_id}")
def update_user(
    request: Request, user_id: str, cloud: CloudDep, ctx: ContextDep, body: UserPatch
) -> Any:
    fields = _changes(body.user)
    return {"user": _user(request, cloud.identity.update_user(ctx, user_id, **fields))}


@router.delete("/v3/users/{user_id}", status_code=204)
def delete_user(user_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.identity.delete_user(ctx, user_id)
    return Response(status_code=204)


@router.get("/v3/roles")
def list_roles(
    request: Request, cloud: CloudDep, ctx: ContextDep, name: str | None = None
) -> dict[str, Any]:
    return _collection(
        request, "roles", [_role(request, r) for r in cloud.identity.list_roles(ctx, name)]
    )


@router.get("/v3/roles/{role_id}")
def get_role(request: Request, role_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"role": _role(request, cloud.identity.get_role(ctx, role_id))}


@router.post("/v3/roles", status_code=201)
def create_role(request: Request, cloud: CloudDep, ctx: ContextDep, body: RoleBody) -> Any:
    return {"role": _role(request, cloud.identity.create_role(ctx, body.role.name))}


_GRANT = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"


@router.put(_GRANT, status_code=204)
def grant(
    project_id: str, user_id: str, role_id: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    cloud.identity.grant(ctx, project_id, user_id, role_id)
    return Response(status_code=204)


@router.head(_GRANT, status_code=204)
def check_grant(
    project_id: str, user_id: str, role_id: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    found = cloud.identity.check_grant(ctx, project_id, user_id, role_id)
    return Response(status_code=204 if found else 404)


@router.delete(_GRANT, status_code=204)
def revoke(
    project_id: str, user_id: str, role_id: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    cloud.identity.revoke(ctx, project_id, user_id, role_id)
    return Response(status_code=204)


@router.get("/v3/projects/{project_id}/users/{user_id}/roles")
def list_grants(
    request: Request, project_id: str, user_id: str, cloud: CloudDep, ctx: ContextDep
) -> Any:
    roles = cloud.identity.user_roles_on(ctx, project_id, user_id)
    return _collection(request, "roles", [_role(request, r) for r in roles])


def _assignment(a: Assignment, names: bool) -> dict[str, Any]:
    def ref(r: Ref) -> dict[str, Any]:
        if not names:
            return {"id": r.id}
        out: dict[str, Any] = {"id": r.id, "name": r.name}
        if r.domain_id is not None:
            out["domain"] = {"id": r.domain_id, "name": r.domain_name}
        return out

    return {
        "role": ref(a.role),
        "user": ref(a.user),
        "scope": {"project": ref(a.project)},
        "links": {"assignment": f"/v3/projects/{a.project.id}/users/{a.user.id}/roles/{a.role.id}"},
    }


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() not in ("false", "0", "no", "none")


@router.get("/v3/role_assignments")
def role_assignments(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    q = request.query_params
    rows = cloud.identity.role_assignments(
        ctx,
        user_id=q.get("user.id"),
        project_id=q.get("scope.project.id"),
        role_id=q.get("role.id"),
    )
    names = _truthy(q.get("include_names"))
    return _collection(request, "role_assignments", [_assignment(a, names) for a in rows])


# ---- application credentials -------------------------------------------------------------


class RoleRef(_Body):
    id: Id | None = None
    name: Name | None = None


class ApplicationCredentialCreate(_Body):
    name: Name
    secret: Password | None = None
    description: str | None = None
    expires_at: datetime | None = Field(default=None, strict=False)
    roles: list[RoleRef] = []
    unrestricted: bool = False


class ApplicationCredentialBody(_Body):
    application_credential: ApplicationCredentialCreate


_CREDS = "/v3/users/{user_id}/application_credentials"


def _credential(request: Request, cloud: CloudDep, cred: ApplicationCredential) -> dict[str, Any]:
    roles = cloud.identity.roles_by_id(cred.role_ids)
    return {
        "id": cred.id,
        "name": cred.name,
        "description": cred.description,
        "user_id": cred.user_id,
        "project_id": cred.project_id,
        "roles": [{"id": r.id, "name": r.name, "domain_id": None} for r in roles],
        "unrestricted": cred.unrestricted,
        "expires_at": _time(cred.expires_at) if cred.expires_at else None,
        "access_rules": [],
        "links": _links(request, f"users/{cred.user_id}/application_credentials/{cred.id}"),
    }


@router.post(_CREDS, status_code=201)
def create_application_credential(
    request: Request,
    user_id: str,
    cloud: CloudDep,
    ctx: ContextDep,
    body: ApplicationCredentialBody,
) -> Any:
    """The secret is in this answer only: Passnic keeps its hash."""
    obj = body.application_credential
    cred, secret = cloud.identity.create_application_credential(
        ctx,
        user_id,
        obj.name,
        secret=obj.secret,
        description=obj.description,
        expires_at=obj.expires_at,
        roles=[(r.id, r.name) for r in obj.roles],
        unrestricted=obj.unrestricted,
    )
    return {"application_credential": {**_credential(request, cloud, cred), "secret": secret}}


@router.get(_CREDS)
def list_application_credentials(
    request: Request, user_id: str, cloud: CloudDep, ctx: ContextDep, name: str | None = None
) -> Any:
    creds = cloud.identity.list_application_credentials(ctx, user_id, name)
    return _collection(
        request, "application_credentials", [_credential(request, cloud, c) for c in creds]
    )


@router.get(_CREDS + "/{cred_id}")
def get_application_credential(
    request: Request, user_id: str, cred_id: str, cloud: CloudDep, ctx: ContextDep
) -> Any:
    cred = cloud.identity.get_application_credential(ctx, user_id, cred_id)
    return {"application_credential": _credential(request, cloud, cred)}


@router.delete(_CREDS + "/{cred_id}", status_code=204)
def delete_application_credential(
    user_id: str, cred_id: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    cloud.identity.delete_application_credential(ctx, user_id, cred_id)
    return Response(status_code=204)
