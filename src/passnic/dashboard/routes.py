"""The dashboard's pages under ``/ui`` (``/`` sends a browser there): sign-in, topology, hosts,
networks and ports, servers, fabric. Every page and action calls Passnic's APIs in-process with
the signed-in user's token (`client.Api`); the policy table only decides which links and buttons
a user is shown, the APIs decide what they may do."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from passnic import __version__, policy
from passnic.context import RequestContext
from passnic.dashboard import topology
from passnic.dashboard.client import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_CSRF_COOKIE,
    TOKEN_COOKIE,
    Api,
    ApiError,
    LoginRequired,
    authenticate,
    csrf_for,
    new_login_csrf,
    same,
    session_context,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
STATIC = Path(__file__).parent / "static"
VENDOR_FILES = ("htmx.min.js", "cytoscape.min.js")
templates = Environment(
    loader=PackageLoader("passnic.dashboard"), autoescape=select_autoescape(), enable_async=False
)
SECURITY_HEADERS = {
    # Every script is Passnic's own file: no inline script, nothing from elsewhere. Styles may
    # be inline: Cytoscape.js sets its canvas's style attributes.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
IFCLASSES = ("none", "data", "pci-passthrough", "pci-sriov", "platform")
SERVER_ACTIONS = {
    "stop": {"os-stop": None},
    "start": {"os-start": None},
    "migrate": {"migrate": None},
    "confirm": {"confirmResize": None},
    "revert": {"revertResize": None},
}


class Session:
    """The signed-in user of one request: their token, who they are, and their API client."""

    def __init__(self, request: Request, token: str, ctx: RequestContext) -> None:
        self.request = request
        self.token = token
        self.ctx = ctx
        self.api = Api(request, token)
        self.csrf = csrf_for(token)

    @property
    def admin(self) -> bool:
        """From the policy table: the fabric and inventory are the admin's."""
        return policy.allowed(self.ctx, "fabric:admin")

    def page(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.request, name, status, session=self, **values)

    async def form(self) -> dict[str, str]:
        """The posted form, once its CSRF token is checked (a 403 page otherwise)."""
        form = await read_form(self.request)
        sent = form.get(CSRF_FIELD) or self.request.headers.get(CSRF_HEADER)
        if not same(sent, self.csrf):
            raise CsrfRefused()
        return form


class CsrfRefused(Exception):
    pass


async def session(request: Request) -> Session:
    token, ctx = session_context(request)
    return Session(request, token, ctx)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (the only kind the dashboard posts): the last value of each field."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates.get_template(name).render(
        request=request,
        version=__version__,
        vendor_ok=all((STATIC / "vendor" / f).is_file() for f in VENDOR_FILES),
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def set_cookie(response: Response, request: Request, name: str, value: str, path: str) -> None:
    """HttpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure on
    HTTPS."""
    response.set_cookie(
        name, value, httponly=True, samesite="strict", path=path,
        secure=request.url.scheme == "https",
    )  # fmt: skip


def htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def go(request: Request, url: str) -> Response:
    """Redirect a page (303) or, for htmx, the whole browser window."""
    if htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def install(app: FastAPI) -> None:
    """Mount the dashboard on the app: its pages, its static files, and `/` for browsers."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        """A page goes to the sign-in form; an htmx request sends the whole window there."""
        response = go(request, "/ui/login")
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    @app.exception_handler(ApiError)
    async def _refused(request: Request, exc: ApiError) -> Response:
        """An API's refusal that no page expected (a server deleted meanwhile), in its words."""
        return render(request, "error.html", exc.status, message=exc.message)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _exc: CsrfRefused) -> Response:
        return render(request, "error.html", 403, message="The form was stale: reload the page.")


def wants_html(request: Request) -> bool:
    """A browser asking for `/` (its Accept lists HTML first); API clients keep the JSON."""
    accept = request.headers.get("accept", "")
    return accept.startswith("text/html") or accept.startswith("application/xhtml")


# ---- signing in and out ------------------------------------------------------------------


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/ui/topology", status_code=303)


def _login_page(request: Request, **values: Any) -> HTMLResponse:
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = render(request, "login.html", csrf=csrf, **values)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf, "/ui/login")
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    if not same(form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, error="The form was stale: try again.", form=form)
    try:
        token = await authenticate(
            request,
            form.get("domain") or "Default",
            form.get("user", ""),
            form.get("password", ""),
            form.get("project", ""),
        )
    except ApiError as exc:
        return _login_page(request, error=exc.message, form=form)
    response = RedirectResponse("/ui/topology", status_code=303)
    set_cookie(response, request, TOKEN_COOKIE, token, "/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    s = await session(request)
    await s.form()
    with contextlib.suppress(ApiError, LoginRequired):  # signed out either way
        await s.api.call("DELETE", "/identity/v3/auth/tokens", headers={"X-Subject-Token": s.token})
    response = go(request, "/ui/login")
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


@router.post("/project")
async def switch_project(request: Request) -> Response:
    """Passnic issues tokens for the password method only: switching asks for it again."""
    s = await session(request)
    form = await s.form()
    try:
        token = await authenticate(
            request, "Default", s.ctx.user_name, form.get("password", ""), form.get("project", "")
        )
    except ApiError as exc:
        return s.page("error.html", message=exc.message)
    response = go(request, "/ui/topology")
    set_cookie(response, request, TOKEN_COOKIE, token, "/")
    return response


@router.get("/projects")
async def my_projects(request: Request) -> Response:
    s = await session(request)
    projects = (await s.api.get("/identity/v3/auth/projects"))["projects"]
    return s.page("_projects.html", projects=projects)


# ---- topology ----------------------------------------------------------------------------


@router.get("/topology")
async def topology_page(request: Request) -> Response:
    s = await session(request)
    return s.page("topology.html", tab="topology")


@router.get("/topology.json")
async def topology_json(request: Request) -> Response:
    s = await session(request)
    data = topology.build(await topology.gather(s.api, s.admin))
    return JSONResponse(data, headers=SECURITY_HEADERS)


async def _trace(s: Session, url: str, tag: str) -> HTMLResponse:
    """Where frames from the traced NICs land, from their switch ports' actual configuration:
    one tag asked for, or by default the untagged frame and, on a trunk, a frame tagged with each
    of its extra VLANs (where the guest reaches other networks). ``url`` is the fabric API's
    trace under /ui."""
    api = "/fabric/v1" + url.removeprefix("/ui")
    tag = tag.strip()
    values: dict[str, Any] = {"url": url, "tag": tag, "traces": [], "port": None, "problem": None}
    if tag and not (tag.isdigit() and 0 <= int(tag) <= 4095):
        values["problem"] = "A VLAN tag is a number from 0 to 4095."
        return s.page("_trace.html", **values)
    try:
        found = await s.api.get(api, **({"tag": int(tag)} if tag else {}))
        traces = found["traces"]
        if not tag:
            extra = set().union(*(topology.port_vlans(t["actual"])[1] for t in traces))
            for t in sorted(extra):
                traces += (await s.api.get(api, tag=t))["traces"]
        values.update(traces=traces, port=found.get("port"))
    except ApiError as exc:
        values["problem"] = exc.message
    return s.page("_trace.html", **values)


@router.get("/servers/{server_id}/trace")
async def trace(request: Request, server_id: str, tag: str = "") -> Response:
    """A server's NICs (a member's own servers too: the API decides)."""
    return await _trace(await session(request), topology.server_trace(server_id), tag)


@router.get("/switches/{switch}/ports/{port:path}/trace")
async def port_trace(request: Request, switch: str, port: str, tag: str = "") -> Response:
    """The NIC cabled to a switch port, held or free: a free NIC's port should drop every
    frame, but what it does is what its actual configuration says."""
    return await _trace(await session(request), topology.port_trace(switch, port), tag)


# ---- hosts: the StarlingX admin procedure ------------------------------------------------


async def _host_view(s: Session, host: dict[str, Any]) -> dict[str, Any]:
    base = f"/inventory/v1/ihosts/{host['uuid']}"
    ports, ifaces, assigned = await asyncio.gather(
        s.api.get(f"{base}/ethernet_ports"),
        s.api.get(f"{base}/iinterfaces"),
        s.api.get(f"{base}/interface_datanetworks"),
    )
    by_iface = {p["interface_uuid"]: p for p in ports["ethernet_ports"]}
    nets: dict[str, list[str]] = {}
    for a in assigned["interface_datanetworks"]:
        nets.setdefault(a["interface_uuid"], []).append(a["datanetwork_name"])
    rows = [
        {"iface": i, "port": by_iface.get(i["uuid"]), "datanetworks": nets.get(i["uuid"], [])}
        for i in sorted(ifaces["iinterfaces"], key=lambda i: i["ifname"])
    ]
    return {"host": host, "rows": rows}


async def _host_card(s: Session, ref: str, error: str | None = None) -> HTMLResponse:
    host = await s.api.get(f"/inventory/v1/ihosts/{ref}")
    datanets = (await s.api.get("/inventory/v1/datanetworks"))["datanetworks"]
    view = await _host_view(s, host)
    return s.page("_host.html", h=view, datanets=datanets, ifclasses=IFCLASSES, error=error)


@router.get("/hosts")
async def hosts_page(request: Request) -> Response:
    s = await session(request)
    if not s.admin:
        return s.page("error.html", 403, message="Hosts are the admin's.", tab="hosts")
    hosts = (await s.api.get("/inventory/v1/ihosts"))["ihosts"]
    datanets = (await s.api.get("/inventory/v1/datanetworks"))["datanetworks"]
    views = await asyncio.gather(*(_host_view(s, h) for h in hosts))
    return s.page("hosts.html", tab="hosts", hosts=views, datanets=datanets, ifclasses=IFCLASSES)


async def _inventory_step(s: Session, host: str, method: str, path: str, body: Any) -> Response:
    """One step of the procedure; sysinv's refusal is shown in the host's card."""
    try:
        await s.api.call(method, path, body)
    except ApiError as exc:
        return await _host_card(s, host, error=exc.message)
    return await _host_card(s, host)


@router.post("/hosts/{host}/{action}")
async def host_action(request: Request, host: str, action: str) -> Response:
    s = await session(request)
    await s.form()
    if action not in ("lock", "unlock"):
        return await _host_card(s, host, error=f"Unknown host action {action}.")
    patch = [{"op": "replace", "path": "/action", "value": action}]
    return await _inventory_step(s, host, "PATCH", f"/inventory/v1/ihosts/{host}", patch)


@router.post("/hosts/{host}/interfaces/{interface}/class")
async def interface_class(request: Request, host: str, interface: str) -> Response:
    s = await session(request)
    form = await s.form()
    patch = [{"op": "replace", "path": "/ifclass", "value": form.get("ifclass", "")}]
    return await _inventory_step(s, host, "PATCH", f"/inventory/v1/iinterfaces/{interface}", patch)


@router.post("/hosts/{host}/interfaces/{interface}/datanetwork")
async def interface_datanetwork(request: Request, host: str, interface: str) -> Response:
    s = await session(request)
    form = await s.form()
    body = {"interface_uuid": interface, "datanetwork_uuid": form.get("datanetwork", "")}
    return await _inventory_step(s, host, "POST", "/inventory/v1/interface_datanetworks", body)


# ---- networks and ports ------------------------------------------------------------------


async def _networks(s: Session, error: str | None = None) -> HTMLResponse:
    nets, subnets, ports, ranges, projects = await asyncio.gather(
        s.api.get("/networking/v2.0/networks"),
        s.api.get("/networking/v2.0/subnets"),
        s.api.get("/networking/v2.0/ports"),
        s.api.get_or({"network_segment_ranges": []}, "/networking/v2.0/network_segment_ranges"),
        s.api.get_or({"projects": []}, "/identity/v3/projects"),
    )
    names = {p["id"]: p["name"] for p in projects["projects"]}
    cidrs: dict[str, list[str]] = {}
    for sub in subnets["subnets"]:
        cidrs.setdefault(sub["network_id"], []).append(sub["cidr"])
    net_labels = {
        n["id"]: n["name"] if seg is None else f"{n['name']} (VLAN {seg})"
        for n in nets["networks"]
        for seg in [n.get("provider:segmentation_id")]
    }
    return s.page(
        "networks.html",
        tab="networks",
        networks=nets["networks"],
        cidrs=cidrs,
        ports=[p for p in ports["ports"] if p.get("binding:vnic_type") == "direct-physical"],
        ranges=ranges["network_segment_ranges"],
        projects=names,
        net_labels=net_labels,
        error=error,
    )


@router.get("/networks")
async def networks_page(request: Request) -> Response:
    return await _networks(await session(request))


@router.post("/networks")
async def create_network(request: Request) -> Response:
    s = await session(request)
    form = await s.form()
    net: dict[str, Any] = {"name": form.get("name", "")}
    if s.admin:
        if form.get("project"):
            net["project_id"] = form["project"]
        if form.get("vlan"):
            if not form["vlan"].isdigit():
                return await _networks(s, "A VLAN is a number from 1 to 4094.")
            net.update(
                {
                    "provider:network_type": "vlan",
                    "provider:physical_network": form.get("physnet") or "group0-data0",
                    "provider:segmentation_id": int(form["vlan"]),
                }
            )
    try:
        created = (await s.api.call("POST", "/networking/v2.0/networks", {"network": net}))[
            "network"
        ]
        if form.get("cidr"):
            subnet = {
                "name": f"{created['name']}-subnet",
                "network_id": created["id"],
                "cidr": form["cidr"],
                "ip_version": 4,
            }
            await s.api.call("POST", "/networking/v2.0/subnets", {"subnet": subnet})
    except ApiError as exc:
        return await _networks(s, exc.message)
    return go(request, "/ui/networks")


# ---- servers -----------------------------------------------------------------------------


async def _server_list(s: Session) -> list[dict[str, Any]]:
    scope = {"all_tenants": 1} if s.admin else {}
    found = await s.api.get("/compute/v2.1/servers/detail", **scope)
    servers: list[dict[str, Any]] = found["servers"]
    return sorted(servers, key=lambda sv: sv["name"])


async def _servers(s: Session, error: str | None = None) -> HTMLResponse:
    servers, flavors, images, nets = await asyncio.gather(
        _server_list(s),
        s.api.get("/compute/v2.1/flavors/detail"),
        s.api.get("/image/v2/images"),
        s.api.get("/networking/v2.0/networks"),
    )
    return s.page(
        "servers.html",
        tab="servers",
        servers=servers,
        flavors=flavors["flavors"],
        images=images["images"],
        networks=nets["networks"],
        error=error,
    )


@router.get("/servers")
async def servers_page(request: Request) -> Response:
    return await _servers(await session(request))


@router.get("/servers/table")
async def servers_table(request: Request) -> Response:
    s = await session(request)
    return s.page("_servers_table.html", servers=await _server_list(s))


@router.post("/servers")
async def boot(request: Request) -> Response:
    """Boot with a new direct-physical port on the chosen network, or with no port (a flavor
    whose PCI alias brings the NIC)."""
    s = await session(request)
    form = await s.form()
    network = form.get("network", "")
    server: dict[str, Any] = {
        "name": form.get("name", ""),
        "flavorRef": form.get("flavor", ""),
        "imageRef": form.get("image", ""),
        "networks": "none",
    }
    port_id = None
    try:
        if network:
            port = {
                "network_id": network,
                "binding:vnic_type": "direct-physical",
                "name": f"{server['name']}-port",
            }
            port_id = (await s.api.call("POST", "/networking/v2.0/ports", {"port": port}))["port"][
                "id"
            ]
            server["networks"] = [{"port": port_id}]
        created = await s.api.call("POST", "/compute/v2.1/servers", {"server": server})
    except ApiError as exc:
        if port_id:
            await s.api.call("DELETE", f"/networking/v2.0/ports/{port_id}")
        return await _servers(s, exc.message)
    return go(request, f"/ui/servers/{created['server']['id']}")


async def _server_live(s: Session, server_id: str, notice: str | None = None) -> dict[str, Any]:
    server = (await s.api.get(f"/compute/v2.1/servers/{server_id}"))["server"]
    listed = (await s.api.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions"))[
        "instanceActions"
    ]
    actions = await asyncio.gather(
        *(
            s.api.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions/{a['request_id']}")
            for a in listed
        )
    )
    try:
        console = (
            await s.api.call(
                "POST",
                f"/compute/v2.1/servers/{server_id}/action",
                {"os-getConsoleOutput": {"length": 50}},
            )
        )["output"]
    except ApiError as exc:
        console = f"({exc.message})"
    fabric = await s.api.get_or({"server": {"ports": []}}, f"/fabric/v1/servers/{server_id}")
    fault = server.get("fault")
    stages = []
    if fault:
        head, _, rest = fault["message"].partition(": ")
        stages = [head, *rest.split("; ")] if rest else [fault["message"]]
    return {
        "server": server,
        "actions": sorted(
            (a["instanceAction"] for a in actions), key=lambda a: a["start_time"], reverse=True
        ),
        "console": console,
        "fabric_ports": fabric["server"]["ports"],
        "fault_stages": stages,
        "notice": notice,
    }


@router.get("/servers/{server_id}")
async def server_page(request: Request, server_id: str) -> Response:
    s = await session(request)
    try:
        live = await _server_live(s, server_id)
    except ApiError as exc:
        return s.page("error.html", exc.status, message=exc.message, tab="servers")
    return s.page("server.html", tab="servers", **live)


@router.get("/servers/{server_id}/live")
async def server_live(request: Request, server_id: str) -> Response:
    s = await session(request)
    try:
        live = await _server_live(s, server_id)
    except ApiError as exc:
        if exc.status == 404:
            return go(request, "/ui/servers")
        raise
    return s.page("_server_live.html", **live)


@router.post("/servers/{server_id}/action/{action}")
async def server_action(request: Request, server_id: str, action: str) -> Response:
    s = await session(request)
    await s.form()
    path = f"/compute/v2.1/servers/{server_id}"
    notice = None
    try:
        if action == "delete":
            await s.api.call("DELETE", path)
            return go(request, "/ui/servers")
        if action not in SERVER_ACTIONS:
            notice = f"Unknown action {action}."
        else:
            await s.api.call("POST", f"{path}/action", SERVER_ACTIONS[action])
    except ApiError as exc:
        notice = exc.message
    return s.page("_server_live.html", **await _server_live(s, server_id, notice))


# ---- fabric ------------------------------------------------------------------------------


async def _fabric(s: Session) -> dict[str, Any]:
    switches = (await s.api.get("/fabric/v1/switches"))["switches"]
    ports = await asyncio.gather(
        *(s.api.get(f"/fabric/v1/switches/{sw['id']}/ports") for sw in switches)
    )
    alarms = (await s.api.get("/fabric/v1/alarms", resolved="true"))["alarms"]
    return {
        "switches": [
            {"switch": sw, "ports": p["ports"]} for sw, p in zip(switches, ports, strict=True)
        ],
        "active": [a for a in alarms if a["resolved_at"] is None],
        "resolved": sorted(
            (a for a in alarms if a["resolved_at"] is not None),
            key=lambda a: a["resolved_at"],
            reverse=True,
        )[:20],
    }


@router.get("/fabric")
async def fabric_page(request: Request) -> Response:
    s = await session(request)
    if not s.admin:
        return s.page("error.html", 403, message="The fabric is the admin's.", tab="fabric")
    return s.page("fabric.html", tab="fabric", **await _fabric(s))


@router.get("/fabric/live")
async def fabric_live(request: Request) -> Response:
    s = await session(request)
    return s.page("_fabric_live.html", **await _fabric(s))


@router.post("/fabric/audit")
async def fabric_audit(request: Request) -> Response:
    s = await session(request)
    form = await s.form()
    fix = form.get("fix") == "1"
    try:
        result = await s.api.call("POST", "/fabric/v1/audit", {"fix": fix})
    except ApiError as exc:
        result = {"ports": [], "errors": [exc.message]}
    return s.page("_audit.html", result=result, fix=fix, **await _fabric(s))
