"""Local fixtures for the compute tests: the sample cloud with its flavor and image, NICs made
pci-passthrough as the StarlingX procedure does (lock, modify, assign, unlock), net0/subnet0 of
project1, and small helpers over the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passnic.agent.discovery import discover_host
from passnic.agent.fakesysfs import build_sample_compute_sysfs
from passnic.cloud import Cloud
from passnic.compute.sample import seed_flavors
from passnic.context import RequestContext
from passnic.image.sample import seed_cirros
from passnic.inventory.service import UNLOCKED
from tests.conftest import BOTH_BACKENDS, make_database_url
from tests.hosts import Hosts

ADMIN = RequestContext(
    user_id="test-admin",
    user_name="admin",
    project_id="",
    project_name="admin",
    roles=frozenset({"admin"}),
)
DATANET = "group0-data0"
API = "/compute/v2.1"


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Compute claims are about concurrency: every test runs on SQLite and on PostgreSQL."""
    return make_database_url(request.param, request, tmp_path)


# ---- inventory ---------------------------------------------------------------------------


def add_host(cloud: Cloud, home: Path, index: int) -> str:
    """Compute host compute-<index>: the sample cloud already has compute-0, -1 and -2 (they
    are returned as they are); a higher index is a new host, reported unlocked like them."""
    hostname = f"compute-{index}"
    if any(h.hostname == hostname for h in cloud.inventory.list_hosts(ADMIN)):
        return hostname
    root = build_sample_compute_sysfs(home / "sysfs" / hostname, index)
    cloud.inventory.report_host(ADMIN, discover_host(hostname, root), initial=UNLOCKED)
    return hostname


def make_passthrough(
    cloud: Cloud, host: str, ifname: str, datanetwork: str | None = DATANET
) -> dict[str, Any]:
    """Lock, class pci-passthrough, assign the data network, unlock; the NIC's identity."""
    inv = cloud.inventory
    if inv.get_host(ADMIN, host).administrative == "unlocked":
        inv.lock_host(ADMIN, host)
    iface = next(i for i in inv.list_interfaces(ADMIN, host) if i.ifname == ifname)
    inv.modify_interface(ADMIN, iface.uuid, {"ifclass": "pci-passthrough"})
    if datanetwork is not None:
        inv.assign_datanetwork(ADMIN, iface.uuid, datanetwork)
    inv.unlock_host(ADMIN, host)
    port = iface.ports[0]
    return {"host": host, "ifname": ifname, "pciaddr": port.pciaddr, "mac": port.mac}


def net0(cloud: Cloud, cidr: str, user: RequestContext = ADMIN) -> str:
    """project1's net0 (VLAN 10 of group0-data0) with one subnet; its id."""
    project1 = cloud.identity.list_projects(ADMIN, name="project1")[0].id
    net = cloud.network.create_network(
        ADMIN,
        name="net0",
        project_id=project1,
        network_type="vlan",
        physical_network="group0-data0",
        segmentation_id=10,
    )
    cloud.network.create_subnet(user, network_id=net.id, cidr=cidr, name="subnet0")
    return net.id


def lock(cloud: Cloud, host: str) -> None:
    cloud.inventory.lock_host(ADMIN, host)


# ---- the scene of the procedure -----------------------------------------------------------


@dataclass
class Scene:
    api: TestClient
    cloud: Cloud
    admin: dict[str, str]
    user1: dict[str, str]
    user2: dict[str, str]
    image_id: str
    network_id: str
    subnet_id: str
    nics: dict[str, dict[str, Any]]
    hosts: Hosts

    # -- wire helpers --

    def port(self, name: str = "port0", vnic_type: str = "direct-physical") -> dict[str, Any]:
        body = {
            "port": {"name": name, "network_id": self.network_id, "binding:vnic_type": vnic_type}
        }
        resp = self.api.post("/networking/v2.0/ports", json=body, headers=self.user1)
        assert resp.status_code == 201, resp.text
        port: dict[str, Any] = resp.json()["port"]
        return port

    def get_port(self, port_id: str) -> dict[str, Any]:
        resp = self.api.get(f"/networking/v2.0/ports/{port_id}", headers=self.admin)
        assert resp.status_code == 200, resp.text
        port: dict[str, Any] = resp.json()["port"]
        return port

    def boot(
        self,
        name: str,
        *,
        flavor: str = "small",
        networks: Any = "auto",
        headers: dict[str, str] | None = None,
        status: int = 202,
    ) -> dict[str, Any]:
        body = {
            "server": {
                "name": name,
                "imageRef": self.image_id,
                "flavorRef": self.flavor_id(flavor),
                "min_count": 1,
                "max_count": 1,
                "networks": networks,
                "block_device_mapping_v2": [
                    {"uuid": self.image_id, "boot_index": 0, "source_type": "image"}
                ],
            }
        }
        resp = self.api.post(f"{API}/servers", json=body, headers=headers or self.user1)
        assert resp.status_code == status, resp.text
        if status != 202:
            answer: dict[str, Any] = resp.json()
            return answer
        self.hosts.settle()
        return self.show(resp.json()["server"]["id"])

    def post_server(self, name: str = "vm1", **server: Any) -> Any:
        """user1's ``POST /servers`` without a network (``server`` adds or overrides keys),
        then every host settles; the response, whatever its status."""
        body = {
            "server": {
                "name": name,
                "imageRef": self.image_id,
                "flavorRef": self.flavor_id("small"),
                "networks": "none",
                **server,
            }
        }
        resp = self.api.post(f"{API}/servers", json=body, headers=self.user1)
        self.hosts.settle()
        return resp

    def show(self, server_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        resp = self.api.get(f"{API}/servers/{server_id}", headers=headers or self.admin)
        assert resp.status_code == 200, resp.text
        server: dict[str, Any] = resp.json()["server"]
        return server

    def delete(self, server_id: str, headers: dict[str, str] | None = None) -> Any:
        resp = self.api.delete(f"{API}/servers/{server_id}", headers=headers or self.admin)
        self.hosts.settle()
        return resp

    def action(
        self, server_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        resp = self.api.post(
            f"{API}/servers/{server_id}/action", json=body, headers=headers or self.admin
        )
        self.hosts.settle()
        return resp

    def flavor_id(self, name: str) -> str:
        resp = self.api.get(f"{API}/flavors/detail?is_public=None", headers=self.admin)
        return next(f["id"] for f in resp.json()["flavors"] if f["name"] == name)

    def alias_flavor(self, name: str, alias: str, vendor: str, product: str) -> str:
        resp = self.api.post(
            f"{API}/os-pci-aliases",
            json={
                "pci_alias": {
                    "name": alias,
                    "vendor_id": vendor,
                    "product_id": product,
                    "device_type": "type-PCI",
                }
            },
            headers=self.admin,
        )
        assert resp.status_code == 201, resp.text
        resp = self.api.post(
            f"{API}/flavors",
            json={"flavor": {"name": name, "ram": 1024, "vcpus": 1, "disk": 1, "id": None}},
            headers=self.admin,
        )
        assert resp.status_code == 200, resp.text
        flavor_id: str = resp.json()["flavor"]["id"]
        resp = self.api.post(
            f"{API}/flavors/{flavor_id}/os-extra_specs",
            json={"extra_specs": {"pci_passthrough:alias": f"{alias}:1"}},
            headers=self.admin,
        )
        assert resp.status_code == 200, resp.text
        return flavor_id

    def claims(self) -> list[tuple[str, str, str]]:
        return [
            (c.hostname, c.pci_address, c.consumer_name) for c in self.cloud.placement.list_claims()
        ]


@pytest.fixture
def scene(
    api: TestClient,
    cloud: Cloud,
    admin_headers: dict[str, str],
    user1_headers: dict[str, str],
    user2_headers: dict[str, str],
) -> Scene:
    """compute-0/1 with enp0s3 pci-passthrough on group0-data0; net0 (VLAN 10) and subnet0 of
    project1; flavor small; image cirros."""
    seed_flavors(cloud)
    image = seed_cirros(cloud)
    nics = {h: make_passthrough(cloud, h, "enp0s3") for h in ("compute-0", "compute-1")}
    hosts = Hosts(api, cloud, admin_headers["X-Auth-Token"])
    hosts.sync()  # every host's agent reports in once: the hosts are up
    project1 = cloud.identity.list_projects(ADMIN, name="project1")[0].id
    resp = api.post(
        "/networking/v2.0/networks",
        json={
            "network": {
                "name": "net0",
                "project_id": project1,
                "provider:network_type": "vlan",
                "provider:physical_network": DATANET,
                "provider:segmentation_id": "10",
            }
        },
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    network_id = resp.json()["network"]["id"]
    resp = api.post(
        "/networking/v2.0/subnets",
        json={
            "subnet": {
                "name": "subnet0",
                "network_id": network_id,
                "cidr": "192.168.10.0/24",
                "ip_version": 4,
                "dns_nameservers": ["192.168.10.254"],
            }
        },
        headers=user1_headers,
    )
    assert resp.status_code == 201, resp.text
    return Scene(
        api=api,
        cloud=cloud,
        admin=admin_headers,
        user1=user1_headers,
        user2=user2_headers,
        image_id=image.id,
        network_id=network_id,
        subnet_id=resp.json()["subnet"]["id"],
        nics=nics,
        hosts=hosts,
    )
