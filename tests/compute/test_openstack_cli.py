"""The real `openstack` CLI against a running Passnic: the compute acceptance procedure.

The inventory steps (lock, pci-passthrough class, data network, unlock) go through the inventory
REST API as an admin; networks, ports, flavors and servers through `openstack`. Admin commands
name servers by id: as in Nova, an admin's name lookup only searches the admin's own project.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from passnic.agent.discovery import discover_host
from passnic.agent.fakesysfs import build_sample_compute_sysfs
from passnic.agent.host import password_login
from passnic.bootstrap import load_credentials
from passnic.compute.sample import seed_flavors
from passnic.image.sample import seed_cirros
from tests.conftest import LiveCloud

pytestmark = pytest.mark.osc

ADMIN, USER1 = "passnic-admin", "passnic-user1"


class Inventory:
    """The admin's inventory REST calls, as the `system` CLI makes them."""

    def __init__(self, live: LiveCloud) -> None:
        cred = next(c for c in load_credentials(live.home) if c.cloud == ADMIN)
        self.http = httpx.Client(base_url=live.url, timeout=30)
        login = password_login("/identity", cred.username, cred.password, cred.project)
        self.http.headers["X-Auth-Token"] = login(self.http)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.http.request(method, f"/inventory/v1{path}", json=body)
        assert resp.is_success, resp.text
        return resp.json()

    def host_action(self, host: str, action: str) -> None:
        self.call(
            "PATCH", f"/ihosts/{host}", [{"op": "replace", "path": "/action", "value": action}]
        )

    def passthrough(self, host: str, ifname: str, datanetwork: str | None) -> dict[str, Any]:
        """Lock, set the class, assign the data network, unlock; the NIC's port."""
        if self.call("GET", f"/ihosts/{host}")["administrative"] == "unlocked":
            self.host_action(host, "lock")
        ifaces = self.call("GET", f"/ihosts/{host}/iinterfaces")["iinterfaces"]
        iface = next(i for i in ifaces if i["ifname"] == ifname)
        patch = [{"op": "replace", "path": "/ifclass", "value": "pci-passthrough"}]
        self.call("PATCH", f"/iinterfaces/{iface['uuid']}", patch)
        if datanetwork is not None:
            dns = self.call("GET", "/datanetworks")["datanetworks"]
            dn = next(d for d in dns if d["name"] == datanetwork)
            assignment = {"interface_uuid": iface["uuid"], "datanetwork_uuid": dn["uuid"]}
            self.call("POST", "/interface_datanetworks", assignment)
        self.host_action(host, "unlock")
        ports = self.call("GET", f"/ihosts/{host}/ethernet_ports")["ethernet_ports"]
        port: dict[str, Any] = next(p for p in ports if p["name"] == ifname)
        return port


@pytest.fixture(scope="module")
def inventory(live: LiveCloud) -> Iterator[Inventory]:
    seed_flavors(live.cloud)
    seed_cirros(live.cloud)
    inv = Inventory(live)
    yield inv
    inv.http.close()


def _server(live: LiveCloud, cloud: str, server: str) -> dict[str, Any]:
    shown: dict[str, Any] = live.openstack_json(cloud, "server", "show", server)
    return shown


def _confirmed(live: LiveCloud, cloud: str, server: str) -> dict[str, Any]:
    """The server once its resize confirm is done (the API answers at once; the conductor
    frees the source's NICs, then the server is ACTIVE again)."""
    deadline = time.monotonic() + 30
    while (shown := _server(live, cloud, server))["status"] == "VERIFY_RESIZE":
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    return shown


def _port(live: LiveCloud, port: str) -> dict[str, Any]:
    shown: dict[str, Any] = live.openstack_json(USER1, "port", "show", port)
    return shown


def test_passthrough_procedure(live: LiveCloud, inventory: Inventory) -> None:
    nics = {
        h: inventory.passthrough(h, "enp0s3", "group0-data0") for h in ("compute-0", "compute-1")
    }
    macs = {h: n["mac"] for h, n in nics.items()}

    live.openstack(
        ADMIN, "network", "create", "--project", "project1", "--provider-network-type", "vlan",
        "--provider-physical-network", "group0-data0", "--provider-segment", "10", "net0",
    )  # fmt: skip
    live.openstack(USER1, "subnet", "create", "--network", "net0", "--subnet-range",
                   "192.168.10.0/24", "subnet0")  # fmt: skip
    port0 = live.openstack_json(
        USER1, "port", "create", "--network", "net0", "--vnic-type", "direct-physical", "port0"
    )
    ip = port0["fixed_ips"][0]["ip_address"]

    vm1 = live.openstack_json(
        USER1, "server", "create", "--flavor", "small", "--image", "cirros",
        "--nic", f"port-id={port0['id']}", "--wait", "vm1",
    )  # fmt: skip
    assert vm1["status"] == "ACTIVE"
    first = _server(live, ADMIN, vm1["id"])["OS-EXT-SRV-ATTR:host"]
    assert first in ("compute-0", "compute-1")
    bound = _port(live, "port0")
    assert bound["mac_address"] == macs[first]
    assert bound["fixed_ips"][0]["ip_address"] == ip
    assert bound["binding_vif_type"] == "hostdev_physical"
    assert bound["device_id"] == vm1["id"]

    # The NIC without SR-IOV: a PCI alias and a flavor that asks for it.
    host2 = discover_host("compute-2", build_sample_compute_sysfs(live.home / "sysfs2", 2))
    inventory.call("POST", "/agent/reports", host2.model_dump(mode="json"))
    nic2 = inventory.passthrough("compute-2", "enp0s4", None)
    vendor, product = "8086", "10d3"
    resp = inventory.http.post(
        "/compute/v2.1/os-pci-aliases",
        json={
            "pci_alias": {
                "name": "nic-82574",
                "vendor_id": vendor,
                "product_id": product,
                "device_type": "type-PCI",
            }
        },
    )
    assert resp.status_code == 201, resp.text
    live.openstack(ADMIN, "flavor", "create", "--ram", "1024", "--disk", "1", "--vcpus", "1",
                   "pci-small")  # fmt: skip
    live.openstack(ADMIN, "flavor", "set", "--property", "pci_passthrough:alias=nic-82574:1",
                   "pci-small")  # fmt: skip
    vm2 = live.openstack_json(
        USER1, "server", "create", "--flavor", "pci-small", "--image", "cirros", "--wait", "vm2"
    )
    assert vm2["status"] == "ACTIVE"
    assert _server(live, ADMIN, vm2["id"])["OS-EXT-SRV-ATTR:host"] == "compute-2"
    claims = {(c.hostname, c.pci_address) for c in live.cloud.placement.list_claims()}
    assert ("compute-2", nic2["pciaddr"]) in claims

    # Cold migration: another NIC, so a new MAC; the IP stays.
    proc = live.openstack(ADMIN, "server", "migrate", "--wait", "vm1")
    assert "Complete" in proc.stdout
    moved = _server(live, ADMIN, vm1["id"])
    second = moved["OS-EXT-SRV-ATTR:host"]
    assert moved["status"] == "VERIFY_RESIZE" and second != first
    live.openstack(ADMIN, "server", "resize", "confirm", "vm1")
    assert _confirmed(live, USER1, "vm1")["status"] == "ACTIVE"
    after = _port(live, "port0")
    assert after["mac_address"] == macs[second] != macs[first]
    assert after["fixed_ips"][0]["ip_address"] == ip

    # No live migration with a passthrough NIC.
    proc = live.openstack(ADMIN, "server", "migrate", "--live-migration", "vm1", check=False)
    assert proc.returncode == 1
    assert (
        "Live migration of server vm1 is not possible: port port0 (direct-physical) holds PCI "
        f"passthrough NIC {nics[second]['pciaddr']} on {second}; use cold migration "
        "(openstack server migrate)"
    ) in proc.stderr

    rows = {r["Name"]: r for r in live.openstack_json(USER1, "server", "list")}
    assert rows["vm1"]["Networks"] == {"net0": [ip]}
    assert (rows["vm1"]["Flavor"], rows["vm2"]["Flavor"]) == ("small", "pci-small")
    assert rows["vm1"]["Image"] == "cirros" and rows["vm1"]["Status"] == "ACTIVE"

    # No free NIC: ERROR, and the reason stage by stage.
    proc = live.openstack(
        USER1, "server", "create", "--flavor", "pci-small", "--image", "cirros", "--wait", "vm3",
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Error creating server: vm3" in proc.stderr
    vm3 = _server(live, USER1, "vm3")
    assert vm3["status"] == "ERROR"
    assert vm3["fault"]["message"] == (
        "No valid host: 1 host has a pci-passthrough NIC 8086:10d3; compute-2 has its NIC in use "
        "by vm2"
    )

    # What the agents did, as the CLI shows it: instance actions, console, services.
    events = live.openstack_json(USER1, "server", "event", "list", "vm1")
    assert [e["Action"] for e in events][-1] == "create"
    create = next(e for e in events if e["Action"] == "create")
    shown = live.openstack_json(ADMIN, "server", "event", "show", vm1["id"], create["Request ID"])
    assert [e["event"] for e in shown["events"]] == ["schedule", "switch_port", "spawn"]
    assert all(e["result"] == "Success" for e in shown["events"])
    console = live.openstack(USER1, "console", "log", "show", "vm1").stdout
    assert f"{after['mac_address']} {ip}" in console
    services = live.openstack_json(ADMIN, "compute", "service", "list")
    assert {s["Host"]: (s["Binary"], s["State"]) for s in services} == {
        h: ("nova-compute", "up") for h in ("compute-0", "compute-1", "compute-2")
    }
    hypervisors = live.openstack_json(ADMIN, "hypervisor", "list")
    assert {h["Hypervisor Hostname"]: h["State"] for h in hypervisors} == {
        h: "up" for h in ("compute-0", "compute-1", "compute-2")
    }

    # Resize: a cold migration that applies the new flavor, back to the free NIC; confirmed.
    live.openstack(ADMIN, "flavor", "create", "--ram", "2048", "--vcpus", "2", "--disk", "1",
                   "medium")  # fmt: skip
    live.openstack(USER1, "server", "resize", "--flavor", "medium", "--wait", "vm1")
    resized = _server(live, ADMIN, vm1["id"])
    assert (resized["status"], resized["OS-EXT-SRV-ATTR:host"]) == ("VERIFY_RESIZE", first)
    live.openstack(USER1, "server", "resize", "confirm", "vm1")
    _confirmed(live, USER1, "vm1")
    rows = {r["Name"]: r for r in live.openstack_json(USER1, "server", "list")}
    assert (rows["vm1"]["Status"], rows["vm1"]["Flavor"]) == ("ACTIVE", "medium")
    assert _port(live, "port0")["mac_address"] == macs[first]
