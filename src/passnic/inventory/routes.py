"""The inventory API under ``/inventory``: sysinv's v1 paths, collection keys, JSON fields and
fault format (research §1.2), so StarlingX's ``system`` vocabulary works unchanged.

Everything about the wire lives here: JSON-patch bodies become plain attribute changes for
the service, and the service's objects become sysinv's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from passnic.context import RequestContext
from passnic.db import Paged, isotime
from passnic.errors import BadRequest
from passnic.inventory.models import (
    DataNetwork,
    EthernetPort,
    Host,
    Interface,
    InterfaceDataNetwork,
)
from passnic.inventory.report import HostReport
from passnic.inventory.service import InventoryService
from passnic.web import CloudDep, ContextDep, base_url, register_fault_format

router = APIRouter(prefix="/inventory", tags=["inventory"])


def sysinv_fault(status: int, kind: str, message: str) -> dict[str, Any]:
    """sysinv's parsable_error shape: the fault is itself a JSON string."""
    fault = {
        "faultstring": message,
        "faultcode": "Client" if status < 500 else "Server",
        "debuginfo": None,
    }
    return {"error_message": json.dumps(fault)}


register_fault_format("/inventory", sysinv_fault)


# -- rendering --------------------------------------------------------------------------------


def _links(request: Request, collection: str, uuid: str) -> list[dict[str, str]]:
    base = base_url(request) + "/inventory"
    return [
        {"href": f"{base}/v1/{collection}/{uuid}", "rel": "self"},
        {"href": f"{base}/{collection}/{uuid}", "rel": "bookmark"},
    ]


def passthrough(prerequisites: list[str] | None) -> str:
    """Whether the host can run passthrough guests, and if not why (its agent's report)."""
    if prerequisites is None:
        return "unknown (no agent report)"
    return "ok" if not prerequisites else "lacking: " + "; ".join(prerequisites)


def host_json(request: Request, h: Host) -> dict[str, Any]:
    return {
        "id": h.id,
        "uuid": h.uuid,
        "hostname": h.hostname,
        "personality": h.personality,
        "subfunctions": h.subfunctions,
        "administrative": h.administrative,
        "operational": h.operational,
        "availability": h.availability,
        "action": h.action,
        "vcpus": h.vcpus,
        "memory_mb": h.memory_mb,
        "disk_gb": h.disk_gb,
        "mgmt_mac": h.mgmt_mac,
        "passthrough": passthrough(h.prerequisites),
        "created_at": isotime(h.created_at),
        "updated_at": isotime(h.updated_at),
        "links": _links(request, "ihosts", h.uuid),
    }


def port_json(request: Request, p: EthernetPort) -> dict[str, Any]:
    """The generic port view (``/ports``): no MAC, as in sysinv."""
    return {
        "uuid": p.uuid,
        "type": "ethernet",
        "name": p.name,
        "namedisplay": None,
        "pciaddr": p.pciaddr,
        "dev_id": p.dev_id,
        "pclass": p.pclass,
        "pvendor": p.pvendor,
        "pdevice": p.pdevice,
        "psvendor": p.psvendor,
        "psdevice": p.psdevice,
        "numa_node": p.numa_node,
        "sriov_totalvfs": p.sriov_totalvfs,
        "sriov_numvfs": p.sriov_numvfs,
        "sriov_vfs_pci_address": p.sriov_vfs_pci_address,
        "sriov_vf_driver": p.sriov_vf_driver,
        "sriov_vf_pdevice_id": p.sriov_vf_pdevice_id,
        "driver": p.driver,
        "dpdksupport": False,
        "host_uuid": p.host_uuid,
        "interface_uuid": p.interface_uuid,
        "node_uuid": p.node_uuid,
        "created_at": isotime(p.created_at),
        "updated_at": isotime(p.updated_at),
        "links": _links(request, "ports", p.uuid),
    }


def ethernet_port_json(request: Request, p: EthernetPort) -> dict[str, Any]:
    return {
        **port_json(request, p),
        "mac": p.mac,
        "mtu": p.mtu,
        "speed": p.speed,
        "link_mode": p.link_mode,
        "links": _links(request, "ethernet_ports", p.uuid),
    }


def interface_json(request: Request, i: Interface) -> dict[str, Any]:
    ports_href = _links(request, "iinterfaces", i.uuid + "/ports")
    return {
        "uuid": i.uuid,
        "ifname": i.ifname,
        "iftype": i.iftype,
        "ifclass": i.ifclass,
        "imac": i.imac,
        "imtu": i.imtu,
        "aemode": i.aemode,
        "txhashpolicy": i.txhashpolicy,
        "vlan_id": i.vlan_id,
        "uses": [u.ifname for u in i.uses],
        "used_by": [u.ifname for u in i.used_by],
        "forihostid": i.host.id,
        "ihost_uuid": i.host_uuid,
        "sriov_numvfs": i.sriov_numvfs,
        "sriov_vf_driver": i.sriov_vf_driver,
        "ptp_role": i.ptp_role,
        "max_tx_rate": i.max_tx_rate,
        "monitoring": i.monitoring,
        "created_at": isotime(i.created_at),
        "updated_at": isotime(i.updated_at),
        "links": _links(request, "iinterfaces", i.uuid),
        "ports": ports_href,
    }


def datanetwork_json(request: Request, dn: DataNetwork) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": dn.id,
        "uuid": dn.uuid,
        "name": dn.name,
        "network_type": dn.network_type,
        "mtu": dn.mtu,
        "description": dn.description,
    }
    if dn.network_type == "vxlan":
        body.update(
            multicast_group=dn.multicast_group, port_num=dn.port_num, ttl=dn.ttl, mode=dn.mode
        )
    body.update(
        created_at=isotime(dn.created_at),
        updated_at=isotime(dn.updated_at),
        links=_links(request, "datanetworks", dn.uuid),
    )
    return body


def interface_datanetwork_json(a: InterfaceDataNetwork) -> dict[str, Any]:
    return {
        "id": a.id,
        "uuid": a.uuid,
        "forihostid": a.interface.host.id,
        "interface_uuid": a.interface_uuid,
        "ifname": a.interface.ifname,
        "datanetwork_id": a.datanetwork.id,
        "datanetwork_uuid": a.datanetwork_uuid,
        "datanetwork_name": a.datanetwork.name,
        "created_at": isotime(a.created_at),
        "updated_at": isotime(a.updated_at),
    }


# -- request bodies ---------------------------------------------------------------------------
# The models give each body its JSON shape and types (and /openapi.json its documentation); the
# service keeps sysinv's checks and words for the values. Numbers and booleans also come as
# text, as the ``system`` CLI sends its options; unknown attributes reach the service, which
# names them as sysinv does.

Text = Annotated[str, Field(max_length=255)]
CliInt = int | Annotated[str, Field(max_length=32)]
CliBool = bool | Annotated[str, Field(max_length=8)]
Names = list[Text] | Annotated[str, Field(max_length=4096)]
"""A list of names or uuids, or sysinv's comma-separated form."""


class _Body(BaseModel):
    """Strict JSON types: no 5 for a name, no [1] for a number."""

    model_config = ConfigDict(strict=True, extra="allow")

    def given(self) -> dict[str, Any]:
        """The attributes the caller sent (unknown ones too), for the service to check."""
        return self.model_dump(exclude_unset=True)


class HostAdd(_Body):
    """``system host-add``."""

    hostname: Text
    personality: Text
    mgmt_mac: Text | None = None


class InterfaceCreate(_Body):
    """``system host-if-add``: ``ports`` for an ethernet interface, ``uses`` for the others."""

    ihost_uuid: Text
    ifname: Text
    iftype: Text = "ethernet"
    ifclass: Text | None = None
    imtu: CliInt = 1500
    vlan_id: CliInt | None = None
    aemode: Text | None = None
    """ae only: active_standby (the default), balanced or 802.3ad."""
    txhashpolicy: Text | None = None
    uses: Names = []
    ports: Names = []
    sriov_numvfs: CliInt = 0
    sriov_vf_driver: Text | None = None
    ptp_role: Text = "none"
    max_tx_rate: CliInt | None = None
    monitoring: CliBool = False


class DataNetworkCreate(_Body):
    """``system datanetwork-add``; multicast_group, port_num, ttl and mode are vxlan's."""

    name: Text
    network_type: Text
    mtu: CliInt = 1500
    description: Text | None = None
    multicast_group: Text | None = None
    port_num: CliInt | None = None
    ttl: CliInt | None = None
    mode: Text | None = None
    """vxlan only: dynamic (the default) or static."""


class InterfaceDataNetworkAssign(_Body):
    """``system interface-datanetwork-assign``: exactly these two."""

    model_config = ConfigDict(strict=True, extra="forbid")
    interface_uuid: Text
    datanetwork_uuid: Text


class PatchOperation(_Body):
    """One JSON patch operation as the ``system`` CLI sends them: ``replace`` (or ``add``) of a
    top-level attribute such as ``/action`` or ``/imtu``."""

    model_config = ConfigDict(strict=True, extra="ignore")
    op: Text
    path: Text
    value: Any


Patch = Annotated[list[PatchOperation], Field(max_length=64)]


def _changes(patch: list[PatchOperation]) -> dict[str, object]:
    """A JSON patch as attribute -> value."""
    changes: dict[str, object] = {}
    for op in patch:
        if op.op not in ("replace", "add"):
            raise BadRequest(f"Patch operation '{op.op}' is not supported; use 'replace'.")
        if not op.path.startswith("/") or "/" in op.path[1:] or len(op.path) < 2:
            raise BadRequest(f"Invalid patch path '{op.path}'.")
        changes[op.path[1:]] = op.value
    return changes


#: /action values of a host PATCH (cgtsclient host-lock/-unlock). Passnic has none of the
#: controller and storage checks that unsafe bypasses; force locks a host whose servers hold
#: pci-passthrough NICs (they stay).
HOST_ACTIONS: dict[str, Callable[[InventoryService, RequestContext, str], Host]] = {
    "lock": lambda svc, ctx, host: svc.lock_host(ctx, host),
    "force-lock": lambda svc, ctx, host: svc.lock_host(ctx, host, force=True),
    "force-unsafe-lock": lambda svc, ctx, host: svc.lock_host(ctx, host, force=True),
    "unlock": lambda svc, ctx, host: svc.unlock_host(ctx, host),
    "force-unlock": lambda svc, ctx, host: svc.unlock_host(ctx, host, force=True),
}


# -- version documents (no token) -------------------------------------------------------------


def _v1(request: Request) -> dict[str, Any]:
    return {
        "id": "v1",
        "links": [{"href": base_url(request) + "/inventory/v1/", "rel": "self"}],
    }


@router.get("")
def versions(request: Request) -> dict[str, Any]:
    v1 = _v1(request)
    return {
        "name": "Passnic inventory API (StarlingX sysinv v1)",
        "description": "Hosts, ports, interfaces and data networks.",
        "versions": [v1],
        "default_version": v1,
    }


@router.get("/v1")
def version_v1(request: Request) -> dict[str, Any]:
    base = base_url(request) + "/inventory/v1"
    collections = ("ihosts", "iinterfaces", "ports", "ethernet_ports", "datanetworks")
    return {
        **_v1(request),
        "media_types": [
            {"base": "application/json", "type": "application/vnd.openstack.sysinv.v1+json"}
        ],
        **{
            name: [{"href": f"{base}/{name}/", "rel": "self"}]
            for name in (*collections, "interface_datanetworks")
        },
    }


# -- agents -----------------------------------------------------------------------------------


@router.post("/v1/agent/reports")
def agent_report(
    report: HostReport, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    return host_json(request, cloud.inventory.report_host(ctx, report))


# -- hosts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    """sysinv's list parameters: ``limit`` (0 or none, or above the maximum page: the maximum
    page), ``marker`` (the uuid of the last item seen), ``sort_key`` and ``sort_dir``."""

    limit: int
    marker: str | None
    sort_key: str
    descending: bool


def paging(request: Request, max_page: int) -> Paging:
    q = request.query_params
    raw = q.get("limit", "0")
    if not (raw.removeprefix("-").isascii() and raw.removeprefix("-").isdecimal()):
        raise BadRequest(
            f"Invalid input for field/attribute limit. Value: '{raw}'. unable to convert to int"
        )
    if int(raw) < 0:
        raise BadRequest("Limit must be positive")
    sort_dir = q.get("sort_dir", "asc")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(
            f"Invalid sort direction: {sort_dir}. Acceptable values are 'asc' or 'desc'"
        )
    limit = min(int(raw), max_page) or max_page
    return Paging(limit, q.get("marker"), q.get("sort_key", "id"), sort_dir == "desc")


def page_json(
    request: Request, key: str, items: list[dict[str, Any]], paged: Paged[Any], limit: int
) -> dict[str, Any]:
    """A sysinv collection: its items and, when more follow, the ``next`` page's address."""
    body: dict[str, Any] = {key: items}
    if paged.more:
        kept = request.query_params.multi_items()
        query = [(k, v) for k, v in kept if k not in ("limit", "marker")]
        next_query = [*query, ("limit", str(limit)), ("marker", paged.items[-1].uuid)]
        body["next"] = str(request.url.replace(query=urlencode(next_query)))
    return body


@router.get("/v1/ihosts")
def list_hosts(request: Request, ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    p = paging(request, cloud.settings.max_page)
    paged = cloud.inventory.page_hosts(
        ctx, limit=p.limit, marker=p.marker, sort_key=p.sort_key, descending=p.descending
    )
    hosts = [host_json(request, h) for h in paged.items]
    return page_json(request, "ihosts", hosts, paged, p.limit)


@router.get("/v1/ihosts/{host}")
def get_host(host: str, request: Request, ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    return host_json(request, cloud.inventory.get_host(ctx, host))


@router.post("/v1/ihosts")
def add_host(body: HostAdd, request: Request, ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    return host_json(request, cloud.inventory.add_host(ctx, body.given()))


@router.patch("/v1/ihosts/{host}")
def patch_host(
    host: str, body: Patch, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    """Either an action (/action: lock, unlock...) or attributes (host-update), not both."""
    changes = _changes(body)
    if "action" not in changes:
        return host_json(request, cloud.inventory.update_host(ctx, host, changes))
    other = sorted(set(changes) - {"action"})
    if other:
        raise BadRequest(
            f"Host attribute(s) '{', '.join(other)}' cannot change with an action: patch /action "
            "alone, then the attributes."
        )
    action = changes["action"]
    if not isinstance(action, str) or action not in HOST_ACTIONS:
        raise BadRequest(f"Invalid host action '{action}'; use one of {', '.join(HOST_ACTIONS)}.")
    return host_json(request, HOST_ACTIONS[action](cloud.inventory, ctx, host))


@router.delete("/v1/ihosts/{host}", status_code=204)
def delete_host(host: str, ctx: ContextDep, cloud: CloudDep) -> Response:
    cloud.inventory.delete_host(ctx, host)
    return Response(status_code=204)


@router.get("/v1/ihosts/{host}/iinterfaces")
def list_host_interfaces(
    host: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    ifaces = cloud.inventory.list_interfaces(ctx, host)
    return {"iinterfaces": [interface_json(request, i) for i in ifaces]}


@router.get("/v1/ihosts/{host}/ports")
def list_host_ports(
    host: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    return {"ports": [port_json(request, p) for p in cloud.inventory.list_ports(ctx, host)]}


@router.get("/v1/ihosts/{host}/ethernet_ports")
def list_host_ethernet_ports(
    host: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    ports = cloud.inventory.list_ports(ctx, host)
    return {"ethernet_ports": [ethernet_port_json(request, p) for p in ports]}


@router.get("/v1/ihosts/{host}/lldp_neighbours")
def list_host_lldp_neighbours(
    host: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    """What each port hears over LLDP, in sysinv's fields (``port_name`` is the local port)."""
    return {
        "lldp_neighbours": [
            {
                "uuid": n.uuid,
                "host_uuid": n.host_uuid,
                "port_uuid": n.port_uuid,
                "port_name": n.port.name,
                "port_namedisplay": None,
                "msap": f"{n.chassis_id},{n.port_identifier}",
                "chassis_id": n.chassis_id,
                "port_identifier": n.port_identifier,
                "ttl": n.ttl,
                "system_name": n.system_name,
                "system_description": n.system_description,
                "port_description": n.port_description,
                "management_address": None,
                "created_at": isotime(n.created_at),
                "updated_at": isotime(n.updated_at),
                "links": _links(request, "lldp_neighbours", n.uuid),
            }
            for n in cloud.inventory.list_lldp_neighbours(ctx, host)
        ]
    }


@router.get("/v1/ihosts/{host}/lldp_agents")
def list_host_lldp_agents(
    host: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    """The host agent's LLDP receiver on each port, in sysinv's fields."""
    return {
        "lldp_agents": [
            {**asdict(a), "links": _links(request, "lldp_agents", a.uuid)}
            for a in cloud.inventory.list_lldp_agents(ctx, host)
        ]
    }


@router.get("/v1/ihosts/{host}/interface_datanetworks")
def list_host_interface_datanetworks(host: str, ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    rows = cloud.inventory.list_interface_datanetworks(ctx, host=host)
    return {"interface_datanetworks": [interface_datanetwork_json(a) for a in rows]}


# -- ports ------------------------------------------------------------------------------------


@router.get("/v1/ports/{port}")
def get_port(port: str, request: Request, ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    return port_json(request, cloud.inventory.get_port(ctx, port))


@router.get("/v1/ethernet_ports/{port}")
def get_ethernet_port(
    port: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    return ethernet_port_json(request, cloud.inventory.get_port(ctx, port))


# -- interfaces -------------------------------------------------------------------------------


@router.get("/v1/iinterfaces")
def list_interfaces(
    request: Request, ctx: ContextDep, cloud: CloudDep, ihost: str | None = None
) -> dict[str, Any]:
    p = paging(request, cloud.settings.max_page)
    paged = cloud.inventory.page_interfaces(
        ctx,
        host=ihost,
        limit=p.limit,
        marker=p.marker,
        sort_key=p.sort_key,
        descending=p.descending,
    )
    ifaces = [interface_json(request, i) for i in paged.items]
    return page_json(request, "iinterfaces", ifaces, paged, p.limit)


@router.post("/v1/iinterfaces")
def create_interface(
    body: InterfaceCreate, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    return interface_json(request, cloud.inventory.create_interface(ctx, body.given()))


@router.get("/v1/iinterfaces/{interface}")
def get_interface(
    interface: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    return interface_json(request, cloud.inventory.get_interface(ctx, interface))


@router.patch("/v1/iinterfaces/{interface}")
def patch_interface(
    interface: str, body: Patch, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    changes = _changes(body)
    if "usesmodify" in changes:  # the CLI's comma-separated form of /uses
        changes["uses"] = changes.pop("usesmodify")
    return interface_json(request, cloud.inventory.modify_interface(ctx, interface, changes))


@router.delete("/v1/iinterfaces/{interface}", status_code=204)
def delete_interface(interface: str, ctx: ContextDep, cloud: CloudDep) -> Response:
    cloud.inventory.delete_interface(ctx, interface)
    return Response(status_code=204)


@router.get("/v1/iinterfaces/{interface}/ports")
def list_interface_ports(
    interface: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    ports = cloud.inventory.list_interface_ports(ctx, interface)
    return {"ports": [port_json(request, p) for p in ports]}


@router.get("/v1/iinterfaces/{interface}/interface_datanetworks")
def list_interface_interface_datanetworks(
    interface: str, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    rows = cloud.inventory.list_interface_datanetworks(ctx, interface=interface)
    return {"interface_datanetworks": [interface_datanetwork_json(a) for a in rows]}


# -- data networks ----------------------------------------------------------------------------


@router.get("/v1/datanetworks")
def list_datanetworks(request: Request, ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    dns = cloud.inventory.list_datanetworks(ctx)
    return {"datanetworks": [datanetwork_json(request, dn) for dn in dns]}


@router.post("/v1/datanetworks")
def create_datanetwork(
    body: DataNetworkCreate, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    return datanetwork_json(request, cloud.inventory.create_datanetwork(ctx, body.given()))


@router.get("/v1/datanetworks/{datanetwork}")
def get_datanetwork(
    datanetwork: str, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    return datanetwork_json(request, cloud.inventory.show_datanetwork(ctx, datanetwork))


@router.patch("/v1/datanetworks/{datanetwork}")
def patch_datanetwork(
    datanetwork: str, body: Patch, request: Request, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    dn = cloud.inventory.modify_datanetwork(ctx, datanetwork, _changes(body))
    return datanetwork_json(request, dn)


@router.delete("/v1/datanetworks/{datanetwork}", status_code=204)
def delete_datanetwork(datanetwork: str, ctx: ContextDep, cloud: CloudDep) -> Response:
    cloud.inventory.delete_datanetwork(ctx, datanetwork)
    return Response(status_code=204)


# -- interface data networks ------------------------------------------------------------------


@router.get("/v1/interface_datanetworks")
def list_interface_datanetworks(ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    rows = cloud.inventory.list_interface_datanetworks(ctx)
    return {"interface_datanetworks": [interface_datanetwork_json(a) for a in rows]}


@router.post("/v1/interface_datanetworks")
def assign_datanetwork(
    body: InterfaceDataNetworkAssign, ctx: ContextDep, cloud: CloudDep
) -> dict[str, Any]:
    assignment = cloud.inventory.assign_datanetwork(ctx, body.interface_uuid, body.datanetwork_uuid)
    return interface_datanetwork_json(assignment)


@router.get("/v1/interface_datanetworks/{assignment}")
def get_interface_datanetwork(assignment: str, ctx: ContextDep, cloud: CloudDep) -> dict[str, Any]:
    return interface_datanetwork_json(cloud.inventory.get_interface_datanetwork(ctx, assignment))


@router.delete("/v1/interface_datanetworks/{assignment}", status_code=204)
def remove_interface_datanetwork(assignment: str, ctx: ContextDep, cloud: CloudDep) -> Response:
    cloud.inventory.remove_interface_datanetwork(ctx, assignment)
    return Response(status_code=204)
