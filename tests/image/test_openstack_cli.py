"""The real `openstack` CLI against a running Passnic: the image acceptance lines.

Each CLI call costs about 1.5 s, so the calls are few and each checks a lot.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from passnic.context import RequestContext
from passnic.image.sample import empty_qcow2, seed_cirros
from passnic.image.service import ImageFilters
from tests.conftest import LiveCloud

pytestmark = pytest.mark.osc

SYSTEM = RequestContext(
    user_id="", user_name="test", project_id="", project_name="", roles=frozenset({"admin"})
)


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "disk.qcow2"
    path.write_bytes(empty_qcow2())
    return path


def test_user_creates_shows_and_deletes_an_image(live: LiveCloud, image_file: Path) -> None:
    shown = live.openstack_json(
        "passnic-user1",
        "image", "create", "--disk-format", "qcow2", "--container-format", "bare",
        "--file", str(image_file), "cirros2",
    )  # fmt: skip
    assert shown["name"] == "cirros2"
    assert shown["status"] == "active"
    assert shown["checksum"] == hashlib.md5(image_file.read_bytes()).hexdigest()
    assert shown["size"] == image_file.stat().st_size
    assert shown["visibility"] == "shared"
    assert shown["properties"]["os_hash_algo"] == "sha512"

    # Another project neither finds it by name nor lists it.
    proc = live.openstack("passnic-user2", "image", "show", "cirros2", check=False)
    assert proc.returncode == 1
    assert "No Image found for cirros2" in proc.stderr

    live.openstack("passnic-user1", "image", "delete", "cirros2")
    assert not (live.home / "images" / shown["id"]).exists()


def test_acceptance_sequence_for_cirros(live: LiveCloud, image_file: Path) -> None:
    # The sample cloud already holds a public cirros; the admin removes it so the documented
    # line `image create ... cirros` is not ambiguous afterwards.
    seeded = seed_cirros(live.cloud)  # no-op when the bootstrap already seeded it
    live.openstack("passnic-admin", "image", "delete", "cirros")
    assert live.cloud.image.list(SYSTEM, ImageFilters(names=["cirros"])).images == []
    assert not (live.home / "images" / seeded.id).exists()

    live.openstack(
        "passnic-admin",
        "image", "create", "--disk-format", "qcow2", "--container-format", "bare",
        "--file", str(image_file), "cirros",
    )  # fmt: skip
    rows = live.openstack_json("passnic-admin", "image", "list")
    assert [(r["Name"], r["Status"]) for r in rows if r["Name"] == "cirros"] == [
        ("cirros", "active")
    ]
    shown = live.openstack_json("passnic-admin", "image", "show", "cirros")
    assert (shown["disk_format"], shown["container_format"]) == ("qcow2", "bare")
    assert shown["checksum"] == hashlib.md5(image_file.read_bytes()).hexdigest()
    live.openstack("passnic-admin", "image", "delete", "cirros")
    assert live.cloud.image.list(SYSTEM, ImageFilters(names=["cirros"])).images == []
