"""The lab end to end: Passnic's netmiko driver configures the lab switch over SSH, the lab
driver (what a lab host's agent runs) hands NICs to "VMs", and real frames prove who reaches
whom."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from passnic.agent.drivers import HypervisorError
from passnic.agent.fakesysfs import sample_mac
from passnic.compute.protocol import GuestDevice, GuestSpec
from passnic.fabric.drivers.netmiko_driver import NetmikoSwitch
from passnic.fabric.portconfig import PortConfig
from passnic.lab import netns
from passnic.lab.attach import lab_agent_options
from passnic.lab.driver import LabDriver, guest_interfaces, vm_netns
from passnic.lab.ping import ping_from
from passnic.lab.topology import Lab

SERVER_A = "aaaaaaaa-0000-4000-8000-000000000001"
SERVER_B = "bbbbbbbb-0000-4000-8000-000000000002"
SERVER_C = "cccccccc-0000-4000-8000-000000000003"
A = SERVER_A


def _network_data(mac: str, ip: str) -> dict[str, Any]:
    return {
        "links": [{"id": "tap0", "type": "phy", "mtu": 1500, "ethernet_mac_address": mac}],
        "networks": [
            {
                "id": "network0",
                "type": "ipv4",
                "link": "tap0",
                "ip_address": ip,
                "netmask": "255.255.255.0",
                "routes": [],
            }
        ],
        "services": [],
    }


def _guest(
    server_id: str, lab: Lab, hostname: str, ifname: str, ip: str | None = None
) -> GuestSpec:
    """The spec the controller sends a host for a server on `hostname`'s NIC `ifname` (with
    its network_data.json when it has an address)."""
    nic = lab.nic(hostname, ifname)
    device = GuestDevice(
        pci_address=nic.pci_address, vendor_id="0x8086", product_id="0x10d3", mac=nic.mac
    )
    return GuestSpec(
        server_id=server_id,
        name=server_id[:8],
        vcpus=1,
        ram_mb=512,
        disk_gb=1,
        devices=(device,),
        network_data=_network_data(nic.mac, ip) if ip else None,
    )


def _driver(lab: Lab, hostname: str, state: Path) -> LabDriver:
    """The driver as the host's agent builds it (`passnic.agent.drivers.load_driver`)."""
    return LabDriver(hostname, state / hostname, lab_agent_options(lab, hostname))


@pytest.fixture
def lab(lab_prefix: str, tmp_path: Path) -> Iterator[Lab]:
    with Lab(tmp_path / "lab", prefix=lab_prefix) as started:
        yield started
    assert netns.leftovers(lab_prefix) == []


def test_lab_layout(lab: Lab) -> None:
    assert lab.nic("compute-1", "enp0s4").mac == sample_mac(1, 4)
    assert netns.links(lab.host_netns("compute-1"), "enp0s4")[0].mac == sample_mac(1, 4)
    address = lab.sysfs_root("compute-1") / "class/net/enp0s4/address"
    assert address.read_text().strip() == sample_mac(1, 4)
    state = json.loads((lab.lab_dir / "lab.json").read_text())
    assert state["switch"]["port"] == lab.netmiko_params()["port"]
    # the sample fabric's cabling: compute-N's NICs on ports 2N+1 and 2N+2
    assert lab.cabling() == {
        (f"compute-{n}", nic): f"GigabitEthernet1/0/{2 * n + k + 1}"
        for n in range(3)
        for k, nic in enumerate(("enp0s3", "enp0s4"))
    }


def test_vms_on_the_same_vlan_talk_other_vlans_are_isolated(lab: Lab, tmp_path: Path) -> None:
    assert lab.switch is not None
    switch = lab.switch
    compute0, compute1 = (_driver(lab, h, tmp_path) for h in ("compute-0", "compute-1"))

    # the switch side, exactly as Passnic would configure a real Catalyst
    driver = NetmikoSwitch("cisco_ios", lab.netmiko_params(), name="tor-1")
    port_a = lab.nic("compute-0", "enp0s4").switch_port
    port_b = lab.nic("compute-1", "enp0s4").switch_port
    port_c = lab.nic("compute-0", "enp0s3").switch_port
    started = time.perf_counter()
    driver.apply(
        {
            port_a: PortConfig.access(10, "compute-0 enp0s4"),
            port_b: PortConfig.access(10, "compute-1 enp0s4"),
            port_c: PortConfig.access(20, "compute-0 enp0s3"),
        }
    )
    apply_s = time.perf_counter() - started
    assert switch.port_config(port_a) == PortConfig.access(10, "compute-0 enp0s4")

    compute0.spawn(_guest(SERVER_A, lab, "compute-0", "enp0s4", "10.0.10.5"))
    compute1.spawn(_guest(SERVER_B, lab, "compute-1", "enp0s4", "10.0.10.6"))
    compute0.spawn(_guest(SERVER_C, lab, "compute-0", "enp0s3", "10.0.10.7"))
    assert guest_interfaces(lab.vm_prefix(), A) == {lab.nic("compute-0", "enp0s4").mac: "eth0"}
    assert not netns.link_exists("enp0s4", lab.host_netns("compute-0"))

    rtts = ping_from(vm_netns(lab.vm_prefix(), A), "10.0.10.6", count=3, timeout=1)
    assert len(rtts) == 3
    assert ping_from(vm_netns(lab.vm_prefix(), A), "10.0.10.254", count=1, timeout=1)  # external
    assert (
        ping_from(vm_netns(lab.vm_prefix(), A), "10.0.10.7", count=1, timeout=0.5) == []
    )  # VLAN 20
    print(f"\nnetmiko apply {apply_s:.2f}s; VM-to-VM RTTs {[round(r, 3) for r in rtts]} ms")

    # the uplink trunk carries VLAN 10 tagged: a broadcast from A reaches it with its tag
    assert lab.switch.counters("GigabitEthernet1/0/48").tx > 0

    # a guest tagging its frames for VLAN 20 is stopped at its access port
    before = switch.counters(port_a)
    proc = netns.netns_exec(vm_netns(lab.vm_prefix(), A), [sys.executable, "-c", SEND_TAGGED])
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 3
    while switch.counters(port_a).dropped == before.dropped and time.monotonic() < deadline:
        time.sleep(0.02)
    after = switch.counters(port_a)
    assert after.drop_reasons["tagged VLAN 20 on an access port for VLAN 10"] == 1

    # cold migration: A lands on compute-1's enp0s3, a new MAC and ethX, the same IP
    driver.apply({lab.nic("compute-1", "enp0s3").switch_port: PortConfig.access(10)})
    compute0.migrate_out(SERVER_A)
    assert compute0.guests() == {SERVER_A: "parked", SERVER_C: "running"}
    assert netns.link_exists("enp0s4", lab.host_netns("compute-0"))  # back to its host
    new_mac = lab.nic("compute-1", "enp0s3").mac
    compute1.migrate_in(_guest(SERVER_A, lab, "compute-1", "enp0s3", "10.0.10.5"), power_on=True)
    assert guest_interfaces(lab.vm_prefix(), A) == {new_mac: "eth1"}  # a new ethX
    assert ping_from(vm_netns(lab.vm_prefix(), A), "10.0.10.6", count=1, timeout=1)

    # power off takes the link down; destroy gives the NICs back
    compute1.power_off(SERVER_B)
    assert ping_from(vm_netns(lab.vm_prefix(), A), "10.0.10.6", count=1, timeout=0.5) == []
    for drv, server in (
        (compute0, SERVER_A),  # the parked source side: confirm
        (compute1, SERVER_A),
        (compute1, SERVER_B),
        (compute0, SERVER_C),
    ):
        drv.destroy(server)
    assert compute0.guests() == {} and compute1.guests() == {}
    assert netns.namespaces(lab.vm_prefix()) == []
    assert {link.name for link in netns.links(lab.host_netns("compute-1"), "enp")} == {
        "enp0s3",
        "enp0s4",
    }


SEND_TAGGED = """
from scapy.all import ARP, Dot1Q, Ether, conf
sock = conf.L2socket(iface="eth0")
frame = Ether(dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=20) / ARP(psrc="10.0.10.5", pdst="10.0.10.7")
sock.send(frame)
sock.close()
"""


def test_confirming_a_migration_leaves_the_moved_guest_alone(lab: Lab, tmp_path: Path) -> None:
    """Confirm destroys the guest on the source host: the record there holds no NIC any more,
    and the namespace of that name is now the destination's guest, which must survive."""
    compute0, compute1 = (_driver(lab, h, tmp_path) for h in ("compute-0", "compute-1"))
    compute0.spawn(_guest(SERVER_A, lab, "compute-0", "enp0s3", "10.0.10.5"))
    compute0.migrate_out(SERVER_A)
    compute1.migrate_in(_guest(SERVER_A, lab, "compute-1", "enp0s3", "10.0.10.5"), power_on=True)
    compute0.destroy(SERVER_A)  # what confirm_resize does on the source
    assert SERVER_A not in compute0.guests()
    new_mac = lab.nic("compute-1", "enp0s3").mac
    assert guest_interfaces(lab.vm_prefix(), A) == {new_mac: "eth1"}
    assert "10.0.10.5" in netns.ip("-br", "addr", "show", "eth1", ns=vm_netns(lab.vm_prefix(), A))
    assert netns.link_exists("enp0s3", lab.host_netns("compute-0"))
    compute1.destroy(SERVER_A)
    assert netns.namespaces(lab.vm_prefix()) == []


def test_the_agent_finds_its_guests_again_after_a_restart(lab: Lab, tmp_path: Path) -> None:
    """Guests outlive their agent: a new driver on the same state directory knows them."""
    _driver(lab, "compute-0", tmp_path).spawn(
        _guest(SERVER_A, lab, "compute-0", "enp0s3", "10.0.10.5")
    )
    again = _driver(lab, "compute-0", tmp_path)
    assert again.guests() == {SERVER_A: "running"}
    assert "eth0: " + lab.nic("compute-0", "enp0s3").mac in again.console(SERVER_A)
    again.destroy(SERVER_A)
    assert netns.namespaces(lab.vm_prefix()) == []
    assert netns.link_exists("enp0s3", lab.host_netns("compute-0"))


def test_unknown_nic_is_a_clear_fault(lab: Lab, tmp_path: Path) -> None:
    driver = _driver(lab, "compute-0", tmp_path)
    device = GuestDevice(pci_address="0000:00:09.0", vendor_id="", product_id="", mac="")
    bad = _guest(SERVER_A, lab, "compute-0", "enp0s3").model_copy(update={"devices": (device,)})
    with pytest.raises(HypervisorError, match=r"no lab NIC at PCI 0000:00:09\.0"):
        driver.spawn(bad)
    assert netns.namespaces(lab.vm_prefix()) == []
    assert driver.guests() == {}


def test_a_failed_spawn_gives_the_nic_back(lab: Lab, tmp_path: Path) -> None:
    driver = _driver(lab, "compute-0", tmp_path)
    good = _guest(SERVER_A, lab, "compute-0", "enp0s4", "10.0.10.5")
    assert good.network_data is not None
    broken = dict(good.network_data)
    broken["networks"] = [{**broken["networks"][0], "netmask": "not-a-mask"}]
    with pytest.raises(HypervisorError, match="could not attach the NICs on compute-0"):
        driver.spawn(good.model_copy(update={"network_data": broken}))
    assert netns.namespaces(lab.vm_prefix()) == []
    assert (
        netns.links(lab.host_netns("compute-0"), "enp0s4")[0].mac
        == lab.nic("compute-0", "enp0s4").mac
    )
    assert driver.guests() == {}
    driver.spawn(good)  # the NIC is usable again
    driver.destroy(SERVER_A)
