"""The sysinv-shaped REST API under /inventory: paths, collection keys, fields, JSON patches
and sysinv's fault format."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.inventory.conftest import worker_report

V1 = "/inventory/v1"


def fault(resp: httpx.Response) -> str:
    """The operator's sentence inside sysinv's error_message JSON string."""
    body = resp.json()
    assert set(body) == {"error_message"}
    inner = json.loads(body["error_message"])
    assert set(inner) == {"faultstring", "faultcode", "debuginfo"}
    assert inner["faultcode"] == "Client"
    message: str = inner["faultstring"]
    return message


def replace(**values: Any) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": f"/{k}", "value": v} for k, v in values.items()]


@pytest.fixture
def host(client: TestClient) -> dict[str, Any]:
    resp = client.post(f"{V1}/agent/reports", json=worker_report().model_dump(mode="json"))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def iface(client: TestClient, name: str) -> dict[str, Any]:
    rows = client.get(f"{V1}/ihosts/compute-0/iinterfaces").json()["iinterfaces"]
    found: dict[str, Any] = next(r for r in rows if r["ifname"] == name)
    return found


def test_version_documents_need_no_token(app: Any) -> None:
    anonymous = TestClient(app)
    root = anonymous.get("/inventory")
    assert root.status_code == 200
    assert [v["id"] for v in root.json()["versions"]] == ["v1"]
    assert root.json()["default_version"]["links"][0]["href"].endswith("/inventory/v1/")
    v1 = anonymous.get(V1).json()
    assert v1["id"] == "v1"
    assert v1["links"][0]["rel"] == "self"
    assert v1["ihosts"][0]["href"].endswith("/inventory/v1/ihosts/")


def test_everything_else_needs_a_token(app: Any) -> None:
    resp = TestClient(app).get(f"{V1}/ihosts")
    assert resp.status_code == 401
    assert fault(resp) == "The request you have made requires authentication."


def test_agent_report_and_hosts(client: TestClient, host: dict[str, Any]) -> None:
    assert host["hostname"] == "compute-0"
    assert (host["administrative"], host["operational"], host["availability"]) == (
        "locked",
        "disabled",
        "online",
    )
    assert {"id", "uuid", "personality", "subfunctions", "action", "vcpus", "created_at"} <= set(
        host
    )
    assert host["links"][0] == {
        "href": f"http://testserver/inventory/v1/ihosts/{host['uuid']}",
        "rel": "self",
    }
    listed = client.get(f"{V1}/ihosts").json()
    assert [h["uuid"] for h in listed["ihosts"]] == [host["uuid"]]
    for ident in ("compute-0", "1", host["uuid"]):
        assert client.get(f"{V1}/ihosts/{ident}").json()["uuid"] == host["uuid"]
    missing = client.get(f"{V1}/ihosts/compute-9")
    assert missing.status_code == 404
    assert fault(missing) == "Host compute-9 could not be found."


def test_agent_reports_are_validated_and_admin_only(
    client: TestClient, host: dict[str, Any]
) -> None:
    resp = client.post(f"{V1}/agent/reports", json={"hostname": "x", "ports": [{"name": "e"}]})
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input")
    huge = worker_report().model_dump(mode="json")
    huge["memory_mb"] = 2**40
    huge["hostname"] = "h" * 256
    resp = client.post(f"{V1}/agent/reports", json=huge)
    assert resp.status_code == 400
    assert "memory_mb" in fault(resp) and "hostname" in fault(resp)
    resp = client.post(
        f"{V1}/agent/reports",
        json=worker_report().model_dump(mode="json"),
        headers={"X-Auth-Token": "reader"},
    )
    assert resp.status_code == 403
    assert fault(resp) == "Policy does not allow inventory:agent_report to be performed."


def test_lock_and_unlock_by_patching_action(client: TestClient, host: dict[str, Any]) -> None:
    resp = client.patch(f"{V1}/ihosts/compute-0", json=replace(action="unlock"))
    assert resp.status_code == 200
    assert (resp.json()["administrative"], resp.json()["availability"]) == ("unlocked", "available")
    again = client.patch(f"{V1}/ihosts/compute-0", json=replace(action="force-unlock"))
    assert again.status_code == 400
    assert fault(again) == "Avoiding 'unlock' action on already 'unlocked' host compute-0"
    locked = client.patch(f"{V1}/ihosts/1", json=replace(action="force-lock"))
    assert locked.json()["administrative"] == "locked"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            replace(action="reboot"),
            "Invalid host action 'reboot'; use one of lock, force-lock, "
            "force-unsafe-lock, unlock, force-unlock.",
        ),
        (
            replace(action="lock", hostname="x"),
            "Host attribute(s) 'hostname' cannot change with an action: patch /action alone, "
            "then the attributes.",
        ),
        (
            replace(hostname="x"),
            "The hostname of host compute-0 cannot change: its agent has reported it (delete "
            "the host and add it again).",
        ),
        ({"action": "lock"}, "Invalid input: Input should be a valid list"),
        (
            [{"op": "remove", "path": "/action", "value": 1}],
            "Patch operation 'remove' is not supported; use 'replace'.",
        ),
        ([{"op": "replace", "path": "/a/b", "value": 1}], "Invalid patch path '/a/b'."),
        (
            [{"op": "replace", "path": "/action"}],
            "Invalid input: 0.value: Field required",
        ),
    ],
)
def test_bad_host_patches(
    client: TestClient, host: dict[str, Any], body: Any, message: str
) -> None:
    resp = client.patch(f"{V1}/ihosts/compute-0", json=body)
    assert resp.status_code == 400
    assert fault(resp) == message


def test_malformed_json_is_a_400(client: TestClient, host: dict[str, Any]) -> None:
    resp = client.patch(
        f"{V1}/ihosts/compute-0", content=b"[{", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert fault(resp).startswith("Malformed JSON in request body")


def test_ports(client: TestClient, host: dict[str, Any]) -> None:
    ports = client.get(f"{V1}/ihosts/compute-0/ports").json()["ports"]
    assert [p["name"] for p in ports] == ["enp0s3", "enp0s8", "enp0s9", "enp1s0", "enp1s0d1"]
    x710 = ports[1]
    assert "mac" not in x710
    assert x710["sriov_totalvfs"] == 16 and ports[0]["sriov_totalvfs"] is None
    assert x710["pvendor"] == "Intel Corporation [8086]"
    assert x710["pdevice"] == "Ethernet Controller X710 for 10GbE SFP+ [1572]"
    assert x710["host_uuid"] == host["uuid"]
    assert {"pciaddr", "pclass", "numa_node", "driver", "interface_uuid", "dpdksupport"} <= set(
        x710
    )
    eth = client.get(f"{V1}/ihosts/compute-0/ethernet_ports").json()["ethernet_ports"]
    assert eth[1]["mac"] and eth[1]["speed"] == 10000 and eth[1]["mtu"] == 1500
    assert client.get(f"{V1}/ports/{x710['uuid']}").json()["name"] == "enp0s8"
    assert client.get(f"{V1}/ethernet_ports/{x710['uuid']}").json()["mac"] == eth[1]["mac"]
    via_iface = client.get(f"{V1}/iinterfaces/{x710['interface_uuid']}/ports").json()["ports"]
    assert [p["uuid"] for p in via_iface] == [x710["uuid"]]
    assert client.get(f"{V1}/ports/nope").status_code == 404


def test_interfaces(client: TestClient, host: dict[str, Any]) -> None:
    enp0s3 = iface(client, "enp0s3")
    assert (enp0s3["iftype"], enp0s3["ifclass"], enp0s3["imtu"], enp0s3["forihostid"]) == (
        "ethernet",
        None,
        1500,
        1,
    )
    assert (enp0s3["uses"], enp0s3["used_by"], enp0s3["ihost_uuid"]) == ([], [], host["uuid"])
    assert enp0s3["ports"][0]["href"].endswith(f"/iinterfaces/{enp0s3['uuid']}/ports")
    everything = client.get(f"{V1}/iinterfaces", params={"ihost": "compute-0"}).json()
    assert len(everything["iinterfaces"]) == 5
    assert client.get(f"{V1}/iinterfaces").json() == everything

    vlan = client.post(
        f"{V1}/iinterfaces",
        json={
            "ihost_uuid": host["uuid"],
            "ifname": "vlan10",
            "iftype": "vlan",
            "uses": ["enp0s9"],
            "vlan_id": 10,
            "ifclass": "data",
        },
    )
    assert vlan.status_code == 200, vlan.text
    assert (vlan.json()["uses"], vlan.json()["vlan_id"]) == (["enp0s9"], 10)
    assert iface(client, "enp0s9")["used_by"] == ["vlan10"]

    resp = client.patch(
        f"{V1}/iinterfaces/{enp0s3['uuid']}", json=replace(ifclass="pci-passthrough", imtu=9000)
    )
    assert (resp.json()["ifclass"], resp.json()["imtu"]) == ("pci-passthrough", 9000)
    resp = client.patch(f"{V1}/iinterfaces/{enp0s3['uuid']}", json=replace(ifclass="none"))
    assert resp.json()["ifclass"] is None

    bad = client.patch(f"{V1}/iinterfaces/{enp0s3['uuid']}", json=replace(imtu="abc"))
    assert (bad.status_code, fault(bad)) == (400, "MTU is an integer value.")
    bad = client.post(f"{V1}/iinterfaces", json=["not", "an", "object"])
    assert (bad.status_code, fault(bad)) == (
        400,
        "Invalid input: Input should be a valid dictionary or object to extract fields from",
    )

    assert client.delete(f"{V1}/iinterfaces/{vlan.json()['uuid']}").status_code == 204
    gone = client.get(f"{V1}/iinterfaces/{vlan.json()['uuid']}")
    assert (gone.status_code, fault(gone)) == (
        404,
        f"Interface {vlan.json()['uuid']} could not be found.",
    )


def test_ae_members_change_with_usesmodify(client: TestClient, host: dict[str, Any]) -> None:
    bond = client.post(
        f"{V1}/iinterfaces",
        json={
            "ihost_uuid": "compute-0",
            "ifname": "bond0",
            "iftype": "ae",
            "uses": ["enp0s3"],
            "ifclass": "data",
        },
    ).json()
    resp = client.patch(
        f"{V1}/iinterfaces/{bond['uuid']}", json=replace(usesmodify="enp0s3,enp0s9")
    )
    assert resp.json()["uses"] == ["enp0s3", "enp0s9"]


def test_datanetworks(client: TestClient, host: dict[str, Any]) -> None:
    created = client.post(
        f"{V1}/datanetworks", json={"name": "group0-data0", "network_type": "vlan", "mtu": 1500}
    )
    assert created.status_code == 200, created.text
    dn = created.json()
    assert {k: dn[k] for k in ("id", "name", "network_type", "mtu", "description")} == {
        "id": 1,
        "name": "group0-data0",
        "network_type": "vlan",
        "mtu": 1500,
        "description": None,
    }
    assert "port_num" not in dn
    vx = client.post(
        f"{V1}/datanetworks",
        json={
            "name": "vx0",
            "network_type": "vxlan",
            "multicast_group": "239.1.1.1",
            "port_num": 4789,
            "ttl": 5,
            "mode": "dynamic",
        },
    ).json()
    assert (vx["multicast_group"], vx["port_num"], vx["ttl"], vx["mode"]) == (
        "239.1.1.1",
        4789,
        5,
        "dynamic",
    )
    names = [d["name"] for d in client.get(f"{V1}/datanetworks").json()["datanetworks"]]
    assert names == ["group0-data0", "vx0"]
    assert client.get(f"{V1}/datanetworks/group0-data0").json()["uuid"] == dn["uuid"]
    patched = client.patch(f"{V1}/datanetworks/{dn['uuid']}", json=replace(description="VLANs"))
    assert patched.json()["description"] == "VLANs"
    refused = client.patch(f"{V1}/datanetworks/{dn['uuid']}", json=replace(network_type="flat"))
    assert fault(refused) == (
        f"DataNetwork '{dn['uuid']}' attributes 'network_type' may not be modified"
    )
    dup = client.post(f"{V1}/datanetworks", json={"name": "vx0", "network_type": "flat"})
    assert (dup.status_code, fault(dup)) == (409, "DataNetwork with name vx0 already exists.")
    assert client.delete(f"{V1}/datanetworks/vx0").status_code == 204
    assert client.get(f"{V1}/datanetworks/vx0").status_code == 404


def test_the_starlingx_procedure_over_http(client: TestClient, host: dict[str, Any]) -> None:
    """Lock, make enp0s3 pci-passthrough, assign group0-data0, check SR-IOV, unlock."""
    dn = client.post(
        f"{V1}/datanetworks", json={"name": "group0-data0", "network_type": "vlan"}
    ).json()
    enp0s3 = iface(client, "enp0s3")
    client.patch(f"{V1}/iinterfaces/{enp0s3['uuid']}", json=replace(ifclass="pci-passthrough"))
    resp = client.post(
        f"{V1}/interface_datanetworks",
        json={"interface_uuid": enp0s3["uuid"], "datanetwork_uuid": dn["uuid"]},
    )
    assert resp.status_code == 200, resp.text
    assignment = resp.json()
    assert {k: assignment[k] for k in ("forihostid", "ifname", "datanetwork_name")} == {
        "forihostid": 1,
        "ifname": "enp0s3",
        "datanetwork_name": "group0-data0",
    }
    assert (assignment["interface_uuid"], assignment["datanetwork_uuid"]) == (
        enp0s3["uuid"],
        dn["uuid"],
    )
    assert assignment["datanetwork_id"] == dn["id"]
    ports = client.get(f"{V1}/iinterfaces/{enp0s3['uuid']}/ports").json()["ports"]
    assert ports[0]["sriov_totalvfs"] is None  # no SR-IOV: the PCI alias path
    assert (ports[0]["pvendor"], ports[0]["pdevice"]) == (
        "Intel Corporation [8086]",
        "82540EM Gigabit Ethernet Controller [100e]",
    )
    unlocked = client.patch(f"{V1}/ihosts/compute-0", json=replace(action="unlock")).json()
    assert unlocked["administrative"] == "unlocked"

    for path in (
        f"{V1}/interface_datanetworks",
        f"{V1}/ihosts/compute-0/interface_datanetworks",
        f"{V1}/iinterfaces/{enp0s3['uuid']}/interface_datanetworks",
    ):
        rows = client.get(path).json()["interface_datanetworks"]
        assert [r["uuid"] for r in rows] == [assignment["uuid"]]
    shown = client.get(f"{V1}/interface_datanetworks/{assignment['uuid']}").json()
    assert shown == assignment

    refused = client.delete(f"{V1}/interface_datanetworks/{assignment['uuid']}")
    assert (refused.status_code, fault(refused)) == (
        400,
        "Operation Rejected: Host 'compute-0' is adminstrative 'unlocked'",
    )
    client.patch(f"{V1}/ihosts/compute-0", json=replace(action="lock"))
    assert client.delete(f"{V1}/interface_datanetworks/{assignment['uuid']}").status_code == 204


def test_bad_assignment_bodies(client: TestClient, host: dict[str, Any]) -> None:
    resp = client.post(f"{V1}/interface_datanetworks", json={"interface_uuid": "x"})
    assert (resp.status_code, fault(resp)) == (
        400,
        "Invalid input: datanetwork_uuid: Field required",
    )
    body = {"interface_uuid": "x", "datanetwork_uuid": "y", "ifname": "z"}
    resp = client.post(f"{V1}/interface_datanetworks", json=body)
    assert (resp.status_code, fault(resp)) == (
        400,
        "Invalid input: ifname: Extra inputs are not permitted",
    )
    resp = client.post(
        f"{V1}/interface_datanetworks", json={"interface_uuid": 1, "datanetwork_uuid": "y"}
    )
    assert (resp.status_code, fault(resp)) == (
        400,
        "Invalid input: interface_uuid: Input should be a valid string",
    )


def test_openapi_documents_every_body(app: Any) -> None:
    spec = TestClient(app).get("/openapi.json").json()
    bodies = {
        (method.upper(), path): op["requestBody"]["content"]["application/json"]["schema"]
        for path, item in spec["paths"].items()
        if path.startswith(V1)
        for method, op in item.items()
        if "requestBody" in op
    }
    patch = {"type": "array", "items": {"$ref": "#/components/schemas/PatchOperation"}}
    assert {key: {k: v for k, v in s.items() if k != "maxItems"} for key, s in bodies.items()} == {
        ("POST", f"{V1}/agent/reports"): {"$ref": "#/components/schemas/HostReport"},
        ("POST", f"{V1}/ihosts"): {"$ref": "#/components/schemas/HostAdd"},
        ("PATCH", f"{V1}/ihosts/{{host}}"): {**patch, "title": "Body"},
        ("POST", f"{V1}/iinterfaces"): {"$ref": "#/components/schemas/InterfaceCreate"},
        ("PATCH", f"{V1}/iinterfaces/{{interface}}"): {**patch, "title": "Body"},
        ("POST", f"{V1}/datanetworks"): {"$ref": "#/components/schemas/DataNetworkCreate"},
        ("PATCH", f"{V1}/datanetworks/{{datanetwork}}"): {**patch, "title": "Body"},
        ("POST", f"{V1}/interface_datanetworks"): {
            "$ref": "#/components/schemas/InterfaceDataNetworkAssign"
        },
    }
    interface = spec["components"]["schemas"]["InterfaceCreate"]
    assert interface["required"] == ["ihost_uuid", "ifname"]
    # The CLI sends numbers as text: both are documented, the service parses the text.
    assert [t["type"] for t in interface["properties"]["imtu"]["anyOf"]] == ["integer", "string"]


def test_numbers_and_booleans_as_the_cli_sends_them(
    client: TestClient, host: dict[str, Any]
) -> None:
    client.patch(f"{V1}/ihosts/compute-0", json=replace(action="lock"))
    body = {"name": "physnet9", "network_type": "vlan", "mtu": "9000", "description": "d"}
    dn = client.post(f"{V1}/datanetworks", json=body)
    assert (dn.status_code, dn.json()["mtu"]) == (200, 9000), dn.text
    enp0s3 = iface(client, "enp0s3")
    resp = client.patch(
        f"{V1}/iinterfaces/{enp0s3['uuid']}", json=replace(imtu="9000", monitoring="True")
    )
    assert (resp.status_code, resp.json()["imtu"], resp.json()["monitoring"]) == (200, 9000, True)
    for wrong in ({"mtu": True}, {"mtu": [1500]}, {"name": 5}, {"description": {"a": 1}}):
        resp = client.post(f"{V1}/datanetworks", json={**body, "name": "physnet8", **wrong})
        assert resp.status_code == 400, (wrong, resp.text)
        assert fault(resp).startswith("Invalid input: "), wrong
    extra = client.post(f"{V1}/datanetworks", json={**body, "name": "physnet8", "vlan": 5})
    assert (extra.status_code, fault(extra)) == (
        400,
        "DataNetwork attribute(s) 'vlan' may not be set",
    )
