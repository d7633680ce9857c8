"""Where image bytes live, behind a three-call interface so the metadata rules never touch files.

``ImageStore`` is what the image service needs: ``write`` consumes an iterator of chunks and
returns the size and digests it computed on the way (so a multi-GB upload is hashed in one pass
and never held in memory), ``open`` yields the bytes back in chunks, ``delete`` forgets them.

``FilesystemStore`` keeps one file per image, ``<image_dir>/<image id>`` (``image_dir`` is
``$PASSNIC_HOME/images`` by default). A write goes to a private temporary file in the same
directory and is renamed into place only when complete, so a reader never sees half an image and
a failed upload leaves nothing behind.

Deployments
-----------
* Embedded SQLite (``passnic up``): one process on one host; the local directory is enough.
* PostgreSQL with several API workers or hosts: the metadata is shared through the database, but
  the bytes are not. ``image_dir`` **must then be shared storage** mounted at the same path on
  every API host (NFS, CephFS, a clustered filesystem), otherwise an image uploaded through one
  host is ``active`` in the database yet unreadable (and undeletable) on the others. Several
  workers of one host already share the local directory. The rename-into-place write is atomic
  on POSIX filesystems and on NFS within one directory.
  Keeping the bytes in PostgreSQL itself (large objects via ``lo_create``/``lo_write`` with the
  OID stored beside the image row, or a table of fixed-size ``bytea`` chunks) would remove the
  shared-filesystem requirement at the cost of database size and backup time; such a store only
  has to implement this interface. It is not implemented here.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

from passnic.config import private_dir

CHUNK_SIZE = 64 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class StoredData(NamedTuple):
    """What a write measured: the fields Glance reports after an upload."""

    size: int
    md5: str
    sha512: str


class ImageStore(Protocol):
    def write(self, image_id: str, chunks: Iterable[bytes]) -> StoredData:
        """Store the chunks as the image's bytes (replacing none: the caller guarantees the
        image has no data yet). Any exception from ``chunks`` leaves nothing stored."""
        ...

    def open(self, image_id: str) -> Iterator[bytes]:
        """The stored bytes in chunks. Raises ``FileNotFoundError`` at call time (not on first
        iteration) when there are none, so an HTTP layer can still answer with an error."""
        ...

    def delete(self, image_id: str) -> None:
        """Forget the bytes; a no-op when there are none."""
        ...


def _read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


class FilesystemStore:
    """One file per image under ``root`` (see the module docstring for shared deployments)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, image_id: str) -> Path:
        """The file of an image; ids are checked so a crafted id cannot escape ``root``."""
        if not _SAFE_ID.match(image_id):
            raise ValueError(f"unsafe image id for the filesystem store: {image_id!r}")
        return self.root / image_id

    def write(self, image_id: str, chunks: Iterable[bytes]) -> StoredData:
        target = self.path(image_id)
        private_dir(self.root)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{image_id}.", suffix=".part", dir=self.root)
        md5 = hashlib.md5(usedforsecurity=False)
        sha512 = hashlib.sha512()
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    if not chunk:
                        continue
                    handle.write(chunk)
                    md5.update(chunk)
                    sha512.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredData(size, md5.hexdigest(), sha512.hexdigest())

    def open(self, image_id: str) -> Iterator[bytes]:
        return _read_chunks(self.path(image_id).open("rb"))

    def delete(self, image_id: str) -> None:
        self.path(image_id).unlink(missing_ok=True)
