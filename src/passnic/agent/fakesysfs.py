"""Write a fake sysfs tree that discovery reads exactly like the kernel's.

The sample cloud has no real passthrough NICs, and tests must not depend on the build machine's
hardware, so both point :func:`passnic.agent.discovery.discover_host` at a directory built here.
The layout copies the kernel's, including its symlinks, so discovery has no test-only paths::

    devices/pci0000:00/0000:00:03.0/{vendor,device,class,subsystem_*,numa_node,sriov_*}
    devices/pci0000:00/0000:00:03.0/driver -> ../../../bus/pci/drivers/i40e
    devices/pci0000:00/0000:00:03.0/net/enp0s3/{address,mtu,speed,operstate,dev_port,...}
    devices/pci0000:00/0000:00:03.0/virtfn0 -> ../0000:13:00.0     (a VF, which has physfn)
    devices/pci0000:00/0000:00:02.0/virtio0/net/enp0s2/...          (virtio nets sit one deeper)
    bus/pci/devices/0000:00:03.0 -> ../../../devices/pci0000:00/0000:00:03.0
    class/net/enp0s3 -> ../../devices/pci0000:00/0000:00:03.0/net/enp0s3
    devices/system/node/node0/meminfo   ("Node 0 MemTotal:  16777216 kB")
    devices/system/cpu/online           ("0-7")

All symlinks are relative, so a tree can be moved or copied.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Ids of the sample cloud's hardware (names as in pci.ids).
INTEL_VENDOR_ID = 0x8086
X710_SFP_DEVICE_ID = 0x1572  # Ethernet Controller X710 for 10GbE SFP+
X710_VF_DEVICE_ID = 0x154C  # Ethernet Virtual Function 700 Series
I82574L_DEVICE_ID = 0x10D3  # 82574L Gigabit Network Connection
VIRTIO_VENDOR_ID = 0x1AF4  # Red Hat, Inc.
VIRTIO_NET_DEVICE_ID = 0x1000  # Virtio network device (legacy/transitional)
ETHERNET_CLASS = 0x020000

#: Interface names on every sample compute host (the docs' example uses enp0s3).
SAMPLE_PLATFORM_IF = "enp0s2"  # virtio, the host's own management NIC
SAMPLE_SRIOV_IF = "enp0s3"  # Intel X710: SR-IOV capable (sriov_totalvfs 64), NUMA 0
SAMPLE_PASSTHROUGH_IF = "enp0s4"  # Intel 82574L: no SR-IOV (sriov_totalvfs None), NUMA 1


@dataclass(frozen=True)
class FakePciDevice:
    """A PCI function that is not a NIC (a bridge, a disk controller): discovery must skip it."""

    pciaddr: str
    vendor_id: int
    device_id: int
    class_code: int
    driver: str | None = None
    numa_node: int = -1
    subsystem_vendor_id: int = 0
    subsystem_device_id: int = 0


@dataclass(frozen=True)
class FakeNic:
    """One network PCI function and its netdev.

    ``sriov_totalvfs=None`` writes no SR-IOV files (a NIC without SR-IOV). ``sriov_numvfs`` VFs
    are created as PCI functions with a ``physfn`` link (and a netdev when ``vf_driver`` is set,
    as a bound VF has) so that VF-skipping is exercised. ``virtio_driver`` puts the netdev under
    ``virtioN/net`` as virtio-pci does. ``speed=None`` writes ``-1``, what the kernel shows when
    a driver cannot tell the speed.
    """

    pciaddr: str
    ifname: str
    vendor_id: int
    device_id: int
    mac: str
    numa_node: int = 0
    sriov_totalvfs: int | None = None
    driver: str | None = None
    subsystem_vendor_id: int = 0
    subsystem_device_id: int = 0
    speed: int | None = 1000
    mtu: int = 1500
    operstate: str = "up"
    class_code: int = ETHERNET_CLASS
    sriov_numvfs: int = 0
    vf_device_id: int | None = None
    vf_driver: str | None = None
    virtio_driver: str | None = None
    dev_port: int = 0

    def vf_pciaddr(self, index: int) -> str:
        """Where VF ``index`` lives: its own bus, derived from the PF's bus and slot."""
        domain, bus, slot, _ = _split_pciaddr(self.pciaddr)
        vf_bus = (bus + 0x10 + slot) & 0xFF
        return f"{domain:04x}:{vf_bus:02x}:{(index // 8) & 0x1F:02x}.{index % 8}"

    def vf_mac(self, index: int) -> str:
        """A locally administered MAC per VF, unique per PF (keeps the PF's low three octets)."""
        return f"06:{(index >> 8) & 0xFF:02x}:{index & 0xFF:02x}:{self.mac.lower()[9:]}"


DEFAULT_EXTRA_PCI_DEVICES: tuple[FakePciDevice, ...] = (
    FakePciDevice("0000:00:00.0", INTEL_VENDOR_ID, 0x1237, 0x060000),  # 440FX host bridge
    FakePciDevice("0000:00:05.0", VIRTIO_VENDOR_ID, 0x1001, 0x010000, driver="virtio-pci"),
)


def build_sysfs(
    root: Path,
    nics: Iterable[FakeNic],
    numa_nodes: Sequence[int] = (0, 1),
    cpus: int = 8,
    memory_mb_per_node: int = 16384,
    extra_pci_devices: Iterable[FakePciDevice] = DEFAULT_EXTRA_PCI_DEVICES,
) -> Path:
    """Write a sysfs tree for ``nics`` (plus non-network devices) under ``root``; returns root.

    Rewriting an existing tree is allowed (files are overwritten, links replaced), so the
    sample cloud can rebuild a host's tree in place.
    """
    if cpus < 1:
        raise ValueError(f"a host has at least one CPU, not {cpus}")
    root = Path(root)
    nics = list(nics)
    extras = list(extra_pci_devices)
    addresses = [n.pciaddr for n in nics] + [d.pciaddr for d in extras]
    addresses += [n.vf_pciaddr(i) for n in nics for i in range(n.sriov_numvfs)]
    duplicates = {a for a in addresses if addresses.count(a) > 1}
    if duplicates:
        raise ValueError(f"duplicate PCI addresses in fake sysfs: {sorted(duplicates)}")
    names = [n.ifname for n in nics]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate interface names in fake sysfs: {names}")

    for extra in extras:
        _write_function(
            root,
            extra.pciaddr,
            vendor_id=extra.vendor_id,
            device_id=extra.device_id,
            class_code=extra.class_code,
            subsystem=(extra.subsystem_vendor_id, extra.subsystem_device_id),
            numa_node=extra.numa_node,
            driver=extra.driver,
        )
    virtio_index = 0
    for nic in nics:
        dev = _write_function(
            root,
            nic.pciaddr,
            vendor_id=nic.vendor_id,
            device_id=nic.device_id,
            class_code=nic.class_code,
            subsystem=(nic.subsystem_vendor_id, nic.subsystem_device_id),
            numa_node=nic.numa_node,
            driver=nic.driver,
        )
        if nic.virtio_driver is not None:
            vdev = dev / f"virtio{virtio_index}"
            virtio_index += 1
            _write(vdev / "vendor", f"0x{nic.vendor_id:04x}")
            _write(vdev / "device", "0x0001")  # virtio device type 1: network card
            _link(vdev / "driver", root / "bus" / "virtio" / "drivers" / nic.virtio_driver)
            net_parent = vdev
        else:
            net_parent = dev
        _write_netdev(
            root, net_parent, nic.ifname, nic.mac, nic.mtu, nic.speed, nic.operstate, nic.dev_port
        )
        if nic.sriov_totalvfs is not None:
            _write_sriov(root, dev, nic)

    _write_host(root, numa_nodes, cpus, memory_mb_per_node)
    return root


def sample_mac(host_index: int, slot: int) -> str:
    """QEMU-style (52:54:00, locally administered) MAC, unique per host index and PCI slot."""
    if not 0 <= host_index <= 0xFFFF:
        raise ValueError(f"host_index must be 0..65535, not {host_index}")
    return f"52:54:00:{host_index >> 8:02x}:{host_index & 0xFF:02x}:{slot:02x}"


def sample_compute_nics(host_index: int) -> list[FakeNic]:
    """The three NICs of sample compute host ``host_index``: platform, SR-IOV, plain passthrough."""
    return [
        FakeNic(
            pciaddr="0000:00:02.0",
            ifname=SAMPLE_PLATFORM_IF,
            vendor_id=VIRTIO_VENDOR_ID,
            device_id=VIRTIO_NET_DEVICE_ID,
            subsystem_vendor_id=VIRTIO_VENDOR_ID,
            subsystem_device_id=0x0001,
            mac=sample_mac(host_index, 2),
            numa_node=0,
            driver="virtio-pci",
            virtio_driver="virtio_net",
            speed=None,
        ),
        FakeNic(
            pciaddr="0000:00:03.0",
            ifname=SAMPLE_SRIOV_IF,
            vendor_id=INTEL_VENDOR_ID,
            device_id=X710_SFP_DEVICE_ID,
            subsystem_vendor_id=INTEL_VENDOR_ID,
            subsystem_device_id=0x0000,
            mac=sample_mac(host_index, 3),
            numa_node=0,
            sriov_totalvfs=64,
            vf_device_id=X710_VF_DEVICE_ID,
            driver="i40e",
            speed=10000,
        ),
        FakeNic(
            pciaddr="0000:00:04.0",
            ifname=SAMPLE_PASSTHROUGH_IF,
            vendor_id=INTEL_VENDOR_ID,
            device_id=I82574L_DEVICE_ID,
            subsystem_vendor_id=INTEL_VENDOR_ID,
            subsystem_device_id=0xA01F,
            mac=sample_mac(host_index, 4),
            numa_node=1,
            sriov_totalvfs=None,
            driver="e1000e",
            speed=1000,
        ),
    ]


def build_sample_compute_sysfs(root: Path, host_index: int) -> Path:
    """The sample cloud's compute host ``host_index``: two NUMA nodes, 8 CPUs, 32 GiB."""
    return build_sysfs(root, sample_compute_nics(host_index))


# -- writers ---------------------------------------------------------------------------------


def _split_pciaddr(pciaddr: str) -> tuple[int, int, int, int]:
    try:
        domain, bus, rest = pciaddr.split(":")
        slot, function = rest.split(".")
        return int(domain, 16), int(bus, 16), int(slot, 16), int(function, 16)
    except ValueError:
        raise ValueError(f"not a PCI address (dddd:bb:ss.f): {pciaddr!r}") from None


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content + "\n", encoding="utf-8")


def _link(link: Path, target: Path) -> None:
    """A relative symlink, replacing whatever was there; the target directory is created."""
    target.mkdir(parents=True, exist_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def _write_function(
    root: Path,
    pciaddr: str,
    *,
    vendor_id: int,
    device_id: int,
    class_code: int,
    subsystem: tuple[int, int],
    numa_node: int,
    driver: str | None,
) -> Path:
    domain, bus, _, _ = _split_pciaddr(pciaddr)
    dev = root / "devices" / f"pci{domain:04x}:{bus:02x}" / pciaddr
    _write(dev / "vendor", f"0x{vendor_id:04x}")
    _write(dev / "device", f"0x{device_id:04x}")
    _write(dev / "subsystem_vendor", f"0x{subsystem[0]:04x}")
    _write(dev / "subsystem_device", f"0x{subsystem[1]:04x}")
    _write(dev / "class", f"0x{class_code:06x}")
    _write(dev / "revision", "0x01")
    _write(dev / "numa_node", str(numa_node))
    if driver is not None:
        _link(dev / "driver", root / "bus" / "pci" / "drivers" / driver)
    _link(root / "bus" / "pci" / "devices" / pciaddr, dev)
    return dev


def _write_netdev(
    root: Path,
    parent: Path,
    ifname: str,
    mac: str,
    mtu: int,
    speed: int | None,
    operstate: str,
    dev_port: int,
) -> None:
    net = parent / "net" / ifname
    _write(net / "address", mac.lower())
    _write(net / "mtu", str(mtu))
    _write(net / "speed", str(speed if speed is not None else -1))
    _write(net / "operstate", operstate)
    _write(net / "carrier", "1" if operstate == "up" else "0")
    _write(net / "dev_port", str(dev_port))
    _write(net / "dev_id", f"0x{dev_port:x}")
    _write(net / "link_mode", "0")
    _write(net / "flags", "0x1003" if operstate == "up" else "0x1002")
    _link(root / "class" / "net" / ifname, net)


def _write_sriov(root: Path, pf: Path, nic: FakeNic) -> None:
    _write(pf / "sriov_totalvfs", str(nic.sriov_totalvfs))
    _write(pf / "sriov_numvfs", str(nic.sriov_numvfs))
    if nic.vf_device_id is not None:
        _write(pf / "sriov_vf_device", f"{nic.vf_device_id:04x}")
    for index in range(nic.sriov_numvfs):
        vf_addr = nic.vf_pciaddr(index)
        vf = _write_function(
            root,
            vf_addr,
            vendor_id=nic.vendor_id,
            device_id=nic.vf_device_id if nic.vf_device_id is not None else nic.device_id,
            class_code=nic.class_code,
            subsystem=(nic.subsystem_vendor_id, nic.subsystem_device_id),
            numa_node=nic.numa_node,
            driver=nic.vf_driver,
        )
        _link(vf / "physfn", pf)
        _link(pf / f"virtfn{index}", vf)
        if nic.vf_driver is not None:  # a bound VF has its own netdev; it must still be skipped
            _write_netdev(
                root,
                vf,
                f"{nic.ifname}v{index}",
                nic.vf_mac(index),
                nic.mtu,
                nic.speed,
                nic.operstate,
                0,
            )


def _write_host(root: Path, numa_nodes: Sequence[int], cpus: int, memory_mb_per_node: int) -> None:
    system = root / "devices" / "system"
    nodes = sorted(numa_nodes)
    per_node = max(cpus // max(len(nodes), 1), 1)
    for position, node in enumerate(nodes):
        first = position * per_node
        last = cpus - 1 if position == len(nodes) - 1 else first + per_node - 1
        node_dir = system / "node" / f"node{node}"
        _write(node_dir / "cpulist", f"{first}-{last}")
        kb = memory_mb_per_node * 1024
        _write(
            node_dir / "meminfo",
            f"Node {node} MemTotal:       {kb} kB\nNode {node} MemFree:        {kb} kB",
        )
    if nodes:
        _write(system / "node" / "online", _cpu_list(nodes))
        _write(system / "node" / "possible", _cpu_list(nodes))
    _write(system / "cpu" / "online", f"0-{cpus - 1}" if cpus > 1 else "0")
    _write(system / "cpu" / "possible", f"0-{cpus - 1}" if cpus > 1 else "0")
    for cpu in range(cpus):
        (system / "cpu" / f"cpu{cpu}").mkdir(parents=True, exist_ok=True)


def _cpu_list(ids: Sequence[int]) -> str:
    """Kernel list syntax for sorted ids: [0, 1, 3] -> "0-1,3"."""
    parts: list[str] = []
    start = prev = ids[0]
    for n in [*ids[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}-{prev}" if prev != start else f"{start}")
        if n is not None:
            start = prev = n
    return ",".join(parts)
