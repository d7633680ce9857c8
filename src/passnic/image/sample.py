"""The sample cloud's image: Passnic's guest when it was built here, else an empty ``cirros``.

``passnic-guest`` (``make guest``, ``passnic.image.guest``) is registered as Nova boots a UEC
image: ``passnic-guest-kernel`` (aki), ``passnic-guest-ramdisk`` (ari) and the machine image
``passnic-guest`` naming them in ``kernel_id``/``ramdisk_id`` with its ``os_command_line``.

Without it there is no network to fetch the real CirrOS from, and nothing boots it here
anyway, so the payload is a genuine but empty qcow2 disk built in memory: small (5.5 KiB),
identical on every run (the same checksum everywhere), laid out as the qcow2 v2
specification describes so that our virtual-size inspection reads 16 MiB from it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from passnic.context import RequestContext
from passnic.image import guest
from passnic.image.models import Image

if TYPE_CHECKING:
    from passnic.cloud import Cloud

CIRROS_NAME = "cirros"
CIRROS_VIRTUAL_SIZE = 16 * 1024 * 1024


def empty_qcow2(virtual_size: int = CIRROS_VIRTUAL_SIZE) -> bytes:
    """A qcow2 (version 2) image with no allocated data: 512-byte clusters holding, in order,
    the header, the refcount table, one refcount block and the all-zero L1 table."""
    cluster_bits = 9
    cluster = 1 << cluster_bits
    l2_coverage = (cluster // 8) * cluster  # bytes of guest disk one L2 table maps
    l1_size = -(-virtual_size // l2_coverage)
    l1_clusters = -(-l1_size * 8 // cluster)
    total_clusters = 3 + l1_clusters
    header = struct.pack(
        ">4sIQIIQIIQQIIQ",
        b"QFI\xfb",
        2,  # version
        0,  # backing_file_offset
        0,  # backing_file_size
        cluster_bits,
        virtual_size,
        0,  # crypt_method
        l1_size,
        3 * cluster,  # l1_table_offset
        1 * cluster,  # refcount_table_offset
        1,  # refcount_table_clusters
        0,  # nb_snapshots
        0,  # snapshots_offset
    )
    refcount_table = struct.pack(">Q", 2 * cluster)
    refcount_block = struct.pack(f">{total_clusters}H", *([1] * total_clusters))
    out = bytearray(total_clusters * cluster)
    out[0 : len(header)] = header
    out[cluster : cluster + len(refcount_table)] = refcount_table
    out[2 * cluster : 2 * cluster + len(refcount_block)] = refcount_block
    return bytes(out)


GUEST_NAME = "passnic-guest"
#: the guest's kernel command line: its console on the serial port (what the agent serves)
GUEST_CMDLINE = "console=ttyS0 quiet panic=-1"


def seed_sample_image(cloud: Cloud, cache: Path | None = None) -> Image:
    """``passnic-guest`` when its build is in ``cache`` (``passnic up`` gives
    ``.cache/guest``), else ``cirros``; both public and owned by the admin project."""
    image = guest.built(cache) if cache is not None else None
    if image is None:
        return seed_cirros(cloud)
    owner = _admin_project(cloud)

    def seed(name: str, path: Path, fmt: str, **props: str) -> Image:
        return cloud.image.seed(
            name,
            _chunks(path),
            owner,
            disk_format=fmt,
            container_format=fmt,
            properties=props,
        )

    kernel = seed(f"{GUEST_NAME}-kernel", image.kernel, "aki")
    ramdisk = seed(f"{GUEST_NAME}-ramdisk", image.ramdisk, "ari")
    return seed(
        GUEST_NAME,
        image.disk,
        "ami",
        kernel_id=kernel.id,
        ramdisk_id=ramdisk.id,
        os_command_line=GUEST_CMDLINE,
    )


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            yield chunk


def _admin_project(cloud: Cloud) -> str | None:
    system = RequestContext(
        user_id="",
        user_name="bootstrap",
        project_id="",
        project_name="",
        roles=frozenset({"admin"}),
    )
    admin = cloud.identity.list_projects(system, name="admin")
    return admin[0].id if admin else None


def seed_cirros(cloud: Cloud, owner: str | None = None) -> Image:
    """A public, active ``cirros`` (qcow2/bare) owned by the admin project unless ``owner`` is
    given; returns the existing one when it is already there (safe to call on every start)."""
    if owner is None:
        owner = _admin_project(cloud)
    return cloud.image.seed(
        CIRROS_NAME,
        empty_qcow2(),
        owner,
        visibility="public",
        disk_format="qcow2",
        container_format="bare",
    )
