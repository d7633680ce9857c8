"""Cabling learned by LLDP: the frames and lldpd's answer the host agent reads, the agent
sending its inventory again when what a NIC hears changes, and the controller turning what the
NICs hear into links (a manual link kept, disagreement and moves alarmed), shown with
StarlingX's fields."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from passnic.agent.discovery import discover_host
from passnic.agent.fakesysfs import build_sample_compute_sysfs
from passnic.agent.host import HostAgent
from passnic.agent.lldp import (
    Listener,
    Neighbour,
    frame,
    from_lldpcli,
    parse_frame,
    with_neighbours,
)
from passnic.compute.protocol import SyncAnswer
from passnic.fabric.drivers.soft import SoftSwitchDriver
from passnic.fabric.portconfig import PortConfig
from passnic.fabric.sample import QUARANTINE_VLAN
from tests.compute.conftest import ADMIN, Scene

FAB = "/fabric/v1"
INV = "/inventory"
SWITCH_MAC = bytes.fromhex("02706e000001")


# ---- frames and lldpd ---------------------------------------------------------------------


def test_a_frame_reads_back_as_it_was_built() -> None:
    data = frame(SWITCH_MAC, "tor-1", "GigabitEthernet1/0/3", "tor-1", ttl=20)
    assert len(data) >= 60 and data[:6] == bytes.fromhex("0180c200000e")
    assert parse_frame(data) == Neighbour("tor-1", "GigabitEthernet1/0/3", "tor-1", ttl=20)
    tagged = data[:12] + bytes.fromhex("8100000a") + data[12:]
    assert parse_frame(tagged) == parse_frame(data)


def test_frames_that_are_no_lldpdu_are_ignored() -> None:
    data = frame(SWITCH_MAC, "tor-1", "Gi1/0/3")
    assert parse_frame(data[:12] + b"\x08\x00" + data[14:]) is None  # IPv4
    assert parse_frame(data[:20]) is None  # truncated inside a TLV
    no_ttl = data[:14] + data[14:14 + 2 + 6] + data[14 + 2 + 6:14 + 2 + 6 + 2 + 8]  # fmt: skip
    assert parse_frame(no_ttl) is None


def test_a_mac_chassis_id_is_shown_as_a_mac() -> None:
    tlvs = (
        bytes.fromhex("020704") + bytes.fromhex("001122334455")
        + bytes.fromhex("0408") + b"\x05Gi1/0/1"
        + bytes.fromhex("06020078") + bytes.fromhex("0000")
    )  # fmt: skip
    data = bytes.fromhex("0180c200000e") + SWITCH_MAC + b"\x88\xcc" + tlvs
    assert parse_frame(data) == Neighbour("00:11:22:33:44:55", "Gi1/0/1", ttl=120)


LLDPCLI_ONE = {
    "lldp": {
        "interface": {
            "enp0s3": {
                "via": "LLDP",
                "chassis": {
                    "tor-1": {
                        "id": {"type": "mac", "value": "00:11:22:33:44:55"},
                        "descr": "Cisco IOS Software",
                    }
                },
                "port": {"id": {"type": "ifname", "value": "Gi1/0/1"}, "ttl": "120"},
            }
        }
    }
}


def test_lldpcli_json_one_and_several_interfaces() -> None:
    one = from_lldpcli(json.dumps(LLDPCLI_ONE))
    assert one == {
        "enp0s3": Neighbour(
            "00:11:22:33:44:55", "Gi1/0/1", "tor-1", system_description="Cisco IOS Software"
        )
    }
    nameless = {"id": {"type": "mac", "value": "00:aa:bb:cc:dd:ee"}}
    several = {
        "lldp": {
            "interface": [
                LLDPCLI_ONE["lldp"]["interface"],
                {"enp0s4": {"chassis": nameless, "port": {"id": {"value": "Gi1/0/2"}}}},
            ]
        }
    }
    heard = from_lldpcli(json.dumps(several))
    assert heard["enp0s4"] == Neighbour("00:aa:bb:cc:dd:ee", "Gi1/0/2")
    assert heard["enp0s3"].system_name == "tor-1"
    assert from_lldpcli('{"lldp": {}}') == {}


def test_the_listener_keeps_what_each_interface_last_heard() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener = Listener({"enp0s3": ours}).start()
    try:
        theirs.send(b"\x01" * 20)  # noise
        theirs.send(frame(SWITCH_MAC, "tor-1", "Gi1/0/1", "tor-1", ttl=10))
        deadline = time.monotonic() + 5
        while not listener.neighbours() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listener.neighbours() == {"enp0s3": Neighbour("tor-1", "Gi1/0/1", "tor-1", ttl=10)}
    finally:
        listener.stop()
        theirs.close()


# ---- the agent ------------------------------------------------------------------------------


class Controller:
    """What an agent posts, answered as the controller does."""

    def __init__(self) -> None:
        self.inventories: list[dict[str, Any]] = []

    def post(self, path: str, body: Any) -> Any:
        if path.endswith("/inventory"):
            self.inventories.append(body)
            return {}
        return SyncAnswer(generation=1, guests=[], heartbeat_timeout=30).model_dump(mode="json")


class NoGuests:
    def guests(self) -> dict[str, Any]:
        return {}

    def prerequisites(self) -> list[str]:
        return []


def test_the_agent_reports_again_when_a_nic_hears_something_else(tmp_path: Path) -> None:
    root = build_sample_compute_sysfs(tmp_path / "sysfs", 0)
    heard: dict[str, Neighbour] = {}
    controller = Controller()
    agent = HostAgent(
        "compute-0",
        NoGuests(),  # type: ignore[arg-type]
        controller,  # type: ignore[arg-type]
        inventory=lambda: discover_host("compute-0", sysfs_root=root),
        lldp=lambda: heard,
    )

    def said(n: int) -> dict[str, Any]:
        ports = controller.inventories[n]["ports"]
        return {p["name"]: p["lldp_neighbour"] for p in ports}

    agent.sync_once()
    assert len(controller.inventories) == 1 and set(said(0).values()) == {None}
    agent.sync_once()
    assert len(controller.inventories) == 1  # nothing new heard: not sent again
    heard["enp0s3"] = Neighbour("tor-1", "GigabitEthernet1/0/1", "tor-1")
    agent.sync_once()
    assert len(controller.inventories) == 2
    assert said(1)["enp0s3"]["port_identifier"] == "GigabitEthernet1/0/1"
    assert said(1)["enp0s4"] is None


# ---- the controller -------------------------------------------------------------------------


@pytest.fixture
def sysfs0(tmp_path: Path) -> Path:
    return build_sample_compute_sysfs(tmp_path / "sysfs0", 0)


def hear(scene: Scene, sysfs: Path, heard: dict[str, tuple[str, str]]) -> None:
    """compute-0's agent reports that its NICs hear these (switch, port)."""
    report = with_neighbours(
        discover_host("compute-0", sysfs_root=sysfs),
        {nic: Neighbour(sw, port, sw) for nic, (sw, port) in heard.items()},
    )
    resp = scene.api.post(
        f"{INV}/v1/agent/reports", json=report.model_dump(mode="json"), headers=scene.admin
    )
    assert resp.status_code == 200, resp.text


def links(scene: Scene) -> dict[tuple[str, str], tuple[str, str]]:
    rows = scene.api.get(f"{FAB}/links", headers=scene.admin).json()["links"]
    return {(r["host"], r["nic"]): (r["switch_port"], r["source"]) for r in rows}


def alarms(scene: Scene, resolved: bool = False) -> list[dict[str, Any]]:
    q = "?resolved=true" if resolved else ""
    found: list[dict[str, Any]] = scene.api.get(f"{FAB}/alarms{q}", headers=scene.admin).json()[
        "alarms"
    ]
    return found


def test_a_manual_link_stays_and_disagreement_is_alarmed(scene: Scene, sysfs0: Path) -> None:
    hear(scene, sysfs0, {"enp0s3": ("tor-1", "GigabitEthernet1/0/1")})  # agrees
    assert links(scene)[("compute-0", "enp0s3")] == ("GigabitEthernet1/0/1", "manual")
    assert alarms(scene) == []
    hear(scene, sysfs0, {"enp0s3": ("tor-1", "GigabitEthernet1/0/3")})
    assert links(scene)[("compute-0", "enp0s3")] == ("GigabitEthernet1/0/1", "manual")
    (alarm,) = alarms(scene)
    assert alarm["kind"] == "lldp-mismatch" and alarm["port"] == "GigabitEthernet1/0/1"
    assert "LLDP hears tor-1 GigabitEthernet1/0/3" in alarm["message"]
    hear(scene, sysfs0, {"enp0s3": ("tor-1", "GigabitEthernet1/0/3")})
    assert len(alarms(scene)) == 1  # not repeated
    # an audit resolves drift alarms only
    scene.api.post(f"{FAB}/audit", json={"fix": True}, headers=scene.admin)
    assert [a["kind"] for a in alarms(scene)] == ["lldp-mismatch"]
    # the operator settles it
    body = {"host": "compute-0", "nic": "enp0s3", "switch": "tor-1"}
    resp = scene.api.put(
        f"{FAB}/links", json={**body, "switch_port": "GigabitEthernet1/0/1"}, headers=scene.admin
    )
    assert resp.status_code == 200, resp.text
    assert alarms(scene) == []


def test_cabling_is_learned_and_a_move_is_alarmed(
    scene: Scene, sysfs0: Path, tor1: SoftSwitchDriver
) -> None:
    for nic in ("enp0s3", "enp0s4"):
        scene.cloud.fabric.delete_link(ADMIN, "compute-0", nic)
    assert ("compute-0", "enp0s3") not in links(scene)
    gi1, gi2 = "GigabitEthernet1/0/1", "GigabitEthernet1/0/2"
    tor1.switch.configure(gi1, PortConfig.access(10))  # as a port left bound
    hear(scene, sysfs0, {"enp0s3": ("tor-1", gi1)})
    assert links(scene)[("compute-0", "enp0s3")] == (gi1, "lldp")
    # learned: managed again at once (no server holds the NIC: quarantined)
    assert tor1.read([gi1])[gi1] == PortConfig.quarantine(QUARANTINE_VLAN)

    # StarlingX's views of what compute-0 hears
    resp = scene.api.get(f"{INV}/v1/ihosts/compute-0/lldp_neighbours", headers=scene.admin)
    (n,) = resp.json()["lldp_neighbours"]
    assert (n["port_name"], n["chassis_id"], n["port_identifier"], n["system_name"]) == (
        "enp0s3",
        "tor-1",
        gi1,
        "tor-1",
    )
    resp = scene.api.get(f"{INV}/v1/ihosts/compute-0/lldp_agents", headers=scene.admin)
    agents = resp.json()["lldp_agents"]
    assert {a["port_name"] for a in agents} >= {"enp0s3", "enp0s4"}
    assert {a["status"] for a in agents} == {"rx=enabled,tx=disabled"}

    # the NIC now hears another port: the learned link moves, alarmed; the port it left is
    # quarantined
    tor1.switch.configure(gi1, PortConfig.access(10))
    hear(scene, sysfs0, {"enp0s3": ("tor-1", gi2)})
    assert links(scene)[("compute-0", "enp0s3")] == (gi2, "lldp")
    (alarm,) = alarms(scene)
    assert alarm["kind"] == "lldp-moved" and alarm["port"] == gi2
    assert f"moved from tor-1 {gi1} to tor-1 {gi2}" in alarm["message"]
    assert not tor1.read([gi1])[gi1].admin_up

    # hearing nothing (e.g. the NIC given to a guest) keeps the link, drops the neighbour
    hear(scene, sysfs0, {})
    assert links(scene)[("compute-0", "enp0s3")] == (gi2, "lldp")
    resp = scene.api.get(f"{INV}/v1/ihosts/compute-0/lldp_neighbours", headers=scene.admin)
    assert resp.json()["lldp_neighbours"] == []


def test_what_names_no_managed_port_is_not_learned(scene: Scene, sysfs0: Path) -> None:
    scene.cloud.fabric.delete_link(ADMIN, "compute-0", "enp0s3")
    hear(scene, sysfs0, {"enp0s3": ("core-9", "Ethernet7")})
    hear(scene, sysfs0, {"enp0s3": ("tor-1", "GigabitEthernet1/0/48")})  # the uplink
    assert ("compute-0", "enp0s3") not in links(scene)
    assert alarms(scene) == []
