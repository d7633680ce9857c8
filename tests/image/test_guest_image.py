"""The guest image built from Debian packages boots under QEMU (TCG), reads the config drive the
libvirt driver writes, and names its NIC by MAC with the table on its own disk: a new MAC (a
cold migration to another NIC) becomes eth1 and keeps the port's address."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from passnic.compute.protocol import GuestDevice, GuestSpec
from passnic.image.guest import GuestBuildError, GuestImage, build

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "guest"
BOOT_SECONDS = 60

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="QEMU is not installed (qemu-system-x86)"
)


@pytest.fixture(scope="module")
def image() -> GuestImage:
    try:
        return build(CACHE)
    except GuestBuildError as exc:
        pytest.skip(f"the guest image cannot be built here: {exc}")


def _spec(mac: str) -> GuestSpec:
    return GuestSpec(
        server_id="0b7c2f4e-5d1a-4c39-9a57-2f0e8d1c6a11",
        name="vm1",
        vcpus=1,
        ram_mb=128,
        disk_gb=0,
        devices=(
            GuestDevice(pci_address="0000:03:00.0", vendor_id="8086", product_id="100e", mac=mac),
        ),
        network_data={
            "links": [{"id": "tap1", "type": "phy", "mtu": 1500, "ethernet_mac_address": mac}],
            "networks": [
                {
                    "id": "network0",
                    "type": "ipv4",
                    "link": "tap1",
                    "ip_address": "10.0.0.5",
                    "netmask": "255.255.255.0",
                    "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}],
                }
            ],
        },
    )


def _boot(image: GuestImage, disk: Path, mac: str, tmp_path: Path) -> str:
    """Boot until the guest says it is ready; its console."""
    config_drive = pytest.importorskip("passnic.agent.drivers.libvirt").config_drive
    drive = tmp_path / f"config-{mac[-2:]}.iso"
    config_drive(_spec(mac), drive)
    console = tmp_path / f"console-{mac[-2:]}.log"
    qemu = subprocess.Popen(
        [
            "qemu-system-x86_64", "-accel", "tcg", "-m", "128", "-nodefaults", "-no-reboot",
            "-display", "none", "-monitor", "none", "-serial", f"file:{console}",
            "-kernel", str(image.kernel), "-initrd", str(image.ramdisk),
            "-append", "console=ttyS0 quiet panic=-1",
            "-drive", f"file={disk},if=virtio,format=raw",
            "-drive", f"file={drive},media=cdrom,if=ide,format=raw",
            "-netdev", "user,id=n0", "-device", f"e1000,netdev=n0,mac={mac}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline and qemu.poll() is None:
            if console.exists() and "passnic-guest: ready" in console.read_text(errors="replace"):
                break
            time.sleep(0.5)
    finally:
        qemu.kill()
        _, err = qemu.communicate()
    text = console.read_text(errors="replace") if console.exists() else ""
    assert "passnic-guest: ready" in text, (
        f"no ready line; qemu: {err.decode()[-500:]}\n{text[-2000:]}"
    )
    return text


def test_the_guest_names_nics_by_mac_on_its_own_disk(image: GuestImage, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    shutil.copyfile(image.disk, disk)  # blank: the guest formats it at first boot
    first = _boot(image, disk, "fa:16:3e:00:00:01", tmp_path)
    assert "passnic-guest: server 0b7c2f4e-5d1a-4c39-9a57-2f0e8d1c6a11 hostname vm1" in first
    assert "passnic-guest: eth0 fa:16:3e:00:00:01 10.0.0.5/24" in first
    # the same disk behind a NIC with another MAC: a new name, the port's address kept
    second = _boot(image, disk, "fa:16:3e:00:00:02", tmp_path)
    assert "passnic-guest: eth1 fa:16:3e:00:00:02 10.0.0.5/24" in second
    assert "eth0" not in second.split("passnic-guest: interfaces:")[1]
