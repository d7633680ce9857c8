"""Neutron v2.0 wire format under /networking: every collection is the same five routes
(list, show, create, update, delete) built from a small table, plus trunk sub-port actions,
QoS bandwidth-limit rules, extensions and the version documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from passnic.context import RequestContext
from passnic.db import Paged
from passnic.errors import BadRequest, NotFound
from passnic.network import wire
from passnic.network.common import Filters, Page
from passnic.network.service import NetworkService
from passnic.web import CloudDep, ContextDep, base_url, json_body, register_fault_format

router = APIRouter(prefix="/networking")


def _neutron_fault(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}


register_fault_format("/networking", _neutron_fault)


# ---- versions and extensions -------------------------------------------------------------


def _version(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{base_url(request)}/networking/v2.0/"}],
    }


@router.get("")
@router.get("/")
def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request)]}


EXTENSIONS = {
    "provider": ("Provider Network", "Expose the segment (VLAN of a data network) of a network"),
    "binding": ("Port Binding", "Expose port bindings of a virtual port to external application"),
    "qos": ("Quality of Service", "QoS policies for ports (never for PCI passthrough ports)"),
    "security-group": ("security-group", "The security groups extension."),
    "network-segment-range": (
        "Neutron Network Segment Range",
        "Manage the VLAN IDs of data networks that projects may use",
    ),
    "trunk": ("Trunk Extension", "Provides support for trunk ports"),
    "trunk-details": ("Trunk port details", "Expose trunk port details"),
    "port-security": ("Port Security", "Provides port security"),
    "allowed-address-pairs": ("Allowed Address Pairs", "Provides allowed address pairs"),
    "network-mtu": ("Network MTU", "Provides MTU attribute for a network resource."),
    "project-id": (
        "project_id field enabled",
        "Extension that indicates that project_id is enabled.",
    ),
    "standard-attr-description": ("standard-attr-description", "Add description to resources."),
    "standard-attr-revisions": ("Resource revision numbers", "Expose revision_number."),
    "standard-attr-timestamp": ("Resource timestamps", "Expose created_at and updated_at."),
    "quotas": ("Quota management support", "Expose functions for quotas management"),
    "quota_details": ("Quota details management support", "Expose quota usage and limits"),
}


def _extension(alias: str) -> dict[str, Any]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2024-01-01T00:00:00-00:00",
        "links": [],
    }


@router.get("/v2.0/extensions")
def list_extensions(_ctx: ContextDep) -> dict[str, Any]:
    return {"extensions": [_extension(alias) for alias in EXTENSIONS]}


@router.get("/v2.0/extensions/{alias}")
def get_extension(alias: str, _ctx: ContextDep) -> dict[str, Any]:
    if alias not in EXTENSIONS:
        raise NotFound(f"Extension with alias {alias} does not exist", kind="HTTPNotFound")
    return {"extension": _extension(alias)}


# ---- the collections -----------------------------------------------------------------------

Svc = NetworkService
Ctx = RequestContext


@dataclass(frozen=True)
class Collection:
    """One Neutron collection: its bodies (documented by /openapi.json) and the service calls
    behind it."""

    path: str
    singular: str
    plural: str
    create_body: type[wire.Body]
    update_body: type[wire.Body] | None
    view: Callable[[Any], dict[str, Any]]
    list: Callable[[Svc, Ctx, Filters], Sequence[Any]]
    get: Callable[[Svc, Ctx, str], Any]
    create: Callable[[Svc, Ctx, dict[str, Any]], Any]
    update: Callable[[Svc, Ctx, str, dict[str, Any]], Any] | None
    delete: Callable[[Svc, Ctx, str], None]
    #: the list read a page at a time in SQL (``limit``/``marker``/``page_reverse``, at most
    #: the configured maximum page); None: ``list`` reads the whole collection
    page: Callable[[Svc, Ctx, Filters, Page], Paged[Any]] | None = None


#: query parameters that choose a page rather than filter the collection
PAGING = ("limit", "marker", "page_reverse")


def _filters(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key in PAGING:
            continue
        out.setdefault(wire.FILTER_ALIASES.get(key, key), []).append(value)
    return out


def _fields(request: Request) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``fields=a&fields=b``: only those attributes of each resource, as Neutron answers."""
    wanted = {f for value in request.query_params.getlist("fields") for f in value.split(",") if f}
    if not wanted:
        return lambda view: view
    return lambda view: {k: v for k, v in view.items() if k in wanted}


def _page(request: Request, max_page: int) -> Page:
    """Neutron's paging parameters; a ``limit`` of 0 or none, or above the maximum page, is the
    maximum page."""
    raw = request.query_params.get("limit", "0")
    if not (raw.isascii() and raw.isdecimal()):
        raise BadRequest(
            f"Bad limit request: Limit must be an integer 0 or greater and not '{raw}'."
        )
    limit = min(int(raw), max_page) or max_page
    reverse = request.query_params.get("page_reverse", "false").lower() == "true"
    return Page(limit, request.query_params.get("marker"), reverse)


def _page_links(request: Request, page: Page, paged: Paged[Any]) -> list[dict[str, str]]:
    """Neutron's ``next``/``previous`` links, only toward pages that hold something: rows lie
    ahead when the query found more, behind when the page started from a marker."""
    ahead, behind = paged.more, page.marker is not None
    after, before = (behind, ahead) if page.reverse else (ahead, behind)
    kept = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("marker", "page_reverse")
    ]

    def href(at: int, *extra: tuple[str, str]) -> str:
        """The query with the marker at the page's first or last item (none on an empty page:
        Neutron then pages from the end)."""
        marker = [("marker", paged.items[at].id)] if paged.items else []
        return str(request.url.replace(query=urlencode([*kept, *marker, *extra])))

    links = []
    if after:
        links.append({"rel": "next", "href": href(-1)})
    if before:
        links.append({"rel": "previous", "href": href(0, ("page_reverse", "True"))})
    return links


def _bulk(c: Collection, body: Any) -> list[dict[str, Any]] | None:
    """The objects of a bulk create (``{"networks": [...]}``), or None for a single one."""
    if not isinstance(body, dict) or c.plural not in body or c.singular in body:
        return None
    objs = body[c.plural]
    if not isinstance(objs, list) or not objs or not all(isinstance(o, dict) for o in objs):
        raise BadRequest(
            f'Resource body required: expecting {{"{c.plural}": [{{...}}, ...]}}',
            kind="HTTPBadRequest",
        )
    return objs


def _add_collection(c: Collection) -> None:
    def list_items(request: Request, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
        only = _fields(request)
        if c.page is None:
            items = c.list(cloud.network, ctx, _filters(request))
            return {c.plural: [only(c.view(item)) for item in items]}
        page = _page(request, cloud.settings.max_page)
        paged = c.page(cloud.network, ctx, _filters(request), page)
        body: dict[str, Any] = {c.plural: [only(c.view(item)) for item in paged.items]}
        links = _page_links(request, page, paged)
        if links:
            body[f"{c.plural}_links"] = links
        return body

    def show_item(
        request: Request, item_id: str, cloud: CloudDep, ctx: ContextDep
    ) -> dict[str, Any]:
        return {c.singular: _fields(request)(c.view(c.get(cloud.network, ctx, item_id)))}

    def create_all(svc: Svc, ctx: Ctx, values: list[dict[str, Any]]) -> list[Any]:
        """All or nothing, as Neutron's bulk create: a failure deletes what the request had
        created so far, then answers that failure."""
        made: list[Any] = []
        try:
            for v in values:
                made.append(c.create(svc, ctx, v))
        except Exception:
            for item in reversed(made):
                c.delete(svc, ctx, item.id)
            raise
        return made

    async def create_item(request: Request, cloud: CloudDep, ctx: ContextDep) -> JSONResponse:
        body = await json_body(request)
        objs = _bulk(c, body)
        if objs is not None:
            # every body is checked before any create
            every = [wire.parse_body(c.create_body, obj) for obj in objs]
            items = await run_in_threadpool(create_all, cloud.network, ctx, every)
            return JSONResponse({c.plural: [c.view(i) for i in items]}, status_code=201)
        obj = wire.read_body(body, c.singular)
        values = wire.parse_body(c.create_body, obj)
        item = await run_in_threadpool(c.create, cloud.network, ctx, values)
        return JSONResponse({c.singular: c.view(item)}, status_code=201)

    async def update_item(
        item_id: str, request: Request, cloud: CloudDep, ctx: ContextDep
    ) -> dict[str, Any]:
        assert c.update is not None and c.update_body is not None
        obj = wire.read_body(await json_body(request), c.singular)
        values = wire.parse_body(c.update_body, obj)
        item = await run_in_threadpool(c.update, cloud.network, ctx, item_id, values)
        return {c.singular: c.view(item)}

    def delete_item(item_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
        c.delete(cloud.network, ctx, item_id)
        return Response(status_code=204)

    item = c.path + "/{item_id}"
    router.add_api_route(c.path, list_items, methods=["GET"])
    router.add_api_route(item, show_item, methods=["GET"])
    router.add_api_route(
        c.path,
        create_item,
        methods=["POST"],
        openapi_extra=wire.wrapped(c.singular, c.create_body, c.plural),
    )
    if c.update is not None and c.update_body is not None:
        router.add_api_route(
            item,
            update_item,
            methods=["PUT"],
            openapi_extra=wire.wrapped(c.singular, c.update_body),
        )
    router.add_api_route(item, delete_item, methods=["DELETE"], status_code=204)


COLLECTIONS = (
    Collection(
        "/v2.0/networks",
        "network",
        "networks",
        wire.NetworkCreate,
        wire.NetworkUpdate,
        wire.network_view,
        list=lambda svc, ctx, f: svc.list_networks(ctx, f),
        get=lambda svc, ctx, i: svc.get_network(ctx, i),
        create=lambda svc, ctx, v: svc.create_network(ctx, **v),
        update=lambda svc, ctx, i, v: svc.update_network(ctx, i, v),
        delete=lambda svc, ctx, i: svc.delete_network(ctx, i),
        page=lambda svc, ctx, f, p: svc.page_networks(ctx, f, p),
    ),
    Collection(
        "/v2.0/network_segment_ranges",
        "network_segment_range",
        "network_segment_ranges",
        wire.SegmentRangeCreate,
        wire.SegmentRangeUpdate,
        wire.segment_range_view,
        list=lambda svc, ctx, f: svc.list_segment_ranges(ctx, f),
        get=lambda svc, ctx, i: svc.get_segment_range(ctx, i),
        create=lambda svc, ctx, v: svc.create_segment_range(ctx, **v),
        update=lambda svc, ctx, i, v: svc.update_segment_range(ctx, i, v),
        delete=lambda svc, ctx, i: svc.delete_segment_range(ctx, i),
    ),
    Collection(
        "/v2.0/subnets",
        "subnet",
        "subnets",
        wire.SubnetCreate,
        wire.SubnetUpdate,
        wire.subnet_view,
        list=lambda svc, ctx, f: svc.list_subnets(ctx, f),
        get=lambda svc, ctx, i: svc.get_subnet(ctx, i),
        create=lambda svc, ctx, v: svc.create_subnet(ctx, **v),
        update=lambda svc, ctx, i, v: svc.update_subnet(ctx, i, v),
        delete=lambda svc, ctx, i: svc.delete_subnet(ctx, i),
    ),
    Collection(
        "/v2.0/ports",
        "port",
        "ports",
        wire.PortCreate,
        wire.PortUpdate,
        wire.port_view,
        list=lambda svc, ctx, f: svc.list_ports(ctx, f),
        get=lambda svc, ctx, i: svc.get_port(ctx, i),
        create=lambda svc, ctx, v: svc.create_port(ctx, **v),
        update=lambda svc, ctx, i, v: svc.update_port(ctx, i, v),
        delete=lambda svc, ctx, i: svc.delete_port(ctx, i),
        page=lambda svc, ctx, f, p: svc.page_ports(ctx, f, p),
    ),
    Collection(
        "/v2.0/security-groups",
        "security_group",
        "security_groups",
        wire.SecurityGroupCreate,
        wire.SecurityGroupUpdate,
        wire.security_group_view,
        list=lambda svc, ctx, f: svc.list_security_groups(ctx, f),
        get=lambda svc, ctx, i: svc.get_security_group(ctx, i),
        create=lambda svc, ctx, v: svc.create_security_group(ctx, **v),
        update=lambda svc, ctx, i, v: svc.update_security_group(ctx, i, v),
        delete=lambda svc, ctx, i: svc.delete_security_group(ctx, i),
    ),
    Collection(
        "/v2.0/security-group-rules",
        "security_group_rule",
        "security_group_rules",
        wire.SecurityGroupRuleCreate,
        None,
        wire.security_group_rule_view,
        list=lambda svc, ctx, f: svc.list_security_group_rules(ctx, f),
        get=lambda svc, ctx, i: svc.get_security_group_rule(ctx, i),
        create=lambda svc, ctx, v: svc.create_security_group_rule(ctx, **v),
        update=None,
        delete=lambda svc, ctx, i: svc.delete_security_group_rule(ctx, i),
    ),
    Collection(
        "/v2.0/qos/policies",
        "policy",
        "policies",
        wire.QosPolicyCreate,
        wire.QosPolicyUpdate,
        wire.qos_policy_view,
        list=lambda svc, ctx, f: svc.list_qos_policies(ctx, f),
        get=lambda svc, ctx, i: svc.get_qos_policy(ctx, i),
        create=lambda svc, ctx, v: svc.create_qos_policy(ctx, **v),
        update=lambda svc, ctx, i, v: svc.update_qos_policy(ctx, i, v),
        delete=lambda svc, ctx, i: svc.delete_qos_policy(ctx, i),
    ),
    Collection(
        "/v2.0/trunks",
        "trunk",
        "trunks",
        wire.TrunkCreate,
        wire.TrunkUpdate,
        wire.trunk_view,
        list=lambda svc, ctx, f: svc.list_trunks(ctx, f),
        get=lambda svc, ctx, i: svc.get_trunk(ctx, i),
        create=lambda svc, ctx, v: svc.create_trunk(ctx, **v),
        update=lambda svc, ctx, i, v: svc.update_trunk(ctx, i, v),
        delete=lambda svc, ctx, i: svc.delete_trunk(ctx, i),
    ),
)

for _collection in COLLECTIONS:
    _add_collection(_collection)


# ---- trunk sub-ports ---------------------------------------------------------------------


def _sub_ports(body: Any, model: type[wire.Body]) -> Any:
    if not isinstance(body, dict) or "sub_ports" not in body:
        raise BadRequest(
            'Resource body required: expecting {"sub_ports": [...]}', kind="HTTPBadRequest"
        )
    return wire.parse_body(model, {"sub_ports": body["sub_ports"]})["sub_ports"]


@router.put(
    "/v2.0/trunks/{trunk_id}/add_subports", openapi_extra=wire.openapi_schema(wire.SubPortsAdd)
)
async def add_subports(
    trunk_id: str, request: Request, cloud: CloudDep, ctx: ContextDep
) -> dict[str, Any]:
    specs = _sub_ports(await json_body(request), wire.SubPortsAdd)
    trunk = await run_in_threadpool(cloud.network.add_subports, ctx, trunk_id, specs)
    return wire.trunk_view(trunk)


@router.put(
    "/v2.0/trunks/{trunk_id}/remove_subports",
    openapi_extra=wire.openapi_schema(wire.SubPortsRemove),
)
async def remove_subports(
    trunk_id: str, request: Request, cloud: CloudDep, ctx: ContextDep
) -> dict[str, Any]:
    ids = _sub_ports(await json_body(request), wire.SubPortsRemove)
    trunk = await run_in_threadpool(cloud.network.remove_subports, ctx, trunk_id, ids)
    return wire.trunk_view(trunk)


@router.get("/v2.0/trunks/{trunk_id}/get_subports")
def get_subports(trunk_id: str, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    return {"sub_ports": wire.trunk_view(cloud.network.get_trunk(ctx, trunk_id))["sub_ports"]}


# ---- QoS bandwidth-limit rules -------------------------------------------------------------

_RULES = "/v2.0/qos/policies/{policy_id}/bandwidth_limit_rules"


@router.get(_RULES)
def list_bandwidth_limit_rules(policy_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    rules = cloud.network.list_bandwidth_limit_rules(ctx, policy_id)
    return {"bandwidth_limit_rules": [wire.bandwidth_limit_rule_view(r) for r in rules]}


@router.get(_RULES + "/{rule_id}")
def get_bandwidth_limit_rule(policy_id: str, rule_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    rule = cloud.network.get_bandwidth_limit_rule(ctx, policy_id, rule_id)
    return {"bandwidth_limit_rule": wire.bandwidth_limit_rule_view(rule)}


@router.post(
    _RULES,
    status_code=201,
    openapi_extra=wire.wrapped("bandwidth_limit_rule", wire.BandwidthLimitRuleCreate),
)
async def create_bandwidth_limit_rule(
    policy_id: str, request: Request, cloud: CloudDep, ctx: ContextDep
) -> Any:
    body = wire.read_body(await json_body(request), "bandwidth_limit_rule")
    values = wire.parse_body(wire.BandwidthLimitRuleCreate, body)
    rule = await run_in_threadpool(
        lambda: cloud.network.create_bandwidth_limit_rule(ctx, policy_id, **values)
    )
    return {"bandwidth_limit_rule": wire.bandwidth_limit_rule_view(rule)}


@router.put(
    _RULES + "/{rule_id}",
    openapi_extra=wire.wrapped("bandwidth_limit_rule", wire.BandwidthLimitRuleUpdate),
)
async def update_bandwidth_limit_rule(
    policy_id: str, rule_id: str, request: Request, cloud: CloudDep, ctx: ContextDep
) -> Any:
    body = wire.read_body(await json_body(request), "bandwidth_limit_rule")
    values = wire.parse_body(wire.BandwidthLimitRuleUpdate, body)
    rule = await run_in_threadpool(
        cloud.network.update_bandwidth_limit_rule, ctx, policy_id, rule_id, values
    )
    return {"bandwidth_limit_rule": wire.bandwidth_limit_rule_view(rule)}


@router.delete(_RULES + "/{rule_id}", status_code=204)
def delete_bandwidth_limit_rule(
    policy_id: str, rule_id: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    cloud.network.delete_bandwidth_limit_rule(ctx, policy_id, rule_id)
    return Response(status_code=204)


# ---- the v2.0 root -------------------------------------------------------------------------


@router.get("/v2.0")
@router.get("/v2.0/")
def version_root(request: Request) -> dict[str, Any]:
    base = f"{base_url(request)}/networking/v2.0"
    return {
        "resources": [
            {
                "name": c.singular,
                "collection": c.plural,
                "links": [{"rel": "self", "href": f"{base}{c.path.removeprefix('/v2.0')}"}],
            }
            for c in COLLECTIONS
        ]
    }


# ---- quotas --------------------------------------------------------------------------------

_QUOTA = "/v2.0/quotas/{project_id}"


@router.get("/v2.0/quotas")
def list_quotas(cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    quotas = cloud.network.list_quotas(ctx)
    return {"quotas": [{**limits, "project_id": pid} for pid, limits in quotas.items()]}


@router.get(_QUOTA)
@router.get(_QUOTA + "/default")
def get_quota(project_id: str, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    return {"quota": cloud.network.get_quota(ctx, project_id)}


@router.get(_QUOTA + "/details")
@router.get(_QUOTA + "/details.json")
def get_quota_details(project_id: str, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    usage = cloud.network.quota_usage(ctx, project_id)
    return {
        "quota": {
            name: {"used": used, "limit": limit, "reserved": 0}
            for name, (used, limit) in usage.items()
        }
    }


@router.put(_QUOTA, openapi_extra=wire.wrapped("quota", wire.QuotaUpdate))
async def update_quota(
    project_id: str, request: Request, cloud: CloudDep, ctx: ContextDep
) -> dict[str, Any]:
    values = wire.parse_body(wire.QuotaUpdate, wire.read_body(await json_body(request), "quota"))
    return {"quota": cloud.network.update_quota(ctx, project_id, values)}


@router.delete(_QUOTA, status_code=204)
def reset_quota(project_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.network.reset_quota(ctx, project_id)
    return Response(status_code=204)
