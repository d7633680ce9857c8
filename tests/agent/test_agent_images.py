"""The agent's image source: Glance with the agent's token, renewed once when refused, and
the host's cache keeping only bytes that match the record the controller sent."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from passnic.agent.drivers import HypervisorError
from passnic.agent.images import GlanceImages, ImageCache

DATA = b"machine image bytes" * 1000


def _glance(tokens: list[str]) -> httpx.Client:
    """A Glance that accepts only the token ``fresh``; it records the tokens it was sent."""

    def handle(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["X-Auth-Token"])
        if request.headers["X-Auth-Token"] != "fresh":
            return httpx.Response(401)
        if request.url.path == "/image/v2/images/m1/file":
            return httpx.Response(200, content=DATA)
        if request.url.path == "/image/v2/images/m1":
            return httpx.Response(200, json={"id": "m1", "checksum": hashlib.md5(DATA).hexdigest()})
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://controller")


def test_an_expired_token_is_renewed_once(tmp_path: Path) -> None:
    tokens: list[str] = []
    current = ["expired"]
    source = GlanceImages(
        _glance(tokens),
        "http://controller/image",
        lambda: current[0],
        lambda: current.__setitem__(0, "fresh"),
    )
    cache = ImageCache(tmp_path, source)
    path, record = cache.fetch("m1")
    assert path.read_bytes() == DATA and record["id"] == "m1"
    assert tokens == ["expired", "fresh", "fresh"]  # record, again, then the bytes


def test_a_refused_token_is_the_drivers_error(tmp_path: Path) -> None:
    source = GlanceImages(_glance([]), "http://controller/image", lambda: "wrong")
    with pytest.raises(HypervisorError, match="the image API answered 401"):
        ImageCache(tmp_path, source).fetch("m1")
    with pytest.raises(HypervisorError, match="answered 404"):
        ImageCache(
            tmp_path, GlanceImages(_glance([]), "http://controller/image", lambda: "fresh")
        ).fetch("m2")
    assert list(tmp_path.iterdir()) == []  # nothing half-written is kept
