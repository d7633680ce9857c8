"""Glance's request bodies as pydantic models: the routes take them, ``/openapi.json`` shows
them, and a body of the wrong shape or types is a 400 in Glance's fault shape. The values'
rules (formats, visibilities, patch paths, member statuses) stay with the image service, which
words them as Glance does.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

Text = Annotated[StrictStr, Field(max_length=255)]


class ImageCreate(BaseModel):
    """``POST /v2/images``: flat core attributes; any other key is an extra property."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr | None = None
    name: Text | None = None
    visibility: StrictStr | None = None
    disk_format: StrictStr | None = None
    container_format: StrictStr | None = None
    min_disk: StrictInt | None = None
    min_ram: StrictInt | None = None
    protected: StrictBool | None = None
    os_hidden: StrictBool | None = None
    owner: StrictStr | None = None
    tags: list[StrictStr] | None = None

    def attributes(self) -> dict[str, Any]:
        """What the client sent (explicit nulls included), extras at top level."""
        return self.model_dump(exclude_unset=True)


class PatchOperation(BaseModel):
    """One operation of a ``PATCH /v2/images/{id}`` JSON patch (add, remove or replace)."""

    model_config = ConfigDict(extra="ignore")

    op: StrictStr
    path: StrictStr
    #: needed by add and replace; absent for remove
    value: Any = None


class MemberCreate(BaseModel):
    member: StrictStr


class MemberUpdate(BaseModel):
    status: StrictStr
