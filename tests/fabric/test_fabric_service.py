"""Acceptance of issue 5 over the HTTP API: the switch port follows boot, migration and delete,
drift is reported and fixed, a refusing switch fails a boot cleanly, trace and trunks."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passnic.app import create_app
from passnic.fabric.drivers.soft import SoftSwitchDriver
from passnic.fabric.portconfig import PortConfig
from passnic.fabric.sample import QUARANTINE_VLAN
from tests.compute.conftest import Scene

FAB = "/fabric/v1"
PORT_OF = {  # the sample cabling
    ("compute-0", "enp0s3"): "GigabitEthernet1/0/1",
    ("compute-0", "enp0s4"): "GigabitEthernet1/0/2",
    ("compute-1", "enp0s3"): "GigabitEthernet1/0/3",
    ("compute-2", "enp0s3"): "GigabitEthernet1/0/5",
}


def switch_port(tor1: SoftSwitchDriver, host: str, nic: str = "enp0s3") -> PortConfig:
    return tor1.read([PORT_OF[(host, nic)]])[PORT_OF[(host, nic)]]


def boot_vm1(scene: Scene) -> dict[str, Any]:
    port = scene.port("port0")
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    shown = scene.show(server["id"])
    assert shown["status"] == "ACTIVE", shown
    return shown


def test_sample_switch_and_links(scene: Scene) -> None:
    resp = scene.api.get(f"{FAB}/switches", headers=scene.admin)
    assert resp.status_code == 200, resp.text
    (tor1,) = resp.json()["switches"]
    assert tor1["name"] == "tor-1" and tor1["driver"] == "soft"
    assert "password" not in tor1
    links = scene.api.get(f"{FAB}/links", headers=scene.admin).json()["links"]
    assert len(links) == 6
    assert {(lk["host"], lk["nic"], lk["switch_port"]) for lk in links} >= {
        (h, n, p) for (h, n), p in PORT_OF.items()
    }
    assert all(lk["pci_address"] for lk in links)
    denied = scene.api.get(f"{FAB}/switches", headers=scene.user1)
    assert denied.status_code == 403
    assert "fabricFault" in denied.json()


def test_switch_crud_never_returns_password(scene: Scene) -> None:
    body = {
        "switch": {
            "name": "tor-2",
            "driver": "cisco_ios",
            "address": "10.0.0.2",
            "username": "admin",
            "password": "s3cret",
            "ports": ["GigabitEthernet1/0/1"],
        }
    }
    resp = scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin)
    assert resp.status_code == 201, resp.text
    assert "s3cret" not in resp.text and resp.json()["switch"]["password_set"] is True
    assert "s3cret" not in scene.api.get(f"{FAB}/switches/tor-2", headers=scene.admin).text
    dup = scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin)
    assert dup.status_code == 409
    resp = scene.api.delete(f"{FAB}/switches/tor-2", headers=scene.admin)
    assert resp.status_code == 204
    assert scene.api.get(f"{FAB}/switches/tor-2", headers=scene.admin).status_code == 404


def test_boot_migrate_delete_follow_the_switch(scene: Scene, tor1: SoftSwitchDriver) -> None:
    assert switch_port(tor1, "compute-0") == PortConfig.quarantine(QUARANTINE_VLAN)
    vm1 = boot_vm1(scene)
    src = vm1["OS-EXT-SRV-ATTR:host"]
    assert switch_port(tor1, src) == PortConfig.access(10)
    status = scene.api.get(f"{FAB}/servers/{vm1['id']}", headers=scene.admin).json()["server"]
    assert status["ports"][0]["status"] == "bound" and status["ports"][0]["drift"] == []

    resp = scene.action(vm1["id"], {"migrate": None})
    assert resp.status_code == 202, resp.text
    dest = scene.show(vm1["id"])["OS-EXT-SRV-ATTR:host"]
    assert dest != src
    assert switch_port(tor1, dest) == PortConfig.access(10)
    assert switch_port(tor1, src) == PortConfig.access(10)  # the old NIC is still held
    resp = scene.action(vm1["id"], {"confirmResize": None})
    assert resp.status_code == 204, resp.text
    assert switch_port(tor1, dest) == PortConfig.access(10)
    assert switch_port(tor1, src) == PortConfig.quarantine(QUARANTINE_VLAN)

    resp = scene.delete(vm1["id"], scene.user1)
    assert resp.status_code == 204, resp.text
    assert switch_port(tor1, dest) == PortConfig.quarantine(QUARANTINE_VLAN)


def test_revert_quarantines_the_destination(scene: Scene, tor1: SoftSwitchDriver) -> None:
    vm1 = boot_vm1(scene)
    src = vm1["OS-EXT-SRV-ATTR:host"]
    assert scene.action(vm1["id"], {"migrate": None}).status_code == 202
    dest = scene.show(vm1["id"])["OS-EXT-SRV-ATTR:host"]
    assert scene.action(vm1["id"], {"revertResize": None}).status_code == 202
    assert switch_port(tor1, src) == PortConfig.access(10)
    assert switch_port(tor1, dest) == PortConfig.quarantine(QUARANTINE_VLAN)


def test_audit_reports_and_fixes_drift(scene: Scene, tor1: SoftSwitchDriver) -> None:
    vm1 = boot_vm1(scene)
    host = vm1["OS-EXT-SRV-ATTR:host"]
    name = PORT_OF[(host, "enp0s3")]
    tor1.switch.configure(name, PortConfig.access(20))  # behind Passnic's back
    other = PORT_OF[("compute-2", "enp0s3")]
    tor1.switch.configure(other, PortConfig.trunk(None, [10, 20]))

    resp = scene.api.post(f"{FAB}/audit", json={}, headers=scene.admin)
    assert resp.status_code == 200, resp.text
    drifted = {r["port"]: r for r in resp.json()["ports"] if r["drift"]}
    assert set(drifted) == {name, other}
    assert "wrong VLAN: access VLAN 20, expected 10" in drifted[name]["drift"]
    assert "quarantined port is up" in drifted[other]["drift"]
    alarms = scene.api.get(f"{FAB}/alarms", headers=scene.admin).json()["alarms"]
    assert {a["port"] for a in alarms} == {name, other}

    resp = scene.api.post(f"{FAB}/audit", json={"fix": True}, headers=scene.admin)
    assert all(r["fixed"] for r in resp.json()["ports"] if r["drift"])
    assert tor1.read([name])[name] == PortConfig.access(10)
    assert not tor1.read([other])[other].admin_up
    resp = scene.api.post(f"{FAB}/audit", json={}, headers=scene.admin)
    assert not any(r["drift"] for r in resp.json()["ports"])
    assert scene.api.get(f"{FAB}/alarms", headers=scene.admin).json()["alarms"] == []


def test_trunk_where_access_expected(scene: Scene, tor1: SoftSwitchDriver) -> None:
    vm1 = boot_vm1(scene)
    name = PORT_OF[(vm1["OS-EXT-SRV-ATTR:host"], "enp0s3")]
    tor1.switch.configure(name, PortConfig.trunk(10, [10, 20]))
    resp = scene.api.post(f"{FAB}/audit", json={"fix": True}, headers=scene.admin)
    (row,) = [r for r in resp.json()["ports"] if r["drift"]]
    assert row["drift"] == ["trunk where access was expected"]
    assert tor1.read([name])[name] == PortConfig.access(10)


def test_refusing_switch_fails_boot_cleanly(scene: Scene, tor1: SoftSwitchDriver) -> None:
    port = scene.port("port0")
    tor1.fail_next_apply("% VLAN 10 does not exist")
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    shown = scene.show(server["id"])
    assert shown["status"] == "ERROR"
    assert "% VLAN 10 does not exist" in shown["fault"]["message"]
    assert scene.claims() == []
    p = scene.get_port(port["id"])
    assert p["binding:host_id"] == "" and p["device_id"] == ""
    assert all(not c.admin_up for c in tor1.switch.ports.values() if c.mode == "access")

    resp = scene.delete(server["id"], scene.user1)
    assert resp.status_code == 204
    vm1 = boot_vm1(scene)
    assert switch_port(tor1, vm1["OS-EXT-SRV-ATTR:host"]) == PortConfig.access(10)


def test_trace_access_and_trunk(scene: Scene, tor1: SoftSwitchDriver) -> None:
    project1 = scene.cloud.identity.list_projects(_admin(), name="project1")[0].id
    resp = scene.api.post(
        "/networking/v2.0/networks",
        json={
            "network": {
                "name": "net1",
                "project_id": project1,
                "provider:network_type": "vlan",
                "provider:physical_network": "group0-data0",
                "provider:segmentation_id": "20",
            }
        },
        headers=scene.admin,
    )
    assert resp.status_code == 201, resp.text
    vm1 = boot_vm1(scene)
    name = PORT_OF[(vm1["OS-EXT-SRV-ATTR:host"], "enp0s3")]

    def trace(tag: int | None) -> dict[str, Any]:
        q = "" if tag is None else f"?tag={tag}"
        r = scene.api.get(f"{FAB}/servers/{vm1['id']}/trace{q}", headers=scene.admin)
        assert r.status_code == 200, r.text
        traces: list[dict[str, Any]] = r.json()["traces"]
        assert len(traces) == 1
        return traces[0]

    t = trace(None)
    assert t["summary"] == (
        f"untagged frame enters tor-1 {name} (access VLAN 10) → VLAN 10 → net0 (project1)"
    )
    assert not t["crosses_network"] and t["steps"]
    assert trace(10)["network"] == "net0"
    t = trace(20)
    assert t["dropped"] and "tagged VLAN 20 on an access port for VLAN 10" in t["summary"]

    resp = scene.api.put(
        f"{FAB}/servers/{vm1['id']}/trunk", json={"allowed_vlans": [10, 20]}, headers=scene.admin
    )
    assert resp.status_code == 200, resp.text
    assert "tag" in resp.json()["server"]["warning"]
    assert tor1.read([name])[name] == PortConfig.trunk(10, [10, 20])
    assert trace(None)["network"] == "net0"
    t = trace(20)
    assert t["network"] == "net1" and t["crosses_network"] and not t["dropped"]
    report = scene.api.get(f"{FAB}/report", headers=scene.admin).json()
    assert {s["vlan"] for s in report["segments"]} == {10, 20}
    # an audit sees no drift: the trunk is desired
    audit = scene.api.post(f"{FAB}/audit", json={}, headers=scene.admin).json()
    assert not any(r["drift"] for r in audit["ports"])

    resp = scene.api.delete(f"{FAB}/servers/{vm1['id']}/trunk", headers=scene.admin)
    assert resp.status_code == 200, resp.text
    assert tor1.read([name])[name] == PortConfig.access(10)


def test_trunk_refuses_foreign_vlans(scene: Scene) -> None:
    vm1 = boot_vm1(scene)
    resp = scene.api.put(
        f"{FAB}/servers/{vm1['id']}/trunk", json={"allowed_vlans": [10, 30]}, headers=scene.admin
    )
    assert resp.status_code == 400
    assert "30" in resp.json()["fabricFault"]["message"]
    resp = scene.api.put(
        f"{FAB}/servers/{vm1['id']}/trunk", json={"allowed_vlans": []}, headers=scene.admin
    )
    assert resp.status_code == 400


def test_report_flags_foreign_project(scene: Scene, tor1: SoftSwitchDriver) -> None:
    resp = scene.api.post(
        "/networking/v2.0/networks",
        json={
            "network": {
                "name": "net2",
                "project_id": scene.cloud.identity.list_projects(_admin(), name="project2")[0].id,
                "provider:network_type": "vlan",
                "provider:physical_network": "group0-data0",
                "provider:segmentation_id": "30",
            }
        },
        headers=scene.admin,
    )
    assert resp.status_code == 201, resp.text
    vm1 = boot_vm1(scene)
    report = scene.api.get(f"{FAB}/report", headers=scene.admin).json()
    (row,) = report["servers"]
    assert row["vlans"] == [10] and not row["flagged"]
    name = PORT_OF[(vm1["OS-EXT-SRV-ATTR:host"], "enp0s3")]
    tor1.switch.configure(name, PortConfig.trunk(10, [10, 30]))
    (row,) = scene.api.get(f"{FAB}/report", headers=scene.admin).json()["servers"]
    assert row["flagged"] and row["foreign_vlans"] == [30]


def _switch_port_event(scene: Scene, server_id: str) -> dict[str, Any]:
    api = f"/compute/v2.1/servers/{server_id}/os-instance-actions"
    (create,) = scene.api.get(api, headers=scene.admin).json()["instanceActions"]
    action = scene.api.get(f"{api}/{create['request_id']}", headers=scene.admin)
    events = action.json()["instanceAction"]["events"]
    return next(e for e in events if e["event"] == "switch_port")


def test_alias_nic_without_network_stays_quarantined(scene: Scene, tor1: SoftSwitchDriver) -> None:
    dev = next(
        d for d in scene.cloud.inventory.passthrough_devices("compute-0") if d.ifname == "enp0s3"
    )
    scene.alias_flavor("pci-small", "nic", dev.vendor_id or "", dev.product_id or "")
    server = scene.boot("vm2", flavor="pci-small", networks="none")
    shown = scene.show(server["id"])
    assert shown["status"] == "ACTIVE", shown
    host = shown["OS-EXT-SRV-ATTR:host"]
    assert not switch_port(tor1, host).admin_up
    # the boot's instance action says why, and what to do
    details = _switch_port_event(scene, server["id"])["details"]
    assert "carries no network" in details and "--nic net-id=" in details, details
    st = scene.api.get(f"{FAB}/servers/{server['id']}", headers=scene.admin).json()["server"]
    assert st["ports"] == []
    (row,) = [
        p
        for p in scene.api.get(f"{FAB}/switches/tor-1/ports", headers=scene.admin).json()["ports"]
        if p["host"] == host and p["nic"] == "enp0s3"
    ]
    assert row["status"] == "quarantined" and "carries no network" in row["reason"]


def test_alias_nic_with_a_network_of_the_boot(scene: Scene, tor1: SoftSwitchDriver) -> None:
    """`--nic net-id=net0` with an alias flavor: the port made for net0 is bound to the alias
    NIC (no second NIC is asked for), so its switch port is access VLAN 10."""
    dev = next(
        d for d in scene.cloud.inventory.passthrough_devices("compute-0") if d.ifname == "enp0s3"
    )
    scene.alias_flavor("pci-net0", "nic", dev.vendor_id or "", dev.product_id or "")
    server = scene.boot("vm2", flavor="pci-net0", networks=[{"uuid": scene.network_id}])
    shown = scene.show(server["id"])
    assert shown["status"] == "ACTIVE", shown
    host = shown["OS-EXT-SRV-ATTR:host"]
    assert switch_port(tor1, host) == PortConfig.access(10)
    assert list(shown["addresses"]) == ["net0"]
    claims = scene.cloud.placement.list_claims()
    assert len(claims) == 1 and claims[0].alias_name == "nic" and claims[0].port_id
    port = scene.get_port(claims[0].port_id)
    assert port["binding:host_id"] == host
    assert port["binding:profile"]["pci_slot"] == claims[0].pci_address
    assert port["mac_address"] == claims[0].mac
    st = scene.api.get(f"{FAB}/servers/{server['id']}", headers=scene.admin).json()["server"]
    assert [(p["status"], p["vlan"]) for p in st["ports"]] == [("bound", 10)]
    # delete: the NIC's switch port is quarantined again, the port made for net0 is gone
    scene.delete(server["id"])
    assert not switch_port(tor1, host).admin_up
    resp = scene.api.get(f"/networking/v2.0/ports/{port['id']}", headers=scene.admin)
    assert resp.status_code == 404


def test_lldp_never_replaces_a_manual_link(scene: Scene) -> None:
    body = {
        "host": "compute-0",
        "nic": "enp0s3",
        "switch": "tor-1",
        "switch_port": "GigabitEthernet1/0/6",
    }
    resp = scene.api.post(f"{FAB}/lldp", json=body, headers=scene.admin)
    assert resp.status_code == 200, resp.text
    assert resp.json()["link"]["switch_port"] == "GigabitEthernet1/0/1"
    resp = scene.api.put(f"{FAB}/links", json=body, headers=scene.admin)
    assert resp.json()["link"]["switch_port"] == "GigabitEthernet1/0/6"
    assert resp.json()["link"]["source"] == "manual"


def _admin() -> Any:
    from tests.compute.conftest import ADMIN

    return ADMIN


def test_audit_fix_is_one_session_per_switch(scene: Scene, tor1: SoftSwitchDriver) -> None:
    for name in ("GigabitEthernet1/0/2", "GigabitEthernet1/0/4", "GigabitEthernet1/0/6"):
        tor1.switch.configure(name, PortConfig.access(30))
    before = tor1.applied
    resp = scene.api.post(f"{FAB}/audit", json={"fix": True}, headers=scene.admin)
    assert sum(r["fixed"] for r in resp.json()["ports"]) == 3
    assert tor1.applied == before + 1


def test_quarantine_vlan_is_configurable(scene: Scene) -> None:
    body = {
        "switch": {
            "name": "tor-2",
            "driver": "soft",
            "ports": ["Ethernet1", "Ethernet2"],
            "quarantine_vlan": 999,
        }
    }
    assert scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin).status_code == 201
    link = {"host": "compute-2", "nic": "enp0s4", "switch": "tor-2", "switch_port": "Ethernet1"}
    assert scene.api.put(f"{FAB}/links", json=link, headers=scene.admin).status_code == 200
    tor2 = scene.cloud.fabric.soft("tor-2")
    tor2.switch.configure("Ethernet1", PortConfig.access(10))
    resp = scene.api.post(f"{FAB}/audit", json={"fix": True}, headers=scene.admin)
    (row,) = [r for r in resp.json()["ports"] if r["switch"] == "tor-2"]
    assert row["fixed"]
    assert tor2.read(["Ethernet1"])["Ethernet1"] == PortConfig.quarantine(999)


def test_periodic_audit_raises_alarms(
    scene: Scene, tor1: SoftSwitchDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With auto-repair off the periodic audit only raises alarms (drift made after the
    start-up reconcile)."""
    fabric = scene.cloud.fabric
    monkeypatch.setattr(fabric, "settings", replace(fabric.settings, fabric_auto_repair=False))
    monkeypatch.setenv("PASSNIC_FABRIC_AUDIT_INTERVAL", "0.05")
    with TestClient(create_app(scene.cloud)) as client:
        tor1.switch.configure("GigabitEthernet1/0/2", PortConfig.access(20))
        deadline = time.monotonic() + 10
        alarms: list[Any] = []
        while not alarms and time.monotonic() < deadline:
            time.sleep(0.05)
            alarms = client.get(f"{FAB}/alarms", headers=scene.admin).json()["alarms"]
    assert alarms and alarms[0]["port"] == "GigabitEthernet1/0/2"
    # a freed NIC's port is parked on the quarantine VLAN: VLAN 20 there is drift
    assert f"wrong VLAN: access VLAN 20, expected {QUARANTINE_VLAN}" in alarms[0]["message"]


def test_refusing_switch_fails_migration_cleanly(scene: Scene, tor1: SoftSwitchDriver) -> None:
    vm1 = boot_vm1(scene)
    src = vm1["OS-EXT-SRV-ATTR:host"]
    tor1.fail_next_apply("% Switch busy")
    resp = scene.action(vm1["id"], {"migrate": None})
    assert resp.status_code == 202, resp.text
    migrations = scene.api.get("/compute/v2.1/os-migrations", headers=scene.admin).json()
    assert [m["status"] for m in migrations["migrations"]] == ["error"]
    events = scene.api.get(
        f"/compute/v2.1/servers/{vm1['id']}/os-instance-actions/"
        + scene.api.get(
            f"/compute/v2.1/servers/{vm1['id']}/os-instance-actions", headers=scene.admin
        ).json()["instanceActions"][0]["request_id"],
        headers=scene.admin,
    ).json()["instanceAction"]["events"]
    assert [e["event"] for e in events if e["result"] == "Error"] == ["switch_port"]
    assert any("% Switch busy" in (e["details"] or "") for e in events)
    shown = scene.show(vm1["id"])
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-SRV-ATTR:host"] == src
    assert {c[0] for c in scene.claims()} == {src}
    dest = "compute-1" if src == "compute-0" else "compute-0"
    assert switch_port(tor1, src) == PortConfig.access(10)
    assert switch_port(tor1, dest) == PortConfig.quarantine(QUARANTINE_VLAN)
    assert scene.action(vm1["id"], {"migrate": None}).status_code == 202
    assert switch_port(tor1, dest) == PortConfig.access(10)
