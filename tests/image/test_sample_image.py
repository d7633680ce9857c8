"""The sample cloud's image: Passnic's guest as a UEC image when it was built, else cirros."""

from __future__ import annotations

import hashlib
from pathlib import Path

from passnic.bootstrap import bootstrap_sample_cloud
from passnic.cloud import Cloud
from passnic.context import RequestContext
from passnic.image.sample import GUEST_CMDLINE, seed_sample_image
from passnic.image.service import ImageFilters

ADMIN = RequestContext(
    user_id="test-admin",
    user_name="admin",
    project_id="",
    project_name="admin",
    roles=frozenset({"admin"}),
)


def _built(cache: Path) -> None:
    """What ``make guest`` leaves in its cache (small stand-ins for the real files)."""
    (cache / "6.1.0-28-amd64").mkdir(parents=True)
    (cache / "6.1.0-28-amd64" / "vmlinux").write_bytes(b"kernel")
    (cache / "initrd-0123456789abcdef.gz").write_bytes(b"ramdisk")
    (cache / "disk.raw").write_bytes(b"\0" * 4096)


def _names(cloud: Cloud) -> dict[str, str]:
    return {i.name: i.id for i in cloud.image.list(ADMIN, ImageFilters()).images}


def test_the_built_guest_is_registered_as_a_uec_image(cloud: Cloud, tmp_path: Path) -> None:
    _built(tmp_path / "guest")
    bootstrap_sample_cloud(cloud, tmp_path / "guest")
    names = _names(cloud)
    assert sorted(names) == ["passnic-guest", "passnic-guest-kernel", "passnic-guest-ramdisk"]
    machine = cloud.image.get(ADMIN, names["passnic-guest"])
    assert (machine.visibility, machine.status, machine.disk_format) == ("public", "active", "ami")
    assert machine.properties == {
        "kernel_id": names["passnic-guest-kernel"],
        "ramdisk_id": names["passnic-guest-ramdisk"],
        "os_command_line": GUEST_CMDLINE,
    }
    kernel = cloud.image.get(ADMIN, names["passnic-guest-kernel"])
    assert (kernel.disk_format, kernel.checksum) == ("aki", hashlib.md5(b"kernel").hexdigest())
    # what a compute host is sent to boot it: the three records, machine image first
    records = cloud.image.boot_records(machine.id)
    assert [r["id"] for r in records] == [
        machine.id,
        names["passnic-guest-kernel"],
        names["passnic-guest-ramdisk"],
    ]
    assert records[2]["os_hash_value"] == hashlib.sha512(b"ramdisk").hexdigest()
    # seeding again (another start) finds them
    assert seed_sample_image(cloud, tmp_path / "guest").id == machine.id


def test_without_a_built_guest_the_sample_image_is_cirros(cloud: Cloud, tmp_path: Path) -> None:
    bootstrap_sample_cloud(cloud, tmp_path / "never-built")
    assert list(_names(cloud)) == ["cirros"]
