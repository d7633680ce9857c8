"""Resize: a cold migration that applies the new flavor, its PCI alias requests included (the
destination's NICs are claimed per the NEW flavor); revert gives back the old flavor and its
NICs; flavors may name a PCI alias before it exists, and a boot or resize with one is refused."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import ADMIN, API, Scene, add_host, make_passthrough


def _alias_hosts(scene: Scene, settings: Any) -> None:
    """compute-2 and compute-3 each with an 82574 NIC (enp0s4) for PCI alias nic-82574."""
    for index in (2, 3):
        host = add_host(scene.cloud, settings.home, index)
        make_passthrough(scene.cloud, host, "enp0s4", datanetwork=None)
    scene.hosts.sync()


def _flavor(scene: Scene, name: str, vcpus: int = 2, ram: int = 2048) -> str:
    resp = scene.api.post(
        f"{API}/flavors",
        json={"flavor": {"name": name, "ram": ram, "vcpus": vcpus, "disk": 1}},
        headers=scene.admin,
    )
    assert resp.status_code == 200, resp.text
    flavor_id: str = resp.json()["flavor"]["id"]
    return flavor_id


def _set_alias(scene: Scene, flavor_id: str, value: str) -> Any:
    return scene.api.post(
        f"{API}/flavors/{flavor_id}/os-extra_specs",
        json={"extra_specs": {"pci_passthrough:alias": value}},
        headers=scene.admin,
    )


def _resize(scene: Scene, sid: str, flavor_id: str) -> Any:
    return scene.action(sid, {"resize": {"flavorRef": flavor_id}}, scene.user1)


def test_resize_to_an_alias_flavor_claims_its_nic_then_confirm(scene: Scene, settings: Any) -> None:
    _alias_hosts(scene, settings)
    pci = scene.alias_flavor("pci-small", "nic-82574", "8086", "10d3")
    sid = scene.boot("vm1", networks="none")["id"]
    source = scene.show(sid)["OS-EXT-SRV-ATTR:host"]
    assert scene.claims() == []

    resp = _resize(scene, sid, pci)
    assert resp.status_code == 202, resp.text
    shown = scene.show(sid)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("VERIFY_RESIZE", "pci-small")
    dest = shown["OS-EXT-SRV-ATTR:host"]
    assert dest != source and dest in ("compute-2", "compute-3")
    # the NEW flavor's alias is claimed on the destination
    assert scene.claims() == [(dest, "0000:00:04.0", "vm1")]
    (migration,) = scene.api.get(f"{API}/os-migrations", headers=scene.admin).json()["migrations"]
    assert (migration["migration_type"], migration["status"]) == ("resize", "finished")
    actions = scene.api.get(f"{API}/servers/{sid}/os-instance-actions", headers=scene.user1)
    assert actions.json()["instanceActions"][0]["action"] == "resize"

    assert scene.action(sid, {"confirmResize": None}, scene.user1).status_code == 204
    shown = scene.show(sid)
    assert (shown["status"], shown["flavor"]["original_name"], shown["OS-EXT-SRV-ATTR:host"]) == (
        "ACTIVE",
        "pci-small",
        dest,
    )
    assert scene.claims() == [(dest, "0000:00:04.0", "vm1")]
    assert sid not in scene.hosts.driver(source).guests()


def test_resize_away_from_an_alias_flavor_drops_its_request(scene: Scene, settings: Any) -> None:
    """Nova once kept the old flavor's PCI requests: the new flavor asks for no alias NIC, so
    the destination claims none, and confirm frees the old one."""
    _alias_hosts(scene, settings)
    scene.alias_flavor("pci-small", "nic-82574", "8086", "10d3")
    big = _flavor(scene, "big")  # no PCI alias
    sid = scene.boot("vm2", flavor="pci-small", networks="none")["id"]
    source = scene.show(sid)["OS-EXT-SRV-ATTR:host"]
    assert _resize(scene, sid, big).status_code == 202
    shown = scene.show(sid)
    assert shown["status"] == "VERIFY_RESIZE"
    assert shown["OS-EXT-SRV-ATTR:host"] != source
    assert scene.claims() == [(source, "0000:00:04.0", "vm2")]  # kept for a revert only
    assert scene.action(sid, {"confirmResize": None}, scene.user1).status_code == 204
    assert scene.claims() == []
    assert scene.show(sid)["flavor"]["original_name"] == "big"


def test_revert_gives_back_the_old_flavor_and_its_nic(scene: Scene, settings: Any) -> None:
    _alias_hosts(scene, settings)
    scene.alias_flavor("pci-small", "nic-82574", "8086", "10d3")
    sid = scene.boot("vm3", flavor="pci-small", networks="none")["id"]
    source = scene.show(sid)["OS-EXT-SRV-ATTR:host"]
    assert _resize(scene, sid, _flavor(scene, "big")).status_code == 202
    assert scene.action(sid, {"revertResize": None}, scene.user1).status_code == 202
    shown = scene.show(sid)
    assert (shown["status"], shown["flavor"]["original_name"], shown["OS-EXT-SRV-ATTR:host"]) == (
        "ACTIVE",
        "pci-small",
        source,
    )
    assert scene.claims() == [(source, "0000:00:04.0", "vm3")]
    assert scene.hosts.driver(source).guests()[sid] == "running"
    # quota usage follows the flavor back: 1 vCPU again
    usage = scene.api.get(f"{API}/limits", headers=scene.user1).json()["limits"]["absolute"]
    assert usage["totalCoresUsed"] == 1


def test_resize_refusals(scene: Scene, settings: Any) -> None:
    sid = scene.boot("vm4", networks="none")["id"]
    small = scene.flavor_id("small")
    resp = _resize(scene, sid, small)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "When resizing, instances must change flavor!"
    resp = _resize(scene, sid, "no-such-flavor")
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Unable to find flavor no-such-flavor."
    resp = scene.action(sid, {"resize": {}}, scene.user1)
    assert resp.status_code == 400
    # an action Passnic cannot take says why (not "There is no such action")
    resp = scene.action(sid, {"shelve": None}, scene.user1)
    assert resp.status_code == 409
    assert "stop it instead" in resp.text
    # no host has the alias's NIC: the server stays as it was, with its flavor
    _alias_hosts(scene, settings)
    wants_two = _flavor(scene, "two-nics", vcpus=1, ram=1024)
    scene.alias_flavor("pci-small", "nic-82574", "8086", "10d3")
    assert _set_alias(scene, wants_two, "nic-82574:2").status_code == 200
    resp = _resize(scene, sid, wants_two)
    assert resp.status_code == 400, resp.text
    shown = scene.show(sid)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "small")
    assert scene.claims() == []


def test_a_flavor_may_name_an_alias_that_does_not_exist_yet(scene: Scene) -> None:
    """As in Nova (and as Ansible's compute_flavor needs: create, then set extra specs), a
    well-formed alias spec is kept; the boot or resize that needs it is refused, saying why."""
    flavor_id = _flavor(scene, "future", vcpus=1, ram=1024)
    resp = _set_alias(scene, flavor_id, "nic-later:1")
    assert resp.status_code == 200, resp.text
    assert resp.json()["extra_specs"] == {"pci_passthrough:alias": "nic-later:1"}
    answer = scene.boot("vm5", flavor="future", networks="none", status=400)
    assert answer["badRequest"]["message"] == (
        "Flavor future cannot be used: PCI alias nic-later does not exist: create it first "
        "(POST /compute/v2.1/os-pci-aliases, or passnic pci-alias-create)."
    )
    servers = scene.api.get(f"{API}/servers", headers=scene.user1).json()["servers"]
    assert servers == []
    sid = scene.boot("vm6", networks="none")["id"]
    resp = _resize(scene, sid, flavor_id)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"].startswith("Flavor future cannot be used: ")
    assert scene.show(sid)["status"] == "ACTIVE"


def test_a_malformed_alias_spec_is_refused_and_nothing_is_kept(scene: Scene) -> None:
    flavor_id = _flavor(scene, "bad", vcpus=1, ram=1024)
    for value in ("nic:zero", "nic:0", "", "a b:1"):
        resp = _set_alias(scene, flavor_id, value)
        assert resp.status_code == 400, value
    specs = scene.api.get(f"{API}/flavors/{flavor_id}/os-extra_specs", headers=scene.admin)
    assert specs.json()["extra_specs"] == {}


def test_a_refused_flavor_create_leaves_nothing(scene: Scene) -> None:
    before = scene.api.get(f"{API}/flavors/detail?is_public=None", headers=scene.admin).json()
    for body in (
        {"name": "neg", "ram": -1, "vcpus": 1, "disk": 1},
        {"name": "small", "ram": 1024, "vcpus": 1, "disk": 1},  # the name is taken
        {"name": "bad-id", "ram": 1024, "vcpus": 1, "disk": 1, "id": "a/b"},
    ):
        resp = scene.api.post(f"{API}/flavors", json={"flavor": body}, headers=scene.admin)
        assert resp.status_code in (400, 409), resp.text
    after = scene.api.get(f"{API}/flavors/detail?is_public=None", headers=scene.admin).json()
    assert after == before


def test_a_failed_resize_gives_back_the_old_flavor(scene: Scene) -> None:
    port = scene.port("port0")
    sid = scene.boot("vm7", networks=[{"port": port["id"]}])["id"]
    source = scene.show(sid)["OS-EXT-SRV-ATTR:host"]
    dest = next(h for h in ("compute-0", "compute-1") if h != source)
    scene.hosts.driver(dest).fail_next("migrate_in", "no IOMMU group")
    assert _resize(scene, sid, _flavor(scene, "big")).status_code == 202
    shown = scene.show(sid)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "small")
    assert shown["OS-EXT-SRV-ATTR:host"] == source
    assert scene.claims() == [(source, scene.nics[source]["pciaddr"], "vm7")]
    usage = scene.api.get(f"{API}/limits", headers=scene.user1).json()["limits"]["absolute"]
    assert (usage["totalCoresUsed"], usage["totalRAMUsed"]) == (1, 1024)


def test_a_resize_beyond_the_cores_quota_is_refused(scene: Scene) -> None:
    sid = scene.boot("vm8", networks="none")["id"]
    project1 = scene.cloud.identity.list_projects(ADMIN, name="project1")[0].id
    resp = scene.api.put(
        f"{API}/os-quota-sets/{project1}",
        json={"quota_set": {"cores": 1}},
        headers=scene.admin,
    )
    assert resp.status_code == 200, resp.text
    resp = _resize(scene, sid, _flavor(scene, "big"))
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == (
        "Quota exceeded for cores: Requested 1, but already used 1 of 1 cores"
    )
    shown = scene.show(sid)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "small")
