"""Quota sets enforced with the boot (also between concurrent boots) and server group
policies honoured by the scheduler."""

from __future__ import annotations

import threading
from typing import Any

from passnic.compute.service import BootRequest
from passnic.errors import PassnicError
from tests.compute.conftest import API, Scene
from tests.compute.test_server_extras import PUBLIC_KEY


def project1(scene: Scene) -> str:
    token = scene.user1["X-Auth-Token"]
    resp = scene.api.get(
        "/identity/v3/auth/tokens", headers={**scene.admin, "X-Subject-Token": token}
    )
    project_id: str = resp.json()["token"]["project"]["id"]
    return project_id


def set_quota(scene: Scene, **limits: int) -> Any:
    path = f"{API}/os-quota-sets/{project1(scene)}"
    return scene.api.put(path, json={"quota_set": limits}, headers=scene.admin)


def test_instances_quota_is_set_enforced_shown_and_reset(scene: Scene) -> None:
    user = scene.user1
    resp = set_quota(scene, instances=1)
    assert resp.status_code == 200, resp.text
    assert resp.json()["quota_set"]["instances"] == 1
    assert "id" not in resp.json()["quota_set"]  # Nova's PUT answer has none
    denied = scene.api.put(
        f"{API}/os-quota-sets/{project1(scene)}", json={"quota_set": {"cores": 1}}, headers=user
    )
    assert denied.status_code == 403
    assert scene.post_server("vm1").status_code == 202
    refused = scene.post_server("vm2")
    assert refused.status_code == 403, refused.text
    assert refused.json() == {
        "forbidden": {
            "code": 403,
            "message": "Quota exceeded for instances: Requested 1, but already used 1 of 1 "
            "instances",
        }
    }
    detail = scene.api.get(f"{API}/os-quota-sets/{project1(scene)}/detail", headers=user).json()
    assert detail["quota_set"]["instances"] == {"limit": 1, "in_use": 1, "reserved": 0}
    limits = scene.api.get(f"{API}/limits", headers=user).json()["limits"]["absolute"]
    assert (limits["maxTotalInstances"], limits["totalInstancesUsed"]) == (1, 1)
    # below what is in use: refused, as Nova refuses it
    assert set_quota(scene, instances=0).status_code == 400
    assert set_quota(scene, instances=-2).status_code == 400
    assert set_quota(scene, bananas=3).status_code == 400
    reset = scene.api.delete(f"{API}/os-quota-sets/{project1(scene)}", headers=scene.admin)
    assert reset.status_code == 202
    assert scene.post_server("vm2").status_code == 202


def test_cores_and_ram_count_the_flavor(scene: Scene) -> None:
    small = scene.api.get(f"{API}/flavors/{scene.flavor_id('small')}", headers=scene.user1)
    vcpus, ram = small.json()["flavor"]["vcpus"], small.json()["flavor"]["ram"]
    assert set_quota(scene, cores=vcpus, ram=-1).status_code == 200
    assert scene.post_server("vm1").status_code == 202
    refused = scene.post_server("vm2")
    assert refused.status_code == 403
    assert "Quota exceeded for cores" in refused.json()["forbidden"]["message"]
    assert set_quota(scene, cores=-1, ram=ram).status_code == 200
    assert "Quota exceeded for ram" in scene.post_server("vm2").json()["forbidden"]["message"]


def test_two_concurrent_boots_cannot_both_take_the_last_instance(scene: Scene) -> None:
    """Each boot counts and INSERTs in one transaction under the project's lock, so of two
    boots racing for the last allowed instance, one is refused (on SQLite and PostgreSQL)."""
    assert set_quota(scene, instances=1).status_code == 200
    ctx = scene.cloud.identity.validate_token(scene.user1["X-Auth-Token"])
    flavor = scene.flavor_id("small")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def boot(name: str) -> None:
        start.wait()
        try:
            scene.cloud.compute.create_server(ctx, BootRequest(name, flavor, scene.image_id))
            outcomes.append("booted")
        except PassnicError as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=boot, args=(f"vm{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    scene.hosts.settle()
    assert len(outcomes) == 2 and outcomes.count("booted") == 1, outcomes
    refused = next(o for o in outcomes if o != "booted")
    assert refused.startswith("Quota exceeded for instances"), outcomes


def test_key_pairs_server_groups_and_metadata_quotas(scene: Scene) -> None:
    api, user = scene.api, scene.user1
    assert set_quota(scene, key_pairs=1, server_groups=1, metadata_items=1).status_code == 200
    key = {"keypair": {"name": "k1", "public_key": PUBLIC_KEY}}
    assert api.post(f"{API}/os-keypairs", json=key, headers=user).status_code == 201
    key["keypair"]["name"] = "k2"
    second = api.post(f"{API}/os-keypairs", json=key, headers=user)
    assert second.status_code == 403, second.text
    assert second.json()["forbidden"]["message"] == "Quota exceeded, too many key pairs."
    group = {"server_group": {"name": "g1", "policy": "anti-affinity"}}
    assert api.post(f"{API}/os-server-groups", json=group, headers=user).status_code == 200
    again = api.post(f"{API}/os-server-groups", json=group, headers=user)
    assert again.status_code == 403
    assert again.json()["forbidden"]["message"] == "Quota exceeded, too many server groups."
    refused = scene.post_server("vm1", metadata={"a": "1", "b": "2"})
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == "Maximum number of metadata items exceeds 1"
    booted = scene.post_server("vm1", metadata={"a": "1"})
    assert booted.status_code == 202
    meta = f"{API}/servers/{booted.json()['server']['id']}/metadata"
    assert api.post(meta, json={"metadata": {"b": "2"}}, headers=user).status_code == 403
    assert api.put(meta, json={"metadata": {"b": "2"}}, headers=user).status_code == 200


def _group(scene: Scene, policy: str) -> str:
    body = {"server_group": {"name": f"{policy}-group", "policy": policy}}
    resp = scene.api.post(f"{API}/os-server-groups", json=body, headers=scene.user1)
    assert resp.status_code == 200, resp.text
    group_id: str = resp.json()["server_group"]["id"]
    return group_id


def _boot_in(scene: Scene, name: str, group_id: str) -> dict[str, Any]:
    port = scene.port(f"{name}-port")
    body = {
        "server": {
            "name": name,
            "imageRef": scene.image_id,
            "flavorRef": scene.flavor_id("small"),
            "networks": [{"port": port["id"]}],
        },
        "os:scheduler_hints": {"group": group_id},
    }
    resp = scene.api.post(f"{API}/servers", json=body, headers=scene.user1)
    assert resp.status_code == 202, resp.text
    scene.hosts.settle()
    return scene.show(resp.json()["server"]["id"])


def test_anti_affinity_members_take_different_hosts_then_none_is_left(scene: Scene) -> None:
    group = _group(scene, "anti-affinity")
    first = _boot_in(scene, "vm1", group)
    second = _boot_in(scene, "vm2", group)
    assert first["status"] == second["status"] == "ACTIVE"
    hosts = {first["OS-EXT-SRV-ATTR:host"], second["OS-EXT-SRV-ATTR:host"]}
    assert hosts == {"compute-0", "compute-1"}
    third = _boot_in(scene, "vm3", group)
    assert third["status"] == "ERROR"
    message = third["fault"]["message"]
    assert "compute-0 and compute-1 already run a server of anti-affinity group" in message


def test_affinity_members_share_a_host_or_say_why_not(scene: Scene) -> None:
    group = _group(scene, "affinity")
    first = _boot_in(scene, "vm1", group)
    assert first["status"] == "ACTIVE"
    home = first["OS-EXT-SRV-ATTR:host"]
    # that host's only passthrough NIC is taken: the next member may not go elsewhere
    second = _boot_in(scene, "vm2", group)
    assert second["status"] == "ERROR"
    other = ({"compute-0", "compute-1"} - {home}).pop()
    assert f"{other} is not where the servers of affinity group" in second["fault"]["message"]
    assert f"{home} has its NIC in use by vm1" in second["fault"]["message"]
