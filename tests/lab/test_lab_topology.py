"""The lab end to end: Passnic's netmiko driver configures the lab switch over SSH, the lab
hypervisor hands NICs to "VMs", and real frames prove who reaches whom."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from passnic.agent.fakesysfs import sample_mac
from passnic.compute.hypervisor import GuestDevice, GuestSpec, HypervisorError
from passnic.compute.hypervisor.lab import LabDriver, lab_driver_factory, vm_netns
from passnic.fabric.drivers.netmiko_driver import NetmikoSwitch
from passnic.fabric.portconfig import PortConfig
from passnic.lab import netns
from passnic.lab.ping import ping_from
from passnic.lab.topology import Lab

SERVER_A = "aaaaaaaa-0000-4000-8000-000000000001"
SERVER_B = "bbbbbbbb-0000-4000-8000-000000000002"
SERVER_C = "cccccccc-0000-4000-8000-000000000003"


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


def _guest(server_id: str, lab: Lab, hostname: str, ifname: str) -> GuestSpec:
    nic = lab.nic(hostname, ifname)
    device = GuestDevice(nic.pci_address, "0x8086", "0x10d3", nic.mac)
    return GuestSpec(server_id, server_id[:8], 1, 512, 1, None, (device,))


@pytest.fixture
def lab(lab_prefix: str, tmp_path: Path) -> Iterator[Lab]:
    with Lab(tmp_path / "lab") as started:
        yield started
    assert netns.leftovers(lab_prefix) == []


def test_lab_layout(lab: Lab) -> None:
    assert lab.nic("compute-1", "enp0s4").mac == sample_mac(1, 4)
    assert netns.links("pn-compute-1", "enp0s4")[0].mac == sample_mac(1, 4)
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


def test_vms_on_the_same_vlan_talk_other_vlans_are_isolated(lab: Lab) -> None:
    assert lab.switch is not None
    switch = lab.switch
    data = {
        SERVER_A: _network_data(lab.nic("compute-0", "enp0s4").mac, "10.0.10.5"),
        SERVER_B: _network_data(lab.nic("compute-1", "enp0s4").mac, "10.0.10.6"),
        SERVER_C: _network_data(lab.nic("compute-0", "enp0s3").mac, "10.0.10.7"),
    }
    factory = lab_driver_factory(lab, data.get)
    compute0, compute1 = factory("compute-0"), factory("compute-1")

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

    compute0.spawn(_guest(SERVER_A, lab, "compute-0", "enp0s4"))
    compute1.spawn(_guest(SERVER_B, lab, "compute-1", "enp0s4"))
    compute0.spawn(_guest(SERVER_C, lab, "compute-0", "enp0s3"))
    assert compute0.guest_interfaces(SERVER_A) == {lab.nic("compute-0", "enp0s4").mac: "eth0"}
    assert not netns.link_exists("enp0s4", "pn-compute-0")

    rtts = ping_from(vm_netns(SERVER_A), "10.0.10.6", count=3, timeout=1)
    assert len(rtts) == 3
    assert ping_from(vm_netns(SERVER_A), "10.0.10.254", count=1, timeout=1)  # external
    assert ping_from(vm_netns(SERVER_A), "10.0.10.7", count=1, timeout=0.5) == []  # VLAN 20
    print(f"\nnetmiko apply {apply_s:.2f}s; VM-to-VM RTTs {[round(r, 3) for r in rtts]} ms")

    # the uplink trunk carries VLAN 10 tagged: a broadcast from A reaches it with its tag
    assert lab.switch.counters("GigabitEthernet1/0/48").tx > 0

    # a guest tagging its frames for VLAN 20 is stopped at its access port
    before = switch.counters(port_a)
    proc = netns.netns_exec(vm_netns(SERVER_A), [sys.executable, "-c", SEND_TAGGED])
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 3
    while switch.counters(port_a).dropped == before.dropped and time.monotonic() < deadline:
        time.sleep(0.02)
    after = switch.counters(port_a)
    assert after.drop_reasons["tagged VLAN 20 on an access port for VLAN 10"] == 1

    # cold migration: A lands on compute-1's enp0s3, a new MAC and ethX, the same IP
    driver.apply({lab.nic("compute-1", "enp0s3").switch_port: PortConfig.access(10)})
    compute0.migrate_out(SERVER_A)
    assert netns.link_exists("enp0s4", "pn-compute-0")  # back to its host
    new_mac = lab.nic("compute-1", "enp0s3").mac
    data[SERVER_A] = _network_data(new_mac, "10.0.10.5")
    compute1.migrate_in(_guest(SERVER_A, lab, "compute-1", "enp0s3"), power_on=True)
    assert compute1.guest_interfaces(SERVER_A) == {new_mac: "eth1"}  # a new ethX
    assert ping_from(vm_netns(SERVER_A), "10.0.10.6", count=1, timeout=1)

    # power off takes the link down; destroy gives the NICs back
    compute1.power_off(SERVER_B)
    assert ping_from(vm_netns(SERVER_A), "10.0.10.6", count=1, timeout=0.5) == []
    for drv, server in ((compute1, SERVER_A), (compute1, SERVER_B), (compute0, SERVER_C)):
        drv.destroy(server)
    assert netns.namespaces("pn-vm-") == []
    assert {link.name for link in netns.links("pn-compute-1", "enp")} == {"enp0s3", "enp0s4"}


SEND_TAGGED = """
from scapy.all import ARP, Dot1Q, Ether, conf
sock = conf.L2socket(iface="eth0")
frame = Ether(dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=20) / ARP(psrc="10.0.10.5", pdst="10.0.10.7")
sock.send(frame)
sock.close()
"""


def test_confirming_a_migration_leaves_the_moved_guest_alone(lab: Lab) -> None:
    """Confirm destroys the guest on the source host: the record there holds no NIC any more,
    and the namespace of that name is now the destination's guest, which must survive."""
    data = {SERVER_A: _network_data(lab.nic("compute-0", "enp0s3").mac, "10.0.10.5")}
    factory = lab_driver_factory(lab, data.get)
    compute0, compute1 = factory("compute-0"), factory("compute-1")
    compute0.spawn(_guest(SERVER_A, lab, "compute-0", "enp0s3"))
    compute0.migrate_out(SERVER_A)
    data[SERVER_A] = _network_data(lab.nic("compute-1", "enp0s3").mac, "10.0.10.5")
    compute1.migrate_in(_guest(SERVER_A, lab, "compute-1", "enp0s3"), power_on=True)
    compute0.destroy(SERVER_A)  # what confirm_resize does on the source
    assert SERVER_A not in compute0.guests
    new_mac = lab.nic("compute-1", "enp0s3").mac
    assert compute1.guest_interfaces(SERVER_A) == {new_mac: "eth1"}
    assert "10.0.10.5" in netns.ip("-br", "addr", "show", "eth1", ns=vm_netns(SERVER_A))
    assert netns.link_exists("enp0s3", "pn-compute-0")
    compute1.destroy(SERVER_A)
    assert netns.namespaces("pn-vm-") == []


def test_unknown_nic_is_a_clear_fault(lab: Lab) -> None:
    driver = LabDriver("compute-0", "pn-compute-0", lab.host_nics("compute-0"))
    bad = GuestSpec(SERVER_A, "a", 1, 512, 1, None, (GuestDevice("0000:00:09.0", "", "", ""),))
    with pytest.raises(HypervisorError, match=r"no lab NIC at PCI 0000:00:09\.0"):
        driver.spawn(bad)
    assert netns.namespaces("pn-vm-") == []


def test_a_failed_spawn_gives_the_nic_back(lab: Lab) -> None:
    def broken(server_id: str) -> dict[str, Any]:
        raise RuntimeError("metadata service unavailable")

    driver = LabDriver("compute-0", "pn-compute-0", lab.host_nics("compute-0"), broken)
    with pytest.raises(HypervisorError, match="metadata service unavailable"):
        driver.spawn(_guest(SERVER_A, lab, "compute-0", "enp0s4"))
    assert netns.namespaces("pn-vm-") == []
    assert netns.links("pn-compute-0", "enp0s4")[0].mac == lab.nic("compute-0", "enp0s4").mac
    driver.network_data = None
    driver.spawn(_guest(SERVER_A, lab, "compute-0", "enp0s4"))  # the NIC is usable again
    driver.destroy(SERVER_A)
