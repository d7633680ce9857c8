"""The sample cloud's ``cirros`` image.

There is no network to fetch the real CirrOS from, and nothing boots it here anyway, so the
payload is a genuine but empty qcow2 disk built in memory: small (5.5 KiB), identical on every
run (the same checksum everywhere), laid out as the qcow2 v2 specification describes so that
our virtual-size inspection reads 16 MiB from it (not checked with qemu-img, absent here).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from passnic.context import RequestContext
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


def seed_cirros(cloud: Cloud, owner: str | None = None) -> Image:
    """A public, active ``cirros`` (qcow2/bare) owned by the admin project unless ``owner`` is
    given; returns the existing one when it is already there (safe to call on every start)."""
    if owner is None:
        system = RequestContext(
            user_id="",
            user_name="bootstrap",
            project_id="",
            project_name="",
            roles=frozenset({"admin"}),
        )
        admin = cloud.identity.list_projects(system, name="admin")
        owner = admin[0].id if admin else None
    return cloud.image.seed(
        CIRROS_NAME,
        empty_qcow2(),
        owner,
        visibility="public",
        disk_format="qcow2",
        container_format="bare",
    )
