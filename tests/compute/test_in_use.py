"""What a server uses stays with it: Neutron's API refuses to delete its port or give it away
(409 naming the server), reading the server never fails for a port gone missing, and the
inventory refuses to lock its host (unless forced) or change its NIC's interface; a data network
that networks use is not deleted. These go through the wiring of the whole cloud."""

from __future__ import annotations

from typing import Any

import pytest

from passnic.errors import BadRequest
from tests.compute.conftest import ADMIN, API, Scene

PORTS = "/networking/v2.0/ports"


def _fault(resp: Any, status: int) -> dict[str, str]:
    assert resp.status_code == status, resp.text
    fault: dict[str, str] = resp.json()["NeutronError"]
    return fault


def test_a_member_cannot_delete_the_port_of_a_server(scene: Scene) -> None:
    port = scene.port("port0")
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    sid = server["id"]
    url = f"{PORTS}/{port['id']}"
    fault = _fault(scene.api.delete(url, headers=scene.user1), 409)
    assert fault["type"] == "PortInUse"
    assert fault["message"] == (
        f"Port {port['id']} cannot be deleted directly via the port API: it is in use by server "
        f"{sid} on host compute-0; delete the server first"
    )
    body = {"port": {"device_owner": ""}}
    fault = _fault(scene.api.put(url, json=body, headers=scene.user1), 409)
    assert fault["message"] == (
        f"Port {port['id']} is in use by server {sid}: its device_owner cannot be changed; "
        "delete the server to free the port"
    )
    assert scene.get_port(port["id"])["device_owner"] == "compute:nova"
    assert scene.show(sid, scene.user1)["status"] == "ACTIVE"


def test_reading_a_server_survives_a_missing_port(scene: Scene) -> None:
    """However a port goes (a bug, a manual repair, a delete racing a list), the server's show,
    its project's list and the admin's list still answer; the port is just not shown."""
    kept = scene.port("kept")
    lost = scene.port("lost", vnic_type="normal")  # an address only: no second NIC needed
    server = scene.boot("vm1", networks=[{"port": kept["id"]}, {"port": lost["id"]}])
    assert server["status"] == "ACTIVE", server.get("fault")
    with scene.cloud.db.transaction() as s:
        scene.cloud.network.delete_port_in(s, lost["id"])
    shown = scene.show(server["id"], scene.user1)
    assert [a["addr"] for a in shown["addresses"]["net0"]] == [kept["fixed_ips"][0]["ip_address"]]
    for url, headers in (
        (f"{API}/servers/detail", scene.user1),
        (f"{API}/servers/detail?all_tenants=True", scene.admin),
    ):
        resp = scene.api.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        assert [s["id"] for s in resp.json()["servers"]] == [server["id"]]


def test_the_inventory_asks_placement_and_networking_what_is_in_use(scene: Scene) -> None:
    inv = scene.cloud.inventory
    port = scene.port("port0")
    scene.boot("vm1", networks=[{"port": port["id"]}])
    pci = scene.nics["compute-0"]["pciaddr"]
    with pytest.raises(BadRequest) as info:
        inv.lock_host(ADMIN, "compute-0")
    assert info.value.message.startswith(
        f"Rejected: Can not lock compute-0: server vm1 holds pci-passthrough NIC {pci} on it"
    )
    inv.lock_host(ADMIN, "compute-1")  # nothing runs there
    inv.lock_host(ADMIN, "compute-0", force=True)
    enp0s3 = inv.get_interface(ADMIN, "enp0s3", "compute-0")
    with pytest.raises(BadRequest, match="Interface 'enp0s3' cannot be modified: server vm1"):
        inv.modify_interface(ADMIN, enp0s3.uuid, {"ifclass": "none"})
    with pytest.raises(BadRequest, match="cannot be removed from its data network: server vm1"):
        inv.remove_interface_datanetwork(ADMIN, enp0s3.datanetworks[0].uuid)
    spare = inv.create_datanetwork(ADMIN, {"name": "spare", "network_type": "vlan"})
    scene.cloud.network.create_network(
        ADMIN,
        name="net9",
        project_id="p",
        network_type="vlan",
        physical_network="spare",
        segmentation_id=9,
    )
    with pytest.raises(BadRequest) as info:
        inv.delete_datanetwork(ADMIN, spare.uuid)
    used = f"DataNetwork '{spare.uuid}' is still used by network net9"
    assert info.value.message.startswith(used)
