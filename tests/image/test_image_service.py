"""The image rules, called directly: lifecycle of the bytes, visibility, patching, paging."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from passnic.cloud import Cloud
from passnic.context import RequestContext
from passnic.errors import BadRequest, Conflict, Forbidden, NotFound
from passnic.image import service as image_service
from passnic.image.sample import CIRROS_VIRTUAL_SIZE, empty_qcow2, seed_cirros
from passnic.image.service import ImageFilters, TooLarge
from passnic.image.store import FilesystemStore

DATA = bytes(range(256)) * 300  # 76,800 bytes, more than one store chunk


def chunked(data: bytes, size: int = 10_000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def new_image(cloud: Cloud, ctx: RequestContext, name: str = "img", **attrs: object) -> str:
    attrs = {"name": name, "disk_format": "raw", "container_format": "bare", **attrs}
    return cloud.image.create(ctx, attrs).id


def cirros_id(cloud: Cloud, ctx: RequestContext) -> str:
    """The sample cloud's own image (public, active, qcow2): every project lists it."""
    (image,) = cloud.image.list(ctx, ImageFilters(names=["cirros"])).images
    assert (image.visibility, image.status) == ("public", "active")
    return image.id


def stored(cloud: Cloud) -> set[str]:
    """The images whose bytes are in the store."""
    return {path.name for path in cloud.settings.image_dir.iterdir()}


# ---- create and upload --------------------------------------------------------------------


def test_create_fills_glance_defaults_and_keeps_extra_properties(
    cloud: Cloud, user1: RequestContext
) -> None:
    image = cloud.image.create(
        user1,
        {
            "name": "img",
            "disk_format": "qcow2",
            "container_format": "bare",
            "tags": ["b", "a", "b"],
            "owner_specified.openstack.md5": "",
            "hw_disk_bus": "scsi",
        },
    )
    assert image.status == "queued"
    assert image.visibility == "shared"
    assert image.owner == user1.project_id
    assert (image.min_disk, image.min_ram, image.protected, image.os_hidden) == (0, 0, False, False)
    assert image.tags == ["a", "b"]
    assert image.properties == {"hw_disk_bus": "scsi", "owner_specified.openstack.md5": ""}
    assert image.size is None and image.checksum is None
    assert cloud.image.get(user1, image.id).properties == image.properties


def test_upload_records_size_and_digests_and_activates(cloud: Cloud, user1: RequestContext) -> None:
    image_id = new_image(cloud, user1)
    image = cloud.image.upload(user1, image_id, chunked(DATA))
    assert image.status == "active"
    assert image.size == len(DATA) == image.virtual_size  # raw: the guest sees the file
    assert image.checksum == hashlib.md5(DATA).hexdigest()
    assert image.os_hash_algo == "sha512"
    assert image.os_hash_value == hashlib.sha512(DATA).hexdigest()
    assert (cloud.settings.image_dir / image_id).read_bytes() == DATA

    _image, data = cloud.image.download(user1, image_id)
    assert data is not None and b"".join(data) == DATA

    with pytest.raises(Conflict, match="from active to saving"):
        cloud.image.upload(user1, image_id, [b"again"])


def test_qcow2_virtual_size_comes_from_its_header(cloud: Cloud, user1: RequestContext) -> None:
    image_id = new_image(cloud, user1, disk_format="qcow2")
    image = cloud.image.upload(user1, image_id, [empty_qcow2()])
    assert image.virtual_size == CIRROS_VIRTUAL_SIZE
    assert image.size == len(empty_qcow2())


def test_a_broken_stream_leaves_the_image_queued_and_no_bytes(
    cloud: Cloud, user1: RequestContext
) -> None:
    image_id = new_image(cloud, user1)

    def broken() -> Iterator[bytes]:
        yield b"x" * 1000
        raise OSError("connection reset")

    with pytest.raises(OSError):
        cloud.image.upload(user1, image_id, broken())
    assert cloud.image.get(user1, image_id).status == "queued"
    assert stored(cloud) == {cirros_id(cloud, user1)}  # only the sample cloud's cirros
    assert cloud.image.upload(user1, image_id, [b"ok"]).status == "active"


def test_upload_over_the_size_cap_is_refused(
    cloud: Cloud, user1: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_service, "IMAGE_SIZE_CAP", 1000)
    image_id = new_image(cloud, user1)
    with pytest.raises(TooLarge):
        cloud.image.upload(user1, image_id, chunked(DATA, 600))
    assert cloud.image.get(user1, image_id).status == "queued"


def test_an_image_deleted_during_upload_keeps_no_bytes(cloud: Cloud, user1: RequestContext) -> None:
    image_id = new_image(cloud, user1)

    def stream() -> Iterator[bytes]:
        yield b"first"
        cloud.image.delete(user1, image_id)
        yield b"second"

    with pytest.raises(Conflict, match="deleted during the upload"):
        cloud.image.upload(user1, image_id, stream())
    assert stored(cloud) == {cirros_id(cloud, user1)}  # only the sample cloud's cirros


def test_upload_needs_both_formats_first(cloud: Cloud, user1: RequestContext) -> None:
    image_id = cloud.image.create(user1, {"name": "bare-minimum"}).id
    with pytest.raises(BadRequest, match="disk_format, container_format"):
        cloud.image.upload(user1, image_id, [b"x"])
    assert cloud.image.get(user1, image_id).status == "queued"


def test_download_of_an_image_without_data_has_no_bytes(
    cloud: Cloud, user1: RequestContext
) -> None:
    image_id = new_image(cloud, user1)
    _image, data = cloud.image.download(user1, image_id)
    assert data is None


# ---- input checks ------------------------------------------------------------------------


BAD_CREATES: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"disk_format": "floppy"}, BadRequest, "Valid values: ami, ari, aki, vhd"),
    ({"container_format": "zip"}, BadRequest, "Valid values: ami, ari, aki, bare"),
    ({"visibility": "secret"}, BadRequest, "visibility"),
    ({"min_disk": -1}, BadRequest, "min_disk"),
    ({"min_ram": "1"}, BadRequest, "min_ram"),
    ({"protected": "yes"}, BadRequest, "protected"),
    ({"tags": "a"}, BadRequest, "tags"),
    ({"id": "not-a-uuid"}, BadRequest, "UUID"),
    ({"hw_qemu_guest_agent": True}, BadRequest, "must be strings"),
    ({"status": "active"}, Forbidden, "read-only"),
    ({"size": 1}, Forbidden, "read-only"),
    ({"visibility": "public"}, Forbidden, "publicize_image"),
    ({"owner": "someone-else"}, Forbidden, "set_owner"),
]


def test_bad_create_input_is_refused(cloud: Cloud, user1: RequestContext) -> None:
    # One test, many cases: each case would otherwise pay for a fresh sample cloud.
    for attrs, error, match in BAD_CREATES:
        with pytest.raises(error, match=match):
            cloud.image.create(user1, {"name": "x", **attrs})
    assert [i.id for i in cloud.image.list(user1).images] == [cirros_id(cloud, user1)]


def test_a_given_id_is_used_once(cloud: Cloud, user1: RequestContext) -> None:
    wanted = "5f0b1a2c-3d4e-4f60-8a7b-9c0d1e2f3a4b"
    assert new_image(cloud, user1, id=wanted) == wanted
    with pytest.raises(Conflict):
        new_image(cloud, user1, id=wanted)


# ---- visibility ----------------------------------------------------------------------------


def test_projects_see_public_community_and_their_own_images_only(
    cloud: Cloud, admin: RequestContext, user1: RequestContext, user2: RequestContext
) -> None:
    private = new_image(cloud, user1, "private", visibility="private")
    shared = new_image(cloud, user1, "shared")
    community = new_image(cloud, user1, "community", visibility="community")
    public = new_image(cloud, admin, "public", visibility="public")

    for hidden in (private, shared):
        with pytest.raises(NotFound, match=f"No image found with ID {hidden}"):
            cloud.image.get(user2, hidden)
    assert cloud.image.get(user2, community).id == community
    assert cloud.image.get(user2, public).id == public

    def names(ctx: RequestContext, visibility: str | None = None) -> set[str | None]:
        page = cloud.image.list(ctx, ImageFilters(visibility=visibility))
        return {i.name for i in page.images}

    # The sample cloud's cirros is public: every project lists it too.
    assert names(user1) == {"private", "shared", "community", "public", "cirros"}
    assert names(user2) == {"public", "cirros"}  # community images are listed only on request
    assert names(user2, "community") == {"community"}
    assert names(user2, "all") == {"community", "public", "cirros"}
    assert names(user2, "private") == set()
    assert names(user2, "public") == {"public", "cirros"}
    assert names(admin) == {"private", "shared", "community", "public", "cirros"}

    with pytest.raises(NotFound):
        cloud.image.delete(user2, private)
    with pytest.raises(NotFound):
        cloud.image.upload(user2, shared, [b"x"])
    with pytest.raises(Forbidden, match="modify_image"):
        cloud.image.update(user2, community, [{"op": "replace", "path": "/name", "value": "x"}])
    with pytest.raises(Forbidden, match="delete_image"):
        cloud.image.delete(user2, public)
    cloud.image.delete(admin, private)  # admins act on every project's images


def test_protected_images_cannot_be_deleted_until_unprotected(
    cloud: Cloud, user1: RequestContext
) -> None:
    image_id = new_image(cloud, user1, protected=True)
    cloud.image.upload(user1, image_id, [b"data"])
    with pytest.raises(Forbidden, match="protected"):
        cloud.image.delete(user1, image_id)
    cloud.image.update(user1, image_id, [{"op": "replace", "path": "/protected", "value": False}])
    cloud.image.delete(user1, image_id)
    with pytest.raises(NotFound):
        cloud.image.get(user1, image_id)
    assert not (cloud.settings.image_dir / image_id).exists()


# ---- patch -----------------------------------------------------------------------------------


def test_json_patch_changes_core_attributes_tags_and_properties(
    cloud: Cloud, user1: RequestContext
) -> None:
    image_id = new_image(cloud, user1, tags=["a"], color="red")
    image = cloud.image.update(
        user1,
        image_id,
        [
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/size_hint", "value": "small"},
            {"op": "remove", "path": "/color"},
            {"op": "add", "path": "/tags/-", "value": "b"},
            {"op": "replace", "path": "/min_ram", "value": 512},
            {"op": "replace", "path": "/visibility", "value": "community"},
        ],
    )
    assert image.name == "renamed"
    assert image.properties == {"size_hint": "small"}
    assert image.tags == ["a", "b"]
    assert (image.min_ram, image.visibility) == (512, "community")
    assert cloud.image.get(user1, image_id).properties == {"size_hint": "small"}

    cloud.image.add_tag(user1, image_id, "a")  # idempotent
    cloud.image.remove_tag(user1, image_id, "a")
    assert cloud.image.get(user1, image_id).tags == ["b"]
    with pytest.raises(NotFound):
        cloud.image.remove_tag(user1, image_id, "a")


BAD_PATCHES: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"op": "remove", "path": "/missing"}, Conflict, "non-existent"),
    ({"op": "replace", "path": "/missing", "value": "x"}, Conflict, "non-existent"),
    ({"op": "replace", "path": "/status", "value": "active"}, Forbidden, "read-only"),
    ({"op": "replace", "path": "/owner", "value": "x"}, Forbidden, "read-only"),
    ({"op": "remove", "path": "/name"}, Forbidden, "cannot be removed"),
    ({"op": "move", "from": "/name", "path": "/x"}, BadRequest, "add, remove or replace"),
    ({"op": "replace", "path": "/visibility", "value": "public"}, Forbidden, "publicize"),
    ({"op": "replace", "path": "/disk_format", "value": "bad"}, BadRequest, "Valid values"),
    ({"op": "replace", "path": "/disk_format", "value": "qcow2"}, Forbidden, "queued"),
    ({"op": "add", "path": "/prop", "value": 1}, BadRequest, "must be strings"),
    ({"op": "add", "path": "/prop/sub", "value": "x"}, BadRequest, "sub-elements"),
    ({"op": "add", "path": "/name"}, BadRequest, "needs a 'value'"),
]


def test_bad_patches_are_refused(cloud: Cloud, user1: RequestContext) -> None:
    image_id = new_image(cloud, user1)
    cloud.image.upload(user1, image_id, [b"data"])
    before = cloud.image.get(user1, image_id)
    for change, error, match in BAD_PATCHES:
        with pytest.raises(error, match=match):
            cloud.image.update(user1, image_id, [change])
    after = cloud.image.get(user1, image_id)
    assert (after.name, after.properties, after.updated_at) == (
        before.name,
        before.properties,
        before.updated_at,
    )


# ---- listing -----------------------------------------------------------------------------


def test_paging_with_markers_covers_every_image_once(cloud: Cloud, user1: RequestContext) -> None:
    # The sample cloud's public cirros is listed with the five created here.
    created = {new_image(cloud, user1, f"img{i}") for i in range(5)} | {cirros_id(cloud, user1)}
    for sort_key, sort_dir in (("created_at", "desc"), ("name", "asc"), ("size", "desc")):
        seen: list[str] = []
        marker = None
        while True:
            page = cloud.image.list(
                user1, limit=2, marker=marker, sort_key=sort_key, sort_dir=sort_dir
            )
            seen += [i.id for i in page.images]
            if page.next_marker is None:
                break
            marker = page.next_marker
        assert len(seen) == len(created) == 6 and set(seen) == created
    names = [i.name or "" for i in cloud.image.list(user1, sort_key="name", sort_dir="asc").images]
    assert names == sorted(names)
    with pytest.raises(BadRequest, match="marker not found"):
        cloud.image.list(user1, marker="nope")
    with pytest.raises(BadRequest, match="sort key"):
        cloud.image.list(user1, sort_key="checksum")


def test_list_filters(cloud: Cloud, user1: RequestContext) -> None:
    a = new_image(cloud, user1, "a", tags=["gold"])
    b = new_image(cloud, user1, "b", os_hidden=True)
    c = new_image(cloud, user1, "c", disk_format="qcow2")
    cloud.image.upload(user1, c, [b"x"])

    def ids(**kwargs: object) -> set[str]:
        return {i.id for i in cloud.image.list(user1, ImageFilters(**kwargs)).images}  # type: ignore[arg-type]

    cirros = cirros_id(cloud, user1)  # the sample cloud's: public, active, qcow2, 5.5 KiB

    assert ids() == {a, c, cirros}  # hidden images only on request
    assert ids(os_hidden=True) == {b}
    assert ids(os_hidden=None) == {a, b, c, cirros}
    assert ids(names=["a", "c"]) == {a, c}
    assert ids(ids=[a, b], os_hidden=None) == {a, b}
    assert ids(statuses=["active"]) == {c, cirros}
    assert ids(statuses=["queued"]) == {a}
    assert ids(tags=["gold"]) == {a}
    assert ids(disk_formats=["qcow2"]) == {c, cirros}
    assert ids(disk_formats=["raw"]) == {a}
    assert ids(size_min=1) == {c, cirros}
    assert ids(size_min=2) == {cirros}
    assert ids(owner=user1.project_id, os_hidden=None) == {a, b, c}


# ---- seeding and the store -------------------------------------------------------------------


def test_seed_cirros_is_public_active_and_idempotent(
    cloud: Cloud, admin: RequestContext, user2: RequestContext
) -> None:
    first = seed_cirros(cloud)
    again = seed_cirros(cloud)
    assert first.id == again.id
    seen = cloud.image.get(user2, first.id)
    assert (seen.name, seen.status, seen.visibility) == ("cirros", "active", "public")
    assert (seen.disk_format, seen.container_format) == ("qcow2", "bare")
    assert seen.owner == admin.project_id
    assert seen.checksum == hashlib.md5(empty_qcow2()).hexdigest()
    assert 1024 < (seen.size or 0) < 16 * 1024


def test_filesystem_store_round_trip_and_cleanup(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "images")
    stored = store.write("abc", chunked(DATA))
    assert stored == (len(DATA), hashlib.md5(DATA).hexdigest(), hashlib.sha512(DATA).hexdigest())
    assert b"".join(store.open("abc")) == DATA
    store.delete("abc")
    store.delete("abc")  # idempotent
    with pytest.raises(FileNotFoundError):
        store.open("abc")

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("gone")

    with pytest.raises(OSError, match="gone"):
        store.write("def", broken())
    assert list((tmp_path / "images").iterdir()) == []
    for bad in ("../etc", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            store.write(bad, [b"x"])
