"""The libvirt driver: its domain XML against libvirt's schema, its whole lifecycle against
libvirt's test driver (``test:///default``), images from a Glance-like source verified by
checksum, a refused start, and the host prerequisites."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed")

from passnic.agent.drivers import HypervisorError, load_driver  # noqa: E402
from passnic.agent.drivers.libvirt import (  # noqa: E402
    PREFIX,
    LibvirtDriver,
    domain_xml,
    prerequisites,
)
from passnic.compute.protocol import GuestDevice, GuestImage, GuestSpec  # noqa: E402

NIC = GuestDevice(
    pci_address="0000:03:00.0", vendor_id="8086", product_id="10d3", mac="FA:16:3E:00:00:01"
)
NETWORK_DATA = {
    "links": [{"id": "tap1", "type": "phy", "ethernet_mac_address": NIC.mac}],
    "networks": [
        {
            "id": "network0",
            "type": "ipv4",
            "link": "tap1",
            "ip_address": "10.0.0.5",
            "netmask": "255.255.255.0",
        }
    ],
}


def spec(image_id: str | None = "machine", devices: tuple[GuestDevice, ...] = (NIC,)) -> GuestSpec:
    return GuestSpec(
        server_id=str(uuid.uuid4()),
        name="vm1",
        vcpus=1,
        ram_mb=128,
        disk_gb=1,
        image_id=image_id,
        devices=devices,
        network_data=NETWORK_DATA,
    )


def _xml(form_lab: bool, tmp_path: Path) -> str:
    return domain_xml(
        spec(),
        virt_type="qemu",
        disk=tmp_path / "disk.qcow2",
        config_drive=tmp_path / "disk.config",
        console_log=tmp_path / "console.log",
        kernel=tmp_path / "vmlinux",
        ramdisk=tmp_path / "initrd.gz",
        cmdline="console=ttyS0",
        lab_nics={NIC.pci_address: "pn-ab12-h0p0"} if form_lab else None,
    )


@pytest.mark.parametrize("lab", [False, True], ids=["hostdev", "lab"])
def test_domain_xml_validates_against_libvirts_schema(lab: bool, tmp_path: Path) -> None:
    xml = _xml(lab, tmp_path)
    if lab:
        assert '<interface type="direct">' in xml and "<hostdev" not in xml
        assert '<source dev="pn-ab12-h0p0" mode="passthrough" />' in xml
        assert '<mac address="fa:16:3e:00:00:01" />' in xml
    else:
        assert '<hostdev mode="subsystem" type="pci" managed="yes">' in xml
        assert 'bus="0x03"' in xml and "<interface" not in xml
    conn = libvirt.open("test:///default")
    domain = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    domain.undefine()
    if shutil.which("virt-xml-validate") is None:
        pytest.skip("virt-xml-validate is not installed (libvirt-clients, libxml2-utils)")
    (tmp_path / "domain.xml").write_text(xml)
    done = subprocess.run(
        ["virt-xml-validate", str(tmp_path / "domain.xml"), "domain"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_the_schema_check_rejects_a_broken_domain(tmp_path: Path) -> None:
    """The validation above can fail: a vcpu count that is not a number is refused."""
    xml = _xml(False, tmp_path).replace("<vcpu>1</vcpu>", "<vcpu>one</vcpu>")
    conn = libvirt.open("test:///default")
    with pytest.raises(libvirt.libvirtError):
        conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)


def _publish(images: Path, image_id: str, data: bytes, **props: str) -> None:
    images.mkdir(exist_ok=True)
    (images / image_id).write_bytes(data)
    record = {
        "id": image_id,
        "os_hash_algo": "sha512",
        "os_hash_value": hashlib.sha512(data).hexdigest(),
        **props,
    }
    (images / f"{image_id}.json").write_text(json.dumps(record))


@pytest.fixture
def driver(tmp_path: Path) -> LibvirtDriver:
    if shutil.which("qemu-img") is None:
        pytest.skip("qemu-img is not installed (qemu-utils)")
    images = tmp_path / "glance"
    _publish(images, "kernel", b"kernel bytes", disk_format="aki")
    _publish(images, "ramdisk", b"ramdisk bytes", disk_format="ari")
    _publish(
        images,
        "machine",
        b"\0" * 65536,
        disk_format="raw",
        kernel_id="kernel",
        ramdisk_id="ramdisk",
        os_command_line="console=ttyS0 quiet",
    )
    options = {
        "uri": "test:///default",
        "virt_type": "qemu",
        "image_source_dir": str(images),
        "shutdown_timeout": 5,
    }
    made = load_driver("libvirt", "compute1", tmp_path / "state", options)
    assert isinstance(made, LibvirtDriver)
    return made


def test_lifecycle_on_libvirts_test_driver(driver: LibvirtDriver, tmp_path: Path) -> None:
    guest = spec()
    sid = guest.server_id
    driver.spawn(guest)
    assert driver.guests()[sid] == "running"
    where = tmp_path / "state" / "instances" / sid
    xml = driver.conn.lookupByName(PREFIX + sid).XMLDesc()
    # direct kernel boot from the UEC image's kernel and ramdisk, cached on the host
    assert f"<kernel>{tmp_path}/state/images/kernel</kernel>" in xml
    assert "<cmdline>console=ttyS0 quiet</cmdline>" in xml
    assert "<hostdev mode='subsystem' type='pci' managed='yes'>" in xml
    info = json.loads(
        subprocess.check_output(["qemu-img", "info", "--output=json", str(where / "disk.qcow2")])
    )
    assert info["backing-filename"] == str(tmp_path / "state" / "images" / "machine")
    assert info["virtual-size"] == 1024**3
    assert subprocess.check_output(
        ["isoinfo", "-d", "-i", str(where / "disk.config")], text=True
    ).count("config-2")
    net = subprocess.check_output(
        [
            "isoinfo",
            "-R",
            "-x",
            "/openstack/latest/network_data.json",
            "-i",
            str(where / "disk.config"),
        ]
    )
    assert json.loads(net) == NETWORK_DATA

    driver.power_off(sid)
    assert driver.guests()[sid] == "stopped"
    driver.power_on(sid)
    driver.reboot(sid, hard=False)
    driver.reboot(sid, hard=True)
    assert driver.guests()[sid] == "running"

    # a revert-style round trip: parked (undefined, the NIC given back, the disk kept) ...
    disk = where / "disk.qcow2"
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 4k", str(disk)], check=True)
    assert driver.disk_file(sid) == disk
    driver.migrate_out(sid)
    assert driver.guests()[sid] == "parked"
    with pytest.raises(libvirt.libvirtError):
        driver.conn.lookupByName(PREFIX + sid)
    # ... and back with another NIC, stopped as it was asked, on the same disk
    other = GuestDevice(
        pci_address="0000:04:00.0", vendor_id="8086", product_id="10d3", mac="fa:16:3e:00:00:02"
    )
    driver.migrate_in(guest.model_copy(update={"devices": (other,)}), power_on=False)
    assert driver.guests()[sid] == "stopped"
    assert "bus='0x04'" in driver.conn.lookupByName(PREFIX + sid).XMLDesc()
    assert _holds_its_data(disk)

    (where / "console.log").write_text("passnic-guest: eth1 fa:16:3e:00:00:02 10.0.0.5/24\n")
    assert "eth1 fa:16:3e:00:00:02" in driver.console(sid)
    driver.destroy(sid)
    driver.destroy(sid)  # idempotent
    assert sid not in driver.guests()
    assert not where.exists()
    assert driver.console(sid) == ""


def _holds_its_data(disk: Path) -> bool:
    done = subprocess.run(["qemu-io", "-c", "read -P 0x5a 0 4k", str(disk)], capture_output=True)
    return done.returncode == 0 and b"Pattern verification failed" not in done.stdout


def test_a_disk_copied_from_another_host_boots_on_this_hosts_image_cache(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    """The destination of a cold migration gets the source's overlay, whose base is the
    source's cache: migrate_in points it at this host's copy and keeps the guest's data."""
    guest = spec()
    sid = guest.server_id
    disk = driver.disk_file(sid)
    assert disk is not None
    disk.parent.mkdir(parents=True)
    elsewhere = tmp_path / "source-host" / "images" / "machine"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(b"\0" * 65536)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(elsewhere), str(disk)],
        check=True,
    )
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 4k", str(disk)], check=True)
    elsewhere.unlink()  # the source host's cache is not here
    driver.migrate_in(guest.model_copy(update={"migrated_from": "compute2"}), power_on=True)
    assert driver.guests()[sid] == "running"
    info = json.loads(subprocess.check_output(["qemu-img", "info", "--output=json", str(disk)]))
    assert info["backing-filename"] == str(tmp_path / "state" / "images" / "machine")
    assert _holds_its_data(disk)
    driver.destroy(sid)


def test_guests_lists_only_passnic_domains(driver: LibvirtDriver) -> None:
    assert "test" in [d.name() for d in driver.conn.listAllDomains()]  # the test driver's own
    assert "test" not in driver.guests() and PREFIX + "test" not in driver.guests()


def test_an_operation_on_a_missing_guest_says_so(driver: LibvirtDriver) -> None:
    with pytest.raises(HypervisorError, match="no guest nope on compute1"):
        driver.power_on("nope")


def test_a_refused_start_carries_libvirts_words_and_holds_no_nic(
    driver: LibvirtDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = "unsupported configuration: host doesn't support passthrough of host PCI devices"

    def refuse(self: object) -> int:
        raise libvirt.libvirtError(words)

    monkeypatch.setattr(libvirt.virDomain, "create", refuse)
    guest = spec()
    with pytest.raises(HypervisorError) as raised:
        driver.spawn(guest)
    assert words in raised.value.message
    assert guest.server_id not in driver.guests()  # undefined: the hostdev is given back
    disk = driver.disk_file(guest.server_id)
    assert disk is not None and not disk.parent.exists()  # nor disk nor config drive left

    # a revert that libvirt refuses to start keeps the guest parked, with its disk
    monkeypatch.undo()
    driver.spawn(guest)
    driver.migrate_out(guest.server_id)
    monkeypatch.setattr(libvirt.virDomain, "create", refuse)
    with pytest.raises(HypervisorError):
        driver.migrate_in(guest, power_on=True)
    assert driver.guests()[guest.server_id] == "parked" and disk.exists()
    driver.destroy(guest.server_id)


def test_an_image_that_does_not_match_its_checksum_is_refused(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    (tmp_path / "glance" / "machine").write_bytes(b"tampered")
    guest = spec()
    with pytest.raises(HypervisorError, match="does not match its checksum"):
        driver.spawn(guest)
    assert not (tmp_path / "state" / "images" / "machine").exists()
    assert guest.server_id not in driver.guests()
    driver.destroy(guest.server_id)


def test_a_server_without_image_gets_a_blank_disk(driver: LibvirtDriver, tmp_path: Path) -> None:
    guest = spec(image_id=None)
    driver.spawn(guest)
    xml = driver.conn.lookupByName(PREFIX + guest.server_id).XMLDesc()
    assert "<kernel>" not in xml and "<boot dev='hd'/>" in xml
    driver.destroy(guest.server_id)


def test_prerequisites_say_what_is_missing(tmp_path: Path) -> None:
    sysfs = tmp_path / "sys"
    reasons = prerequisites("test:///default", "qemu", sysfs)
    assert len(reasons) == 3
    assert "IOMMU" in reasons[0] and "vfio-pci" in reasons[1]
    # libvirt's test driver runs domains of type "test" only
    assert reasons[2] == "virt_type qemu is not usable here (libvirt offers: test)"
    (sysfs / "kernel" / "iommu_groups" / "7").mkdir(parents=True)
    (sysfs / "bus" / "pci" / "drivers" / "vfio-pci").mkdir(parents=True)
    assert prerequisites("test:///default", "qemu", sysfs) == reasons[2:]
    reasons = prerequisites(f"test://{tmp_path}/missing.xml", "qemu", sysfs)
    assert len(reasons) == 1 and "not reachable" in reasons[0]
    # the lab form (emulated NICs) needs no IOMMU nor vfio-pci: only libvirt and virt_type
    empty = tmp_path / "empty-sys"
    assert prerequisites("test:///default", "qemu", empty, passthrough=False) == [
        "virt_type qemu is not usable here (libvirt offers: test)"
    ]


def test_shared_instances_dir_keeps_the_disk_across_a_cold_migration(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    """Two hosts on one instances directory (shared storage): the disk moves with the guest,
    and neither confirm (source) nor revert (destination) deletes what the other side runs."""
    shared = tmp_path / "shared"
    source, destination = (
        LibvirtDriver(
            host,
            tmp_path / host,
            {**driver.options.model_dump(mode="json"), "instances_dir": str(shared)}
            | {"name_prefix": f"passnic-{host}-"},
        )
        for host in ("compute1", "compute2")
    )
    guest = spec()
    sid = guest.server_id
    where = shared / sid
    source.spawn(guest)
    disk = (where / "disk.qcow2").stat().st_ino  # the server's own disk, never made anew
    # migrate, then revert: the destination's guest goes, the source's disk stays
    source.migrate_out(sid)
    destination.migrate_in(guest, power_on=True)
    assert destination.guests() == {sid: "running"} and source.guests() == {sid: "parked"}
    destination.destroy(sid)
    assert (where / "disk.qcow2").stat().st_ino == disk
    source.migrate_in(guest, power_on=True)
    # migrate, then confirm: the source lets go, the destination runs on the same disk
    source.migrate_out(sid)
    destination.migrate_in(guest, power_on=True)
    source.destroy(sid)
    assert source.guests() == {} and destination.guests() == {sid: "running"}
    assert (where / "disk.qcow2").stat().st_ino == disk
    destination.destroy(sid)
    assert not where.exists()


def _iso_file(iso: Path, name: str) -> bytes:
    return subprocess.check_output(["isoinfo", "-R", "-x", name, "-i", str(iso)])


def test_the_config_drive_carries_user_data_and_the_key_pair(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0000000000000000000000000000000000000000000 me"
    script = b"#!/bin/sh\necho hello from user_data\n"
    guest = spec().model_copy(
        update={"user_data": base64.b64encode(script).decode(), "public_keys": {"mykey": key}}
    )
    driver.spawn(guest)
    iso = tmp_path / "state" / "instances" / guest.server_id / "disk.config"
    assert _iso_file(iso, "/openstack/latest/user_data") == script
    meta = json.loads(_iso_file(iso, "/openstack/latest/meta_data.json"))
    assert meta["public_keys"] == {"mykey": key}
    assert meta["keys"] == [{"name": "mykey", "type": "ssh", "data": key}]
    assert meta["uuid"] == guest.server_id
    driver.destroy(guest.server_id)


def test_the_image_record_the_controller_sent_is_the_one_checked(driver: LibvirtDriver) -> None:
    """The checksum comes with the guest's spec (``GuestSpec.images``), so bytes that match
    only the source's own record are refused."""
    forged = GuestImage(id="machine", disk_format="raw", os_hash_algo="sha512", os_hash_value="0")
    guest = spec().model_copy(update={"images": (forged,)})
    with pytest.raises(HypervisorError, match="image machine does not match its checksum"):
        driver.spawn(guest)
    assert guest.server_id not in driver.guests()
