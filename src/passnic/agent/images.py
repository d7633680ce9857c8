"""Images on a compute host: where the agent gets them and the host's verified cache.

The agent hands its driver an ``ImageSource``: ``GlanceImages`` (the controller's image API,
Glance v2, with the agent's own token). ``ImageCache`` keeps one verified copy per image on the
host; a driver calls ``ImageCache.fetch(image_id, record)`` with the record the controller sent
in ``GuestSpec.images`` and gets back the local path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx

from passnic.agent.drivers import HypervisorError

CHUNK = 1024 * 1024


class ImageSource(Protocol):
    def record(self, image_id: str) -> dict[str, Any]:
        """The image's Glance record (properties such as ``kernel_id`` at top level)."""
        ...

    def data(self, image_id: str) -> Iterator[bytes]:
        """The image's bytes, in chunks."""
        ...


class DirectoryImages:
    """Images in a directory, as Glance would serve them: ``<id>.json`` and ``<id>``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, image_id: str) -> dict[str, Any]:
        try:
            record: dict[str, Any] = json.loads((self.path / f"{image_id}.json").read_text())
        except FileNotFoundError:
            raise HypervisorError(f"image {image_id} is not in {self.path}") from None
        return record

    def data(self, image_id: str) -> Iterator[bytes]:
        with open(self.path / image_id, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


class GlanceImages:
    """Images from the controller's image API (Glance v2) with the agent's token; on a 401
    (the token expired) ``renew`` is called and the request made once more."""

    def __init__(
        self,
        http: httpx.Client,
        image_url: str,
        token: Callable[[], str],
        renew: Callable[[], object] = lambda: None,
    ) -> None:
        self.http = http
        self.base = image_url.rstrip("/")
        self.token = token
        self.renew = renew

    def _open(self, path: str) -> httpx.Response:
        """The streamed answer to a GET (the caller closes it)."""
        for attempt in (1, 2):
            request = self.http.build_request(
                "GET", f"{self.base}{path}", headers={"X-Auth-Token": self.token()}
            )
            try:
                response = self.http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise HypervisorError(f"cannot reach the image API at {self.base}: {exc}") from exc
            if response.status_code == 401 and attempt == 1:
                response.close()
                self.renew()
                continue
            if response.is_error:
                response.close()
                raise HypervisorError(f"the image API answered {response.status_code} to {path}")
            return response
        raise HypervisorError("unreachable")  # pragma: no cover

    def record(self, image_id: str) -> dict[str, Any]:
        response = self._open(f"/v2/images/{image_id}")
        try:
            record: dict[str, Any] = json.loads(response.read())
        finally:
            response.close()
        return record

    def data(self, image_id: str) -> Iterator[bytes]:
        response = self._open(f"/v2/images/{image_id}/file")
        try:
            yield from response.iter_bytes(CHUNK)
        finally:
            response.close()


class ImageCache:
    """The host's copy of each image it uses, downloaded once and checked against Glance's
    checksum (``os_hash_value``, else the MD5 ``checksum``) before it is kept."""

    def __init__(self, path: Path, source: ImageSource) -> None:
        self.path = path
        self.source = source

    def fetch(
        self, image_id: str, record: dict[str, Any] | None = None
    ) -> tuple[Path, dict[str, Any]]:
        """The image's local file and its record: ``record`` when the controller sent it
        (``GuestSpec.images``), else the source's."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", image_id):
            raise HypervisorError(f"invalid image id {image_id!r}")
        file = self.path / image_id
        meta = self.path / f"{image_id}.json"
        if file.exists() and meta.exists():
            return file, json.loads(meta.read_text())
        if record is None:
            record = self.source.record(image_id)
        algo = record.get("os_hash_algo") if record.get("os_hash_value") else None
        expected = record.get("os_hash_value") if algo else record.get("checksum")
        if not expected:
            raise HypervisorError(f"image {image_id} has no checksum to verify")
        digest = hashlib.new(algo or "md5")
        self.path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{image_id}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in self.source.data(image_id):
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != expected:
                raise HypervisorError(f"image {image_id} does not match its checksum")
            os.replace(tmp, file)
        finally:
            Path(tmp).unlink(missing_ok=True)
        meta.write_text(json.dumps(record))
        return file, record
