"""host-delete asks placement (through the hook the cloud wires) whether a host holds servers."""

from __future__ import annotations

from tests.compute.conftest import ADMIN, Scene, lock

HOSTS = "/inventory/v1/ihosts"


def test_a_host_holding_a_server_is_not_deleted(scene: Scene) -> None:
    server = scene.boot("vm1", networks=[{"port": scene.port("port0")["id"]}])
    scene.cloud.inventory.lock_host(ADMIN, "compute-0", force=True)
    refused = scene.api.delete(f"{HOSTS}/compute-0", headers=scene.admin)
    assert refused.status_code == 409, refused.text
    assert f"it holds server(s) {server['id']}" in refused.text
    lock(scene.cloud, "compute-2")
    assert scene.api.delete(f"{HOSTS}/compute-2", headers=scene.admin).status_code == 204
    hosts = scene.api.get(HOSTS, headers=scene.admin).json()["ihosts"]
    assert [h["hostname"] for h in hosts] == ["controller-0", "compute-0", "compute-1"]
