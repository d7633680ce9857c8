"""Passnic's guest image, built here from Debian packages only (no image can be downloaded).

It is a UEC-style image (what CirrOS publishes and Nova boots by direct kernel boot): a kernel,
a ramdisk and a small machine disk. The kernel is Debian's, unpacked to the uncompressed
``vmlinux`` (QEMU boots it through its PVH entry, 2-3x faster under TCG than ``vmlinuz``); the
ramdisk is busybox-static plus the few kernel modules a guest needs (emulated and passthrough
NICs, virtio, the IDE cdrom of the config drive, VFAT for its disk, 802.1Q). Its init
(``guest/rc``) reads the config drive, names each NIC by MAC with a table kept on the server's
own disk (udev's persistent-net rules: a MAC not seen before gets the next free ``ethX``),
configures the addresses from ``network_data.json`` and prints ``passnic-guest: NAME MAC
ADDRESS`` lines on the serial console. The machine disk is blank: the guest formats it (VFAT)
on first boot.

Only ``apt-get download`` fetches anything; everything is cached under the cache directory,
keyed by the kernel version and the content of the guest's files, so a second build is free.
``python -m passnic.image.guest [CACHE_DIR]`` builds it and prints the three paths.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

GUEST_FILES = Path(__file__).with_name("guest")
#: modules the guest loads (their dependencies are added): NICs (emulated e1000 in the lab,
#: Intel NICs a host may pass through, virtio), the config drive's cdrom and filesystem, the
#: disk's VFAT, 802.1Q, and the ACPI power button (a clean shutdown from libvirt)
MODULES = (
    "e1000",
    "e1000e",
    "igb",
    "virtio_pci",
    "virtio_net",
    "virtio_blk",
    "ata_piix",
    "sr_mod",
    "isofs",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    "8021q",
    "button",
    "evdev",
)
#: the machine disk: room for the guest's own files (the NIC name table)
DISK_MB = 16
XZ_MAGIC = b"\xfd7zXZ\x00"


class GuestBuildError(Exception):
    """The image could not be built (for example apt cannot fetch the packages)."""


@dataclass(frozen=True)
class GuestImage:
    kernel: Path
    ramdisk: Path
    disk: Path
    kernel_version: str


def default_cache() -> Path:
    return Path(os.environ.get("PASSNIC_GUEST_CACHE", ".cache/guest"))


def _run(*args: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise GuestBuildError(f"{args[0]} is not installed") from exc
    if done.returncode != 0:
        raise GuestBuildError(f"{' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def kernel_package() -> str:
    """The versioned kernel package that Debian's ``linux-image-amd64`` points at."""
    found = re.search(
        r"Depends: (linux-image-[0-9][^\s]*)", _run("apt-cache", "depends", "linux-image-amd64")
    )
    if found is None:
        raise GuestBuildError("apt-cache does not know linux-image-amd64")
    return found.group(1)


def _download(package: str, debs: Path) -> Path:
    debs.mkdir(parents=True, exist_ok=True)
    mine = [p for p in debs.glob(f"{package}_*.deb")]
    if not mine:
        _run("apt-get", "download", "-q", package, cwd=debs)
        mine = list(debs.glob(f"{package}_*.deb"))
    if not mine:
        raise GuestBuildError(f"apt-get download {package} left no .deb")
    return sorted(mine)[-1]


def _members(deb: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """The files of a .deb's data archive, streamed (the kernel's is 470 MB unpacked)."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as p:
        assert p.stdout is not None
        with tarfile.open(fileobj=p.stdout, mode="r|") as archive:
            for member in archive:
                yield member, archive


def _module_name(path: str) -> str:
    return Path(path).name.removesuffix(".ko").replace("-", "_")


def _depends(ko: bytes) -> list[str]:
    found = re.search(rb"\0depends=([^\0]*)\0", b"\0" + ko)
    return [d.replace("-", "_") for d in found.group(1).decode().split(",") if d] if found else []


def _unpack_kernel(deb: Path, into: Path) -> None:
    """``vmlinux`` and the needed modules (in load order) from the kernel package: one pass to
    learn every module's dependencies, one to take the modules needed."""
    depends: dict[str, list[str]] = {}
    builtin: set[str] = set()
    vmlinux = None
    for member, archive in _members(deb):
        if member.name.endswith(".ko"):
            data = archive.extractfile(member)
            assert data is not None
            depends[_module_name(member.name)] = _depends(data.read())
        elif member.name.endswith("/modules.builtin"):
            data = archive.extractfile(member)
            assert data is not None
            builtin = {_module_name(line) for line in data.read().decode().split()}
        elif re.search(r"/boot/vmlinuz-", member.name):
            data = archive.extractfile(member)
            assert data is not None
            vmlinuz = data.read()
            start = vmlinuz.find(XZ_MAGIC)
            if start < 0:
                raise GuestBuildError("the kernel image has no xz payload")
            vmlinux = lzma.LZMADecompressor().decompress(vmlinuz[start:])
    if vmlinux is None:
        raise GuestBuildError(f"{deb.name} has no /boot/vmlinuz")
    order: list[str] = []

    def need(name: str) -> None:
        if name in order or name in builtin:
            return
        if name not in depends:
            raise GuestBuildError(f"the kernel has no module {name}")
        for dep in depends[name]:
            need(dep)
        order.append(name)

    for name in MODULES:
        need(name)
    modules = into / "modules"
    modules.mkdir(parents=True)
    for member, archive in _members(deb):
        if member.name.endswith(".ko") and _module_name(member.name) in order:
            data = archive.extractfile(member)
            assert data is not None
            (modules / f"{_module_name(member.name)}.ko").write_bytes(data.read())
    (into / "modules.order").write_text("\n".join(order) + "\n")
    (into / "vmlinux").write_bytes(vmlinux)


class _Cpio:
    """A ``newc`` cpio archive, the initramfs format (no cpio binary, no root for /dev)."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.ino = 0

    def add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        self.ino += 1
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
        self.out.write(header + b"\0" * (-len(header) % 4))
        self.out.write(data + b"\0" * (-len(data) % 4))

    def finish(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return self.out.getvalue()


def _ramdisk(busybox: bytes, kernel_dir: Path) -> bytes:
    archive = _Cpio()
    for directory in ("bin", "dev", "etc", "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules"):
        archive.add(directory, 0o040755)
    archive.add("dev/console", 0o020600, rdev=(5, 1))
    archive.add("bin/busybox", 0o100755, busybox)
    archive.add("bin/sh", 0o120777, b"busybox")
    archive.add("init", 0o100755, (GUEST_FILES / "init").read_bytes())
    archive.add("etc/rc", 0o100755, (GUEST_FILES / "rc").read_bytes())
    archive.add("etc/acpi/PWRF/00000080", 0o100755, (GUEST_FILES / "power-button").read_bytes())
    for name in ("inittab", "flatjson.awk", "v6prefix.awk"):
        archive.add(f"etc/{name}", 0o100644, (GUEST_FILES / name).read_bytes())
    archive.add("etc/modules", 0o100644, (kernel_dir / "modules.order").read_bytes())
    for ko in sorted((kernel_dir / "modules").iterdir()):
        archive.add(f"lib/modules/{ko.name}", 0o100644, ko.read_bytes())
    return gzip.compress(archive.finish(), mtime=0)


def _busybox(deb: Path) -> bytes:
    for member, archive in _members(deb):
        if member.name.endswith("/bin/busybox"):
            data = archive.extractfile(member)
            assert data is not None
            return data.read()
    raise GuestBuildError(f"{deb.name} has no /bin/busybox")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build(cache: Path | None = None) -> GuestImage:
    """The guest image, built on first use and cached."""
    cache = (cache or default_cache()).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    package = kernel_package()
    version = package.removeprefix("linux-image-")
    kernel_dir = cache / version
    if not (kernel_dir / "vmlinux").exists():
        deb = _download(package, cache / "debs")
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            _unpack_kernel(deb, Path(tmp) / "k")
            os.replace(Path(tmp) / "k", kernel_dir)
    busybox_deb = _download("busybox-static", cache / "debs")
    digest = hashlib.sha256(busybox_deb.name.encode())
    digest.update((kernel_dir / "modules.order").read_bytes())
    for path in sorted(GUEST_FILES.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    ramdisk = cache / f"initrd-{digest.hexdigest()[:16]}.gz"
    if not ramdisk.exists():
        _write_atomic(ramdisk, _ramdisk(_busybox(busybox_deb), kernel_dir))
    disk = cache / "disk.raw"
    if not disk.exists():
        with open(disk, "wb") as handle:
            handle.truncate(DISK_MB * 1024 * 1024)
    return GuestImage(kernel_dir / "vmlinux", ramdisk, disk, version)


def built(cache: Path | None = None) -> GuestImage | None:
    """The guest image when ``build`` made it already (the newest kernel and ramdisk in the
    cache), without asking apt; None when it was never built here."""
    cache = (cache or default_cache()).resolve()

    def newest(pattern: str) -> Path | None:
        found = sorted(cache.glob(pattern), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None

    kernel, ramdisk, disk = newest("*/vmlinux"), newest("initrd-*.gz"), cache / "disk.raw"
    if kernel is None or ramdisk is None or not disk.exists():
        return None
    return GuestImage(kernel, ramdisk, disk, kernel.parent.name)


def main() -> None:
    image = build(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(f"kernel {image.kernel}\nramdisk {image.ramdisk}\ndisk {image.disk}")


if __name__ == "__main__":
    main()
