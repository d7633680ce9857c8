"""Glance v2 wire format under /image.

The version document's self href (``<base>/image/v2/``) is what openstacksdk uses as the base for
every image call, so it must be absolute and reachable. Image bodies are flat JSON (no wrapper
key) with extra properties at top level, and links are relative (``/v2/images/<id>``) as Glance
writes them. Errors are JSON (Glance itself answers HTML, which the CLI prints mangled).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from passnic.db import isotime
from passnic.errors import BadRequest, NotFound, PassnicError
from passnic.image.bodies import ImageCreate, MemberCreate, MemberUpdate, PatchOperation
from passnic.image.models import Image, ImageMember
from passnic.image.service import (
    CONTAINER_FORMATS,
    DISK_FORMATS,
    IMAGE_SIZE_CAP,
    STATUSES,
    VISIBILITIES,
    ImageFilters,
    TooLarge,
)
from passnic.web import (
    TITLES,
    CloudDep,
    ContextDep,
    base_url,
    json_body,
    register_fault_format,
    register_streamed_upload,
    streamed_body,
)

router = APIRouter(prefix="/image")
CURRENT = "v2.17"
BIGINT_MAX = 2**63 - 1
"""The largest size or count a database column holds."""
PATCH_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
    "application/json-patch+json",
)


class UnsupportedMediaType(PassnicError):
    status = 415
    kind = "UnsupportedMediaType"


def _glance_fault(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "title": TITLES.get(status, kind), "message": message}}


register_fault_format("/image", _glance_fault)
register_streamed_upload("PUT", r"/image/v2/images/[^/]+/file")


# ---- versions ----------------------------------------------------------------------------


def _versions(request: Request) -> dict[str, Any]:
    href = f"{base_url(request)}/image/v2/"
    minors = range(int(CURRENT.split(".")[1]), -1, -1)
    return {
        "versions": [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if f"v2.{minor}" == CURRENT else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in minors
        ]
    }


@router.get("")
@router.get("/")
def versions(request: Request) -> JSONResponse:
    """No token needed: clients discover the image base URL here on every invocation."""
    return JSONResponse(_versions(request), status_code=300)


@router.get("/v2")
@router.get("/v2/")
def version_v2(request: Request) -> dict[str, Any]:
    return _versions(request)


# ---- rendering ---------------------------------------------------------------------------


def _image(image: Image) -> dict[str, Any]:
    body: dict[str, Any] = dict(image.properties)  # extras first: core keys always win
    body.update(
        {
            "id": image.id,
            "name": image.name,
            "status": image.status,
            "visibility": image.visibility,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "checksum": image.checksum,
            "os_hash_algo": image.os_hash_algo,
            "os_hash_value": image.os_hash_value,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "protected": image.protected,
            "os_hidden": image.os_hidden,
            "owner": image.owner,
            "tags": image.tags,
            "created_at": isotime(image.created_at),
            "updated_at": isotime(image.updated_at or image.created_at),
            "self": f"/v2/images/{image.id}",
            "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image",
        }
    )
    return body


# ---- query parsing -----------------------------------------------------------------------


def _any_of(value: str | None) -> list[str] | None:
    """Glance's ``in:a,b`` operator; a plain value is a list of one."""
    if value is None:
        return None
    if value.startswith("in:"):
        return [v.strip().strip('"') for v in value[3:].split(",") if v.strip()]
    return [value]


def _bool(value: str | None, what: str) -> bool | None:
    """Clients send Python literals (True, False, None); None means "no filter"."""
    if value is None or value.lower() == "none":
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"Invalid value {value!r} for {what}: true or false is expected.")


def _int(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"Invalid value {value!r} for {what}: an integer is expected.") from None
    if number < 0:
        raise BadRequest(f"Invalid value {value!r} for {what}: must not be negative.")
    if number > BIGINT_MAX:
        raise BadRequest(f"Invalid value {value!r} for {what}: must be at most {BIGINT_MAX}.")
    return number


def _filters(request: Request) -> ImageFilters:
    q = request.query_params
    hidden = q.get("os_hidden")
    return ImageFilters(
        ids=_any_of(q.get("id")),
        names=_any_of(q.get("name")),
        statuses=_any_of(q.get("status")),
        disk_formats=_any_of(q.get("disk_format")),
        container_formats=_any_of(q.get("container_format")),
        visibility=q.get("visibility"),
        owner=q.get("owner"),
        tags=tuple(q.getlist("tag")),
        protected=_bool(q.get("protected"), "protected"),
        os_hidden=False if hidden is None else _bool(hidden, "os_hidden"),
        size_min=_int(q.get("size_min"), "size_min"),
        size_max=_int(q.get("size_max"), "size_max"),
    )


def _sort(request: Request) -> tuple[str, str]:
    """``sort_key``/``sort_dir``, or the newer ``sort=key:dir`` (first key only)."""
    q = request.query_params
    if q.get("sort"):
        key, _, direction = q["sort"].split(",")[0].partition(":")
        return key.strip(), (direction.strip() or "desc")
    return q.get("sort_key", "created_at"), q.get("sort_dir", "desc")


def _next_link(request: Request, marker: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    return "/v2/images?" + urlencode([*params, ("marker", marker)])


# ---- images ------------------------------------------------------------------------------


@router.get("/v2/images")
def list_images(request: Request, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    sort_key, sort_dir = _sort(request)
    page = cloud.image.list(
        ctx,
        _filters(request),
        limit=_int(request.query_params.get("limit"), "limit"),
        marker=request.query_params.get("marker"),
        sort_key=sort_key,
        sort_dir=sort_dir,
    )
    body: dict[str, Any] = {
        "images": [_image(i) for i in page.images],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if page.next_marker is not None:
        body["next"] = _next_link(request, page.next_marker)
    return body


@router.post("/v2/images", status_code=201)
async def create_image(
    request: Request, cloud: CloudDep, ctx: ContextDep, body: ImageCreate
) -> JSONResponse:
    image = await anyio.to_thread.run_sync(cloud.image.create, ctx, body.attributes())
    location = f"{base_url(request)}/image/v2/images/{image.id}"
    return JSONResponse(_image(image), status_code=201, headers={"Location": location})


@router.api_route("/v2/images/", methods=["GET", "POST"])
def images_with_slash(request: Request) -> None:
    """Glance answers 404 here; a redirect to /v2/images would make a POST a GET."""
    raise NotFound(f"The resource could not be found: {request.url.path}")


@router.get("/v2/images/{image_id}")
def get_image(image_id: str, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    return _image(cloud.image.get(ctx, image_id))


_PATCH = TypeAdapter(list[PatchOperation])
_PATCH_SCHEMA = {"type": "array", "items": PatchOperation.model_json_schema()}


@router.patch(
    "/v2/images/{image_id}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media_type: {"schema": _PATCH_SCHEMA} for media_type in PATCH_TYPES},
        }
    },
)
async def update_image(
    request: Request, image_id: str, cloud: CloudDep, ctx: ContextDep
) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in PATCH_TYPES:
        raise UnsupportedMediaType(
            f"Unsupported Content-Type {ctype or '(none)'}: use {PATCH_TYPES[0]}."
        )
    try:
        operations = _PATCH.validate_python(await json_body(request))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    changes = [op.model_dump(exclude_unset=True) for op in operations]
    image = await anyio.to_thread.run_sync(cloud.image.update, ctx, image_id, changes)
    return _image(image)


@router.delete("/v2/images/{image_id}", status_code=204)
def delete_image(image_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.image.delete(ctx, image_id)
    return Response(status_code=204)


@router.put("/v2/images/{image_id}/tags/{tag}", status_code=204)
def add_tag(image_id: str, tag: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.image.add_tag(ctx, image_id, tag)
    return Response(status_code=204)


@router.delete("/v2/images/{image_id}/tags/{tag}", status_code=204)
def remove_tag(image_id: str, tag: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.image.remove_tag(ctx, image_id, tag)
    return Response(status_code=204)


# ---- data --------------------------------------------------------------------------------


@router.put("/v2/images/{image_id}/file", status_code=204)
async def upload_image(
    request: Request, image_id: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    """Streams the body into the store from a worker thread, pulling one chunk at a time from
    the event loop, so neither memory nor the loop is held by a large upload."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype != "application/octet-stream":
        raise UnsupportedMediaType(
            f"Unsupported Content-Type {ctype}: image data must be application/octet-stream."
        )
    length = _int(request.headers.get("content-length"), "Content-Length")
    if length is not None and length > IMAGE_SIZE_CAP:
        raise TooLarge(f"Image exceeds the storage quota: the limit is {IMAGE_SIZE_CAP} bytes.")

    await anyio.to_thread.run_sync(
        cloud.image.upload,
        ctx,
        image_id,
        streamed_body(request, "The client disconnected before sending all image data."),
    )
    return Response(status_code=204)


@router.get("/v2/images/{image_id}/file")
def download_image(image_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    """204 while the image has no data, as Glance; Content-MD5 lets the SDK verify the bytes."""
    image, data = cloud.image.download(ctx, image_id)
    if data is None:
        return Response(status_code=204)
    headers = {"Content-Length": str(image.size), "Content-MD5": image.checksum or ""}
    return StreamingResponse(data, media_type="application/octet-stream", headers=headers)


# ---- actions -----------------------------------------------------------------------------


@router.post("/v2/images/{image_id}/actions/deactivate", status_code=204)
def deactivate_image(image_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.image.set_active(ctx, image_id, False)
    return Response(status_code=204)


@router.post("/v2/images/{image_id}/actions/reactivate", status_code=204)
def reactivate_image(image_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.image.set_active(ctx, image_id, True)
    return Response(status_code=204)


# ---- members -----------------------------------------------------------------------------


def _member(m: ImageMember) -> dict[str, Any]:
    return {
        "image_id": m.image_id,
        "member_id": m.member_id,
        "status": m.status,
        "created_at": isotime(m.created_at),
        "updated_at": isotime(m.updated_at or m.created_at),
        "schema": "/v2/schemas/member",
    }


@router.post("/v2/images/{image_id}/members")
async def add_member(
    image_id: str, cloud: CloudDep, ctx: ContextDep, body: MemberCreate
) -> dict[str, Any]:
    """Share a ``shared`` image with another project; it sees the image once it accepts."""
    member_id = body.member
    return _member(await anyio.to_thread.run_sync(cloud.image.add_member, ctx, image_id, member_id))


@router.get("/v2/images/{image_id}/members")
def list_members(image_id: str, cloud: CloudDep, ctx: ContextDep) -> dict[str, Any]:
    members = cloud.image.list_members(ctx, image_id)
    return {"members": [_member(m) for m in members], "schema": "/v2/schemas/members"}


@router.get("/v2/images/{image_id}/members/{member_id}")
def get_member(image_id: str, member_id: str, cloud: CloudDep, ctx: ContextDep) -> Any:
    return _member(cloud.image.get_member(ctx, image_id, member_id))


@router.put("/v2/images/{image_id}/members/{member_id}")
async def update_member(
    image_id: str, member_id: str, cloud: CloudDep, ctx: ContextDep, body: MemberUpdate
) -> dict[str, Any]:
    status = body.status
    member = await anyio.to_thread.run_sync(
        cloud.image.set_member_status, ctx, image_id, member_id, status
    )
    return _member(member)


@router.delete("/v2/images/{image_id}/members/{member_id}", status_code=204)
def delete_member(image_id: str, member_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    cloud.image.delete_member(ctx, image_id, member_id)
    return Response(status_code=204)


# ---- schemas -----------------------------------------------------------------------------


def _image_schema() -> dict[str, Any]:
    def text(description: str) -> dict[str, Any]:
        return {"type": ["null", "string"], "description": description}

    return {
        "name": "image",
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-fA-F-]{36}$"},
            "name": {**text("Descriptive name for the image"), "maxLength": 255},
            "status": {"type": "string", "readOnly": True, "enum": list(STATUSES)},
            "visibility": {"type": "string", "enum": list(VISIBILITIES)},
            "protected": {"type": "boolean"},
            "os_hidden": {"type": "boolean"},
            "checksum": {**text("md5 of the image data"), "readOnly": True},
            "os_hash_algo": {**text("Algorithm of os_hash_value"), "readOnly": True},
            "os_hash_value": {**text("sha512 of the image data"), "readOnly": True},
            "owner": text("Project that owns the image"),
            "size": {"type": ["null", "integer"], "readOnly": True},
            "virtual_size": {"type": ["null", "integer"], "readOnly": True},
            "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS]},
            "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS]},
            "min_disk": {"type": "integer"},
            "min_ram": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
            "created_at": {"type": "string", "readOnly": True},
            "updated_at": {"type": "string", "readOnly": True},
            "self": {"type": "string", "readOnly": True},
            "file": {"type": "string", "readOnly": True},
            "schema": {"type": "string", "readOnly": True},
        },
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


@router.get("/v2/schemas/image")
def image_schema(_ctx: ContextDep) -> dict[str, Any]:
    return _image_schema()


@router.get("/v2/schemas/images")
def images_schema(_ctx: ContextDep) -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": _image_schema()},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }
