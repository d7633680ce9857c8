"""The fabric API under ``/fabric/v1`` (the admin's; a server's status and trace are its
project's too): switches, ports, cabling, audit, alarms, per-server status, trunk exceptions,
trace (of a server, or of the NIC cabled to a switch port) and the L2 report."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from passnic.db import isotime
from passnic.errors import BadRequest
from passnic.fabric.models import FabricAlarm, FabricLink, FabricSwitch
from passnic.fabric.service import LLDP, MANUAL, AuditRow
from passnic.web import CloudDep, ContextDep, register_fault_format

router = APIRouter(prefix="/fabric/v1", tags=["fabric"])


def fabric_fault(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"fabricFault": {"code": status, "kind": kind, "message": message}}


register_fault_format("/fabric", fabric_fault)


def switch_json(sw: FabricSwitch) -> dict[str, Any]:
    """Never the password: only whether one is set."""
    return {
        "id": sw.id,
        "name": sw.name,
        "address": sw.address,
        "driver": sw.driver,
        "username": sw.username,
        "password_set": bool(sw.password),
        "save_config": sw.save_config,
        "native_vlan": sw.native_vlan,
        "quarantine_vlan": sw.quarantine_vlan,
        "ports": [{"name": p.name, "role": p.role} for p in sw.ports],
        "created_at": isotime(sw.created_at),
        "updated_at": isotime(sw.updated_at),
    }


def link_json(link: FabricLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "host": link.hostname,
        "nic": link.ifname,
        "pci_address": link.pci_address,
        "switch": link.switch_port.switch.name,
        "switch_port": link.switch_port.name,
        "source": link.source,
    }


def audit_json(r: AuditRow) -> dict[str, Any]:
    m = r.managed
    return {
        "switch": m.switch,
        "port": m.port,
        "host": m.hostname,
        "nic": m.ifname,
        "server_id": m.desired.server_id,
        "status": m.desired.status,
        "desired": m.desired.config.summary(),
        "actual": r.actual.summary() if r.actual else None,
        "drift": r.drifts,
        "fixed": r.fixed,
    }


def alarm_json(a: FabricAlarm) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "switch": a.switch_port.switch.name,
        "port": a.switch_port.name,
        "message": a.message,
        "detected_at": isotime(a.detected_at),
        "resolved_at": isotime(a.resolved_at),
    }


# ---- request bodies ---------------------------------------------------------------------------

Text = Annotated[str, Field(max_length=255)]
PortName = Annotated[str, Field(min_length=1, max_length=64)]
Vlan = Annotated[int, Field(ge=1, le=4094)]


class _Body(BaseModel):
    """Strict JSON types; sent as ``{"<key>": {...}}`` or as the bare object."""

    model_config = ConfigDict(strict=True, extra="ignore")
    key: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        if cls.key and isinstance(data, dict) and isinstance(data.get(cls.key), dict):
            return data[cls.key]
        return data


class SwitchBody(_Body):
    key = "switch"
    name: Annotated[str, Field(min_length=1, max_length=255)]
    driver: Annotated[str, Field(max_length=64)]
    address: Text | None = None
    username: Text | None = None
    password: Text | None = None
    native_vlan: Vlan | None = None
    quarantine_vlan: Vlan | None = None
    ports: list[PortName] = []
    uplinks: list[PortName] = []


class LinkBody(_Body):
    key = "link"
    host: Text
    nic: Text
    switch: Text
    switch_port: PortName


class AuditBody(_Body):
    fix: bool = False


class TrunkBody(_Body):
    allowed_vlans: list[Annotated[int, Field(ge=0, le=4095)]]


@router.get("/switches")
def list_switches(cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    return {"switches": [switch_json(sw) for sw in cloud.fabric.list_switches(ctx)]}


@router.post("/switches", status_code=201)
def create_switch(cloud: CloudDep, ctx: ContextDep, body: SwitchBody) -> dict[str, Any]:
    return {"switch": switch_json(cloud.fabric.create_switch(ctx, body.model_dump()))}


@router.get("/switches/{ref}")
def show_switch(cloud: CloudDep, ctx: ContextDep, ref: str) -> dict[str, Any]:
    return {"switch": switch_json(cloud.fabric.get_switch(ctx, ref))}


@router.delete("/switches/{ref}", status_code=204)
def delete_switch(cloud: CloudDep, ctx: ContextDep, ref: str) -> Response:
    cloud.fabric.delete_switch(ctx, ref)
    return Response(status_code=204)


@router.get("/switches/{ref}/ports")
def switch_ports(cloud: CloudDep, ctx: ContextDep, ref: str) -> dict[str, Any]:
    return {"ports": cloud.fabric.switch_ports(ctx, ref)}


def _tag(tag: int | None) -> int | None:
    if tag is not None and not 0 <= tag <= 4095:
        raise BadRequest(f"tag {tag} is outside 0-4095")
    return tag


@router.get("/switches/{ref}/ports/{port:path}/trace")
def trace_port(
    cloud: CloudDep, ctx: ContextDep, ref: str, port: str, tag: int | None = None
) -> dict[str, Any]:
    """Port names have slashes (GigabitEthernet1/0/1): the path holds them as they are."""
    return cloud.fabric.trace_port(ctx, ref, port, _tag(tag))


@router.get("/links")
def list_links(cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    return {"links": [link_json(link) for link in cloud.fabric.list_links(ctx)]}


def _set_link(cloud: CloudDep, ctx: ContextDep, b: LinkBody, source: str) -> dict[str, Any]:
    link = cloud.fabric.set_link(ctx, b.host, b.nic, b.switch, b.switch_port, source=source)
    return {"link": link_json(link)}


@router.put("/links")
def set_link(cloud: CloudDep, ctx: ContextDep, body: LinkBody) -> dict[str, Any]:
    return _set_link(cloud, ctx, body, MANUAL)


@router.post("/lldp")
def learn_link(cloud: CloudDep, ctx: ContextDep, body: LinkBody) -> dict[str, Any]:
    """A neighbour the host agent saw over LLDP; a manual link for that NIC wins."""
    return _set_link(cloud, ctx, body, LLDP)


@router.post("/audit")
def audit(cloud: CloudDep, ctx: ContextDep, body: AuditBody | None = None) -> dict[str, Any]:
    result = cloud.fabric.audit(ctx, fix=body is not None and body.fix)
    return {"ports": [audit_json(r) for r in result.rows], "errors": result.errors}


@router.get("/alarms")
def alarms(cloud: CloudDep, ctx: ContextDep, resolved: bool = False) -> dict[str, Any]:
    """Active alarms; with ``resolved=true`` the resolved ones (repaired drift) too."""
    found = cloud.fabric.list_alarms(ctx, resolved=resolved)
    return {"alarms": [alarm_json(a) for a in found]}


@router.get("/servers/{server_id}")
def server_fabric(cloud: CloudDep, ctx: ContextDep, server_id: str) -> dict[str, Any]:
    return {"server": cloud.fabric.server_fabric(ctx, server_id)}


@router.put("/servers/{server_id}/trunk")
def set_trunk(cloud: CloudDep, ctx: ContextDep, server_id: str, body: TrunkBody) -> dict[str, Any]:
    return {"server": cloud.fabric.set_trunk(ctx, server_id, body.allowed_vlans)}


@router.delete("/servers/{server_id}/trunk")
def clear_trunk(cloud: CloudDep, ctx: ContextDep, server_id: str) -> dict[str, Any]:
    return {"server": cloud.fabric.set_trunk(ctx, server_id, None)}


@router.get("/servers/{server_id}/trace")
def trace(
    cloud: CloudDep, ctx: ContextDep, server_id: str, tag: int | None = None
) -> dict[str, Any]:
    return cloud.fabric.trace(ctx, server_id, _tag(tag))


@router.get("/report")
def report(cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    return cloud.fabric.report(ctx)
