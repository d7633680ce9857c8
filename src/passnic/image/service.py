"""Image rules: who sees which image, what an image may say about itself, and the life of its
bytes (queued -> saving -> active).

Glance semantics are kept where a client can observe them: the flat attribute set with free-form
string properties, visibility (public needs admin; another project's private image is "not
found"), JSON-patch updates, protected images refusing deletion, and a second upload being a
conflict. The bytes go through an ``ImageStore``; the database transaction is never held open
while bytes stream, so a slow upload blocks no one.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import jsonpointer
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from passnic import policy
from passnic.config import Settings
from passnic.context import RequestContext
from passnic.db import Database, utcnow
from passnic.errors import BadRequest, Conflict, Forbidden, NotFound, PassnicError
from passnic.image.models import Image, ImageMember, ImageProperty, ImageTag
from passnic.image.store import FilesystemStore, ImageStore, StoredData

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
STATUSES = ("queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated")

# Attributes the server computes; a client that sends them is refused, as Glance does (403).
READ_ONLY = frozenset(
    {
        "status",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "self",
        "file",
        "schema",
        "direct_url",
        "location",
        "locations",
        "deleted",
        "deleted_at",
        "stores",
        "properties",
    }
)
# Core attributes a client may set; anything else that is not read-only is an extra property.
SETTABLE = (
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "tags",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
)
MAX_INT32 = 2**31 - 1
MAX_TAGS = 128  # Glance's image_tag_quota
MAX_PROPERTIES = 128  # Glance's image_property_quota
IMAGE_SIZE_CAP = 1 << 40  # Glance's image_size_cap: 1 TiB
DEFAULT_PAGE = 25  # Glance's limit_param_default; clients follow `next`
MAX_PAGE = 1000  # Glance's api_limit_max

#: the properties that tell a compute host how to boot an image directly (UEC, as Nova)
BOOT_PROPERTIES = ("kernel_id", "ramdisk_id", "os_command_line")

policy.register(
    {
        "image:get_images": "any",
        "image:get_image": "any",
        "image:add_image": "member",
        "image:modify_image": "owner",
        "image:delete_image": "owner",
        "image:upload_image": "owner",
        "image:download_image": "any",
        "image:publicize_image": "admin",
        "image:communitize_image": "member",
        "image:set_owner": "admin",
        # sharing: the owner adds and removes members; each member answers for itself
        "image:add_member": "owner",
        "image:delete_member": "owner",
        "image:deactivate": "owner",
        "image:reactivate": "owner",
    }
)

MEMBER_STATUSES = ("pending", "accepted", "rejected")
RESERVED_PREFIX = "os_glance"
"""Glance keeps properties with this prefix for itself (import and store bookkeeping)."""


class TooLarge(PassnicError):
    """Over a size or count limit (Glance answers these with 413)."""

    status = 413
    kind = "RequestEntityTooLarge"


@dataclass(frozen=True)
class ImageFilters:
    """List filters. Each list means "any of" (Glance's ``in:`` operator)."""

    ids: Sequence[str] | None = None
    names: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    disk_formats: Sequence[str] | None = None
    container_formats: Sequence[str] | None = None
    visibility: str | None = None  # one of VISIBILITIES or "all"
    owner: str | None = None
    tags: Sequence[str] = ()  # all of
    protected: bool | None = None
    os_hidden: bool | None = False  # hidden images are left out unless asked for
    size_min: int | None = None
    size_max: int | None = None


@dataclass(frozen=True)
class Page:
    images: list[Image]
    next_marker: str | None = None


@dataclass
class _Upload:
    """Counts and caps a stream of chunks and keeps its first bytes for format inspection."""

    chunks: Iterable[bytes]
    cap: int
    head: bytearray = field(default_factory=bytearray)
    size: int = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.size += len(chunk)
            if self.size > self.cap:
                raise TooLarge(f"Image exceeds the storage quota: the limit is {self.cap} bytes.")
            if len(self.head) < 512:
                self.head += chunk[: 512 - len(self.head)]
            yield bytes(chunk)


SORT_KEYS: dict[str, ColumnElement[Any] | InstrumentedAttribute[Any]] = {
    "created_at": Image.created_at,
    "updated_at": func.coalesce(Image.updated_at, Image.created_at),
    "name": func.coalesce(Image.name, ""),
    "status": Image.status,
    "size": func.coalesce(Image.size, -1),
    "id": Image.id,
    "visibility": Image.visibility,
    "disk_format": func.coalesce(Image.disk_format, ""),
    "container_format": func.coalesce(Image.container_format, ""),
    "min_disk": Image.min_disk,
    "min_ram": Image.min_ram,
}


class ImageService:
    def __init__(self, db: Database, settings: Settings, store: ImageStore | None = None) -> None:
        self.db = db
        self.settings = settings
        self.store: ImageStore = store or FilesystemStore(settings.image_dir)

    # ---- metadata ----------------------------------------------------------------------

    def create(self, ctx: RequestContext, attrs: Mapping[str, Any]) -> Image:
        """A queued image owned by the caller's project, from Glance's flat create body."""
        policy.enforce(ctx, "image:add_image")
        attrs = dict(attrs)
        owner = attrs.pop("owner", None)
        if owner is not None and owner != ctx.project_id:
            policy.enforce(ctx, "image:set_owner")
            _check_str(owner, "owner", 64)
        return self._create(ctx, attrs, owner or ctx.project_id)

    def get(self, ctx: RequestContext, image_id: str) -> Image:
        policy.enforce(ctx, "image:get_image")
        with self.db.transaction() as s:
            return self._visible(s, ctx, image_id)

    def list(
        self,
        ctx: RequestContext,
        filters: ImageFilters | None = None,
        *,
        limit: int | None = None,
        marker: str | None = None,
        sort_key: str = "created_at",
        sort_dir: str = "desc",
    ) -> Page:
        """One page, newest first by default; ``next_marker`` is set when more follow."""
        policy.enforce(ctx, "image:get_images")
        f = filters or ImageFilters()
        limit = DEFAULT_PAGE if limit is None else limit
        if limit < 0:
            raise BadRequest("limit param must be positive")
        limit = min(limit, MAX_PAGE)
        if sort_key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key: {sort_key}. Valid keys: {', '.join(SORT_KEYS)}")
        if sort_dir not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {sort_dir}. Valid: asc, desc")
        key = SORT_KEYS[sort_key]
        with self.db.transaction() as s:
            query = select(Image).where(self._listable(ctx, f.visibility), *_conditions(f))
            if marker is not None:
                mark = s.execute(
                    select(key, Image.id).where(Image.id == marker, _visible_clause(ctx))
                ).first()
                if mark is None:
                    raise BadRequest(f"marker not found: {marker}")
                after = tuple_(key, Image.id)
                bound = tuple_(mark[0], mark[1], types=[key.type, Image.id.type])
                query = query.where(after > bound if sort_dir == "asc" else after < bound)
            order = (
                (key.asc(), Image.id.asc()) if sort_dir == "asc" else (key.desc(), Image.id.desc())
            )
            rows = list(s.scalars(query.order_by(*order).limit(limit + 1)))
        if len(rows) > limit:
            rows = rows[:limit]
            return Page(rows, rows[-1].id if rows else None)
        return Page(rows)

    def update(self, ctx: RequestContext, image_id: str, changes: Sequence[Any]) -> Image:
        """Apply a JSON patch (Glance's openstack-images-v2.1-json-patch: add, remove and
        replace on core attributes, ``/tags`` and extra properties)."""
        ops = _check_patch(changes)
        with self.db.transaction() as s:
            image = self._visible(s, ctx, image_id)
            policy.enforce(ctx, "image:modify_image", image.owner)
            before = _patch_doc(image)
            try:
                after = jsonpatch.apply_patch(before, ops)
            except jsonpatch.JsonPatchConflict as exc:
                raise Conflict(f"Unable to apply the patch: {exc}") from None
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                raise BadRequest(f"Invalid JSON patch: {exc}") from None
            core, props = _split(after)
            values = _validated(core)
            for fmt in ("disk_format", "container_format"):
                if values[fmt] != before[fmt] and image.status != "queued":
                    raise Forbidden(f"Attribute {fmt} can be only replaced for a queued image.")
            if values["visibility"] != image.visibility:
                self._check_visibility(ctx, values["visibility"])
            for name in SETTABLE:
                if name != "tags" and getattr(image, name) != values[name]:
                    setattr(image, name, values[name])
            _set_tags(image, values["tags"])
            _set_properties(image, props)
            image.updated_at = utcnow()
            return image

    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Glance's PUT /images/{id}/tags/{tag}: idempotent."""
        return self.update(ctx, image_id, [{"op": "add", "path": "/tags/-", "value": tag}])

    def remove_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        with self.db.transaction() as s:
            image = self._visible(s, ctx, image_id)
            if tag not in image.tags:
                raise NotFound(f"Tag {tag} not found on image {image_id}.")
        tags = [t for t in image.tags if t != tag]
        return self.update(ctx, image_id, [{"op": "replace", "path": "/tags", "value": tags}])

    def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Remove the image and then its bytes. An upload still streaming notices the image is
        gone when it finishes and removes what it wrote."""
        with self.db.transaction() as s:
            image = self._visible(s, ctx, image_id)
            policy.enforce(ctx, "image:delete_image", image.owner)
            if image.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            s.delete(image)
        self.store.delete(image_id)

    # ---- deactivation ------------------------------------------------------------------

    def set_active(self, ctx: RequestContext, image_id: str, active: bool) -> None:
        """Deactivate (no more downloads or boots, e.g. while an image is checked) or
        reactivate an image; repeating either is harmless, as in Glance."""
        with self.db.transaction() as s:
            image = self._visible(s, ctx, image_id)
            action = "reactivate" if active else "deactivate"
            policy.enforce(ctx, f"image:{action}", image.owner)
            allowed = ("deactivated", "active")
            if image.status not in allowed:
                raise Forbidden(f"Not allowed to {action} image in status '{image.status}'")
            image.status = "active" if active else "deactivated"
            image.updated_at = utcnow()

    # ---- members -----------------------------------------------------------------------

    def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        _check_str(member_id, "member", 64)
        with self.db.transaction() as s:
            image = self._visible(s, ctx, image_id)
            policy.enforce(ctx, "image:add_member", image.owner)
            if image.visibility != "shared":
                raise Forbidden(
                    f"Image {image_id} with visibility {image.visibility} cannot be shared: "
                    "only images with visibility 'shared' have members."
                )
            if s.get(ImageMember, (image_id, member_id)) is not None:
                raise Conflict(f"Member {member_id} already exists for image {image_id}")
            member = ImageMember(image_id=image_id, member_id=member_id, status="pending")
            s.add(member)
            s.flush()
            return member

    def list_members(self, ctx: RequestContext, image_id: str) -> Sequence[ImageMember]:
        """The owner sees every member; a member only itself."""
        with self.db.transaction() as s:
            image = self._visible(s, ctx, image_id)
            query = select(ImageMember).where(ImageMember.image_id == image_id)
            if not ctx.owns(image.owner):
                query = query.where(ImageMember.member_id == ctx.project_id)
            return list(s.scalars(query.order_by(ImageMember.created_at, ImageMember.member_id)))

    def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> ImageMember:
        with self.db.transaction() as s:
            return self._member(s, ctx, image_id, member_id)

    def set_member_status(
        self, ctx: RequestContext, image_id: str, member_id: str, status: Any
    ) -> ImageMember:
        """Only the member project itself accepts or rejects a share (not the owner)."""
        if status not in MEMBER_STATUSES:
            raise BadRequest(
                f"Invalid status {status!r}: valid values are {', '.join(MEMBER_STATUSES)}."
            )
        with self.db.transaction() as s:
            member = self._member(s, ctx, image_id, member_id)
            if member.member_id != ctx.project_id:
                raise Forbidden("Only the member project may change the membership status.")
            member.status = status
            member.updated_at = utcnow()
            s.flush()
            return member

    def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        with self.db.transaction() as s:
            member = self._member(s, ctx, image_id, member_id)
            image = s.get(Image, image_id)
            policy.enforce(ctx, "image:delete_member", image.owner if image else None)
            s.delete(member)

    def _member(
        self, s: Session, ctx: RequestContext, image_id: str, member_id: str
    ) -> ImageMember:
        image = self._visible(s, ctx, image_id)
        member = s.get(ImageMember, (image_id, member_id))
        if member is None or not (ctx.owns(image.owner) or member_id == ctx.project_id):
            raise NotFound(f"Member {member_id} not found for image {image_id}")
        return member

    # ---- data --------------------------------------------------------------------------

    def upload(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes]) -> Image:
        """Stream the bytes to the store: queued -> saving -> active. A failed stream puts the
        image back to queued so the upload can be retried."""
        with self.db.transaction() as s:
            claimed = _claim(s, image_id)
            image = self._visible(s, ctx, image_id)
            policy.enforce(ctx, "image:upload_image", image.owner)
            if not claimed:
                raise Conflict(
                    f"Image status transition from {image.status} to saving is not allowed"
                )
            if image.disk_format is None or image.container_format is None:
                raise BadRequest(
                    "Properties disk_format, container_format must be set prior to saving data."
                )
            disk_format = image.disk_format
        return self._store(image_id, disk_format, chunks)

    def download(self, ctx: RequestContext, image_id: str) -> tuple[Image, Iterator[bytes] | None]:
        """The image and its bytes; None when there are no bytes yet (Glance answers 204)."""
        policy.enforce(ctx, "image:download_image")
        with self.db.transaction() as s:
            image = self._visible(s, ctx, image_id)
        if image.status == "deactivated" and not ctx.is_admin:
            raise Forbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        if image.status != "active":
            return image, None
        try:
            return image, self.store.open(image_id)
        except FileNotFoundError:
            raise NotFound(f"Image {image_id} has no data in the image store.") from None

    # ---- bootstrap ---------------------------------------------------------------------

    def boot_records(self, image_id: str) -> tuple[dict[str, Any], ...]:
        """What a compute host needs to fetch and verify an image it boots (any visibility:
        the server was allowed it at boot): its record and, for a UEC image, its kernel's
        and ramdisk's (``kernel_id``/``ramdisk_id`` properties). Missing images are left out."""
        records: tuple[dict[str, Any], ...] = ()
        with self.db.transaction() as s:
            wanted = [image_id]
            while wanted:
                image = s.get(Image, wanted.pop(0))
                if image is None or any(r["id"] == image.id for r in records):
                    continue
                props = image.properties
                records += (
                    {
                        "id": image.id,
                        "disk_format": image.disk_format,
                        "checksum": image.checksum,
                        "os_hash_algo": image.os_hash_algo,
                        "os_hash_value": image.os_hash_value,
                        **{k: props[k] for k in BOOT_PROPERTIES if props.get(k)},
                    },
                )
                if len(records) == 1:
                    wanted += [props[k] for k in ("kernel_id", "ramdisk_id") if props.get(k)]
        return records

    def seed(
        self,
        name: str,
        data: bytes | Iterable[bytes],
        owner: str | None,
        *,
        visibility: str = "public",
        disk_format: str = "qcow2",
        container_format: str = "bare",
        properties: Mapping[str, str] | None = None,
    ) -> Image:
        """An active image with the given bytes, no caller needed (sample cloud); returns the
        existing image when one of that name and visibility is there already."""
        with self.db.transaction() as s:
            existing = s.scalar(
                select(Image).where(Image.name == name, Image.visibility == visibility)
            )
            if existing is not None:
                return existing
        attrs: dict[str, Any] = {
            "name": name,
            "visibility": visibility,
            "disk_format": disk_format,
            "container_format": container_format,
            **(properties or {}),
        }
        image = self._create(None, attrs, owner)
        with self.db.transaction() as s:
            _claim(s, image.id)
        return self._store(image.id, disk_format, [data] if isinstance(data, bytes) else data)

    # ---- internals ---------------------------------------------------------------------

    def _create(
        self, ctx: RequestContext | None, attrs: dict[str, Any], owner: str | None
    ) -> Image:
        image_id = attrs.pop("id", None)
        if image_id is not None:
            image_id = _check_uuid(image_id)
        core, props = _split(attrs)
        values = _validated(core)
        if ctx is not None:
            self._check_visibility(ctx, values["visibility"])
        with self.db.transaction() as s:
            if image_id is not None and s.get(Image, image_id) is not None:
                raise Conflict(f"Image with identifier {image_id} already exists!")
            image = Image(
                id=image_id or str(uuid.uuid4()),
                owner=owner,
                status="queued",
                **{k: v for k, v in values.items() if k != "tags"},
            )
            image.updated_at = image.created_at = utcnow()
            _set_tags(image, values["tags"])
            _set_properties(image, props)
            s.add(image)
            return image

    def _store(self, image_id: str, disk_format: str | None, chunks: Iterable[bytes]) -> Image:
        """Write the bytes of an image already claimed (status saving), then mark it active."""
        upload = _Upload(chunks, IMAGE_SIZE_CAP)
        try:
            stored = self.store.write(image_id, upload)
        except BaseException:
            with self.db.transaction() as s:
                s.execute(
                    update(Image)
                    .where(Image.id == image_id, Image.status == "saving")
                    .values(status="queued", updated_at=utcnow())
                )
            raise
        with self.db.transaction() as s:
            done = s.execute(
                update(Image)
                .where(Image.id == image_id, Image.status == "saving")
                .values(
                    status="active",
                    size=stored.size,
                    checksum=stored.md5,
                    os_hash_algo="sha512",
                    os_hash_value=stored.sha512,
                    virtual_size=_virtual_size(disk_format, bytes(upload.head), stored),
                    updated_at=utcnow(),
                )
            )
            image = s.get(Image, image_id) if getattr(done, "rowcount", 0) == 1 else None
        if image is None:
            self.store.delete(image_id)
            raise Conflict(f"Image {image_id} was deleted during the upload.")
        return image

    def _visible(self, s: Session, ctx: RequestContext, image_id: str) -> Image:
        """The image if the caller may see it; otherwise "not found", so that other projects'
        private images cannot even be probed for."""
        image = s.get(Image, image_id)
        if image is None or not (
            _can_see(ctx, image)
            or (
                image.visibility == "shared"
                and s.get(ImageMember, (image.id, ctx.project_id)) is not None
            )
        ):
            raise NotFound(f"No image found with ID {image_id}")
        return image

    def _listable(self, ctx: RequestContext, visibility: str | None) -> ColumnElement[bool]:
        """Glance's listing: by default public images and the caller's own (community images
        only when asked for with ?visibility=community); admins list everything."""
        if visibility is not None and visibility != "all" and visibility not in VISIBILITIES:
            raise BadRequest(
                f"Invalid visibility value: {visibility}. "
                f"Valid values: {', '.join((*VISIBILITIES, 'all'))}"
            )
        own = true() if ctx.is_admin else Image.owner == ctx.project_id
        shared_with_me = and_(Image.visibility == "shared", _member_of(ctx, "accepted"))
        if visibility is None:
            return (
                true() if ctx.is_admin else or_(Image.visibility == "public", own, shared_with_me)
            )
        if visibility == "all":
            return _visible_clause(ctx)
        if visibility in ("public", "community"):
            return Image.visibility == visibility
        if visibility == "shared":
            return or_(and_(Image.visibility == "shared", own), shared_with_me)
        return and_(Image.visibility == visibility, own)

    def _check_visibility(self, ctx: RequestContext, visibility: str) -> None:
        if visibility == "public":
            policy.enforce(ctx, "image:publicize_image")
        elif visibility == "community":
            policy.enforce(ctx, "image:communitize_image")


# ---- helpers -----------------------------------------------------------------------------


#: a compute host's agent reads (never changes) any image, to boot a server of any project
#: from it, as Nova's service user does in Glance
READER_ROLE = "agent"


def _can_see(ctx: RequestContext, image: Image) -> bool:
    return (
        ctx.is_admin
        or image.visibility in ("public", "community")
        or ctx.owns(image.owner)
        or READER_ROLE in ctx.roles
    )


def _visible_clause(ctx: RequestContext) -> ColumnElement[bool]:
    if ctx.is_admin:
        return true()
    return or_(
        Image.visibility.in_(("public", "community")),
        Image.owner == ctx.project_id,
        and_(Image.visibility == "shared", _member_of(ctx)),
    )


def _member_of(ctx: RequestContext, status: str | None = None) -> ColumnElement[bool]:
    """The image is shared with the caller's project (with that membership status)."""
    rows = select(ImageMember.image_id).where(ImageMember.member_id == ctx.project_id)
    if status is not None:
        rows = rows.where(ImageMember.status == status)
    return Image.id.in_(rows)


def _conditions(f: ImageFilters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for column, values in (
        (Image.id, f.ids),
        (Image.name, f.names),
        (Image.status, f.statuses),
        (Image.disk_format, f.disk_formats),
        (Image.container_format, f.container_formats),
    ):
        if values is not None:
            conds.append(column.in_(list(values)) if values else false())
    if f.owner is not None:
        conds.append(Image.owner == f.owner)
    if f.protected is not None:
        conds.append(Image.protected == f.protected)
    if f.os_hidden is not None:
        conds.append(Image.os_hidden == f.os_hidden)
    if f.size_min is not None:
        conds.append(Image.size >= f.size_min)
    if f.size_max is not None:
        conds.append(Image.size <= f.size_max)
    conds.extend(
        Image.id.in_(select(ImageTag.image_id).where(ImageTag.value == tag)) for tag in f.tags
    )
    return conds


def _claim(s: Session, image_id: str) -> bool:
    """queued -> saving as one conditional UPDATE, so two concurrent uploads cannot both win
    (and SQLite takes its write lock before reading anything)."""
    result = s.execute(
        update(Image)
        .where(Image.id == image_id, Image.status == "queued")
        .values(status="saving", updated_at=utcnow())
    )
    return getattr(result, "rowcount", 0) == 1


def _virtual_size(disk_format: str | None, head: bytes, stored: StoredData) -> int | None:
    """What the guest sees: the qcow2 header's size field; a raw or iso image's own size."""
    if disk_format == "qcow2" and len(head) >= 32 and head[:4] == b"QFI\xfb":
        size: int = struct.unpack(">Q", head[24:32])[0]
        return size
    if disk_format in ("raw", "iso"):
        return stored.size
    return None


def _split(attrs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Core attributes and extra properties (which must be strings, as Glance's schema says)."""
    core = {k: v for k, v in attrs.items() if k in SETTABLE}
    props: dict[str, str] = {}
    for key, value in attrs.items():
        if key in SETTABLE:
            continue
        if key in READ_ONLY or key in ("id", "owner"):
            raise Forbidden(f"Attribute '{key}' is read-only.")
        if key.startswith(RESERVED_PREFIX):
            raise Forbidden(f"Attribute '{key}' is reserved.")
        if not key or len(key) > 255:
            raise BadRequest(f"Invalid property name {key!r}: 1 to 255 characters are allowed.")
        if not isinstance(value, str):
            raise BadRequest(
                f"Invalid value for property '{key}': extra properties must be strings."
            )
        props[key] = value
    if len(props) > MAX_PROPERTIES:
        raise TooLarge(
            f"Maximum number of properties exceeded: attempted {len(props)}, "
            f"maximum {MAX_PROPERTIES}."
        )
    return core, props


def _validated(core: Mapping[str, Any]) -> dict[str, Any]:
    """Every settable core attribute, type-checked, with Glance's defaults filled in."""
    name = core.get("name")
    if name is not None:
        _check_str(name, "name", 255)
    visibility = core.get("visibility", "shared")
    if visibility not in VISIBILITIES:
        raise BadRequest(
            f"Invalid value {visibility!r} for visibility. Valid values: {', '.join(VISIBILITIES)}"
        )
    disk_format = core.get("disk_format")
    if disk_format is not None and disk_format not in DISK_FORMATS:
        raise BadRequest(
            f"Invalid value {disk_format!r} for disk_format. "
            f"Valid values: {', '.join(DISK_FORMATS)}"
        )
    container_format = core.get("container_format")
    if container_format is not None and container_format not in CONTAINER_FORMATS:
        raise BadRequest(
            f"Invalid value {container_format!r} for container_format. "
            f"Valid values: {', '.join(CONTAINER_FORMATS)}"
        )
    return {
        "name": name,
        "visibility": visibility,
        "disk_format": disk_format,
        "container_format": container_format,
        "protected": _check_bool(core.get("protected", False), "protected"),
        "os_hidden": _check_bool(core.get("os_hidden", False), "os_hidden"),
        "min_disk": _check_count(core.get("min_disk", 0), "min_disk"),
        "min_ram": _check_count(core.get("min_ram", 0), "min_ram"),
        "tags": _check_tags(core.get("tags", [])),
    }


def _check_str(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise BadRequest(f"Invalid value for {what}: a string of at most {max_len} characters.")
    return value


def _check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"Invalid value for {what}: true or false is expected.")
    return value


def _check_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT32:
        raise BadRequest(f"Invalid value for {what}: an integer from 0 to {MAX_INT32}.")
    return value


def _check_tags(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest("Invalid value for tags: a list of strings is expected.")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or not tag or len(tag) > 255:
            raise BadRequest(f"Invalid tag {tag!r}: a string of 1 to 255 characters.")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise TooLarge(
            f"Maximum number of tags exceeded: attempted {len(tags)}, maximum {MAX_TAGS}."
        )
    return tags


def _check_uuid(value: Any) -> str:
    try:
        if isinstance(value, str):
            return str(uuid.UUID(value))
    except ValueError:
        pass
    raise BadRequest(f"Invalid value {value!r} for id: a UUID is expected.")


def _check_patch(changes: Any) -> list[dict[str, Any]]:
    """Glance accepts add, remove and replace; the path's first segment must be something a
    client may set (a core attribute, /tags/<index>, or an extra property)."""
    if not isinstance(changes, list):
        raise BadRequest("A JSON patch must be a list of operations.")
    ops: list[dict[str, Any]] = []
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("path"), str):
            raise BadRequest("Each patch operation needs an 'op' and a 'path'.")
        op, path = change.get("op"), change["path"]
        if op not in ("add", "remove", "replace"):
            raise BadRequest(f"Invalid patch operation {op!r}: use add, remove or replace.")
        if op != "remove" and "value" not in change:
            raise BadRequest(f"Patch operation {op} on {path} needs a 'value'.")
        try:
            parts = jsonpointer.JsonPointer(path).parts
        except jsonpointer.JsonPointerException as exc:
            raise BadRequest(f"Invalid JSON pointer {path!r}: {exc}") from None
        if not parts or not parts[0]:
            raise BadRequest(f"Invalid path {path!r}: name an attribute.")
        root = parts[0]
        if root in READ_ONLY or root in ("id", "owner"):
            raise Forbidden(f"Attribute '{root}' is read-only.")
        if len(parts) > 1 and root != "tags":
            raise BadRequest(f"Invalid path {path!r}: properties have no sub-elements.")
        if op == "remove" and root in SETTABLE and len(parts) == 1:
            raise Forbidden(f"Attribute '{root}' is a core attribute and cannot be removed.")
        ops.append({k: change[k] for k in ("op", "path", "value") if k in change})
    return ops


def _patch_doc(image: Image) -> dict[str, Any]:
    doc: dict[str, Any] = dict(image.properties)
    doc.update({name: getattr(image, name) for name in SETTABLE if name != "tags"})
    doc["tags"] = image.tags
    return doc


def _set_tags(image: Image, tags: list[str]) -> None:
    current = {t.value: t for t in image.tag_rows}
    image.tag_rows = [current.get(t) or ImageTag(value=t) for t in sorted(tags)]


def _set_properties(image: Image, props: Mapping[str, str]) -> None:
    current = {p.name: p for p in image.property_rows}
    rows = []
    for name in sorted(props):
        row = current.get(name) or ImageProperty(name=name, value=props[name])
        row.value = props[name]
        rows.append(row)
    image.property_rows = rows
