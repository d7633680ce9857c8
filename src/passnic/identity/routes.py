"""Keystone v3 wire format under /identity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from passnic.errors import BadRequest, NotAuthenticated
from passnic.identity.models import Domain, Project, Role, User
from passnic.identity.service import Assignment, PasswordAuth, Ref, TokenInfo
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


def _token_body(request: Request, info: TokenInfo, region: str) -> dict[str, Any]:
    return {
        "token": {
            "methods": ["password"],
            "user": _ref(info.user),
            "project": _ref(info.project),
            "roles": [{"id": r.id, "name": r.name} for r in info.roles],
            "issued_at": info.issued_at.isoformat().replace("+00:00", "Z"),
            "expires_at": info.expires_at.isoformat().replace("+00:00", "Z"),
            "audit_ids": [],
            "is_domain": False,
            "catalog": catalog(request, region),
        }
    }


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


class AuthIdentity(_Body):
    methods: list[str]
    password: PasswordMethod | None = None


class ProjectScope(_Body):
    id: Id | None = None
    name: Name | None = None
    domain: DomainRef | None = None


class AuthScope(_Body):
    """Only a project scope: Passnic issues project tokens (any other key is refused)."""

    model_config = ConfigDict(strict=True, extra="allow")
    project: ProjectScope | None = None


class Auth(_Body):
    identity: AuthIdentity
    scope: AuthScope | None = None


class AuthRequest(_Body):
    auth: Auth


def _password_auth(auth: Auth) -> PasswordAuth:
    if "password" not in auth.identity.methods:
        raise BadRequest("Passnic supports the password authentication method only.")
    if auth.identity.password is None:
        raise BadRequest("Expecting to find identity.password.user in auth request.")
    user = auth.identity.password.user
    scope = auth.scope or AuthScope()
    if scope.project is None and scope.model_extra:
        raise NotAuthenticated("Passnic issues project-scoped tokens: scope to a project.")
    project = scope.project or ProjectScope()
    user_domain = user.domain or DomainRef()
    project_domain = project.domain or DomainRef()
    return PasswordAuth(
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


@router.post("/v3/auth/tokens")
def issue_token(request: Request, cloud: CloudDep, body: AuthRequest) -> JSONResponse:
    token, info = cloud.identity.authenticate(_password_auth(body.auth))
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


def _project(request: Request, p: Project) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "is_domain": False,
        "parent_id": p.domain_id,
        "tags": [],
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


class ProjectCreate(_Body):
    name: Name
    domain_id: Id | None = None
    description: str | None = None
    enabled: bool = True


class ProjectUpdate(_Body):
    name: Name | None = None
    description: str | None = None
    enabled: bool | None = None


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


@router.get("/v3/projects")
def list_projects(
    request: Request,
    cloud: CloudDep,
    ctx: ContextDep,
    name: str | None = None,
    domain_id: str | None = None,
) -> dict[str, Any]:
    items = [_project(request, p) for p in cloud.identity.list_projects(ctx, name, domain_id)]
    return _collection(request, "projects", items)


@router.get("/v3/auth/projects")
def auth_projects(request: Request, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    """The projects the caller may scope a token to."""
    items = [_project(request, p) for p in cloud.identity.user_projects(ctx, ctx.user_id)]
    return _collection(request, "projects", items)


@router.get("/v3/users/{user_id}/projects")
def user_projects(request: Request, user_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    items = [_project(request, p) for p in cloud.identity.user_projects(ctx, user_id)]
    return _collection(request, "projects", items)


@router.get("/v3/projects/{project_id}")
def get_project(request: Request, project_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"project": _project(request, cloud.identity.get_project(ctx, project_id))}


@router.post("/v3/projects", status_code=201)
def create_project(request: Request, cloud: CloudDep, ctx: ContextDep, body: ProjectBody) -> Any:
    obj = body.project
    project = cloud.identity.create_project(
        ctx,
        name=obj.name,
        domain_id=obj.domain_id or "default",
        description=obj.description or "",
        enabled=obj.enabled,
    )
    return {"project": _project(request, project)}


@router.patch("/v3/projects/{project_id}")
def update_project(
    request: Request, project_id: str, cloud: CloudDep, ctx: ContextDep, body: ProjectPatch
) -> Any:
    fields = _changes(body.project)
    return {"project": _project(request, cloud.identity.update_project(ctx, project_id, **fields))}


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
