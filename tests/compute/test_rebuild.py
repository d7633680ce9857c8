"""Rebuild: the guest is removed and defined again from the image, with a fresh disk, on the
same host with the same passthrough NIC (claim, port binding and MAC untouched); a stopped
server stays stopped; a host's refusal is an ERROR fault that keeps the NIC."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import API, Scene


def _rebuild(scene: Scene, sid: str, **changes: Any) -> Any:
    body = {"rebuild": {"imageRef": scene.image_id, **changes}}
    return scene.action(sid, body, scene.user1)


def _booted(scene: Scene) -> tuple[str, str, dict[str, Any]]:
    port = scene.port()
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    assert server["status"] == "ACTIVE", server.get("fault")
    return server["id"], server["OS-EXT-SRV-ATTR:host"], scene.get_port(port["id"])


def test_rebuild_keeps_host_nic_and_port_and_redefines_the_guest(scene: Scene) -> None:
    sid, host, port = _booted(scene)
    claims = scene.claims()
    driver = scene.hosts.driver(host)
    driver.calls.clear()

    resp = scene.api.post(
        f"{API}/servers/{sid}/action",
        json={"rebuild": {"imageRef": scene.image_id, "name": "vm1-new", "metadata": {"a": "b"}}},
        headers=scene.user1,
    )
    assert resp.status_code == 202, resp.text
    answer = resp.json()["server"]
    assert (answer["id"], answer["status"], answer["name"]) == (sid, "REBUILD", "vm1-new")
    assert answer["adminPass"] and answer["metadata"] == {"a": "b"}
    scene.hosts.settle()

    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", host)
    assert shown["image"]["id"] == scene.image_id
    assert [op for op, s in driver.calls if s == sid] == ["destroy", "spawn"]
    assert scene.claims() == claims
    after = scene.get_port(port["id"])
    assert (after["mac_address"], after["binding:host_id"]) == (
        port["mac_address"],
        port["binding:host_id"],
    )
    events = scene.api.get(f"{API}/servers/{sid}/os-instance-actions", headers=scene.user1)
    assert events.json()["instanceActions"][0]["action"] == "rebuild"


def test_a_stopped_server_is_rebuilt_stopped(scene: Scene) -> None:
    sid, _host, _port = _booted(scene)
    assert scene.action(sid, {"os-stop": None}, scene.user1).status_code == 202
    assert scene.show(sid)["status"] == "SHUTOFF"
    assert _rebuild(scene, sid).status_code == 202
    assert scene.show(sid)["status"] == "SHUTOFF"


def test_rebuild_refusals(scene: Scene) -> None:
    sid, host, _port = _booted(scene)
    resp = scene.action(sid, {"rebuild": {"imageRef": "no-such-image"}}, scene.user1)
    assert resp.status_code == 400 and "could not be found" in resp.text
    resp = scene.action(sid, {"rebuild": {}}, scene.user1)
    assert resp.status_code == 400, resp.text
    resp = _rebuild(scene, sid, key_name="nope")
    assert resp.status_code == 400 and "key_name" in resp.text
    # another project's server is not there at all
    resp = scene.api.post(
        f"{API}/servers/{sid}/action",
        json={"rebuild": {"imageRef": scene.image_id}},
        headers=scene.user2,
    )
    assert resp.status_code == 404, resp.text

    # the host cannot define the new guest: ERROR with its words, the NIC still held
    claims = scene.claims()
    scene.hosts.driver(host).fail_next("spawn", "no room for the disk")
    assert _rebuild(scene, sid).status_code == 202
    shown = scene.show(sid)
    assert shown["status"] == "ERROR"
    assert "no room for the disk" in shown["fault"]["message"]
    assert scene.claims() == claims
