"""Nova v2.1 wire format under /compute, each view in the shape of the microversion the caller
negotiated (2.1-2.96, see ``passnic.compute.microversion``), plus two Passnic extensions:

* ``/compute/v2.1/os-pci-aliases`` (admin): PCI aliases, which Nova reads from its config file.
  ``POST {"pci_alias": {"name", "vendor_id", "product_id", "device_type"?, "numa_policy"?}}``
  -> 201 ``{"pci_alias": {...}}``; ``GET`` -> ``{"pci_aliases": [...]}``;
  ``GET /{name}`` -> ``{"pci_alias": {...}}``; ``DELETE /{name}`` -> 204.
* ``GET /compute/v2.1/servers/{id}/network_data.json``: the OpenStack network metadata the guest
  reads to find its passthrough NIC by MAC.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from passnic.compute import microversion
from passnic.compute.bodies import (
    ExtraSpecItemBody,
    ExtraSpecsBody,
    FlavorActionBody,
    FlavorCreateBody,
    FlavorUpdateBody,
    HostArgs,
    KeypairCreateBody,
    MetadataBody,
    MetadataItemBody,
    NetworkRequest,
    PciAliasCreateBody,
    QuotaSetBody,
    RebootArgs,
    RebuildArgs,
    ServerActionBody,
    ServerCreateBody,
    ServerGroupCreateBody,
    ServerUpdateBody,
    ServiceUpdateBody,
    TagsBody,
)
from passnic.compute.flavors import FlavorSpec
from passnic.compute.microversion import since
from passnic.compute.models import (
    Flavor,
    InstanceAction,
    InstanceActionEvent,
    Keypair,
    Migration,
    PciAlias,
    Server,
    ServerGroup,
)
from passnic.compute.quotas import DEFAULTS
from passnic.compute.service import (
    SORT_KEYS,
    BootRequest,
    Hypervisor,
    Nic,
    NicRequest,
    RebuildRequest,
    ServerQuery,
    ServerView,
    ip_version,
)
from passnic.db import isotime
from passnic.errors import BadRequest, Conflict, NotFound
from passnic.web import CloudDep, ContextDep, base_url, register_fault_format

router = APIRouter(prefix="/compute")

_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def _nova_fault(status: int, _kind: str, message: str) -> dict[str, Any]:
    return {_FAULT_NAMES.get(status, "computeFault"): {"code": status, "message": message}}


register_fault_format("/compute", _nova_fault)


# ---- wire helpers ------------------------------------------------------------------------


def _api(request: Request) -> str:
    return f"{base_url(request)}/compute/v2.1"


def _links(request: Request, collection: str, ident: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{_api(request)}/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{base_url(request)}/compute/{collection}/{ident}"},
    ]


def _user_data(text: str | None) -> str | None:
    """Nova's ``user_data``: base64, at most 65535 characters."""
    if text is None:
        return None
    if len(text) > 65535:
        raise BadRequest("Invalid input for field/attribute user_data: longer than 65535.")
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        raise BadRequest("Invalid input for field/attribute user_data: it is not base64.") from None
    return text


def _query_bool(value: str | None, key: str) -> bool | None:
    """Query booleans as the SDK sends them (``True``, ``False``, ``None`` = no filter)."""
    if value is None:
        return True
    lowered = value.lower()
    if lowered in ("true", "t", "1", "yes", "y", "on"):
        return True
    if lowered in ("false", "f", "0", "no", "n", "off"):
        return False
    if lowered == "none":
        return None
    raise BadRequest(f"Invalid {key} filter [{value}]")


# ---- versions ----------------------------------------------------------------------------


def _version(request: Request) -> dict[str, Any]:
    return {
        "version": {
            "id": "v2.1",
            "status": "CURRENT",
            "version": str(microversion.MAX),
            "min_version": str(microversion.MIN),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{_api(request)}/"}],
            "media-types": [
                {
                    "base": "application/json",
                    "type": "application/vnd.openstack.compute+json;version=2.1",
                }
            ],
        }
    }


@router.get("")
@router.get("/")
@router.get("/v2.1")
@router.get("/v2.1/")
def version(request: Request) -> dict[str, Any]:
    """Needs no token: clients negotiate microversions with it before authenticating."""
    return _version(request)


# ---- flavors -----------------------------------------------------------------------------


def _flavor(request: Request, f: Flavor) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "ram": f.ram,
        "disk": f.disk,
        "vcpus": f.vcpus,
        "swap": f.swap,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral,
        "OS-FLV-DISABLED:disabled": f.disabled,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor,
        "links": _links(request, "flavors", f.id),
        **since(request, "2.55", {"description": f.description}),
        **since(request, "2.61", {"extra_specs": f.specs}),
    }


def _flavor_brief(request: Request, f: Flavor) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "links": _links(request, "flavors", f.id),
        **since(request, "2.55", {"description": f.description}),
    }


@router.post("/v2.1/flavors")
def create_flavor(
    request: Request, cloud: CloudDep, ctx: ContextDep, body: FlavorCreateBody
) -> Any:
    f = body.flavor
    spec = FlavorSpec(
        name=f.name,
        vcpus=f.vcpus,
        ram=f.ram,
        disk=f.disk,
        ephemeral=f.ephemeral,
        swap=f.swap or 0,
        rxtx_factor=f.rxtx_factor,
        is_public=f.is_public,
        id=None if f.id in (None, "", "auto") else str(f.id),
        description=f.description,
    )
    return {"flavor": _flavor(request, cloud.compute.flavors.create_flavor(ctx, spec))}


def _flavor_filter(request: Request, key: str) -> int | None:
    value = request.query_params.get(key)
    if value is None:
        return None
    if not value.isascii() or not value.isdecimal():
        raise BadRequest(f"Invalid {key} filter [{value}]")
    return int(value)


def _list_flavors(
    request: Request, cloud: CloudDep, ctx: ContextDep, is_public: str | None
) -> tuple[list[Flavor], str | None]:
    """Nova's flavor list: ``minRam``/``minDisk`` filters, then ``limit``/``marker`` paging
    (a marker is a flavor id of the list; the next page's marker when more are left)."""
    flavors = cloud.compute.flavors.list_flavors(ctx, _query_bool(is_public, "is_public"))
    min_ram = _flavor_filter(request, "minRam")
    min_disk = _flavor_filter(request, "minDisk")
    flavors = [
        f
        for f in flavors
        if (min_ram is None or f.ram >= min_ram) and (min_disk is None or f.disk >= min_disk)
    ]
    marker = request.query_params.get("marker")
    if marker is not None:
        ids = [f.id for f in flavors]
        if marker not in ids:
            raise BadRequest(f"marker [{marker}] not found")
        flavors = flavors[ids.index(marker) + 1 :]
    limit = _flavor_filter(request, "limit")
    if limit is not None and limit < len(flavors):
        return flavors[:limit], flavors[limit - 1].id if limit else None
    return flavors, None


@router.get("/v2.1/flavors")
def list_flavors(
    request: Request, cloud: CloudDep, ctx: ContextDep, is_public: str | None = None
) -> Any:
    flavors, next_marker = _list_flavors(request, cloud, ctx, is_public)
    return _page(request, "flavors", [_flavor_brief(request, f) for f in flavors], next_marker)


@router.get("/v2.1/flavors/detail")
def list_flavors_detail(
    request: Request, cloud: CloudDep, ctx: ContextDep, is_public: str | None = None
) -> Any:
    flavors, next_marker = _list_flavors(request, cloud, ctx, is_public)
    return _page(request, "flavors", [_flavor(request, f) for f in flavors], next_marker)


@router.get("/v2.1/flavors/{flavor_id}")
def show_flavor(request: Request, flavor_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"flavor": _flavor(request, cloud.compute.flavors.get_flavor(ctx, flavor_id))}


@router.put("/v2.1/flavors/{flavor_id}")
def update_flavor(
    request: Request, flavor_id: str, cloud: CloudDep, ctx: ContextDep, body: FlavorUpdateBody
) -> Any:
    if body.flavor.model_extra:
        raise BadRequest("Only a flavor's description may be updated.")
    flavor = cloud.compute.flavors.update_flavor(ctx, flavor_id, body.flavor.description)
    return {"flavor": _flavor(request, flavor)}


@router.delete("/v2.1/flavors/{flavor_id}", status_code=202)
def delete_flavor(flavor_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.flavors.delete_flavor(ctx, flavor_id)
    return Response(status_code=202)


@router.get("/v2.1/flavors/{flavor_id}/os-extra_specs")
def list_extra_specs(flavor_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"extra_specs": cloud.compute.flavors.extra_specs(ctx, flavor_id)}


@router.post("/v2.1/flavors/{flavor_id}/os-extra_specs")
def create_extra_specs(
    flavor_id: str, cloud: CloudDep, ctx: ContextDep, body: ExtraSpecsBody
) -> Any:
    specs = body.extra_specs
    return {"extra_specs": cloud.compute.flavors.set_extra_specs(ctx, flavor_id, specs)}


@router.get("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def show_extra_spec(flavor_id: str, key: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {key: cloud.compute.flavors.extra_spec(ctx, flavor_id, key)}


@router.put("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def update_extra_spec(
    flavor_id: str, key: str, cloud: CloudDep, ctx: ContextDep, body: ExtraSpecItemBody
) -> Any:
    specs = body.root
    if list(specs) != [key]:
        raise BadRequest("Request body and URI mismatch: the body must hold exactly the URI key.")
    return {key: cloud.compute.flavors.set_extra_specs(ctx, flavor_id, specs)[key]}


@router.delete("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def delete_extra_spec(flavor_id: str, key: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.flavors.delete_extra_spec(ctx, flavor_id, key)
    return Response(status_code=200)


def _access(flavor_id: str, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


@router.get("/v2.1/flavors/{flavor_id}/os-flavor-access")
def list_flavor_access(flavor_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return _access(flavor_id, cloud.compute.flavors.flavor_access(ctx, flavor_id))


@router.post("/v2.1/flavors/{flavor_id}/action")
def flavor_action(flavor_id: str, cloud: CloudDep, ctx: ContextDep, body: FlavorActionBody) -> Any:
    flavors = cloud.compute.flavors
    if body.addTenantAccess is not None:
        return _access(
            flavor_id, flavors.add_flavor_access(ctx, flavor_id, body.addTenantAccess.tenant)
        )
    if body.removeTenantAccess is not None:
        return _access(
            flavor_id, flavors.remove_flavor_access(ctx, flavor_id, body.removeTenantAccess.tenant)
        )
    raise BadRequest("Invalid flavor action: use addTenantAccess or removeTenantAccess.")


# ---- PCI aliases (Passnic extension) -----------------------------------------------------


def _alias(a: PciAlias) -> dict[str, Any]:
    return {
        "name": a.name,
        "vendor_id": a.vendor_id,
        "product_id": a.product_id,
        "device_type": a.device_type,
        "numa_policy": a.numa_policy,
        "created_at": isotime(a.created_at),
        "updated_at": isotime(a.updated_at),
    }


@router.post("/v2.1/os-pci-aliases", status_code=201)
def create_pci_alias(cloud: CloudDep, ctx: ContextDep, body: PciAliasCreateBody) -> Any:
    a = body.pci_alias
    alias = cloud.compute.flavors.create_alias(
        ctx,
        name=a.name,
        vendor_id=a.vendor_id,
        product_id=a.product_id,
        device_type=a.device_type,
        numa_policy=a.numa_policy,
    )
    return JSONResponse({"pci_alias": _alias(alias)}, status_code=201)


@router.get("/v2.1/os-pci-aliases")
def list_pci_aliases(cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"pci_aliases": [_alias(a) for a in cloud.compute.flavors.list_aliases(ctx)]}


@router.get("/v2.1/os-pci-aliases/{name}")
def show_pci_alias(name: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"pci_alias": _alias(cloud.compute.flavors.get_alias(ctx, name))}


@router.delete("/v2.1/os-pci-aliases/{name}", status_code=204)
def delete_pci_alias(name: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.flavors.delete_alias(ctx, name)
    return Response(status_code=204)


# ---- servers -----------------------------------------------------------------------------


def _ref(value: str) -> str:
    """A reference may be an id or a link to it (``flavorRef``, ``imageRef``)."""
    return value.rstrip("/").rsplit("/", 1)[-1]


def _nics(value: str | list[NetworkRequest] | None) -> tuple[NicRequest, ...]:
    if value is None or isinstance(value, str):  # "auto" or "none": no port
        return ()
    nics = []
    for entry in value:
        if entry.port:
            nics.append(NicRequest(port_id=entry.port))
        elif entry.uuid:
            nics.append(NicRequest(network_id=entry.uuid, fixed_ip=entry.fixed_ip))
        else:
            raise BadRequest("Each entry of networks needs a port or a uuid (a network).")
    return tuple(nics)


def _access_ip(value: str | None, key: str, version: int) -> str | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise BadRequest(f"Invalid input for field/attribute {key}: {value!r} is not IPv{version}.")
    return str(address)


def _counts(minimum: int, maximum: int | None) -> None:
    """min_count/max_count: 1 <= min <= max. Passnic boots one server per request (each
    passthrough VM needs its own port), so more than one is refused with that reason."""
    maximum = minimum if maximum is None else maximum
    if minimum < 1 or maximum < 1:
        raise BadRequest("Invalid input: min_count and max_count must be at least 1.")
    if minimum > maximum:
        raise BadRequest("min_count must be <= max_count")
    if maximum > 1:
        raise BadRequest(
            "Passnic boots one server per request: each passthrough VM takes its own "
            "port and NIC; send max_count 1 and boot the others one by one."
        )


def _image(request: Request, image_id: str | None) -> Any:
    if not image_id:
        return ""
    return {
        "id": image_id,
        "links": [{"rel": "bookmark", "href": f"{base_url(request)}/compute/images/{image_id}"}],
    }


def _addresses(nics: tuple[Nic, ...]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for nic in nics:
        entries = out.setdefault(nic.network_name, [])
        for ip, _subnet in nic.fixed_ips:
            entries.append(
                {
                    "version": ip_version(ip),
                    "addr": ip,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": nic.mac,
                }
            )
    return out


def _host_id(server: Server) -> str:
    """Nova's opaque hostId: the same for one project's servers on one host."""
    if not server.host:
        return ""
    return hashlib.sha224((server.project_id + server.host).encode()).hexdigest()


def _server_brief(request: Request, view: ServerView) -> dict[str, Any]:
    s = view.server
    return {"id": s.id, "name": s.name, "links": _links(request, "servers", s.id)}


def _server_flavor(request: Request, s: Server) -> dict[str, Any]:
    """The flavor a server was booted with: embedded from 2.47, a link to it before."""
    if microversion.at_least(request, "2.47"):
        return dict(s.flavor)
    href = f"{base_url(request)}/compute/flavors/{s.flavor_id}"
    return {"id": s.flavor_id, "links": [{"rel": "bookmark", "href": href}]}


def _server(
    request: Request, view: ServerView, admin: bool, groups: list[str] | None = None
) -> dict[str, Any]:
    """Nova's server view at the negotiated version; ``groups`` (the server's server group)
    only where Nova shows it: show, update and rebuild from 2.71, never in a list."""
    s = view.server
    body: dict[str, Any] = {
        **_server_brief(request, view),
        "status": s.status,
        "tenant_id": s.project_id,
        "user_id": s.user_id,
        "metadata": s.metadata_,
        "hostId": _host_id(s),
        "image": _image(request, s.image_id),
        "flavor": _server_flavor(request, s),
        "created": isotime(s.created_at),
        "updated": isotime(s.updated_at or s.created_at),
        "addresses": _addresses(view.nics),
        "accessIPv4": s.access_ipv4 or "",
        "accessIPv6": s.access_ipv6 or "",
        "progress": 0,
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": "nova",
        "OS-EXT-STS:vm_state": s.vm_state,
        "OS-EXT-STS:task_state": s.task_state,
        "OS-EXT-STS:power_state": s.power_state,
        "OS-SRV-USG:launched_at": isotime(s.launched_at),
        "OS-SRV-USG:terminated_at": None,
        "os-extended-volumes:volumes_attached": [],
        "security_groups": [],
        "config_drive": "",
        "key_name": s.key_name,
        **since(request, "2.9", {"locked": s.locked}),
        **since(request, "2.19", {"description": s.description}),
        **since(request, "2.26", {"tags": list(s.tags)}),
        **since(request, "2.63", {"trusted_image_certificates": None}),
        **since(request, "2.73", {"locked_reason": s.locked_reason}),
        **since(request, "2.96", {"pinned_availability_zone": None}),
    }
    if groups is not None:
        body.update(since(request, "2.71", {"server_groups": groups}))
    if admin:
        body.update(
            {
                "OS-EXT-SRV-ATTR:host": s.host,
                "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
                "OS-EXT-SRV-ATTR:instance_name": f"instance-{s.id[:8]}",
                **since(
                    request,
                    "2.3",
                    {
                        "OS-EXT-SRV-ATTR:hostname": s.name,
                        "OS-EXT-SRV-ATTR:launch_index": 0,
                        "OS-EXT-SRV-ATTR:reservation_id": f"r-{s.id[:8]}",
                        "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                        "OS-EXT-SRV-ATTR:kernel_id": "",
                        "OS-EXT-SRV-ATTR:ramdisk_id": "",
                        "OS-EXT-SRV-ATTR:user_data": s.user_data,
                    },
                ),
                **since(
                    request,
                    "2.16",
                    {"host_status": {True: "UP", False: "DOWN", None: ""}[view.host_up]},
                ),
            }
        )
    fault = view.fault
    if fault is not None:
        body["fault"] = {**fault, "created": isotime(fault["created"])}
    return body


@router.post("/v2.1/servers", status_code=202)
async def create_server(
    request: Request, cloud: CloudDep, ctx: ContextDep, body: ServerCreateBody
) -> Any:
    obj = body.server
    _counts(obj.min_count, obj.max_count)
    boot = BootRequest(
        name=obj.name,
        flavor_id=_ref(str(obj.flavorRef)),
        image_id=_ref(obj.imageRef) if obj.imageRef else None,
        nics=_nics(obj.networks),
        metadata=obj.metadata,
        key_name=obj.key_name,
        user_data=_user_data(obj.user_data),
        description=obj.description,
        group_id=body.hints.group,
        security_groups=tuple(g.name for g in obj.security_groups or ()),
        access_ipv4=_access_ip(obj.accessIPv4, "accessIPv4", 4),
        access_ipv6=_access_ip(obj.accessIPv6, "accessIPv6", 6),
    )
    server_id = await run_in_threadpool(cloud.compute.create_server, ctx, boot)
    # Nova's create answer: the server is being built; clients poll it (--wait)
    answer = {
        "id": server_id,
        "links": _links(request, "servers", server_id),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [],
        "adminPass": secrets.token_urlsafe(9),
    }
    return JSONResponse(
        {"server": answer},
        status_code=202,
        headers={"Location": f"{_api(request)}/servers/{server_id}"},
    )


#: the statuses Nova's server list filter accepts; any other is a 400, as in Nova
SERVER_STATUSES = frozenset(
    [
        "ACTIVE",
        "BUILD",
        "DELETED",
        "ERROR",
        "HARD_REBOOT",
        "MIGRATING",
        "PASSWORD",
        "PAUSED",
        "REBOOT",
        "REBUILD",
        "RESCUE",
        "RESIZE",
        "REVERT_RESIZE",
        "SHELVED",
        "SHELVED_OFFLOADED",
        "SHUTOFF",
        "SOFT_DELETED",
        "SUSPENDED",
        "UNKNOWN",
        "VERIFY_RESIZE",
    ]
)


def _since(value: str | None, key: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid filter field: {key}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _list_servers(
    request: Request, cloud: CloudDep, ctx: ContextDep
) -> tuple[list[ServerView], str | None]:
    """The page of servers the query asks for, and the marker of the next page (Nova's
    filters, sorting and ``limit``/``marker`` paging)."""
    q = request.query_params
    status = q.get("status")
    if status is not None and status.upper() not in SERVER_STATUSES:
        raise BadRequest(f"Invalid status value: {status}")
    since_time = _since(q.get("changes-since"), "changes-since")
    before_time = _since(q.get("changes-before"), "changes-before")
    sort_key = q.get("sort_key", "created_at")
    if sort_key not in SORT_KEYS:
        raise BadRequest(f"Invalid sort_key: {sort_key}; one of {', '.join(SORT_KEYS)}.")
    if q.get("sort_dir", "desc") not in ("asc", "desc"):
        raise BadRequest("sort_dir must be asc or desc.")
    raw_limit = q.get("limit")
    if raw_limit is not None and not (raw_limit.isascii() and raw_limit.isdecimal()):
        raise BadRequest(f"limit must be a non-negative integer, not {raw_limit!r}.")
    # Nova's max_limit: a larger limit, or none, is the maximum page
    max_page = cloud.settings.max_page
    limit = max_page if raw_limit is None else min(int(raw_limit), max_page)
    if (q.get("deleted") or "").lower() in ("true", "1"):
        return [], None
    all_tenants = q.get("all_tenants")
    query = ServerQuery(
        name=q.get("name"),
        status=status,
        all_projects=all_tenants is not None and all_tenants.lower() not in ("false", "0"),
        project_id=q.get("project_id") or q.get("tenant_id"),
        host=q.get("host") or q.get("node"),
        flavor_id=q.get("flavor"),
        image_id=q.get("image"),
        ip=q.get("ip"),
        changes_since=since_time,
        changes_before=before_time,
        sort_key=next(k for k in SORT_KEYS if k == sort_key),
        desc=q.get("sort_dir", "desc") == "desc",
        marker=q.get("marker"),
        limit=limit,
    )
    return cloud.compute.list_servers(ctx, query)


def _page(
    request: Request, key: str, items: list[dict[str, Any]], next_marker: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {key: items}
    if next_marker is not None:
        query = dict(request.query_params) | {"marker": next_marker}
        href = str(request.url.replace_query_params(**query))
        body[f"{key}_links"] = [{"rel": "next", "href": href}]
    return body


@router.get("/v2.1/servers")
def list_servers(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    views, nxt = _list_servers(request, cloud, ctx)
    return _page(request, "servers", [_server_brief(request, v) for v in views], nxt)


@router.get("/v2.1/servers/detail")
def list_servers_detail(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    views, nxt = _list_servers(request, cloud, ctx)
    return _page(request, "servers", [_server(request, v, ctx.is_admin) for v in views], nxt)


@router.get("/v2.1/servers/{server_id}")
def show_server(request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return _server_answer(request, server_id, cloud, ctx)


def _server_answer(request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    """A server as show (and update) answer it: with its server group."""
    view = cloud.compute.get_server(ctx, server_id)
    groups = cloud.compute.server_groups.of_server(server_id)
    return {"server": _server(request, view, ctx.is_admin, groups=groups)}


@router.put("/v2.1/servers/{server_id}")
async def update_server(
    request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep, body: ServerUpdateBody
) -> Any:
    obj = body.server
    given = obj.model_fields_set | set(obj.model_extra or {})
    unknown = given - {"name", "description"}
    if unknown or ("description" in given and not microversion.at_least(request, "2.19")):
        names = ", ".join(sorted(unknown or {"description"}))
        raise BadRequest(f"Invalid input: {names} cannot be updated at this microversion.")
    if "name" in given and obj.name is None:
        raise BadRequest("Invalid input for field/attribute name: a string is required.")
    cloud.compute.attributes.update(
        ctx,
        server_id,
        name=obj.name,
        description=obj.description,
        set_description="description" in given,
    )
    answer = _server_answer(request, server_id, cloud, ctx)
    if not microversion.at_least(request, "2.75"):
        answer["server"] = _brief_update_view(answer["server"])
    return answer


_DETAIL_ONLY = ("OS-EXT-", "OS-SRV-USG:", "os-extended-volumes:")
_DETAIL_ONLY_FIELDS = ("config_drive", "key_name", "security_groups", "host_status")


def _brief_update_view(server: dict[str, Any]) -> dict[str, Any]:
    """Before 2.75 an update answers the server without the detail-only fields."""
    body = {
        k: v
        for k, v in server.items()
        if not k.startswith(_DETAIL_ONLY) and k not in _DETAIL_ONLY_FIELDS
    }
    body["addresses"] = _plain(server["addresses"])
    return body


@router.delete("/v2.1/servers/{server_id}", status_code=204)
def delete_server(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.attributes.check_unlocked(ctx, server_id)
    cloud.compute.delete_server(ctx, server_id)
    return Response(status_code=204)


@router.get("/v2.1/servers/{server_id}/network_data.json")
def network_data(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return cloud.compute.network_data(ctx, server_id)


@router.post("/v2.1/servers/{server_id}/action")
async def server_action(
    request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep, body: ServerActionBody
) -> Response:
    actions = body.actions()
    if len(actions) != 1:
        raise BadRequest("Invalid server action: the body must hold exactly one action.")
    ((action, args),) = actions
    compute = cloud.compute
    calls: dict[str, tuple[Callable[[], None], int]] = {
        "os-stop": (lambda: compute.stop_server(ctx, server_id), 202),
        "os-start": (lambda: compute.start_server(ctx, server_id), 202),
        "reboot": (lambda: compute.reboot_server(ctx, server_id, _hard(args)), 202),
        "migrate": (lambda: compute.migrate_server(ctx, server_id, _host(args)), 202),
        "os-migrateLive": (
            lambda: compute.live_migrate_server(ctx, server_id, _host(args)),
            202,
        ),
        "resize": (lambda: compute.resize_server(ctx, server_id, args.flavorRef), 202),
        "confirmResize": (lambda: compute.confirm_resize(ctx, server_id), 204),
        "revertResize": (lambda: compute.revert_resize(ctx, server_id), 202),
    }
    if action == "os-getConsoleOutput":
        length = None if args is None or args.length in (None, -1) else args.length
        output = await run_in_threadpool(compute.console_output, ctx, server_id, length)
        return JSONResponse({"output": output})
    if action == "rebuild":
        return await _rebuild(request, server_id, cloud, ctx, args)
    if action == "lock":
        reason = None if args is None else args.locked_reason
        await run_in_threadpool(compute.attributes.lock, ctx, server_id, reason)
        return Response(status_code=202)
    if action == "unlock":
        await run_in_threadpool(compute.attributes.unlock, ctx, server_id)
        return Response(status_code=202)
    if action in _REFUSED_ACTIONS:
        compute.get_server(ctx, server_id)  # an unknown server is still a 404
        raise Conflict(f"Cannot '{action}' instance {server_id}: {_REFUSED_ACTIONS[action]}")
    if action not in calls:
        raise BadRequest(f"Unknown server action {action!r}: Nova has no action of that name.")
    await run_in_threadpool(compute.attributes.check_unlocked, ctx, server_id)
    call, status = calls[action]
    await run_in_threadpool(call)
    return Response(status_code=status)


async def _rebuild(
    request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep, args: RebuildArgs | None
) -> Response:
    """Nova's rebuild answer: 202 with the server (now REBUILD) and an admin password."""
    if args is None:
        raise BadRequest("Invalid input for field/attribute rebuild: imageRef is required.")
    changes = {k: getattr(args, k) for k in args.model_fields_set if k != "imageRef"}
    if "user_data" in changes:
        changes["user_data"] = _user_data(changes["user_data"])
    rebuild = RebuildRequest(image_id=_ref(args.imageRef), changes=changes)
    compute = cloud.compute
    await run_in_threadpool(compute.attributes.check_unlocked, ctx, server_id)
    await run_in_threadpool(compute.rebuild_server, ctx, server_id, rebuild)
    answer = await run_in_threadpool(_server_answer, request, server_id, cloud, ctx)
    server = answer["server"]
    if not microversion.at_least(request, "2.75"):  # before 2.75: update's short view...
        full, server = server, _brief_update_view(server)
        if microversion.at_least(request, "2.54"):  # ... with the key pair from 2.54
            server["key_name"] = full["key_name"]
    if microversion.at_least(request, "2.57"):  # the rebuild answer carries user_data
        view = await run_in_threadpool(compute.get_server, ctx, server_id)
        server["user_data"] = view.server.user_data
    server["adminPass"] = secrets.token_urlsafe(9)
    return JSONResponse({"server": server}, status_code=202)


_NO_MEMORY_COPY = (
    "a PCI passthrough NIC's state cannot be saved or copied, so the guest cannot be "
    "suspended or moved while it runs; stop it, or migrate it cold."
)
_REFUSED_ACTIONS = {
    "pause": _NO_MEMORY_COPY,
    "unpause": _NO_MEMORY_COPY,
    "suspend": _NO_MEMORY_COPY,
    "resume": _NO_MEMORY_COPY,
    "shelve": "Passnic keeps no image of a guest's disk to unshelve from; stop it instead.",
    "shelveOffload": "Passnic keeps no image of a guest's disk to unshelve from.",
    "unshelve": "Passnic never shelves a server.",
    "rescue": "Passnic has no rescue image path for passthrough guests yet.",
    "unrescue": "Passnic never rescues a server.",
    "createImage": "Passnic keeps no copy of a guest's disk to snapshot.",
    "createBackup": "Passnic keeps no copy of a guest's disk to back up.",
    "changePassword": "Passnic does not set guest passwords; use a key pair.",
    "addSecurityGroup": "a direct-physical port bypasses the virtual switch: no security "
    "groups apply to it.",
    "removeSecurityGroup": "a direct-physical port has no security groups.",
    "addFixedIp": "add a fixed IP to the server's Neutron port instead.",
    "removeFixedIp": "remove the fixed IP from the server's Neutron port instead.",
    "addFloatingIp": "Passnic has no floating IPs: the VLAN network is routed outside.",
    "removeFloatingIp": "Passnic has no floating IPs.",
    "evacuate": "evacuation is not implemented yet; migrate cold once the host is back.",
    "os-resetState": "resetting state is not implemented yet.",
    "trigger_crash_dump": "the guest driver cannot inject an NMI.",
    "os-getVNCConsole": "Passnic guests have a serial console only (os-getConsoleOutput).",
    "os-getSPICEConsole": "Passnic guests have a serial console only (os-getConsoleOutput).",
    "os-getSerialConsole": "an interactive serial console is not offered yet.",
    "os-getRDPConsole": "Passnic guests have a serial console only (os-getConsoleOutput).",
    "injectNetworkInfo": "the guest reads its network from the config drive.",
    "resetNetwork": "the guest reads its network from the config drive.",
    "forceDelete": "Passnic deletes at once; there is nothing soft-deleted to force.",
    "restore": "Passnic deletes at once; there is nothing soft-deleted to restore.",
}
"""Nova's other server actions, each refused with why it does not apply to a passthrough VM."""


def _host(args: HostArgs | None) -> str | None:
    return None if args is None else args.host


def _hard(args: RebootArgs | None) -> bool:
    kind = None if args is None else args.type.upper()
    if kind not in ("SOFT", "HARD"):
        raise BadRequest("Invalid input for reboot: type must be SOFT or HARD.")
    return kind == "HARD"


# ---- migrations --------------------------------------------------------------------------


def _migration_common(request: Request, m: Migration) -> dict[str, Any]:
    return {
        "id": m.id,
        "status": m.status,
        "source_compute": m.source_compute,
        "source_node": m.source_compute,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_compute,
        "dest_host": "",
        "created_at": isotime(m.created_at),
        "updated_at": isotime(m.updated_at or m.created_at),
        **since(request, "2.59", {"uuid": m.uuid}),
        **since(request, "2.80", {"project_id": m.project_id, "user_id": m.user_id}),
    }


def _migration(request: Request, m: Migration) -> dict[str, Any]:
    """os-migrations: Nova's flavor ids here are its internal integers, which Passnic's flavors
    do not have (null, as Nova shows a flavor it no longer knows)."""
    return {
        **_migration_common(request, m),
        "instance_uuid": m.server_id,
        "old_instance_type_id": None,
        "new_instance_type_id": None,
        **since(
            request,
            "2.23",
            {
                "migration_type": m.migration_type,
                "links": _links(request, f"servers/{m.server_id}/migrations", str(m.id)),
            },
        ),
    }


def _server_migration(request: Request, m: Migration) -> dict[str, Any]:
    """A server's migrations (Nova lists live migrations in progress there; Passnic lists all
    of the server's moves, in that shape: no memory or disk is copied)."""
    progress = ("disk", "memory")
    counters = {
        f"{k}_{c}_bytes": None for k in progress for c in ("processed", "remaining", "total")
    }
    return {**_migration_common(request, m), "server_uuid": m.server_id, **counters}


@router.get("/v2.1/os-migrations")
def list_migrations(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    q = request.query_params
    migrations = cloud.compute.list_migrations(
        ctx,
        server_id=q.get("instance_uuid"),
        host=q.get("host") or q.get("source_compute"),
        status=q.get("status"),
        migration_type=q.get("migration_type"),
    )
    return {"migrations": [_migration(request, m) for m in migrations]}


@router.get("/v2.1/servers/{server_id}/migrations")
def list_server_migrations(
    request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep
) -> Any:
    migrations = cloud.compute.list_migrations(ctx, server_id=server_id)
    return {"migrations": [_server_migration(request, m) for m in migrations]}


# ---- instance actions ----------------------------------------------------------------------


def _action(request: Request, a: InstanceAction) -> dict[str, Any]:
    return {
        "action": a.action,
        "instance_uuid": a.server_id,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": isotime(a.start_time),
        "user_id": a.user_id,
        **since(request, "2.58", {"updated_at": isotime(a.finish_time or a.start_time)}),
    }


def _event(request: Request, project: str, e: InstanceActionEvent, admin: bool) -> dict[str, Any]:
    host_id = hashlib.sha224((project + (e.host or "")).encode()).hexdigest() if e.host else ""
    body: dict[str, Any] = {
        "event": e.event,
        "start_time": isotime(e.start_time),
        "finish_time": isotime(e.finish_time),
        "result": e.result,
        **since(request, "2.62", {"hostId": host_id}),
        **since(request, "2.84", {"details": e.details}),
    }
    if admin:
        body.update({"traceback": None, **since(request, "2.62", {"host": e.host or ""})})
    return body


@router.get("/v2.1/servers/{server_id}/os-instance-actions")
def list_instance_actions(
    request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep
) -> Any:
    actions = cloud.compute.list_actions(ctx, server_id)
    return {"instanceActions": [_action(request, a) for a in actions]}


@router.get("/v2.1/servers/{server_id}/os-instance-actions/{request_id}")
def show_instance_action(
    request: Request, server_id: str, request_id: str, cloud: CloudDep, ctx: ContextDep
) -> Any:
    a = cloud.compute.get_action(ctx, server_id, request_id)
    events = [_event(request, a.project_id, e, ctx.is_admin) for e in a.events]
    return {"instanceAction": {**_action(request, a), "events": events}}


# ---- compute services and hypervisors (one per compute host, from its agent) --------------


def _service_uuid(hostname: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"nova-compute.{hostname}"))


def _legacy_id(stable: str) -> int:
    """Before 2.53 Nova's service and hypervisor ids are integers: a stable one from the
    host's uuid (28 bits, so no two hosts of a cloud share one in practice)."""
    return int(uuid.uuid5(uuid.NAMESPACE_DNS, stable).hex[:7], 16)


def _service_id(request: Request, hostname: str) -> str | int:
    uuid_id = _service_uuid(hostname)
    return uuid_id if microversion.at_least(request, "2.53") else _legacy_id(uuid_id)


def _service(request: Request, h: Hypervisor) -> dict[str, Any]:
    node = h.node
    return {
        "id": _service_id(request, node.hostname),
        "binary": "nova-compute",
        "host": node.hostname,
        "zone": "nova",
        "status": "disabled" if node.disabled else "enabled",
        "state": "up" if node.up else "down",
        "updated_at": isotime(node.heartbeat_at),
        "disabled_reason": node.disabled_reason,
        **since(request, "2.11", {"forced_down": False}),
    }


@router.get("/v2.1/os-services")
def list_services(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    q = request.query_params
    services = [_service(request, h) for h in cloud.compute.hypervisors(ctx)]
    if q.get("binary") not in (None, "nova-compute"):
        services = []
    if q.get("host"):
        services = [s for s in services if s["host"] == q.get("host")]
    return {"services": services}


_LEGACY_SERVICE_ACTIONS = {
    "enable": "enabled",
    "disable": "disabled",
    "disable-log-reason": "disabled",
}
"""Before 2.53: ``PUT /os-services/<action>`` with the host and binary in the body."""


@router.put("/v2.1/os-services/{service_id}")
async def update_service(
    request: Request, service_id: str, cloud: CloudDep, ctx: ContextDep, body: ServiceUpdateBody
) -> Any:
    hosts = await run_in_threadpool(cloud.compute.hypervisors, ctx)
    legacy = service_id in _LEGACY_SERVICE_ACTIONS and not microversion.at_least(request, "2.53")
    if legacy:
        status = _LEGACY_SERVICE_ACTIONS[service_id]
        if body.host is None:
            raise BadRequest("Invalid input for field/attribute host: a string is required.")
        host = body.host
        found = next((h for h in hosts if h.node.hostname == host), None)
    else:
        status = str(body.status)
        found = next((h for h in hosts if _service_uuid(h.node.hostname) == service_id), None)
    if status not in ("enabled", "disabled"):
        raise BadRequest("Invalid input: 'status' must be 'enabled' or 'disabled'.")
    if found is None:
        raise NotFound(f"Service {service_id} not found.")
    reason = body.disabled_reason
    disabled = status == "disabled"
    await run_in_threadpool(cloud.hosts.set_disabled, ctx, found.node.hostname, disabled, reason)
    hosts = await run_in_threadpool(cloud.compute.hypervisors, ctx)
    service = _service(request, next(h for h in hosts if h.node.hostname == found.node.hostname))
    if legacy:
        keep = ("host", "binary", "status") + (("disabled_reason",) if reason else ())
        service = {k: service[k] for k in keep}
    return {"service": service}


def _hypervisor_id(request: Request, h: Hypervisor) -> str | int:
    return h.host.uuid if microversion.at_least(request, "2.53") else _legacy_id(h.host.uuid)


def _hypervisor(request: Request, h: Hypervisor, detail: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": _hypervisor_id(request, h),
        "hypervisor_hostname": h.host.hostname,
        "state": "up" if h.node.up else "down",
        "status": "disabled" if h.node.disabled else "enabled",
    }
    if not detail:
        return body
    host = h.host
    body.update(
        {
            "hypervisor_type": "QEMU",
            "hypervisor_version": 0,
            "host_ip": None,
            "cpu_info": {} if microversion.at_least(request, "2.28") else "{}",
            "current_workload": 0,
            "disk_available_least": None,
            "vcpus": host.vcpus,
            "vcpus_used": h.vcpus_used,
            "memory_mb": host.memory_mb,
            "memory_mb_used": h.memory_mb_used,
            "local_gb": host.disk_gb,
            "local_gb_used": h.local_gb_used,
            "free_ram_mb": host.memory_mb - h.memory_mb_used,
            "free_disk_gb": host.disk_gb - h.local_gb_used,
            "running_vms": h.servers,
            "service": {
                "host": host.hostname,
                "id": _service_id(request, host.hostname),
                "disabled_reason": h.node.disabled_reason,
            },
        }
    )
    return body


def _hypervisor_list(request: Request, cloud: CloudDep, ctx: ContextDep) -> list[Hypervisor]:
    pattern = request.query_params.get("hypervisor_hostname_pattern")
    hosts = cloud.compute.hypervisors(ctx)
    return [h for h in hosts if not pattern or pattern in h.host.hostname]


@router.get("/v2.1/os-hypervisors")
def list_hypervisors(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    hosts = _hypervisor_list(request, cloud, ctx)
    return {"hypervisors": [_hypervisor(request, h, False) for h in hosts]}


@router.get("/v2.1/os-hypervisors/detail")
def list_hypervisors_detail(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    hosts = _hypervisor_list(request, cloud, ctx)
    return {"hypervisors": [_hypervisor(request, h, True) for h in hosts]}


def _find_hypervisor(hypervisor_id: str, cloud: CloudDep, ctx: ContextDep) -> Hypervisor:
    for h in cloud.compute.hypervisors(ctx):
        if hypervisor_id in (h.host.uuid, h.host.hostname, str(_legacy_id(h.host.uuid))):
            return h
    raise NotFound(f"Hypervisor {hypervisor_id} could not be found.")


@router.get("/v2.1/os-hypervisors/{hypervisor_id}")
def show_hypervisor(request: Request, hypervisor_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    h = _find_hypervisor(hypervisor_id, cloud, ctx)
    return {"hypervisor": _hypervisor(request, h, True)}


@router.get("/v2.1/os-hypervisors/{hypervisor_id}/pci-passthrough-nics")
def hypervisor_nics(request: Request, hypervisor_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    """Passnic's own: the host's pci-passthrough NICs, total, used and free, and which server
    holds each used one, through a port or a flavor's PCI alias (Nova's hypervisor view is
    closed to extra fields, so strict clients would refuse them there)."""
    h = _find_hypervisor(hypervisor_id, cloud, ctx)
    used = h.nics_used
    held = [
        {
            "pci_address": c.pci_address,
            "interface": c.ifname,
            "server_id": c.consumer_id,
            "server_name": c.consumer_name,
            "port_id": c.port_id,
            "pci_alias": c.alias_name,
        }
        for c in cloud.compute.nics_held(ctx, h.host.hostname)
    ]
    return {
        "pci_passthrough_nics": {
            "total": h.nics_total,
            "used": used,
            "free": h.nics_total - used,
            "held": held,
        }
    }


# ---- what a server has beside its lifecycle: addresses, interfaces, metadata, tags -----------


@router.get("/v2.1/servers/{server_id}/ips")
def server_ips(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"addresses": _plain_addresses(cloud.compute.get_server(ctx, server_id))}


@router.get("/v2.1/servers/{server_id}/ips/{network}")
def server_ips_of(server_id: str, network: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    addresses = _plain_addresses(cloud.compute.get_server(ctx, server_id))
    if network not in addresses:
        raise NotFound(f"Instance {server_id} has no address on network {network}.")
    return {network: addresses[network]}


def _plain_addresses(view: ServerView) -> dict[str, list[dict[str, Any]]]:
    """/ips answers only version and addr (the OS-EXT-IPS fields are the server view's)."""
    return _plain(_addresses(view.nics))


def _plain(addresses: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        net: [{"version": a["version"], "addr": a["addr"]} for a in entries]
        for net, entries in addresses.items()
    }


@router.get("/v2.1/servers/{server_id}/os-security-groups")
def server_security_groups(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    """A direct-physical port bypasses the virtual switch: no security group applies."""
    cloud.compute.get_server(ctx, server_id)
    return {"security_groups": []}


def _interface(nic: Nic) -> dict[str, Any]:
    return {
        "port_id": nic.port_id,
        "net_id": nic.network_id,
        "mac_addr": nic.mac,
        "port_state": "ACTIVE",
        "fixed_ips": [{"ip_address": ip, "subnet_id": subnet} for ip, subnet in nic.fixed_ips],
    }


@router.get("/v2.1/servers/{server_id}/os-interface")
def list_interfaces(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    nics = cloud.compute.get_server(ctx, server_id).nics
    return {"interfaceAttachments": [_interface(n) for n in nics]}


@router.get("/v2.1/servers/{server_id}/os-interface/{port_id}")
def show_interface(server_id: str, port_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    for nic in cloud.compute.get_server(ctx, server_id).nics:
        if nic.port_id == port_id:
            return {"interfaceAttachment": _interface(nic)}
    raise NotFound(f"Port {port_id} is not attached to instance {server_id}.")


_NO_HOTPLUG = (
    "attaching or detaching a port of a running or stopped server is not supported yet: the "
    "NIC is a PCI device claimed at boot; boot the server with the ports it needs."
)


@router.post("/v2.1/servers/{server_id}/os-interface")
@router.delete("/v2.1/servers/{server_id}/os-interface/{port_id}")
def change_interfaces(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    cloud.compute.get_server(ctx, server_id)
    raise Conflict(f"Cannot change the interfaces of instance {server_id}: {_NO_HOTPLUG}")


@router.get("/v2.1/servers/{server_id}/metadata")
def list_metadata(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"metadata": cloud.compute.get_server(ctx, server_id).server.metadata_}


@router.post("/v2.1/servers/{server_id}/metadata")
@router.put("/v2.1/servers/{server_id}/metadata")
async def set_metadata(
    request: Request, server_id: str, cloud: CloudDep, ctx: ContextDep, body: MetadataBody
) -> Any:
    """POST merges into the metadata, PUT replaces it."""
    replace = request.method == "PUT"
    items = body.metadata
    return {"metadata": cloud.compute.attributes.set_metadata(ctx, server_id, items, replace)}


@router.get("/v2.1/servers/{server_id}/metadata/{key}")
def show_metadata_item(server_id: str, key: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    metadata = cloud.compute.get_server(ctx, server_id).server.metadata_
    if key not in metadata:
        raise NotFound(f"Metadata item was not found: {key}")
    return {"meta": {key: metadata[key]}}


@router.put("/v2.1/servers/{server_id}/metadata/{key}")
async def set_metadata_item(
    server_id: str, key: str, cloud: CloudDep, ctx: ContextDep, body: MetadataItemBody
) -> Any:
    item = body.meta
    if list(item) != [key]:
        raise BadRequest("Request body and URI mismatch: 'meta' must hold exactly the URI key.")
    cloud.compute.attributes.set_metadata(ctx, server_id, item, replace=False)
    return {"meta": item}


@router.delete("/v2.1/servers/{server_id}/metadata/{key}", status_code=204)
def delete_metadata_item(server_id: str, key: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.attributes.delete_metadata(ctx, server_id, key)
    return Response(status_code=204)


@router.get("/v2.1/servers/{server_id}/tags")
def list_tags(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return {"tags": list(cloud.compute.get_server(ctx, server_id).server.tags)}


@router.put("/v2.1/servers/{server_id}/tags")
async def replace_tags(server_id: str, cloud: CloudDep, ctx: ContextDep, body: TagsBody) -> Any:
    return {"tags": cloud.compute.attributes.set_tags(ctx, server_id, body.tags)}


@router.delete("/v2.1/servers/{server_id}/tags", status_code=204)
def delete_tags(server_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.attributes.set_tags(ctx, server_id, [])
    return Response(status_code=204)


@router.get("/v2.1/servers/{server_id}/tags/{tag}", status_code=204)
def check_tag(server_id: str, tag: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    if tag not in cloud.compute.get_server(ctx, server_id).server.tags:
        raise NotFound(f"Tag {tag} could not be found.")
    return Response(status_code=204)


@router.put("/v2.1/servers/{server_id}/tags/{tag}")
def add_tag(
    request: Request, server_id: str, tag: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    added = cloud.compute.attributes.add_tag(ctx, server_id, tag)
    location = f"{_api(request)}/servers/{server_id}/tags/{tag}"
    return Response(status_code=201 if added else 204, headers={"Location": location})


@router.delete("/v2.1/servers/{server_id}/tags/{tag}", status_code=204)
def delete_tag(server_id: str, tag: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.attributes.delete_tag(ctx, server_id, tag)
    return Response(status_code=204)


# ---- key pairs ---------------------------------------------------------------------------------


def _keypair(request: Request, k: Keypair, *, full: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
        **since(request, "2.2", {"type": k.type}),
    }
    if full:
        body.update(
            {
                "user_id": k.user_id,
                "id": k.id,
                "created_at": isotime(k.created_at),
                "updated_at": isotime(k.updated_at),
                "deleted": False,
                "deleted_at": None,
            }
        )
    return body


@router.get("/v2.1/os-keypairs")
def list_keypairs(
    request: Request, cloud: CloudDep, ctx: ContextDep, user_id: str | None = None
) -> Any:
    keypairs = cloud.compute.keypairs.list_keypairs(ctx, user_id)
    return {"keypairs": [{"keypair": _keypair(request, k, full=False)} for k in keypairs]}


@router.post("/v2.1/os-keypairs")
async def create_keypair(
    request: Request, cloud: CloudDep, ctx: ContextDep, body: KeypairCreateBody
) -> Any:
    obj = body.keypair
    if obj.public_key is None and microversion.at_least(request, "2.92"):
        raise BadRequest("Invalid input: public_key is required from microversion 2.92 on.")
    keypair, private = cloud.compute.keypairs.create(
        ctx, obj.name, obj.public_key, obj.type, obj.user_id
    )
    answer = {
        k: v
        for k, v in _keypair(request, keypair, full=True).items()
        if k in ("name", "public_key", "fingerprint", "user_id", "type")
    }
    if private is not None:
        answer["private_key"] = private
    status = 201 if microversion.at_least(request, "2.2") else 200
    return JSONResponse({"keypair": answer}, status_code=status)


@router.get("/v2.1/os-keypairs/{name}")
def show_keypair(
    request: Request, name: str, cloud: CloudDep, ctx: ContextDep, user_id: str | None = None
) -> Any:
    keypair = cloud.compute.keypairs.get(ctx, name, user_id)
    return {"keypair": _keypair(request, keypair, full=True)}


@router.delete("/v2.1/os-keypairs/{name}")
def delete_keypair(
    request: Request, name: str, cloud: CloudDep, ctx: ContextDep, user_id: str | None = None
) -> Response:
    cloud.compute.keypairs.delete(ctx, name, user_id)
    return Response(status_code=204 if microversion.at_least(request, "2.2") else 202)


# ---- server groups -----------------------------------------------------------------------------


def _server_group(request: Request, g: ServerGroup, members: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": g.id,
        "name": g.name,
        "members": members,
        **since(request, "2.13", {"project_id": g.project_id, "user_id": g.user_id}),
    }
    if microversion.at_least(request, "2.64"):
        body.update({"policy": g.policy, "rules": {}})
    else:
        body.update({"policies": [g.policy], "metadata": {}})
    return body


def _server_groups(request: Request, cloud: CloudDep, groups: list[ServerGroup]) -> list[Any]:
    members = cloud.compute.server_groups.members([g.id for g in groups])
    return [_server_group(request, g, members[g.id]) for g in groups]


@router.get("/v2.1/os-server-groups")
def list_server_groups(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    every = request.query_params.get("all_projects", "").lower() in ("true", "1")
    groups = cloud.compute.server_groups.list_groups(ctx, every)
    return {"server_groups": _server_groups(request, cloud, groups)}


@router.post("/v2.1/os-server-groups")
async def create_server_group(
    request: Request, cloud: CloudDep, ctx: ContextDep, body: ServerGroupCreateBody
) -> Any:
    obj = body.server_group
    if microversion.at_least(request, "2.64"):
        if obj.policy is None:
            raise BadRequest("Invalid input: 'policy' is required from microversion 2.64 on.")
        group_policy = obj.policy
    else:
        if obj.policies is None or len(obj.policies) != 1:
            raise BadRequest("Invalid input: 'policies' must hold exactly one policy.")
        group_policy = obj.policies[0]
    group = cloud.compute.server_groups.create(ctx, obj.name, group_policy)
    return {"server_group": _server_group(request, group, [])}


@router.get("/v2.1/os-server-groups/{group_id}")
def show_server_group(request: Request, group_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    group = cloud.compute.server_groups.get(ctx, group_id)
    return {"server_group": _server_groups(request, cloud, [group])[0]}


@router.delete("/v2.1/os-server-groups/{group_id}", status_code=204)
def delete_server_group(group_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.server_groups.delete(ctx, group_id)
    return Response(status_code=204)


# ---- limits, quotas and availability zones -----------------------------------------------------

_BEFORE_2_36 = {
    "fixed_ips": -1,
    "floating_ips": -1,
    "security_groups": -1,
    "security_group_rules": -1,
}
_BEFORE_2_57 = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}


def _quota_view(request: Request, limits: dict[str, int]) -> dict[str, int]:
    """The resources Nova shows at the request's microversion; the older ones are fixed."""
    view = dict(limits)
    if not microversion.at_least(request, "2.36"):
        view.update(_BEFORE_2_36)
    if not microversion.at_least(request, "2.57"):
        view.update(_BEFORE_2_57)
    return view


@router.get("/v2.1/limits")
def limits(request: Request, cloud: CloudDep, ctx: ContextDep) -> Any:
    quota = cloud.compute.quotas.get(ctx, ctx.project_id)
    used = cloud.compute.quotas.usage(ctx, ctx.project_id)
    absolute: dict[str, int] = {
        "maxTotalInstances": quota["instances"],
        "maxTotalCores": quota["cores"],
        "maxTotalRAMSize": quota["ram"],
        "maxServerMeta": quota["metadata_items"],
        "maxTotalKeypairs": quota["key_pairs"],
        "maxServerGroups": quota["server_groups"],
        "maxServerGroupMembers": quota["server_group_members"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if not microversion.at_least(request, "2.36"):
        absolute.update(
            {
                "maxSecurityGroups": -1,
                "maxSecurityGroupRules": -1,
                "maxTotalFloatingIps": -1,
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
            }
        )
    if not microversion.at_least(request, "2.39"):
        absolute["maxImageMeta"] = 128
    if not microversion.at_least(request, "2.57"):
        absolute.update({"maxPersonality": 5, "maxPersonalitySize": 10240})
    return {"limits": {"absolute": absolute, "rate": []}}


@router.get("/v2.1/os-quota-sets/{project_id}")
def show_quota_set(request: Request, project_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    quota = cloud.compute.quotas.get(ctx, project_id)
    return {"quota_set": {"id": project_id, **_quota_view(request, quota)}}


@router.get("/v2.1/os-quota-sets/{project_id}/defaults")
def show_quota_defaults(request: Request, project_id: str, ctx: ContextDep) -> Any:
    if not ctx.owns(project_id):
        raise NotFound(f"Quota for project {project_id} could not be found.")
    return {"quota_set": {"id": project_id, **_quota_view(request, dict(DEFAULTS))}}


@router.get("/v2.1/os-quota-sets/{project_id}/detail")
def show_quota_detail(request: Request, project_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    quota = cloud.compute.quotas.get(ctx, project_id)
    used = cloud.compute.quotas.usage(ctx, project_id)
    detail = {
        k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0}
        for k, v in _quota_view(request, quota).items()
    }
    return {"quota_set": {"id": project_id, **detail}}


@router.put("/v2.1/os-quota-sets/{project_id}")
async def update_quota_set(
    request: Request, project_id: str, cloud: CloudDep, ctx: ContextDep, body: QuotaSetBody
) -> Any:
    """An admin sets some of a project's limits; Nova's answer has no ``id``."""
    limits = body.limits()
    quota = await run_in_threadpool(cloud.compute.quotas.update, ctx, project_id, limits)
    return {"quota_set": _quota_view(request, quota)}


@router.delete("/v2.1/os-quota-sets/{project_id}", status_code=202)
def reset_quota_set(project_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.compute.quotas.reset(ctx, project_id)
    return Response(status_code=202)


@router.get("/v2.1/os-availability-zone")
def list_availability_zones(ctx: ContextDep) -> Any:
    """One zone, Nova's default: Passnic has no host aggregates yet."""
    return {
        "availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}
        ]
    }


@router.get("/v2.1/os-availability-zone/detail")
def list_availability_zones_detail(cloud: CloudDep, ctx: ContextDep) -> Any:
    hosts = {
        h.host.hostname: {
            "nova-compute": {
                "available": h.node.up,
                "active": not h.node.disabled,
                "updated_at": isotime(h.node.heartbeat_at),
            }
        }
        for h in cloud.compute.hypervisors(ctx)
    }
    return {
        "availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": True}, "hosts": hosts}
        ]
    }
