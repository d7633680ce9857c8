"""Discovery on fake sysfs trees (and once on this machine's /sys)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from passnic.agent.discovery import discover_host, discover_ports, parse_cpu_list
from passnic.agent.fakesysfs import (
    I82574L_DEVICE_ID,
    INTEL_VENDOR_ID,
    SAMPLE_PASSTHROUGH_IF,
    SAMPLE_PLATFORM_IF,
    SAMPLE_SRIOV_IF,
    X710_SFP_DEVICE_ID,
    X710_VF_DEVICE_ID,
    FakeNic,
    FakePciDevice,
    build_sample_compute_sysfs,
    build_sysfs,
    sample_compute_nics,
    sample_mac,
)
from passnic.agent.pciids import PciIds
from passnic.inventory.report import PortReport

MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

SRIOV_NIC = FakeNic(
    pciaddr="0000:00:03.0",
    ifname="enp0s3",
    vendor_id=INTEL_VENDOR_ID,
    device_id=X710_SFP_DEVICE_ID,
    subsystem_vendor_id=INTEL_VENDOR_ID,
    subsystem_device_id=0x0000,
    mac="3C:FD:FE:00:00:03",
    numa_node=0,
    sriov_totalvfs=64,
    sriov_numvfs=2,
    vf_device_id=X710_VF_DEVICE_ID,
    vf_driver="iavf",
    driver="i40e",
    speed=10000,
    mtu=9000,
)
PLAIN_NIC = FakeNic(
    pciaddr="0000:00:04.0",
    ifname="enp0s4",
    vendor_id=INTEL_VENDOR_ID,
    device_id=I82574L_DEVICE_ID,
    subsystem_vendor_id=INTEL_VENDOR_ID,
    subsystem_device_id=0xA01F,
    mac="3c:fd:fe:00:00:04",
    numa_node=1,
    driver="e1000e",
    speed=1000,
)
DISK = FakePciDevice("0000:00:05.0", 0x1AF4, 0x1001, 0x010000, driver="virtio-pci")


def by_name(ports: list[PortReport]) -> dict[str, PortReport]:
    return {p.name: p for p in ports}


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    return build_sysfs(tmp_path / "sys", [PLAIN_NIC, SRIOV_NIC], extra_pci_devices=[DISK])


def test_only_physical_network_functions_become_ports(sysfs: Path, pci_ids: PciIds) -> None:
    ports = discover_ports(sysfs, pci_ids)
    # The VFs (with netdevs enp0s3v0/v1) and the disk controller are not ports.
    assert [p.name for p in ports] == ["enp0s3", "enp0s4"]
    assert (sysfs / "bus/pci/devices" / SRIOV_NIC.vf_pciaddr(0) / "net/enp0s3v0").is_dir()


def test_sriov_capable_nic(sysfs: Path, pci_ids: PciIds) -> None:
    port = by_name(discover_ports(sysfs, pci_ids))["enp0s3"]
    assert port.model_dump() == {
        "name": "enp0s3",
        "pciaddr": "0000:00:03.0",
        "dev_id": 0,
        "pclass": "Ethernet controller [0200]",
        "pvendor": "Intel Corporation [8086]",
        "pdevice": "Ethernet Controller X710 for 10GbE SFP+ [1572]",
        "psvendor": "Intel Corporation [8086]",
        "psdevice": "Ethernet Converged Network Adapter X710 [0000]",
        "numa_node": 0,
        "sriov_totalvfs": 64,
        "sriov_numvfs": 2,
        "sriov_vf_driver": "iavf",
        "sriov_vf_pdevice_id": "154c",
        "sriov_vfs_pci_address": [SRIOV_NIC.vf_pciaddr(0), SRIOV_NIC.vf_pciaddr(1)],
        "driver": "i40e",
        "mac": "3c:fd:fe:00:00:03",  # normalised to lower case
        "mtu": 9000,
        "speed": 10000,
        "link_mode": "0",
        "lldp_neighbour": None,  # discovery reads sysfs; the agent adds what LLDP says
    }


def test_nic_without_sriov_reports_none(sysfs: Path, pci_ids: PciIds) -> None:
    port = by_name(discover_ports(sysfs, pci_ids))["enp0s4"]
    assert port.sriov_totalvfs is None
    assert port.sriov_numvfs == 0
    assert port.sriov_vfs_pci_address == []
    assert port.sriov_vf_driver is None
    assert port.numa_node == 1
    assert port.driver == "e1000e"
    assert port.pdevice == "82574L Gigabit Network Connection [10d3]"
    assert port.psdevice == "Gigabit CT Desktop Adapter [a01f]"
    assert port.speed == 1000


def test_bare_hex_names_without_pci_ids(sysfs: Path) -> None:
    port = by_name(discover_ports(sysfs, PciIds(None)))["enp0s3"]
    assert (port.pclass, port.pvendor, port.pdevice) == (
        "Class [0200]",
        "Vendor [8086]",
        "Device [1572]",
    )
    assert (port.psvendor, port.psdevice) == ("Unknown vendor [8086]", "Device [0000]")


def test_virtio_nic_netdev_sits_under_virtio_dir(tmp_path: Path, pci_ids: PciIds) -> None:
    root = build_sysfs(tmp_path, sample_compute_nics(0)[:1])
    [port] = discover_ports(root, pci_ids)
    assert port.name == SAMPLE_PLATFORM_IF
    assert port.driver == "virtio-pci"
    assert port.pdevice == "Virtio network device [1000]"
    assert port.psdevice == "Virtio network device [0001]"
    assert port.speed is None  # virtio reports -1
    assert port.mac == sample_mac(0, 2)


def test_no_numa_affinity_is_node_zero_and_down_link_has_no_speed(tmp_path: Path) -> None:
    nic = FakeNic(
        "0000:00:06.0",
        "eth9",
        0x8086,
        0x10D3,
        "00:11:22:33:44:55",
        numa_node=-1,
        operstate="down",
        speed=1000,
    )
    [port] = discover_ports(build_sysfs(tmp_path, [nic]), PciIds(None))
    assert port.numa_node == 0
    assert port.speed is None


def test_other_network_controllers_count_and_netdevless_functions_are_skipped(
    tmp_path: Path,
) -> None:
    other = FakeNic(
        "0000:00:06.0", "wlp0s6", 0x8086, 0x2723, "00:11:22:33:44:66", class_code=0x028000
    )
    root = build_sysfs(tmp_path, [other, PLAIN_NIC])
    # A NIC bound to vfio-pci has no netdev: like sysinv, skip it (there is no name or MAC).
    shutil.rmtree(root / "devices/pci0000:00/0000:00:04.0/net")
    assert [p.name for p in discover_ports(root, PciIds(None))] == ["wlp0s6"]


def test_multi_port_function_reports_each_netdev_with_dev_id(tmp_path: Path) -> None:
    nic = FakeNic("0000:00:06.0", "ens6", 0x15B3, 0x1017, "00:11:22:33:44:01")
    root = build_sysfs(tmp_path, [nic])
    second = root / "devices/pci0000:00/0000:00:06.0/net/ens6d1"
    shutil.copytree(root / "devices/pci0000:00/0000:00:06.0/net/ens6", second)
    (second / "address").write_text("00:11:22:33:44:02\n")
    (second / "dev_port").write_text("1\n")
    ports = discover_ports(root, PciIds(None))
    assert [(p.name, p.dev_id, p.mac) for p in ports] == [
        ("ens6", 0, "00:11:22:33:44:01"),
        ("ens6d1", 1, "00:11:22:33:44:02"),
    ]


def test_host_facts(sysfs: Path, pci_ids: PciIds) -> None:
    report = discover_host("compute-0", sysfs, pci_ids, personality="worker")
    assert report.hostname == "compute-0"
    assert report.personality == "worker"
    assert report.numa_nodes == [0, 1]
    assert report.vcpus == 8
    assert report.memory_mb == 2 * 16384
    assert len(report.ports) == 2


def test_host_facts_fallbacks_on_a_bare_tree(tmp_path: Path) -> None:
    (tmp_path / "bus/pci/devices").mkdir(parents=True)
    report = discover_host("h", tmp_path, PciIds(None), personality="controller")
    assert (report.numa_nodes, report.vcpus, report.memory_mb, report.ports) == ([0], 0, 0, [])


def test_parse_cpu_list() -> None:
    assert parse_cpu_list("0-3,6,8-9\n") == [0, 1, 2, 3, 6, 8, 9]
    assert parse_cpu_list("0") == [0]


def test_sample_compute_host(tmp_path: Path, pci_ids: PciIds) -> None:
    report = discover_host("compute-1", build_sample_compute_sysfs(tmp_path, 1), pci_ids)
    ports = by_name(report.ports)
    assert list(ports) == [SAMPLE_PLATFORM_IF, SAMPLE_SRIOV_IF, SAMPLE_PASSTHROUGH_IF]
    sriov, plain = ports[SAMPLE_SRIOV_IF], ports[SAMPLE_PASSTHROUGH_IF]
    assert (sriov.sriov_totalvfs, sriov.numa_node, sriov.driver) == (64, 0, "i40e")
    assert (plain.sriov_totalvfs, plain.numa_node, plain.driver) == (None, 1, "e1000e")
    assert sriov.pvendor == "Intel Corporation [8086]"
    assert plain.pdevice == "82574L Gigabit Network Connection [10d3]"
    assert report.numa_nodes == [0, 1]


def test_sample_macs_are_deterministic_and_unique_per_host() -> None:
    macs = [n.mac for i in range(3) for n in sample_compute_nics(i)]
    assert len(set(macs)) == len(macs)
    assert all(MAC.match(m) for m in macs)
    assert [n.mac for n in sample_compute_nics(2)] == [n.mac for n in sample_compute_nics(2)]


def test_fake_tree_is_relocatable_and_rebuildable(tmp_path: Path, pci_ids: PciIds) -> None:
    first = build_sample_compute_sysfs(tmp_path / "a", 0)
    build_sample_compute_sysfs(first, 0)  # rebuilding in place is allowed
    moved = tmp_path / "b"
    shutil.copytree(first, moved, symlinks=True)
    assert discover_host("c", moved, pci_ids) == discover_host("c", first, pci_ids)


def test_fake_tree_rejects_duplicate_addresses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate PCI addresses"):
        build_sysfs(tmp_path, [PLAIN_NIC, PLAIN_NIC])


def test_real_sysfs_has_a_port_with_a_mac() -> None:
    devices = Path("/sys/bus/pci/devices")
    classes = [p / "class" for p in devices.glob("*")] if devices.is_dir() else []
    if not any(c.read_text().startswith("0x02") for c in classes if c.exists()):
        pytest.skip("this machine's /sys/bus/pci/devices has no network-class device")
    report = discover_host("this-host", Path("/sys"))
    assert report.ports, "a network-class PCI device exists but no port was discovered"
    assert any(MAC.match(p.mac) for p in report.ports)
    assert report.vcpus >= 1
    assert report.memory_mb > 0
    for port in report.ports:
        assert re.search(r"\[[0-9a-f]{4}\]$", port.pvendor)
        assert re.search(r"\[[0-9a-f]{4}\]$", port.pdevice)
        assert port.pclass.endswith("]") and "[02" in port.pclass
