"""The topology picture: hosts → NICs → switch ports → VLANs → networks → servers, as graph
elements for Cytoscape.js with fixed column positions (the path of a frame reads left to right).

`gather` reads everything through the APIs as the signed-in user (a member gets what the APIs
show a member: their networks and servers, no inventory or fabric); `build` is pure."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from passnic.dashboard.client import Api
from passnic.fabric.portconfig import parse_vlan_list

COLUMNS = {"nic": 0, "swport": 1, "vlan": 2, "network": 3, "server": 4}
COLUMN_WIDTH = 260
ROW = 56
_ACCESS = re.compile(r"^access VLAN (\d+)")
_TRUNK = re.compile(r"^trunk, native (\w+), allowed ([\d,\- ]+|none|all)")


@dataclass
class Inputs:
    """What the APIs answered, per kind (empty where the user may not read it)."""

    hosts: list[dict[str, Any]] = field(default_factory=list)
    #: hostname -> (ethernet ports, interfaces, interface-datanetwork assignments)
    host_nics: dict[str, tuple[list[Any], list[Any], list[Any]]] = field(default_factory=dict)
    #: switch name -> its ports (desired, actual, cable)
    switch_ports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    networks: list[dict[str, Any]] = field(default_factory=list)
    servers: list[dict[str, Any]] = field(default_factory=list)
    #: server id -> its fabric ports (switch port, NIC, VLAN)
    server_fabric: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: (hostname, NIC) -> the id of the server holding it (by a port or a flavor's PCI alias)
    held: dict[tuple[str, str], str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)


async def gather(api: Api, admin: bool) -> Inputs:
    got = Inputs()
    nets, servers = await asyncio.gather(
        api.get("/networking/v2.0/networks"),
        api.get("/compute/v2.1/servers/detail", **({"all_tenants": 1} if admin else {})),
    )
    got.networks, got.servers = nets["networks"], servers["servers"]
    if not admin:
        return got
    hosts, switches, projects = await asyncio.gather(
        api.get_or({"ihosts": []}, "/inventory/v1/ihosts"),
        api.get_or({"switches": []}, "/fabric/v1/switches"),
        api.get_or({"projects": []}, "/identity/v3/projects"),
    )
    got.projects = {p["id"]: p["name"] for p in projects["projects"]}
    got.hosts = [h for h in hosts["ihosts"] if h["personality"] == "worker"]

    async def host(h: dict[str, Any]) -> None:
        base = f"/inventory/v1/ihosts/{h['uuid']}"
        nics = f"/compute/v2.1/os-hypervisors/{h['hostname']}/pci-passthrough-nics"
        ports, ifaces, assigned, used = await asyncio.gather(
            api.get(f"{base}/ethernet_ports"),
            api.get(f"{base}/iinterfaces"),
            api.get(f"{base}/interface_datanetworks"),
            api.get_or({"pci_passthrough_nics": {"held": []}}, nics),
        )
        for held in used["pci_passthrough_nics"]["held"]:
            got.held[(h["hostname"], held["interface"])] = held["server_id"]
        got.host_nics[h["hostname"]] = (
            ports["ethernet_ports"],
            ifaces["iinterfaces"],
            assigned["interface_datanetworks"],
        )

    async def switch(sw: dict[str, Any]) -> None:
        got.switch_ports[sw["name"]] = (await api.get(f"/fabric/v1/switches/{sw['id']}/ports"))[
            "ports"
        ]

    async def server(s: dict[str, Any]) -> None:
        found = await api.get_or({"server": {"ports": []}}, f"/fabric/v1/servers/{s['id']}")
        got.server_fabric[s["id"]] = found["server"]["ports"]

    await asyncio.gather(
        *(host(h) for h in got.hosts),
        *(switch(sw) for sw in switches["switches"]),
        *(server(s) for s in got.servers),
    )
    return got


def port_vlans(summary: str | None) -> tuple[set[int], set[int]]:
    """The VLANs a switch port carries, read from its one-line configuration, and of those the
    extra ones: a trunk's beyond its native VLAN (the server's own network), which let the guest
    reach other networks. A shut-down port carries none."""
    if not summary or summary.endswith("shut down"):
        return set(), set()
    if m := _ACCESS.match(summary):
        return {int(m.group(1))}, set()
    if m := _TRUNK.match(summary):
        native = {int(m.group(1))} if m.group(1).isdigit() else set()
        carried = set(parse_vlan_list(m.group(2))) | native
        return carried, carried - native
    return set(), set()


class Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, Any]] = []
        self.want_y: dict[str, float] = {}

    def node(
        self,
        id_: str,
        kind: str,
        label: str,
        details: list[tuple[str, Any]],
        classes: list[str] | None = None,
        parent: str | None = None,
        y: float = 0,
        **extra: Any,
    ) -> None:
        data = {"id": id_, "kind": kind, "label": label, "details": _pairs(details), **extra}
        if parent:
            data["parent"] = parent
        self.nodes[id_] = {"data": data, "classes": " ".join([kind, *(classes or [])])}
        self.want_y[id_] = y

    def edge(self, source: str, target: str, kind: str, classes: str = "") -> None:
        if source in self.nodes and target in self.nodes:
            self.edges.append(
                {
                    "data": {"id": f"{source}->{target}", "source": source, "target": target},
                    "classes": f"{kind} {classes}".strip(),
                }
            )

    def mean_y(self, ids: list[str], default: float) -> float:
        ys = [self.want_y[i] for i in ids if i in self.want_y]
        return sum(ys) / len(ys) if ys else default

    def elements(self) -> list[dict[str, Any]]:
        """Positions: one column per kind, rows where their neighbours are, never overlapping."""
        by_column: dict[int, list[str]] = {}
        for id_, n in self.nodes.items():
            column = COLUMNS.get(n["data"]["kind"])
            if column is not None:
                by_column.setdefault(column, []).append(id_)
        for column, ids in by_column.items():
            floor = 0.0
            for id_ in sorted(ids, key=lambda i: (self.want_y[i], i)):
                y = max(self.want_y[id_], floor)
                self.nodes[id_]["position"] = {"x": column * COLUMN_WIDTH, "y": y}
                floor = y + ROW
        return [*self.nodes.values(), *self.edges]


def _pairs(details: list[tuple[str, Any]]) -> list[list[str]]:
    return [[k, "—" if v in (None, "") else str(v)] for k, v in details]


def server_trace(server_id: str) -> str:
    """The dashboard's trace of a server's frames (the fabric API's path under /ui)."""
    return f"/ui/servers/{quote(server_id, safe='')}/trace"


def port_trace(switch: str, port: str) -> str:
    """The dashboard's trace of frames from the NIC cabled to a switch port; port names keep
    their slashes (GigabitEthernet1/0/1)."""
    return f"/ui/switches/{quote(switch, safe='')}/ports/{quote(port)}/trace"


def build(got: Inputs) -> dict[str, Any]:
    """Elements and a plain list of frame paths (the same picture, readable without a mouse).
    A NIC and its switch port trace the frames of the server holding the NIC or, when free, what
    the port's actual configuration does with the NIC's frames."""
    g = Graph()
    nic_server: dict[tuple[str, str], dict[str, Any]] = {}
    for s in got.servers:
        for fp in got.server_fabric.get(s["id"], []):
            nic_server[(fp["host"], fp["nic"])] = s
    nic_trace = {
        (r["host"], r["nic"]): port_trace(sw, r["name"])
        for sw, rows in got.switch_ports.items()
        for r in rows
        if r["host"]
    }
    for (host, nic), s in nic_server.items():
        nic_trace[(host, nic)] = server_trace(s["id"])
    by_id = {s["id"]: s for s in got.servers}
    for key, server_id in got.held.items():  # a flavor's PCI alias holds NICs without a port
        if key not in nic_server and server_id in by_id:
            nic_server[key] = by_id[server_id]

    # hosts and their NICs (all but the platform's)
    y = 0.0
    for h in sorted(got.hosts, key=lambda h: h["hostname"]):
        name = h["hostname"]
        ports, ifaces, assigned = got.host_nics.get(name, ([], [], []))
        by_iface = {i["uuid"]: i for i in ifaces}
        host_id = f"host:{name}"
        state = f"{h['administrative']}, {h['operational']}, {h['availability']}"
        g.node(host_id, "host", f"{name} ({h['administrative']})", [("state", state)], y=y)
        for p in sorted(ports, key=lambda p: p["name"]):
            iface = by_iface.get(p["interface_uuid"] or "", {})
            ifclass = iface.get("ifclass") or "none"
            if ifclass == "platform":
                continue
            nets = [a["datanetwork_name"] for a in assigned if a["ifname"] == p["name"]]
            holder = nic_server.get((name, p["name"]))
            sriov = p["sriov_totalvfs"] is not None
            g.node(
                f"nic:{name}:{p['name']}",
                "nic",
                f"{p['name']} · {ifclass}\n{'SR-IOV' if sriov else 'no SR-IOV'} · NUMA "
                f"{p['numa_node']} · {holder['name'] if holder else 'free'}",
                [
                    ("host", name),
                    ("NIC", p["name"]),
                    ("class", ifclass),
                    ("device", p["pdevice"]),
                    ("PCI address", p["pciaddr"]),
                    ("MAC", p["mac"]),
                    ("SR-IOV", f"yes ({p['sriov_totalvfs']} VFs)" if sriov else "no"),
                    ("NUMA node", p["numa_node"]),
                    ("data networks", ", ".join(nets)),
                    ("held by", holder["name"] if holder else "free"),
                ],
                ["claimed" if holder else "free", ifclass],
                parent=host_id,
                y=y,
                trace=nic_trace.get((name, p["name"])),
            )
            y += ROW
        y += ROW / 2

    # switch ports, beside the NICs they are cabled to
    vlan_ports: dict[int, list[str]] = {}
    extra_vlans: set[int] = set()
    for sw, rows in sorted(got.switch_ports.items()):
        sw_id = f"switch:{sw}"
        g.node(sw_id, "switch", sw, [("switch", sw)])
        for r in rows:
            if r["role"] != "edge":
                continue
            port_id = f"swport:{sw}:{r['name']}"
            nic_id = f"nic:{r['host']}:{r['nic']}"
            drift = r["desired"] is not None and r["desired"] != r["actual"]
            carried, extra = port_vlans(r["actual"])
            trunk = (r["actual"] or "").startswith("trunk")
            classes = [r["status"] or "unmanaged"]
            if drift:
                classes.append("drift")
            if trunk:
                classes.append("trunk")
            g.node(
                port_id,
                "swport",
                f"{r['name']}\n{r['actual'] or '?'}",
                [
                    ("switch", sw),
                    ("port", r["name"]),
                    ("cabled to", f"{r['host']} {r['nic']}" if r["host"] else None),
                    ("status", r["status"]),
                    ("why", r["reason"]),
                    ("desired", r["desired"]),
                    ("actual", r["actual"]),
                    ("drift", "yes: desired and actual differ" if drift else "no"),
                ],
                classes,
                parent=sw_id,
                y=g.want_y.get(nic_id, y),
                trace=nic_trace.get((r["host"], r["nic"])),
            )
            if r["host"]:
                g.edge(nic_id, port_id, "cable", "drift" if drift else "")
            for vlan in carried:
                vlan_ports.setdefault(vlan, []).append(port_id)
            extra_vlans |= extra

    # VLANs and the networks they carry
    net_by_vlan: dict[int, list[dict[str, Any]]] = {}
    for n in got.networks:
        seg = n.get("provider:segmentation_id")
        if n.get("provider:network_type") == "vlan" and seg is not None:
            net_by_vlan.setdefault(seg, []).append(n)
    for vlan in sorted(set(vlan_ports) | set(net_by_vlan)):
        vlan_id = f"vlan:{vlan}"
        names = ", ".join(n["name"] for n in net_by_vlan.get(vlan, [])) or "no network"
        g.node(
            vlan_id,
            "vlan",
            f"VLAN {vlan}",
            [("VLAN", vlan), ("networks", names)],
            ["extra"] if vlan in extra_vlans else [],
            y=g.mean_y(vlan_ports.get(vlan, []), y),
        )
        for port_id in vlan_ports.get(vlan, []):
            g.edge(port_id, vlan_id, "carries", "extra" if vlan in extra_vlans else "")
    for n in sorted(got.networks, key=lambda n: n["name"]):
        net_id = f"network:{n['id']}"
        seg = n.get("provider:segmentation_id")
        project = got.projects.get(n["project_id"], n["project_id"])
        g.node(
            net_id,
            "network",
            n["name"] if seg is None else f"{n['name']} (VLAN {seg})",
            [
                ("network", n["name"]),
                ("project", project),
                ("type", n.get("provider:network_type")),
                ("data network", n.get("provider:physical_network")),
                ("VLAN", seg),
                ("status", n["status"]),
            ],
            y=g.want_y.get(f"vlan:{seg}", y),
        )
        g.edge(f"vlan:{seg}", net_id, "vlan-network")

    # servers: on their networks, holding their NICs
    net_ids = {(n["project_id"], n["name"]): f"network:{n['id']}" for n in got.networks}
    paths: list[dict[str, Any]] = []
    for s in sorted(got.servers, key=lambda s: s["name"]):
        server_id = f"server:{s['id']}"
        nics = [f"nic:{fp['host']}:{fp['nic']}" for fp in got.server_fabric.get(s["id"], [])]
        nets = [net_ids.get((s["tenant_id"], name)) for name in s.get("addresses", {})]
        g.node(
            server_id,
            "server",
            f"{s['name']} · {s['status']}",
            [
                ("server", s["name"]),
                ("status", s["status"]),
                ("host", s.get("OS-EXT-SRV-ATTR:host")),
                ("project", got.projects.get(s["tenant_id"], s["tenant_id"])),
                ("flavor", s["flavor"].get("original_name")),
            ],
            [s["status"].lower()],
            y=g.mean_y([*nics, *(n for n in nets if n)], y),
            server=s["id"],
            trace=server_trace(s["id"]),
        )
        for net_id in nets:
            if net_id:
                g.edge(net_id, server_id, "attached")
        if not any(nets):  # a PCI-alias NIC: no network, so the NIC is the server's only link
            for nic_id in nics:
                g.edge(nic_id, server_id, "holds")
        for fp in got.server_fabric.get(s["id"], []):
            paths.append(
                {
                    "server": s["name"],
                    "server_id": s["id"],
                    "host": fp["host"],
                    "nic": fp["nic"],
                    "switch": fp["switch"],
                    "port": fp["port"],
                    "actual": fp["actual"],
                    "vlan": fp["vlan"],
                    "drift": bool(fp["drift"]),
                    "networks": [
                        n["name"] for n in net_by_vlan.get(fp["vlan"], []) if fp["vlan"] is not None
                    ],
                }
            )
        if not got.server_fabric.get(s["id"]):
            paths.append(
                {
                    "server": s["name"],
                    "server_id": s["id"],
                    "networks": list(s.get("addresses", {})),
                }
            )
    return {"elements": g.elements(), "paths": paths}
