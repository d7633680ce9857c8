"""Cold migration (new NIC, new MAC, same IP), confirm, revert, failures; live migration refused
for passthrough servers; the migration records."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import API, Scene, add_host, lock, make_passthrough


def _vm1(scene: Scene) -> tuple[str, dict[str, Any]]:
    port = scene.port("port0")
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    assert server["status"] == "ACTIVE", server.get("fault")
    return server["id"], port


def _network_mac(scene: Scene, sid: str) -> str:
    data = scene.api.get(f"{API}/servers/{sid}/network_data.json", headers=scene.user1).json()
    mac: str = data["links"][0]["ethernet_mac_address"]
    return mac


def test_migrate_then_confirm(scene: Scene) -> None:
    sid, port = _vm1(scene)
    ip = port["fixed_ips"][0]["ip_address"]
    old, new = scene.nics["compute-0"], scene.nics["compute-1"]
    resp = scene.action(sid, {"migrate": None})
    assert resp.status_code == 202, resp.text
    shown = scene.show(sid)
    assert shown["status"] == "VERIFY_RESIZE"
    assert shown["OS-EXT-STS:vm_state"] == "resized"
    assert shown["OS-EXT-SRV-ATTR:host"] == "compute-1"
    moved = scene.get_port(port["id"])
    assert moved["mac_address"] == new["mac"] != old["mac"]
    assert moved["fixed_ips"][0]["ip_address"] == ip
    assert moved["binding:host_id"] == "compute-1"
    assert moved["binding:profile"]["pci_slot"] == new["pciaddr"]
    assert _network_mac(scene, sid) == new["mac"]
    assert sorted(scene.claims()) == [
        ("compute-0", old["pciaddr"], "vm1"),
        ("compute-1", new["pciaddr"], "vm1"),
    ]
    (migration,) = scene.api.get(f"{API}/os-migrations", headers=scene.admin).json()["migrations"]
    assert (migration["status"], migration["migration_type"]) == ("finished", "migration")
    assert (migration["source_compute"], migration["dest_compute"]) == ("compute-0", "compute-1")
    assert migration["instance_uuid"] == sid
    # Nova's internal integer flavor ids, which Passnic's flavors do not have
    assert migration["old_instance_type_id"] is migration["new_instance_type_id"] is None
    assert scene.hosts.driver("compute-0").guests()[sid] == "parked"
    assert scene.hosts.driver("compute-1").guests()[sid] == "running"

    resp = scene.action(sid, {"confirmResize": None}, scene.user1)
    assert resp.status_code == 204
    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "compute-1")
    assert scene.claims() == [("compute-1", new["pciaddr"], "vm1")]
    assert scene.get_port(port["id"])["mac_address"] == new["mac"]
    assert sid not in scene.hosts.driver("compute-0").guests()
    mine = scene.api.get(f"{API}/servers/{sid}/migrations", headers=scene.admin).json()
    assert [m["status"] for m in mine["migrations"]] == ["confirmed"]
    resp = scene.action(sid, {"confirmResize": None}, scene.user1)
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'confirmResize' instance {sid} while it is in vm_state active"
    )


def test_migrate_then_revert(scene: Scene) -> None:
    sid, port = _vm1(scene)
    old = scene.nics["compute-0"]
    assert scene.action(sid, {"migrate": {"host": "compute-1"}}).status_code == 202
    resp = scene.action(sid, {"revertResize": None}, scene.user1)
    assert resp.status_code == 202
    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "compute-0")
    back = scene.get_port(port["id"])
    assert back["mac_address"] == old["mac"]
    assert back["binding:profile"]["pci_slot"] == old["pciaddr"]
    assert back["fixed_ips"] == port["fixed_ips"]
    assert scene.claims() == [("compute-0", old["pciaddr"], "vm1")]
    assert _network_mac(scene, sid) == old["mac"]
    assert scene.hosts.driver("compute-0").guests()[sid] == "running"
    assert sid not in scene.hosts.driver("compute-1").guests()
    migrations = scene.api.get(f"{API}/os-migrations", headers=scene.admin).json()["migrations"]
    assert [m["status"] for m in migrations] == ["reverted"]


def test_a_stopped_server_stays_stopped(scene: Scene) -> None:
    sid, _port = _vm1(scene)
    scene.action(sid, {"os-stop": None}, scene.user1)
    assert scene.action(sid, {"migrate": None}).status_code == 202
    assert scene.show(sid)["OS-EXT-STS:power_state"] == 4
    assert scene.hosts.driver("compute-1").guests()[sid] == "stopped"
    assert scene.action(sid, {"confirmResize": None}, scene.user1).status_code == 204
    assert scene.show(sid)["status"] == "SHUTOFF"


def test_migrate_without_a_free_nic_says_why(scene: Scene) -> None:
    sid, port = _vm1(scene)
    other = scene.port("port1")
    scene.boot("vm2", networks=[{"port": other["id"]}])
    resp = scene.action(sid, {"migrate": None})
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        "No valid host: 2 hosts have a pci-passthrough NIC on group0-data0; compute-0 is "
        "excluded; compute-1 has its NIC in use by vm2"
    )
    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "compute-0")
    assert scene.get_port(port["id"])["mac_address"] == scene.nics["compute-0"]["mac"]
    migrations = scene.api.get(f"{API}/os-migrations", headers=scene.admin).json()["migrations"]
    assert [m["status"] for m in migrations] == ["error"]
    resp = scene.action(sid, {"migrate": {"host": "compute-0"}})
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        "Server vm1 already runs on compute-0: choose another host."
    )


def test_failed_move_puts_the_guest_back(scene: Scene) -> None:
    sid, port = _vm1(scene)
    scene.hosts.driver("compute-1").fail_next("migrate_in", "no IOMMU group")
    resp = scene.action(sid, {"migrate": None})
    assert resp.status_code == 202
    actions = scene.api.get(f"{API}/servers/{sid}/os-instance-actions", headers=scene.admin)
    request_id = actions.json()["instanceActions"][0]["request_id"]
    action = scene.api.get(
        f"{API}/servers/{sid}/os-instance-actions/{request_id}", headers=scene.admin
    ).json()["instanceAction"]
    assert (action["action"], action["message"]) == ("migrate", "Error")
    failed = [e for e in action["events"] if e["result"] == "Error"]
    assert [(e["event"], e["details"]) for e in failed] == [
        ("migrate_in", "Migration of server vm1 to compute-1 failed: no IOMMU group")
    ]
    migrations = scene.api.get(f"{API}/os-migrations", headers=scene.admin).json()["migrations"]
    assert [m["status"] for m in migrations] == ["error"]
    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "compute-0")
    assert scene.get_port(port["id"])["mac_address"] == scene.nics["compute-0"]["mac"]
    assert scene.claims() == [("compute-0", scene.nics["compute-0"]["pciaddr"], "vm1")]
    assert scene.hosts.driver("compute-0").guests()[sid] == "running"


def test_only_admins_migrate(scene: Scene) -> None:
    sid, _port = _vm1(scene)
    resp = scene.action(sid, {"migrate": None}, scene.user1)
    assert resp.status_code == 403
    assert scene.action(sid, {"os-migrateLive": {"host": None}}, scene.user1).status_code == 403
    assert scene.api.get(f"{API}/os-migrations", headers=scene.user1).status_code == 403


def test_live_migration_of_a_passthrough_port_is_refused(scene: Scene) -> None:
    sid, _port = _vm1(scene)
    resp = scene.action(sid, {"os-migrateLive": {"block_migration": "auto", "host": None}})
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        "Live migration of server vm1 is not possible: port port0 (direct-physical) holds PCI "
        "passthrough NIC 0000:00:03.0 on compute-0; use cold migration (openstack server "
        "migrate)"
    )
    assert scene.show(sid)["status"] == "ACTIVE"


def test_live_migration_of_an_alias_nic_is_refused(scene: Scene, settings: Any) -> None:
    host = add_host(scene.cloud, settings.home, 2)
    make_passthrough(scene.cloud, host, "enp0s4", datanetwork=None)
    scene.alias_flavor("pci-small", "nic-82574", "8086", "10d3")
    server = scene.boot("vm2", flavor="pci-small", networks="none")
    resp = scene.action(server["id"], {"os-migrateLive": {"host": None}})
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        "Live migration of server vm2 is not possible: PCI alias nic-82574 of flavor pci-small "
        "holds PCI passthrough NIC 0000:00:04.0 on compute-2; use cold migration (openstack "
        "server migrate)"
    )


def test_alias_server_cold_migrates_to_a_matching_nic(scene: Scene, settings: Any) -> None:
    for index in (2, 3):
        host = add_host(scene.cloud, settings.home, index)
        make_passthrough(scene.cloud, host, "enp0s4", datanetwork=None)
    scene.alias_flavor("pci-small", "nic-82574", "8086", "10d3")
    server = scene.boot("vm2", flavor="pci-small", networks="none")
    assert scene.show(server["id"])["OS-EXT-SRV-ATTR:host"] == "compute-2"
    assert scene.action(server["id"], {"migrate": None}).status_code == 202
    assert scene.show(server["id"])["OS-EXT-SRV-ATTR:host"] == "compute-3"
    assert scene.action(server["id"], {"confirmResize": None}).status_code == 204
    assert scene.claims() == [("compute-3", "0000:00:04.0", "vm2")]


def test_live_migration_without_passthrough_moves_at_once(scene: Scene) -> None:
    server = scene.boot("plain", networks="none")
    sid = server["id"]
    # Pack: the sample cloud's compute-2 has no passthrough NIC, so a server needing none goes
    # there first, keeping compute-0/1's NICs free; its live migration then takes the next
    # host in that order (compute-0 and -1 tie at one free NIC; by name).
    assert scene.show(sid)["OS-EXT-SRV-ATTR:host"] == "compute-2"
    resp = scene.action(sid, {"os-migrateLive": {"block_migration": "auto", "host": None}})
    assert resp.status_code == 202, resp.text
    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "compute-0")
    migrations = scene.api.get(f"{API}/os-migrations", headers=scene.admin).json()["migrations"]
    assert [(m["status"], m["migration_type"]) for m in migrations] == [
        ("completed", "live-migration")
    ]


def test_delete_during_verify_resize_frees_both_hosts(scene: Scene) -> None:
    sid, port = _vm1(scene)
    scene.action(sid, {"migrate": None})
    assert len(scene.claims()) == 2
    assert scene.delete(sid, scene.user1).status_code == 204
    assert scene.claims() == []
    assert scene.get_port(port["id"])["device_id"] == ""
    lock(scene.cloud, "compute-0")
    again = scene.boot("vm9", networks=[{"port": port["id"]}])
    assert again["status"] == "ACTIVE"
