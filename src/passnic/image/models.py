"""Image tables: the image row, its tags, and its free-form string properties.

Tags and properties get their own tables (not a JSON column) so that filters such as ``?tag=``
stay plain SQL on SQLite and PostgreSQL alike. The bytes are not here: see ``image.store``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from passnic.db import Base, Timestamps, uuid_pk


class Image(Timestamps, Base):
    __tablename__ = "image_images"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    status: Mapped[str] = mapped_column(String(30), default="queued")
    visibility: Mapped[str] = mapped_column(String(20), default="shared")
    owner: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    disk_format: Mapped[str | None] = mapped_column(String(20), default=None)
    container_format: Mapped[str | None] = mapped_column(String(20), default=None)
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    checksum: Mapped[str | None] = mapped_column(String(32), default=None)
    os_hash_algo: Mapped[str | None] = mapped_column(String(64), default=None)
    os_hash_value: Mapped[str | None] = mapped_column(String(128), default=None)

    # Loaded with the image (selectin) because services hand detached rows to the routes.
    tag_rows: Mapped[list[ImageTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ImageTag.value"
    )
    property_rows: Mapped[list[ImageProperty]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ImageProperty.name"
    )

    @property
    def tags(self) -> list[str]:
        return [t.value for t in self.tag_rows]

    @property
    def properties(self) -> dict[str, str]:
        return {p.name: p.value for p in self.property_rows}


class ImageTag(Base):
    __tablename__ = "image_tags"

    image_id: Mapped[str] = mapped_column(
        ForeignKey("image_images.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class ImageProperty(Base):
    """An extra property (Glance's additionalProperties): always a string value."""

    __tablename__ = "image_properties"

    image_id: Mapped[str] = mapped_column(
        ForeignKey("image_images.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ImageMember(Timestamps, Base):
    """A project an owner shared an image with; it sees the image once it has accepted."""

    __tablename__ = "image_members"

    image_id: Mapped[str] = mapped_column(
        ForeignKey("image_images.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
