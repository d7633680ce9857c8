"""Host discovery: turn a sysfs tree into a :class:`HostReport`.

Mirrors sysinv-agent's ``inics_get``/``pci_get_net_attrs`` (starlingx/config
``sysinv/agent/pci.py``) but reads only files, never runs ``lspci`` or ``ip``, so it works on a
fake tree (tests, the sample cloud) exactly as on ``/sys``. Rules kept from sysinv:

* a port is a network-class PCI function (class ``0x02xxxx``: Ethernet and "other" network
  controllers) that is not a VF (no ``physfn`` link) — VFs are never ports;
* one port per netdev under the function (``net/<if>`` or, for virtio, ``virtioN/net/<if>``);
  a function with no netdev (e.g. bound to vfio-pci) is skipped with a warning, like sysinv;
* ``dev_id`` comes from the netdev's ``dev_port`` (fallback ``dev_id``), for multi-port
  functions;
* ``sriov_totalvfs`` is ``None`` when the function has no ``sriov_totalvfs`` file, which the
  docs tell operators to read as "does not support SR-IOV".

Host-wide facts come from sysfs too: NUMA nodes from ``devices/system/node/node*`` (no such
directory → ``[0]``), vCPUs from ``devices/system/cpu/online``, memory from the per-node
``devices/system/node/node*/meminfo`` files (``Node N MemTotal: K kB``). Only when the root is
the real ``/sys`` do we fall back to ``os.cpu_count()`` and ``/proc/meminfo``, so a fake tree
never leaks the build machine's figures. ``disk_gb`` is not discovered (left 0).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from passnic.agent import REAL_SYSFS
from passnic.agent.pciids import PciIds
from passnic.inventory.report import HostReport, Personality, PortReport

__all__ = ["PciIds", "discover_host", "discover_ports"]

log = logging.getLogger(__name__)

NETWORK_CLASS = 0x02  # PCI base class "Network controller"
_MEMTOTAL = re.compile(r"MemTotal:\s+(\d+)\s*kB")


def discover_host(
    hostname: str,
    sysfs_root: Path = REAL_SYSFS,
    pci_ids: PciIds | None = None,
    personality: Personality = "worker",
) -> HostReport:
    """Everything the controller needs to know about this host, read from ``sysfs_root``.

    ``pci_ids=None`` uses the system pci.ids (parsed once per process); pass ``PciIds(None)``
    to force bare-id names.
    """
    root = Path(sysfs_root)
    return HostReport(
        hostname=hostname,
        personality=personality,
        numa_nodes=_numa_nodes(root),
        vcpus=_vcpus(root),
        memory_mb=_memory_mb(root),
        ports=discover_ports(root, pci_ids),
    )


def discover_ports(
    sysfs_root: Path = REAL_SYSFS, pci_ids: PciIds | None = None
) -> list[PortReport]:
    """The host's physical Ethernet ports, ordered by PCI address then ``dev_id``."""
    names = pci_ids if pci_ids is not None else PciIds.system()
    devices_dir = Path(sysfs_root) / "bus" / "pci" / "devices"
    if not devices_dir.is_dir():
        log.warning("%s does not exist; no PCI devices to report", devices_dir)
        return []
    ports: list[PortReport] = []
    for dev in sorted(devices_dir.iterdir(), key=lambda p: p.name):
        function = _read_function(dev)
        if function is None or function.class_code >> 16 != NETWORK_CLASS:
            continue
        if _exists(dev / "physfn"):
            continue  # a VF: sysinv never reports VFs as ports
        netdevs = _netdevs(dev)
        if not netdevs:
            log.warning(
                "network device %s has no netdev (driver %s); skipped", dev.name, function.driver
            )
            continue
        for netdev in netdevs:
            port = _port(function, netdev, names)
            if port is not None:
                ports.append(port)
    ports.sort(key=lambda p: (p.pciaddr, p.dev_id, p.name))
    return ports


# -- PCI functions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Function:
    """The sysfs attributes of one PCI function that a port report needs."""

    path: Path
    pciaddr: str
    class_code: int
    vendor_id: int
    device_id: int
    subvendor_id: int
    subdevice_id: int
    numa_node: int
    driver: str | None
    sriov_totalvfs: int | None
    sriov_numvfs: int


def _read_function(dev: Path) -> _Function | None:
    class_code = _read_hex(dev / "class")
    vendor_id = _read_hex(dev / "vendor")
    device_id = _read_hex(dev / "device")
    if class_code is None or vendor_id is None or device_id is None:
        return None
    numa_node = _read_int(dev / "numa_node")
    return _Function(
        path=dev,
        pciaddr=dev.name,
        class_code=class_code,
        vendor_id=vendor_id,
        device_id=device_id,
        subvendor_id=_read_hex(dev / "subsystem_vendor") or 0,
        subdevice_id=_read_hex(dev / "subsystem_device") or 0,
        # -1 means "no NUMA affinity" (single-node hosts, most VMs): sysinv files it on node 0.
        numa_node=numa_node if numa_node is not None and numa_node >= 0 else 0,
        driver=_link_name(dev / "driver"),
        sriov_totalvfs=_read_int(dev / "sriov_totalvfs"),
        sriov_numvfs=_read_int(dev / "sriov_numvfs") or 0,
    )


def _virtfns(dev: Path) -> list[Path]:
    """The ``virtfnN`` links of a PF, in VF index order."""
    links = [p for p in dev.glob("virtfn*") if p.name[len("virtfn") :].isdigit()]
    return sorted(links, key=lambda p: int(p.name[len("virtfn") :]))


def _netdevs(dev: Path) -> list[Path]:
    """Netdev directories of a PCI function; virtio nets hang one level down (``virtioN``)."""
    net = dev / "net"
    if net.is_dir():
        return sorted(net.iterdir(), key=lambda p: p.name)
    return sorted(dev.glob("virtio*/net/*"), key=lambda p: p.name)


def _port(function: _Function, netdev: Path, names: PciIds) -> PortReport | None:
    mac = _read_str(netdev / "address")
    if not mac:
        log.warning("netdev %s of %s has no MAC address; skipped", netdev.name, function.pciaddr)
        return None
    dev_id = _read_int(netdev / "dev_port")
    if dev_id is None:  # kernels before 3.15 only had dev_id
        dev_id = _read_hex(netdev / "dev_id")
    vfs = _virtfns(function.path)
    vf0 = vfs[0] if vfs else None
    vf_device = _read_hex(vf0 / "device") if vf0 is not None else None
    v, d = function.vendor_id, function.device_id
    sv, sd = function.subvendor_id, function.subdevice_id
    return PortReport(
        name=netdev.name,
        pciaddr=function.pciaddr,
        dev_id=dev_id or 0,
        pclass=names.format_class(function.class_code),
        pvendor=names.format_vendor(v),
        pdevice=names.format_device(v, d),
        psvendor=names.format_subsystem_vendor(sv),
        psdevice=names.format_subsystem_device(v, d, sv, sd),
        numa_node=function.numa_node,
        sriov_totalvfs=function.sriov_totalvfs,
        sriov_numvfs=function.sriov_numvfs,
        sriov_vf_driver=_link_name(vf0 / "driver") if vf0 is not None else None,
        sriov_vf_pdevice_id=f"{vf_device:04x}" if vf_device is not None else None,
        sriov_vfs_pci_address=[name for vf in vfs if (name := _link_name(vf))],
        driver=function.driver,
        mac=mac.lower(),
        mtu=_read_int(netdev / "mtu") or 1500,
        speed=_speed(netdev),
        link_mode=_read_str(netdev / "link_mode"),
    )


def _speed(netdev: Path) -> int | None:
    """Link speed in Mb/s, or None: the kernel fails the read (EINVAL) or says -1 when the link
    is down or the driver cannot tell (virtio)."""
    if _read_str(netdev / "operstate") == "down":
        return None
    speed = _read_int(netdev / "speed")
    return speed if speed is not None and speed > 0 else None


# -- host-wide facts -----------------------------------------------------------------------


def _node_dirs(root: Path) -> list[tuple[int, Path]]:
    nodes_dir = root / "devices" / "system" / "node"
    found: list[tuple[int, Path]] = []
    if nodes_dir.is_dir():
        for p in nodes_dir.glob("node*"):
            suffix = p.name[len("node") :]
            if suffix.isdigit() and p.is_dir():
                found.append((int(suffix), p))
    return sorted(found)


def _numa_nodes(root: Path) -> list[int]:
    return [n for n, _ in _node_dirs(root)] or [0]


def _vcpus(root: Path) -> int:
    online = _read_str(root / "devices" / "system" / "cpu" / "online")
    if online:
        try:
            return len(parse_cpu_list(online))
        except ValueError:
            log.warning("cannot parse cpu list %r", online)
    if root == REAL_SYSFS:
        return os.cpu_count() or 0
    return 0


def parse_cpu_list(text: str) -> list[int]:
    """Expand a kernel cpu list such as ``"0-3,6,8-9"``."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _memory_mb(root: Path) -> int:
    total_kb = 0
    for _, node in _node_dirs(root):
        match = _MEMTOTAL.search(_read_str(node / "meminfo") or "")
        if match:
            total_kb += int(match.group(1))
    if total_kb == 0 and root == REAL_SYSFS:
        match = _MEMTOTAL.search(_read_str(Path("/proc/meminfo")) or "")
        if match:
            total_kb = int(match.group(1))
    return total_kb // 1024


# -- sysfs file helpers: every read may fail (absent file, EINVAL on speed, EACCES) -------------


def _read_str(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read_str(path)
    try:
        return int(text, 10) if text else None
    except ValueError:
        return None


def _read_hex(path: Path) -> int | None:
    text = _read_str(path)
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


def _link_name(path: Path) -> str | None:
    """Basename of a symlink's target (``driver`` → ``i40e``), or None if it is not a link."""
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def _exists(path: Path) -> bool:
    return path.is_symlink() or path.exists()
