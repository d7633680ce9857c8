"""The libvirt driver: the production driver, a QEMU/KVM domain per server.

Options (the agent's ``driver_options``, like Nova's ``[libvirt]`` section):

* ``uri`` (``qemu:///system``), ``virt_type`` (``kvm`` or ``qemu``: TCG where KVM is absent or
  unusable; never guessed from ``/dev/kvm``);
* ``instances_dir`` (``<state dir>/instances``): one directory per server with its disk (a
  qcow2 overlay on the cached image), its config drive and its console log;
* ``images_dir`` (``<state dir>/images``): the host's image cache, each image verified against
  its Glance checksum before it is used;
* ``image_source_dir``: where images come from when the driver is not given an ``ImageSource``
  (Glance's records ``<id>.json`` beside the bytes ``<id>``); the agent passes ``GlanceImages``;
* ``lab_nics`` (``{pci_address: interface}``): the lab form, where a NIC cannot be passed
  through: the guest gets the NIC's host interface whole instead of ``<hostdev>`` (a macvtap in
  passthrough mode under an emulated e1000 with the NIC's MAC); the host hears the NIC's LLDP
  on that interface (`host_interfaces`);
* ``shutdown_timeout`` (60 s, Nova's default): how long a clean shutdown may take before the
  guest is powered off hard;
* ``name_prefix`` (``passnic-``): what the domains' names start with, so that one libvirt can
  hold the guests of several clouds (labs) and each finds only its own.

A domain is named ``passnic-<server id>``. Its serial console is a pty (``virsh console``)
whose output libvirt also writes to the console log, as Nova's is. The passthrough NIC is
``<hostdev mode='subsystem' type='pci' managed='yes'>``: libvirt binds it to vfio-pci when the
domain starts and gives it back when the domain is undefined, so a guest parked by a cold
migration is undefined (its NIC returns to the host) and only a park record and its disk stay
in its instance directory.

``instances_dir`` may be shared by several hosts (as Nova's shared instance storage): the park
record names its host (``parked.<host>``), the directory names the host whose guest it holds
(``host``), and a host removes the directory only while no other host holds or parks it there.
Its disk then moves with a cold migration, and a host confirming or reverting one does not
delete what the other host runs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import libvirt
from pydantic import BaseModel, ConfigDict, Field

from passnic.agent.drivers import GuestState, HypervisorError
from passnic.agent.images import DirectoryImages, ImageCache, ImageSource
from passnic.compute.protocol import GuestSpec

PREFIX = "passnic-"
#: Nova's default kernel command line for a direct kernel boot without ``os_command_line``
DEFAULT_CMDLINE = "root=/dev/vda console=tty0 console=ttyS0"
CONSOLE_TAIL = 64 * 1024
CHUNK = 1024 * 1024


class LibvirtOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uri: str = "qemu:///system"
    virt_type: Literal["kvm", "qemu"] = "kvm"
    instances_dir: Path | None = None
    images_dir: Path | None = None
    image_source_dir: Path | None = None
    lab_nics: dict[str, str] = {}
    shutdown_timeout: float = 60.0
    name_prefix: str = Field(PREFIX, pattern=r"^[A-Za-z0-9_-]{1,32}$")


# ---- the domain XML ----


def _pci(address: str) -> dict[str, str]:
    found = re.fullmatch(
        r"(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])", address
    )
    if found is None:
        raise HypervisorError(f"invalid PCI address {address!r}")
    domain, bus, slot, function = found.groups()
    return {
        "domain": f"0x{domain or '0000'}",
        "bus": f"0x{bus}",
        "slot": f"0x{slot}",
        "function": f"0x{function}",
    }


def domain_xml(
    guest: GuestSpec,
    *,
    virt_type: str,
    disk: Path,
    config_drive: Path,
    console_log: Path,
    kernel: Path | None = None,
    ramdisk: Path | None = None,
    cmdline: str | None = None,
    lab_nics: dict[str, str] | None = None,
    name_prefix: str = PREFIX,
) -> str:
    """The domain of a guest: its disk, config drive, serial console to a file, and each NIC
    as a PCI hostdev, or in the lab form (``lab_nics``) as an e1000 on the NIC's interface."""
    root = ET.Element("domain", type=virt_type)
    ET.SubElement(root, "name").text = name_prefix + guest.server_id
    try:
        ET.SubElement(root, "uuid").text = str(uuid.UUID(guest.server_id))
    except ValueError:
        root.remove(root[-1])  # not a UUID: libvirt makes one up
    ET.SubElement(root, "title").text = guest.name
    ET.SubElement(root, "memory", unit="MiB").text = str(guest.ram_mb)
    ET.SubElement(root, "vcpu").text = str(guest.vcpus)
    os_ = ET.SubElement(root, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    if kernel is not None:
        ET.SubElement(os_, "kernel").text = str(kernel)
        if ramdisk is not None:
            ET.SubElement(os_, "initrd").text = str(ramdisk)
        ET.SubElement(os_, "cmdline").text = cmdline or DEFAULT_CMDLINE
    else:
        ET.SubElement(os_, "boot", dev="hd")
    ET.SubElement(ET.SubElement(root, "features"), "acpi")
    ET.SubElement(root, "on_poweroff").text = "destroy"
    ET.SubElement(root, "on_reboot").text = "restart"
    ET.SubElement(root, "on_crash").text = "destroy"
    devices = ET.SubElement(root, "devices")
    vda = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(vda, "driver", name="qemu", type="qcow2")
    ET.SubElement(vda, "source", file=str(disk))
    ET.SubElement(vda, "target", dev="vda", bus="virtio")
    cdrom = ET.SubElement(devices, "disk", type="file", device="cdrom")
    ET.SubElement(cdrom, "driver", name="qemu", type="raw")
    ET.SubElement(cdrom, "source", file=str(config_drive))
    ET.SubElement(cdrom, "target", dev="hda", bus="ide")
    ET.SubElement(cdrom, "readonly")
    for device in guest.devices:
        interface = (lab_nics or {}).get(device.pci_address)
        if interface is not None:
            nic = ET.SubElement(devices, "interface", type="direct")
            ET.SubElement(nic, "mac", address=device.mac.lower())
            ET.SubElement(nic, "source", dev=interface, mode="passthrough")
            ET.SubElement(nic, "model", type="e1000")
        else:
            hostdev = ET.SubElement(devices, "hostdev", mode="subsystem", type="pci")
            hostdev.set("managed", "yes")
            ET.SubElement(ET.SubElement(hostdev, "source"), "address", _pci(device.pci_address))
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "log", file=str(console_log), append="on")
    ET.SubElement(serial, "target", port="0")
    return ET.tostring(root, encoding="unicode")


# ---- the config drive ----


def config_drive(guest: GuestSpec, path: Path) -> None:
    """An ISO 9660 ``config-2`` drive as Nova builds it (genisoimage, else xorriso):
    ``openstack/latest/meta_data.json`` (with the key pair in ``public_keys`` and ``keys``),
    ``network_data.json`` and, when given at boot, ``user_data`` (decoded, as Nova writes it)."""
    meta = {
        "uuid": guest.server_id,
        "name": guest.name,
        "hostname": re.sub(r"[^a-z0-9-]", "-", guest.name.lower()).strip("-") or "guest",
        "launch_index": 0,
        "availability_zone": None,
        "files": [],
        "meta": {},
        "public_keys": dict(guest.public_keys),
        "keys": [{"name": k, "type": "ssh", "data": v} for k, v in guest.public_keys.items()],
    }
    with tempfile.TemporaryDirectory() as tmp:
        latest = Path(tmp) / "openstack" / "latest"
        latest.mkdir(parents=True)
        (latest / "meta_data.json").write_text(json.dumps(meta))
        (latest / "network_data.json").write_text(json.dumps(guest.network_data or {}))
        if guest.user_data is not None:
            try:
                (latest / "user_data").write_bytes(base64.b64decode(guest.user_data))
            except ValueError:
                raise HypervisorError("the server's user_data is not valid base64") from None
        flags = ["-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-quiet", "-J", "-r"]
        flags += ["-publisher", "Passnic", "-V", "config-2", "-o", str(path), tmp]
        if shutil.which("genisoimage"):
            _run("genisoimage", *flags)
        elif shutil.which("xorriso"):
            _run("xorriso", "-as", "mkisofs", *flags)
        else:
            raise HypervisorError("neither genisoimage nor xorriso is installed")


def _run(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise HypervisorError(f"{args[0]} is not installed") from None
    if done.returncode != 0:
        raise HypervisorError(f"{args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


# ---- prerequisites ----


def prerequisites(
    uri: str, virt_type: str, sysfs: Path = Path("/sys"), passthrough: bool = True
) -> list[str]:
    """Why this host cannot run passthrough guests (empty when it can). Without
    ``passthrough`` (the lab form: emulated NICs) only libvirt and ``virt_type`` matter."""
    reasons = []
    groups = sysfs / "kernel" / "iommu_groups"
    if passthrough and (not groups.is_dir() or not any(groups.iterdir())):
        reasons.append("no IOMMU groups: the IOMMU is off or absent (intel_iommu=on / AMD-Vi)")
    if (
        passthrough
        and not (sysfs / "bus" / "pci" / "drivers" / "vfio-pci").is_dir()
        and not (sysfs / "module" / "vfio_pci").is_dir()
    ):
        reasons.append("vfio-pci is not available (load the vfio-pci module)")
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        reasons.append(f"libvirt at {uri} is not reachable: {exc}")
        return reasons
    try:
        types = set(re.findall(r"<domain type='(\w+)'", conn.getCapabilities()))
        if virt_type not in types:
            reasons.append(
                f"virt_type {virt_type} is not usable here (libvirt offers: "
                f"{', '.join(sorted(types)) or 'none'})"
            )
    finally:
        conn.close()
    return reasons


# ---- the driver ----


class LibvirtDriver:
    def __init__(
        self,
        hostname: str,
        state_dir: Path,
        options: dict[str, Any] | None = None,
        images: ImageSource | None = None,
    ) -> None:
        self.hostname = hostname
        self.options = LibvirtOptions.model_validate(options or {})
        self.instances = self.options.instances_dir or state_dir / "instances"
        source = images  # the agent's (Glance); the option names a directory instead
        if self.options.image_source_dir is not None:
            source = DirectoryImages(self.options.image_source_dir)
        self.images = (
            ImageCache(self.options.images_dir or state_dir / "images", source)
            if source is not None
            else None
        )
        try:
            self.conn = libvirt.open(self.options.uri)
        except libvirt.libvirtError as exc:
            raise HypervisorError(
                f"cannot connect to libvirt at {self.options.uri}: {exc}"
            ) from exc

    def host_interfaces(self) -> dict[str, str]:
        """PCI address -> the host interface a NIC is heard on, where it is not the NIC's own
        (the lab form)."""
        return dict(self.options.lab_nics)

    # ---- helpers ----

    def _dir(self, server_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", server_id):
            raise HypervisorError(f"invalid server id {server_id!r}")
        return self.instances / server_id

    def _domain(self, server_id: str) -> libvirt.virDomain | None:
        try:
            return self.conn.lookupByName(self.options.name_prefix + server_id)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise HypervisorError(f"libvirt: {exc}") from exc

    def _require(self, server_id: str) -> libvirt.virDomain:
        domain = self._domain(server_id)
        if domain is None:
            raise HypervisorError(f"no guest {server_id} on {self.hostname}")
        return domain

    def _libvirt(self, doing: str, call: Callable[[], object]) -> None:
        try:
            call()
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt refused to {doing}: {exc}") from exc

    def _disk(self, guest: GuestSpec, where: Path) -> tuple[Path, dict[str, Path | str]]:
        """The server's own disk (kept when it exists: a reboot, a revert) and, for a UEC
        image, the kernel, ramdisk and command line to boot it with."""
        disk = where / "disk.qcow2"
        boot: dict[str, Path | str] = {}
        if guest.image_id is None or self.images is None:
            if guest.image_id is not None:
                raise HypervisorError(f"no image source configured to fetch {guest.image_id}")
            if not disk.exists():
                _run("qemu-img", "create", "-q", "-f", "qcow2", str(disk), f"{guest.disk_gb}G")
            return disk, boot
        base, record = self._image(guest, guest.image_id)
        for key, prop in (("kernel", "kernel_id"), ("ramdisk", "ramdisk_id")):
            if record.get(prop):
                boot[key] = self._image(guest, str(record[prop]))[0]
        if boot:
            boot["cmdline"] = str(record.get("os_command_line") or DEFAULT_CMDLINE)
        fmt = str(record.get("disk_format") or "raw")
        fmt = fmt if fmt in ("qcow2", "raw") else "raw"
        if disk.exists():
            # a disk copied from another host still names that host's cache as its base:
            # point it at this host's copy of the same image (nothing is rewritten)
            _run("qemu-img", "rebase", "-u", "-f", "qcow2", "-F", fmt, "-b", str(base), str(disk))
        else:
            _run("qemu-img", "create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(base), str(disk))
            if guest.disk_gb:
                size = json.loads(_run("qemu-img", "info", "--output=json", str(disk)))
                if size["virtual-size"] < guest.disk_gb * 1024**3:
                    _run("qemu-img", "resize", "-q", str(disk), f"{guest.disk_gb}G")
        return disk, boot

    def _image(self, guest: GuestSpec, image_id: str) -> tuple[Path, dict[str, Any]]:
        assert self.images is not None
        sent = guest.image(image_id)
        return self.images.fetch(
            image_id, sent.model_dump(exclude_none=True) if sent is not None else None
        )

    def _define(self, guest: GuestSpec) -> libvirt.virDomain:
        where = self._dir(guest.server_id)
        where.mkdir(parents=True, exist_ok=True)
        disk, boot = self._disk(guest, where)
        config_drive(guest, where / "disk.config")
        kernel, ramdisk = boot.get("kernel"), boot.get("ramdisk")
        xml = domain_xml(
            guest,
            virt_type=self.options.virt_type,
            disk=disk,
            config_drive=where / "disk.config",
            console_log=where / "console.log",
            kernel=Path(kernel) if kernel else None,
            ramdisk=Path(ramdisk) if ramdisk else None,
            cmdline=str(boot["cmdline"]) if "cmdline" in boot else None,
            lab_nics=self.options.lab_nics,
            name_prefix=self.options.name_prefix,
        )
        (where / "spec.json").write_text(guest.model_dump_json())
        (where / "host").write_text(self.hostname)
        try:
            return self.conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        except libvirt.libvirtError as exc:
            raise HypervisorError(f"libvirt refused the guest's definition: {exc}") from exc

    def _start(self, domain: libvirt.virDomain) -> None:
        """Start; a refused start undefines the domain so it holds no NIC."""
        try:
            domain.create()
        except libvirt.libvirtError as exc:
            with contextlib.suppress(libvirt.libvirtError):  # the refusal is what matters
                domain.undefine()
            raise HypervisorError(f"libvirt refused to start the guest: {exc}") from exc

    def _only_mine(self, where: Path) -> bool:
        """No other host holds or parks the guest of this (maybe shared) directory."""
        try:
            holder = (where / "host").read_text()
        except FileNotFoundError:
            holder = self.hostname
        return holder == self.hostname and not any(where.glob("parked.*"))

    def _stop(self, domain: libvirt.virDomain) -> None:
        """A clean shutdown (ACPI), powered off hard after ``shutdown_timeout``."""
        if not domain.isActive():
            return
        self._libvirt("shut the guest down", domain.shutdown)
        deadline = time.monotonic() + self.options.shutdown_timeout
        while domain.isActive() and time.monotonic() < deadline:
            time.sleep(0.5)
        if domain.isActive():
            self._libvirt("power the guest off", domain.destroy)

    # ---- the driver ----

    def guests(self) -> dict[str, GuestState]:
        have: dict[str, GuestState] = {}
        if self.instances.is_dir():
            for park in self.instances.glob(f"*/parked.{self.hostname}"):
                have[park.parent.name] = "parked"
        for domain in self.conn.listAllDomains():
            if domain.name().startswith(self.options.name_prefix):
                sid = domain.name().removeprefix(self.options.name_prefix)
                have[sid] = "running" if domain.isActive() else "stopped"
        return have

    @contextlib.contextmanager
    def _new(self, server_id: str) -> Iterator[None]:
        """A guest defined here for the first time: a failure leaves nothing of it behind
        (its instance directory holds the disk and config drive)."""
        try:
            yield
        except BaseException:
            if self._domain(server_id) is None and self._only_mine(self._dir(server_id)):
                shutil.rmtree(self._dir(server_id), ignore_errors=True)
            raise

    def spawn(self, guest: GuestSpec) -> None:
        with self._new(guest.server_id):
            self._start(self._define(guest))

    def destroy(self, server_id: str) -> None:
        domain = self._domain(server_id)
        if domain is not None:
            if domain.isActive():
                self._libvirt("power the guest off", domain.destroy)
            self._libvirt("undefine the guest", domain.undefine)
        where = self._dir(server_id)
        (where / f"parked.{self.hostname}").unlink(missing_ok=True)
        if self._only_mine(where):
            shutil.rmtree(where, ignore_errors=True)

    def power_off(self, server_id: str) -> None:
        self._stop(self._require(server_id))

    def power_on(self, server_id: str) -> None:
        domain = self._require(server_id)
        if not domain.isActive():
            self._libvirt("start the guest", domain.create)

    def reboot(self, server_id: str, hard: bool) -> None:
        domain = self._require(server_id)
        if hard or not domain.isActive():
            if domain.isActive():
                self._libvirt("power the guest off", domain.destroy)
            self._libvirt("start the guest", domain.create)
        else:
            self._libvirt("reboot the guest", lambda: domain.reboot(0))

    def migrate_out(self, server_id: str) -> None:
        domain = self._require(server_id)
        self._stop(domain)
        self._libvirt("undefine the guest", domain.undefine)
        (self._dir(server_id) / f"parked.{self.hostname}").touch()

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        # the disk is here: kept from before (a revert), on a shared instances directory
        # (the lab's), or copied by the agent from the source host (``disk_file``); a guest
        # that had none starts afresh from its image
        park = self._dir(guest.server_id) / f"parked.{self.hostname}"
        if park.exists():  # a revert: a failed start leaves it parked, its disk kept
            domain = self._define(guest)
            if power_on:
                self._start(domain)
            park.unlink()
            return
        with self._new(guest.server_id):
            domain = self._define(guest)
            if power_on:
                self._start(domain)

    def prerequisites(self) -> list[str]:
        return prerequisites(
            self.options.uri, self.options.virt_type, passthrough=not self.options.lab_nics
        )

    def disk_file(self, server_id: str) -> Path | None:
        """The qcow2 overlay; its base image is fetched on each host from Glance."""
        return self._dir(server_id) / "disk.qcow2"

    def console_file(self, server_id: str) -> Path:
        """The guest's serial console, appended to by QEMU (what ``console`` tails)."""
        return self._dir(server_id) / "console.log"

    def console(self, server_id: str) -> str:
        log = self.console_file(server_id)
        try:
            with open(log, "rb") as handle:
                handle.seek(max(0, log.stat().st_size - CONSOLE_TAIL))
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
