"""What Ansible's openstack.cloud modules and openstacksdk ask of a server beside its
lifecycle: key pairs, metadata, tags, rename, lock, interfaces, security groups, server groups,
and every other action refused with a reason."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import API, Scene

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@passnic"
)


def port_boot_body(scene: Scene, port_id: str, **server: Any) -> dict[str, Any]:
    """A boot of vm1 (flavor small) on one existing port."""
    return {
        "server": {
            "name": "vm1",
            "imageRef": scene.image_id,
            "flavorRef": scene.flavor_id("small"),
            "networks": [{"port": port_id}],
            **server,
        }
    }


def _boot(scene: Scene, **extra: Any) -> Any:
    port = scene.port("port0")
    body = {**port_boot_body(scene, port["id"], **extra.pop("server", {})), **extra}
    resp = scene.api.post(f"{API}/servers", json=body, headers=scene.user1)
    scene.hosts.settle()
    return resp, port


def test_keypairs_import_generate_and_boot(scene: Scene) -> None:
    api, user = scene.api, scene.user1
    resp = api.post(
        f"{API}/os-keypairs",
        json={"keypair": {"name": "k1", "public_key": PUBLIC_KEY}},
        headers=user,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["keypair"]["fingerprint"].count(":") == 15
    again = api.post(
        f"{API}/os-keypairs",
        json={"keypair": {"name": "k1", "public_key": PUBLIC_KEY}},
        headers=user,
    )
    assert again.status_code == 409
    bad = {"keypair": {"name": "k2", "public_key": "ssh-rsa nonsense"}}
    assert api.post(f"{API}/os-keypairs", json=bad, headers=user).status_code == 400
    # 2.92 stopped generating keys; before, the private key is answered once
    generate = {"keypair": {"name": "k3"}}
    assert api.post(f"{API}/os-keypairs", json=generate, headers=user).status_code == 400
    old = {**user, "OpenStack-API-Version": "compute 2.91"}
    made = api.post(f"{API}/os-keypairs", json=generate, headers=old).json()["keypair"]
    assert made["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    shown = api.get(f"{API}/os-keypairs/k3", headers=user).json()["keypair"]
    assert "private_key" not in shown and shown["public_key"] == made["public_key"]
    names = [
        k["keypair"]["name"] for k in api.get(f"{API}/os-keypairs", headers=user).json()["keypairs"]
    ]
    assert names == ["k1", "k3"]
    assert api.get(f"{API}/os-keypairs", headers=scene.user2).json()["keypairs"] == []

    resp, _port = _boot(scene, server={"key_name": "nope"})
    assert resp.status_code == 400
    assert "key_name" in resp.json()["badRequest"]["message"]
    resp, _port = _boot(scene, server={"key_name": "k1"})
    assert resp.status_code == 202, resp.text
    assert scene.show(resp.json()["server"]["id"])["key_name"] == "k1"


def test_metadata_tags_rename(scene: Scene) -> None:
    api, user = scene.api, scene.user1
    resp, _port = _boot(scene, server={"metadata": {"a": "1"}})
    server = f"{API}/servers/{resp.json()['server']['id']}"
    merged = api.post(f"{server}/metadata", json={"metadata": {"b": "2"}}, headers=user).json()
    assert merged == {"metadata": {"a": "1", "b": "2"}}
    replaced = api.put(f"{server}/metadata", json={"metadata": {"c": "3"}}, headers=user).json()
    assert replaced == {"metadata": {"c": "3"}}
    assert api.delete(f"{server}/metadata/c", headers=user).status_code == 204
    assert api.delete(f"{server}/metadata/c", headers=user).status_code == 404

    assert api.put(f"{server}/tags/web", headers=user).status_code == 201
    assert api.put(f"{server}/tags/web", headers=user).status_code == 204
    assert api.get(f"{server}/tags/web", headers=user).status_code == 204
    assert api.put(f"{server}/tags", json={"tags": ["a", "b", "a"]}, headers=user).json() == {
        "tags": ["a", "b"]
    }
    assert api.put(f"{server}/tags", json={"tags": ["a/b"]}, headers=user).status_code == 400

    body = {"server": {"name": "vm1-new", "description": "the database"}}
    updated = api.put(server, json=body, headers=user).json()["server"]
    assert (updated["name"], updated["description"], updated["tags"]) == (
        "vm1-new",
        "the database",
        ["a", "b"],
    )
    old = {**user, "OpenStack-API-Version": "compute 2.18"}
    assert api.put(server, json={"server": {"description": "x"}}, headers=old).status_code == 400


def test_lock_refuses_the_owner_not_the_admin(scene: Scene) -> None:
    resp, _port = _boot(scene)
    sid = resp.json()["server"]["id"]
    assert scene.action(sid, {"lock": {"locked_reason": "audit"}}, scene.user1).status_code == 202
    shown = scene.show(sid)
    assert (shown["locked"], shown["locked_reason"]) == (True, "audit")
    refused = scene.action(sid, {"os-stop": None}, scene.user1)
    assert refused.status_code == 409
    assert "locked" in refused.json()["conflictingRequest"]["message"]
    assert scene.delete(sid, scene.user1).status_code == 409
    assert scene.action(sid, {"os-stop": None}, scene.admin).status_code == 202
    assert scene.action(sid, {"unlock": None}, scene.user1).status_code == 202
    assert scene.show(sid)["locked"] is False


def test_other_actions_say_why(scene: Scene) -> None:
    resp, _port = _boot(scene)
    sid = resp.json()["server"]["id"]
    paused = scene.action(sid, {"pause": None}, scene.user1)
    assert paused.status_code == 409
    assert "passthrough" in paused.json()["conflictingRequest"]["message"]
    unknown = scene.action(sid, {"fly": None}, scene.user1)
    assert unknown.status_code == 400
    assert "There is no such action" not in unknown.text


def test_interfaces_and_security_groups(scene: Scene) -> None:
    resp, port = _boot(scene)
    server = f"{API}/servers/{resp.json()['server']['id']}"
    attached = scene.api.get(f"{server}/os-interface", headers=scene.user1).json()
    ((nic,),) = [attached["interfaceAttachments"]]
    assert (nic["port_id"], nic["net_id"]) == (port["id"], scene.network_id)
    attach = scene.api.post(
        f"{server}/os-interface", json={"interfaceAttachment": {}}, headers=scene.user1
    )
    assert attach.status_code == 409
    assert "PCI device" in attach.json()["conflictingRequest"]["message"]
    groups = scene.api.get(f"{server}/os-security-groups", headers=scene.user1).json()
    assert groups == {"security_groups": []}
    missing = scene.api.get(f"{API}/servers/nope/os-security-groups", headers=scene.user1)
    assert missing.status_code == 404


def test_server_groups(scene: Scene) -> None:
    api, user = scene.api, scene.user1
    body = {"server_group": {"name": "g1", "policy": "anti-affinity"}}
    group = api.post(f"{API}/os-server-groups", json=body, headers=user).json()["server_group"]
    bad = {"server_group": {"name": "g2", "policy": "random"}}
    assert api.post(f"{API}/os-server-groups", json=bad, headers=user).status_code == 400
    resp, _port = _boot(scene, **{"os:scheduler_hints": {"group": group["id"]}})
    sid = resp.json()["server"]["id"]
    shown = api.get(f"{API}/os-server-groups/{group['id']}", headers=user).json()["server_group"]
    assert shown["members"] == [sid]
    assert scene.show(sid)["server_groups"] == [group["id"]]
    assert api.get(f"{API}/os-server-groups", headers=scene.user2).json()["server_groups"] == []
    assert api.get(f"{API}/os-server-groups/{group['id']}", headers=scene.user2).status_code == 404
    assert api.delete(f"{API}/os-server-groups/{group['id']}", headers=user).status_code == 204


def test_hypervisors_count_what_their_servers_take(scene: Scene) -> None:
    port = scene.port()
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    host = server["OS-EXT-SRV-ATTR:host"]
    headers = {**scene.admin, "OpenStack-API-Version": "compute 2.87"}  # sizes end at 2.88
    resp = scene.api.get(f"{API}/os-hypervisors/detail", headers=headers)
    assert resp.status_code == 200, resp.text
    rows = {h["hypervisor_hostname"]: h for h in resp.json()["hypervisors"]}
    used = rows[host]
    assert (used["running_vms"], used["vcpus_used"]) == (1, 1)  # flavor small
    assert (used["memory_mb_used"], used["local_gb_used"]) == (1024, 1)
    assert used["free_ram_mb"] == used["memory_mb"] - 1024
    idle = next(h for name, h in rows.items() if name != host)
    assert (idle["running_vms"], idle["vcpus_used"], idle["memory_mb_used"]) == (0, 0, 0)
