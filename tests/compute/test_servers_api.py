"""Servers over HTTP: boot with a direct-physical port, with a network, with a PCI alias flavor;
what a failed boot leaves (nothing); delete; power; project isolation; bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compute.conftest import API, Scene, add_host, lock, make_passthrough


def _boot_port(scene: Scene, name: str, port_name: str | None = None) -> tuple[dict, dict]:
    port = scene.port(port_name or f"{name}-port")
    server = scene.boot(name, networks=[{"port": port["id"]}])
    return server, port


def test_boot_with_a_direct_physical_port(scene: Scene) -> None:
    port = scene.port("port0")
    ip = port["fixed_ips"][0]["ip_address"]
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    assert server["status"] == "ACTIVE", server.get("fault")
    shown = scene.show(server["id"])
    host = shown["OS-EXT-SRV-ATTR:host"]
    nic = scene.nics[host]
    assert host == shown["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "compute-0"
    assert (shown["OS-EXT-STS:vm_state"], shown["OS-EXT-STS:task_state"]) == ("active", None)
    assert shown["OS-EXT-STS:power_state"] == 1
    assert shown["flavor"] == {
        "original_name": "small",
        "vcpus": 1,
        "ram": 1024,
        "disk": 1,
        "ephemeral": 0,
        "swap": 0,
        "extra_specs": {},
    }
    assert shown["image"]["id"] == scene.image_id
    assert shown["addresses"] == {
        "net0": [
            {
                "version": 4,
                "addr": ip,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": nic["mac"],
            }
        ]
    }
    assert "fault" not in shown

    bound = scene.get_port(port["id"])
    assert bound["mac_address"] == nic["mac"]
    assert bound["fixed_ips"][0]["ip_address"] == ip
    assert bound["binding:host_id"] == host
    assert bound["binding:profile"] == {
        "pci_slot": nic["pciaddr"],
        "pci_vendor_info": "8086:1572",
        "physical_network": "group0-data0",
    }
    assert bound["binding:vif_type"] == "hostdev_physical"
    assert bound["binding:vif_details"] == {"vlan": "10"}
    assert bound["status"] == "ACTIVE"
    assert (bound["device_id"], bound["device_owner"]) == (server["id"], "compute:nova")
    assert scene.claims() == [(host, nic["pciaddr"], "vm1")]
    fake = scene.hosts.driver(host)
    assert fake.guests()[server["id"]] == "running"
    assert [d.pci_address for d in fake.spec(server["id"]).devices] == [nic["pciaddr"]]


def test_owner_sees_no_host_attributes(scene: Scene) -> None:
    server, _port = _boot_port(scene, "vm1")
    shown = scene.show(server["id"], scene.user1)
    assert shown["status"] == "ACTIVE"
    assert "OS-EXT-SRV-ATTR:host" not in shown
    assert shown["hostId"]


def test_network_data_json(scene: Scene) -> None:
    server, port = _boot_port(scene, "vm1")
    resp = scene.api.get(f"{API}/servers/{server['id']}/network_data.json", headers=scene.user1)
    assert resp.status_code == 200
    data = resp.json()
    mac = scene.nics["compute-0"]["mac"]
    assert data["links"] == [
        {
            "id": f"tap{port['id'][:11]}",
            "vif_id": port["id"],
            "type": "phy",
            "mtu": 1500,
            "ethernet_mac_address": mac,
        }
    ]
    assert data["networks"] == [
        {
            "id": "network0",
            "type": "ipv4",
            "link": f"tap{port['id'][:11]}",
            "ip_address": port["fixed_ips"][0]["ip_address"],
            "netmask": "255.255.255.0",
            "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.168.10.1"}],
            "network_id": scene.network_id,
            "services": [{"type": "dns", "address": "192.168.10.254"}],
        }
    ]
    assert data["services"] == [{"type": "dns", "address": "192.168.10.254"}]


def test_boot_on_a_network_makes_a_direct_physical_port(scene: Scene) -> None:
    server = scene.boot("vm1", networks=[{"uuid": scene.network_id, "fixed_ip": "192.168.10.50"}])
    assert server["status"] == "ACTIVE", server.get("fault")
    resp = scene.api.get(f"/networking/v2.0/ports?device_id={server['id']}", headers=scene.admin)
    (port,) = resp.json()["ports"]
    assert port["binding:vnic_type"] == "direct-physical"
    assert port["fixed_ips"][0]["ip_address"] == "192.168.10.50"
    assert port["mac_address"] == scene.nics["compute-0"]["mac"]
    assert scene.delete(server["id"], scene.user1).status_code == 204
    resp = scene.api.get(f"/networking/v2.0/ports/{port['id']}", headers=scene.admin)
    assert resp.status_code == 404
    assert scene.claims() == []


def test_boot_with_a_pci_alias_flavor(scene: Scene, settings: Any) -> None:
    host = add_host(scene.cloud, settings.home, 2)
    nic = make_passthrough(scene.cloud, host, "enp0s4", datanetwork=None)
    scene.alias_flavor("pci-small", "nic-82574", "8086", "10d3")
    server = scene.boot("vm2", flavor="pci-small", networks="none")
    assert server["status"] == "ACTIVE", server.get("fault")
    shown = scene.show(server["id"])
    assert shown["OS-EXT-SRV-ATTR:host"] == "compute-2"
    assert shown["flavor"]["extra_specs"] == {"pci_passthrough:alias": "nic-82574:1"}
    assert shown["addresses"] == {}
    assert scene.claims() == [("compute-2", nic["pciaddr"], "vm2")]
    data = scene.api.get(f"{API}/servers/{server['id']}/network_data.json", headers=scene.user1)
    assert data.json()["links"][0]["ethernet_mac_address"] == nic["mac"]


def test_alias_of_virtual_functions_is_refused_at_boot(scene: Scene) -> None:
    resp = scene.api.post(
        f"{API}/os-pci-aliases",
        json={
            "pci_alias": {
                "name": "vf",
                "vendor_id": "8086",
                "product_id": "154c",
                "device_type": "type-VF",
            }
        },
        headers=scene.admin,
    )
    assert resp.status_code == 201
    flavor = scene.api.post(
        f"{API}/flavors",
        json={"flavor": {"name": "vf-small", "ram": 512, "vcpus": 1, "disk": 1}},
        headers=scene.admin,
    ).json()["flavor"]
    scene.api.post(
        f"{API}/flavors/{flavor['id']}/os-extra_specs",
        json={"extra_specs": {"pci_passthrough:alias": "vf"}},
        headers=scene.admin,
    )
    body = scene.boot("vm1", flavor="vf-small", status=400)
    assert "type-VF" in body["badRequest"]["message"]
    resp = scene.api.get(f"{API}/servers", headers=scene.user1)
    assert resp.json()["servers"] == []


def test_no_free_device_leaves_error_with_the_reason(scene: Scene) -> None:
    _boot_port(scene, "vm1")
    _boot_port(scene, "vm2")
    server, port = _boot_port(scene, "vm3")
    assert server["status"] == "ERROR"
    assert server["fault"]["code"] == 500
    assert server["fault"]["message"] == (
        "No valid host: 2 hosts have a pci-passthrough NIC on group0-data0; compute-0 and "
        "compute-1 have theirs in use by vm1 and vm2"
    )
    assert server["OS-EXT-STS:vm_state"] == "error"
    shown = scene.show(server["id"], scene.user1)
    assert shown["fault"]["message"] == server["fault"]["message"]
    left = scene.get_port(port["id"])
    assert (left["device_id"], left["binding:host_id"], left["status"]) == ("", "", "DOWN")
    assert len(scene.claims()) == 2


def test_reason_names_locked_hosts(scene: Scene) -> None:
    _boot_port(scene, "vm1")
    lock(scene.cloud, "compute-1")
    server, _port = _boot_port(scene, "vm2")
    assert server["fault"]["message"] == (
        "No valid host: 2 hosts have a pci-passthrough NIC on group0-data0; compute-1 is "
        "locked; compute-0 has its NIC in use by vm1"
    )


def test_failed_spawn_releases_everything(scene: Scene) -> None:
    lock(scene.cloud, "compute-1")
    scene.hosts.driver("compute-0").fail_next("spawn", "no hugepages left")
    server, port = _boot_port(scene, "vm1")
    assert server["status"] == "ERROR"
    assert server["fault"]["message"] == (
        "Build of server vm1 on compute-0 failed: no hugepages left"
    )
    assert scene.claims() == []
    left = scene.get_port(port["id"])
    assert left["device_id"] == ""
    assert left["binding:host_id"] == ""
    assert left["mac_address"] != scene.nics["compute-0"]["mac"]
    again, _ = scene.boot("vm2", networks=[{"port": port["id"]}]), None
    assert again["status"] == "ACTIVE"


def test_delete_releases_the_nic_and_unbinds_the_port(scene: Scene) -> None:
    server, port = _boot_port(scene, "vm1")
    resp = scene.delete(server["id"], scene.user1)
    assert resp.status_code == 204
    assert scene.api.get(f"{API}/servers/{server['id']}", headers=scene.user1).status_code == 404
    assert scene.claims() == []
    left = scene.get_port(port["id"])
    assert left["device_id"] == "" and left["device_owner"] == ""
    assert left["binding:host_id"] == "" and left["binding:vif_type"] == "unbound"
    assert left["mac_address"] != scene.nics["compute-0"]["mac"]
    assert left["fixed_ips"] == port["fixed_ips"]
    assert server["id"] not in scene.hosts.driver("compute-0").guests()


def test_delete_of_an_error_server(scene: Scene) -> None:
    _boot_port(scene, "vm1")
    _boot_port(scene, "vm2")
    server, _port = _boot_port(scene, "vm3")
    assert server["status"] == "ERROR"
    assert scene.delete(server["id"], scene.user1).status_code == 204


def test_failed_destroy_keeps_the_nic(scene: Scene) -> None:
    server, _port = _boot_port(scene, "vm1")
    scene.hosts.driver("compute-0").fail_next("destroy", "libvirt is down")
    resp = scene.delete(server["id"], scene.user1)
    assert resp.status_code == 204
    scene.hosts.settle()
    shown = scene.show(server["id"])
    assert shown["status"] == "ERROR"
    assert shown["fault"]["message"] == "Delete of server vm1 failed on compute-0: libvirt is down"
    assert len(scene.claims()) == 1
    assert scene.delete(server["id"], scene.user1).status_code == 204
    assert scene.claims() == []


def test_stop_start_reboot(scene: Scene) -> None:
    server, _port = _boot_port(scene, "vm1")
    sid = server["id"]
    fake = scene.hosts.driver("compute-0")
    assert scene.action(sid, {"os-stop": None}, scene.user1).status_code == 202
    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-STS:power_state"]) == ("SHUTOFF", 4)
    assert fake.guests()[sid] == "stopped"
    assert len(scene.claims()) == 1  # a stopped server keeps its NIC
    resp = scene.action(sid, {"os-stop": None}, scene.user1)
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'os-stop' instance {sid} while it is in vm_state stopped"
    )
    assert scene.action(sid, {"os-start": None}, scene.user1).status_code == 202
    assert scene.show(sid)["status"] == "ACTIVE"
    assert scene.action(sid, {"reboot": {"type": "HARD"}}, scene.user1).status_code == 202
    assert scene.show(sid)["status"] == "ACTIVE"
    assert [c for c in fake.calls if c[1] == sid] == [
        ("spawn", sid),
        ("power_off", sid),
        ("power_on", sid),
        ("reboot", sid),
    ]
    assert scene.action(sid, {"reboot": {"type": "GENTLE"}}, scene.user1).status_code == 400
    # pausing cannot apply to a passthrough NIC: refused with why (test_server_extras)
    assert scene.action(sid, {"pause": None}, scene.user1).status_code == 409


def test_projects_see_only_their_servers(scene: Scene) -> None:
    server, _port = _boot_port(scene, "vm1")
    sid = server["id"]
    api = scene.api
    assert api.get(f"{API}/servers/{sid}", headers=scene.user2).status_code == 404
    assert api.delete(f"{API}/servers/{sid}", headers=scene.user2).status_code == 404
    assert scene.action(sid, {"os-stop": None}, scene.user2).status_code == 404
    assert api.get(f"{API}/servers/detail", headers=scene.user2).json()["servers"] == []
    resp = api.get(f"{API}/servers/{sid}/network_data.json", headers=scene.user2)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == f"Instance {sid} could not be found."
    mine = api.get(f"{API}/servers/detail?name=vm1", headers=scene.user1).json()["servers"]
    assert [s["id"] for s in mine] == [sid]
    assert api.get(f"{API}/servers/detail", headers=scene.admin).json()["servers"] == []
    every = api.get(f"{API}/servers/detail?all_tenants=True", headers=scene.admin).json()
    assert [s["id"] for s in every["servers"]] == [sid]
    on_host = api.get(f"{API}/servers?host=compute-0", headers=scene.admin).json()["servers"]
    assert [s["id"] for s in on_host] == [sid]
    assert api.get(f"{API}/servers?host=compute-1", headers=scene.admin).json()["servers"] == []
    # a user's all_tenants is ignored
    theirs = api.get(f"{API}/servers?all_tenants=1", headers=scene.user2).json()["servers"]
    assert theirs == []


def test_port_of_another_project_or_in_use(scene: Scene) -> None:
    _server, port = _boot_port(scene, "vm1")
    body = scene.boot("vm2", networks=[{"port": port["id"]}], status=409)
    assert body["conflictingRequest"]["message"] == (
        f"Port {port['id']} is still in use by compute:nova."
    )
    body = scene.boot("vm3", networks=[{"port": port["id"]}], headers=scene.user2, status=400)
    assert body["badRequest"]["message"] == f"Port {port['id']} could not be found."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"flavorRef": "nosuch"}, "Flavor nosuch could not be found."),
        ({"imageRef": "nosuch"}, "Image nosuch could not be found."),
        ({"networks": [{"port": "nosuch"}]}, "Port nosuch could not be found."),
        ({"networks": [{"uuid": "nosuch"}]}, "Network nosuch could not be found."),
        ({"networks": [{}]}, "Each entry of networks needs a port or a uuid (a network)."),
        (
            {"networks": "some"},
            "Invalid input: server.networks.literal['auto','none']: Input should be 'auto' or "
            "'none'; server.networks.list[NetworkRequest]: Input should be a valid list",
        ),
        ({"name": ""}, "Invalid server name: it must be 1 to 255 characters."),
        ({"name": 5}, "Invalid input: server.name: Input should be a valid string"),
    ],
)
def test_boot_bad_input(scene: Scene, change: dict[str, Any], message: str) -> None:
    body: dict[str, Any] = {
        "name": "vm1",
        "imageRef": scene.image_id,
        "flavorRef": scene.flavor_id("small"),
        "networks": "auto",
        **change,
    }
    resp = scene.api.post(f"{API}/servers", json={"server": body}, headers=scene.user1)
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"badRequest": {"code": 400, "message": message}}
    assert scene.api.get(f"{API}/servers", headers=scene.user1).json()["servers"] == []
    resp = scene.api.get("/networking/v2.0/ports", headers=scene.admin)
    assert resp.json()["ports"] == []


def test_readers_and_strangers(scene: Scene) -> None:
    assert scene.api.get(f"{API}/servers/nosuch", headers=scene.user1).status_code == 404
    resp = scene.api.post(f"{API}/servers", json={"nope": {}}, headers=scene.user1)
    assert resp.status_code == 400
    assert scene.api.get(f"{API}/servers").status_code == 401


def test_refused_binding_leaves_no_claim(scene: Scene) -> None:
    """A port elsewhere already has the NIC's MAC: the binding is refused, so is the claim."""
    lock(scene.cloud, "compute-1")
    mac = scene.nics["compute-0"]["mac"]
    body = {"port": {"name": "squatter", "network_id": scene.network_id, "mac_address": mac}}
    resp = scene.api.post("/networking/v2.0/ports", json=body, headers=scene.admin)
    assert resp.status_code == 201, resp.text
    server, port = _boot_port(scene, "vm1")
    assert server["status"] == "ERROR"
    assert server["fault"]["message"].startswith("Build of server vm1 failed: MAC address")
    assert scene.claims() == []
    assert scene.get_port(port["id"])["device_id"] == ""


def test_status_filter_and_brief_list(scene: Scene) -> None:
    ok, _port = _boot_port(scene, "vm1")
    scene.action(ok["id"], {"os-stop": None}, scene.user1)
    brief = scene.api.get(f"{API}/servers", headers=scene.user1).json()["servers"]
    assert [set(s) for s in brief] == [{"id", "name", "links"}]
    stopped = scene.api.get(f"{API}/servers/detail?status=SHUTOFF", headers=scene.user1)
    assert [s["id"] for s in stopped.json()["servers"]] == [ok["id"]]
    active = scene.api.get(f"{API}/servers/detail?status=ACTIVE", headers=scene.user1)
    assert active.json()["servers"] == []
