"""A fake cloud for CLI tests: Keystone discovery and tokens plus a small sysinv-shaped inventory,
served through ``httpx.MockTransport`` so commands run end to end without a server.

It records every request so tests can assert exactly what the CLI sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE = "http://cloud.test:8999"
HOST_UUID = "11111111-1111-1111-1111-111111111111"
PORT_UUID = "22222222-2222-2222-2222-222222222222"
IFACE_UUID = "33333333-3333-3333-3333-333333333333"
MGMT_UUID = "44444444-4444-4444-4444-444444444444"
DN_UUID = "55555555-5555-5555-5555-555555555555"
IFDN_UUID = "66666666-6666-6666-6666-666666666666"
PVENDOR = "Intel Corporation [8086]"
PDEVICE = "82540EM Gigabit Ethernet Controller [100e]"

ENV = {
    "OS_AUTH_URL": f"{BASE}/identity",
    "OS_USERNAME": "admin",
    "OS_PASSWORD": "secret",
    "OS_PROJECT_NAME": "admin",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_NAME": "Default",
    "OS_REGION_NAME": "RegionOne",
}


def sysinv_error(message: str, status: int = 400) -> httpx.Response:
    inner = json.dumps({"faultstring": message, "faultcode": "Client", "debuginfo": None})
    return httpx.Response(status, json={"error_message": inner})


@dataclass
class Sent:
    method: str
    path: str
    body: Any


@dataclass
class FakeCloud:
    """Keystone + inventory state; ``requests`` lists what reached it (auth included)."""

    requests: list[Sent] = field(default_factory=list)
    hosts: list[dict[str, Any]] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    interfaces: list[dict[str, Any]] = field(default_factory=list)
    datanetworks: list[dict[str, Any]] = field(default_factory=list)
    ifdns: list[dict[str, Any]] = field(default_factory=list)
    fail: Callable[[httpx.Request], httpx.Response | None] | None = None

    def __post_init__(self) -> None:
        self.hosts = [
            {
                "id": 1,
                "uuid": HOST_UUID,
                "hostname": "compute-0",
                "personality": "worker",
                "subfunctions": "worker",
                "administrative": "unlocked",
                "operational": "enabled",
                "availability": "available",
                "action": "none",
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": None,
            }
        ]
        self.ports = [
            {
                "uuid": PORT_UUID,
                "name": "enp0s3",
                "namedisplay": None,
                "type": "ethernet",
                "pciaddr": "0000:00:03.0",
                "dev_id": 0,
                "numa_node": 0,
                "sriov_totalvfs": None,
                "sriov_numvfs": 0,
                "pclass": "Ethernet controller [0200]",
                "pvendor": PVENDOR,
                "pdevice": PDEVICE,
                "mac": "08:00:27:aa:bb:cc",
                "host_uuid": HOST_UUID,
                "interface_uuid": IFACE_UUID,
                "dpdksupport": False,
                "bootp": None,
            },
            {
                "uuid": "77777777-7777-7777-7777-777777777777",
                "name": "enp0s8",
                "type": "ethernet",
                "pciaddr": "0000:00:08.0",
                "dev_id": 0,
                "numa_node": 0,
                "sriov_totalvfs": 7,
                "pdevice": PDEVICE,
                "host_uuid": HOST_UUID,
                "interface_uuid": MGMT_UUID,
            },
        ]
        self.interfaces = [
            {
                "uuid": IFACE_UUID,
                "ifname": "enp0s3",
                "iftype": "ethernet",
                "ifclass": None,
                "imtu": 1500,
                "imac": "08:00:27:aa:bb:cc",
                "ihost_uuid": HOST_UUID,
                "forihostid": 1,
                "vlan_id": None,
                "uses": [],
                "used_by": [],
                "ptp_role": "none",
                "sriov_numvfs": 0,
                "monitoring": False,
            },
            {
                "uuid": MGMT_UUID,
                "ifname": "mgmt0",
                "iftype": "ethernet",
                "ifclass": "platform",
                "imtu": 9000,
                "ihost_uuid": HOST_UUID,
                "forihostid": 1,
                "vlan_id": None,
                "uses": [],
                "used_by": [],
            },
        ]
        self.datanetworks = [
            {
                "id": 1,
                "uuid": DN_UUID,
                "name": "group0-data0",
                "network_type": "vlan",
                "mtu": 1500,
                "description": None,
            }
        ]

    # -- HTTP --

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append(Sent(request.method, request.url.path, body))
        if self.fail is not None:
            failed = self.fail(request)
            if failed is not None:
                return failed
        path = request.url.path
        if path in ("/identity", "/identity/"):
            return self.versions()
        if path == "/identity/v3/auth/tokens" and request.method == "POST":
            return self.token()
        if path.startswith("/inventory/v1/"):
            if request.headers.get("X-Auth-Token") != "tok-1":
                return httpx.Response(401, json={"error": {"message": "not authenticated"}})
            return self.inventory(request.method, path.removeprefix("/inventory/v1"), body)
        return httpx.Response(404, json={"error": {"message": f"no route {path}"}})

    def versions(self) -> httpx.Response:
        v3 = {
            "id": "v3.14",
            "status": "stable",
            "links": [{"rel": "self", "href": "/identity/v3/"}],
        }
        return httpx.Response(300, json={"versions": {"values": [v3]}})

    def token(self) -> httpx.Response:
        catalog = [
            {
                "type": stype,
                "endpoints": [
                    {"interface": "public", "region_id": "RegionOne", "url": f"{BASE}{path}"},
                    {"interface": "internal", "region_id": "RegionOne", "url": "http://no/"},
                ],
            }
            for stype, path in (("identity", "/identity"), ("platform", "/inventory"))
        ]
        token = {"expires_at": "2030-01-01T00:00:00Z", "catalog": catalog}
        return httpx.Response(201, json={"token": token}, headers={"X-Subject-Token": "tok-1"})

    # -- inventory --

    def host(self, ident: str) -> dict[str, Any] | None:
        for h in self.hosts:
            if ident in (h["hostname"], h["uuid"], str(h["id"])):
                return h
        return None

    def inventory(self, method: str, path: str, body: Any) -> httpx.Response:
        routes: list[tuple[str, str, Callable[..., httpx.Response]]] = [
            ("GET", r"/ihosts", lambda: ok({"ihosts": self.hosts})),
            ("GET", r"/ihosts/([^/]+)", lambda h: found(self.host(h))),
            ("PATCH", r"/ihosts/([^/]+)", lambda h: self.patch_host(h, body)),
            ("GET", r"/ihosts/([^/]+)/ports", lambda h: ok({"ports": self.ports})),
            (
                "GET",
                r"/ihosts/([^/]+)/ethernet_ports",
                lambda h: ok({"ethernet_ports": self.ports}),
            ),
            ("GET", r"/ihosts/([^/]+)/iinterfaces", lambda h: ok({"iinterfaces": self.interfaces})),
            ("GET", r"/ihosts/([^/]+)/lldp_neighbours", lambda h: ok({"lldp_neighbours": LLDP})),
            ("GET", r"/ihosts/([^/]+)/lldp_agents", lambda h: ok({"lldp_agents": LLDP_AGENTS})),
            ("GET", r"/ihosts/([^/]+)/interface_datanetworks", lambda h: self.ifdn_list()),
            ("GET", r"/iinterfaces/([^/]+)/interface_datanetworks", lambda i: self.ifdn_list(i)),
            ("PATCH", r"/iinterfaces/([^/]+)", lambda u: self.patch_interface(u, body)),
            ("POST", r"/iinterfaces", lambda: ok({**body, "uuid": "new-if"}, 201)),
            ("DELETE", r"/iinterfaces/([^/]+)", lambda u: httpx.Response(204)),
            ("GET", r"/datanetworks", lambda: ok({"datanetworks": self.datanetworks})),
            ("GET", r"/datanetworks/([^/]+)", lambda d: found(self.datanetwork(d))),
            ("POST", r"/datanetworks", lambda: ok({"id": 2, "uuid": "new-dn", **body}, 201)),
            ("PATCH", r"/datanetworks/([^/]+)", lambda d: self.patch_datanetwork(d, body)),
            ("DELETE", r"/datanetworks/([^/]+)", lambda d: httpx.Response(204)),
            ("POST", r"/interface_datanetworks", lambda: self.assign(body)),
            ("GET", r"/interface_datanetworks/([^/]+)", lambda u: found(by(self.ifdns, u))),
            ("DELETE", r"/interface_datanetworks/([^/]+)", lambda u: httpx.Response(204)),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return handler(*match.groups())
        return httpx.Response(404, json={"error": {"message": f"no route {method} {path}"}})

    def patch_host(self, ident: str, patch: list[dict[str, Any]]) -> httpx.Response:
        host = self.host(ident)
        if host is None:
            return sysinv_error(f"host {ident} not found", 404)
        for op in patch:
            if op["path"] == "/action" and "lock" in op["value"]:
                locked = "unlock" not in op["value"]
                host["administrative"] = "locked" if locked else "unlocked"
        return ok(host)

    def patch_interface(self, uuid: str, patch: list[dict[str, Any]]) -> httpx.Response:
        iface = by(self.interfaces, uuid)
        if iface is None:
            return sysinv_error("Interface not found", 404)
        if self.hosts[0]["administrative"] != "locked":
            return sysinv_error("Host must be locked.")
        for op in patch:
            iface[op["path"].lstrip("/")] = op["value"]
        return ok(iface)

    def datanetwork(self, ident: str) -> dict[str, Any] | None:
        for d in self.datanetworks:
            if ident in (d["name"], d["uuid"], str(d["id"])):
                return d
        return None

    def patch_datanetwork(self, ident: str, patch: list[dict[str, Any]]) -> httpx.Response:
        dn = self.datanetwork(ident)
        assert dn is not None
        for op in patch:
            dn[op["path"].lstrip("/")] = op["value"]
        return ok(dn)

    def assign(self, body: dict[str, Any]) -> httpx.Response:
        iface = by(self.interfaces, body["interface_uuid"])
        dn = by(self.datanetworks, body["datanetwork_uuid"])
        assert iface is not None and dn is not None
        ifdn = {
            "id": 1,
            "uuid": IFDN_UUID,
            "forihostid": 1,
            "interface_uuid": iface["uuid"],
            "ifname": iface["ifname"],
            "datanetwork_uuid": dn["uuid"],
            "datanetwork_name": dn["name"],
        }
        self.ifdns.append(ifdn)
        return ok(ifdn, 201)

    def ifdn_list(self, iface: str | None = None) -> httpx.Response:
        items = [i for i in self.ifdns if iface is None or i["interface_uuid"] == iface]
        return ok({"interface_datanetworks": items})

    # -- assertions --

    def sent(self, method: str, path_suffix: str = "") -> list[Sent]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]


#: what compute-0's enp0s3 hears (the inventory API's fields)
LLDP = [
    {
        "uuid": "lldp-1",
        "port_name": "enp0s3",
        "chassis_id": "tor-1",
        "port_identifier": "GigabitEthernet1/0/1",
        "system_name": "tor-1",
        "system_description": "",
        "management_address": None,
        "ttl": 20,
    }
]
LLDP_AGENTS = [
    {
        "uuid": "agent-1",
        "port_name": "enp0s3",
        "status": "rx=enabled,tx=disabled",
        "chassis_id": "compute-0",
        "port_identifier": "52:54:00:00:01:03",
        "system_name": "compute-0",
        "system_description": "Passnic host agent",
    }
]


def ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def found(obj: dict[str, Any] | None) -> httpx.Response:
    return ok(obj) if obj is not None else sysinv_error("not found", 404)


def by(items: list[dict[str, Any]], uuid: str) -> dict[str, Any] | None:
    return next((i for i in items if i["uuid"] == uuid), None)
