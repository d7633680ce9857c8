"""Nova's microversions, negotiated as Nova negotiates them.

The caller names a version in ``OpenStack-API-Version: compute 2.x`` (or the older
``X-OpenStack-Nova-API-Version: 2.x``; the first wins when both are sent), ``latest`` for the
highest; no header means the lowest, 2.1. A version outside [MIN, MAX] is a 406, a malformed one
a 400. Every answer under /compute/v2.1 says which version it speaks in both headers, with
``Vary`` on them (caches must key on them), and carries ``x-compute-request-id`` (Nova's own name
for the request id). Views ask ``at_least(request, "2.x")`` to choose their shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passnic.web import fault_response

HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE = "compute"
PREFIX = "/compute/v2.1"

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _FORMAT.match(text.strip())
        if not match:
            raise ValueError(
                f"API Version String {text} is of invalid format. Must be of format "
                "MajorNum.MinorNum."
            )
        return cls(int(match[1]), int(match[2]))


MIN = APIVersion(2, 1)
MAX = APIVersion(2, 96)


class NotAcceptable(ValueError):
    """A well-formed version Passnic does not speak (Nova: 406)."""


def requested(headers: Headers) -> str | None:
    """The version text the caller asked for, or None."""
    for entry in headers.getlist(HEADER):
        for item in entry.split(","):
            service, _, version = item.strip().partition(" ")
            if service.lower() == SERVICE:
                return version.strip()
    legacy = headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy is not None else None


def negotiate(headers: Headers) -> APIVersion:
    """The version to answer in; ValueError (400) or NotAcceptable (406) when there is none."""
    text = requested(headers)
    if text is None:
        return MIN
    if text.lower() == "latest":
        return MAX
    version = APIVersion.parse(text)
    if not MIN <= version <= MAX:
        raise NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
        )
    return version


def of(request: Request) -> APIVersion:
    version: APIVersion = getattr(request.state, "compute_version", MIN)
    return version


def at_least(request: Request, version: str) -> bool:
    return of(request) >= APIVersion.parse(version)


def since(request: Request, version: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` when the request speaks ``version`` or later, else nothing: a view spreads
    it (``**since(request, "2.19", {"description": ...})``) to add what that version added."""
    return fields if at_least(request, version) else {}


class Microversions:
    """ASGI middleware for the compute API: negotiates the version before any route runs
    (``request.state.compute_version``) and answers it in every response, a refusal too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        answer: ASGIApp = self.app
        try:
            version = negotiate(Headers(scope=scope))
            state["compute_version"] = version
        except ValueError as exc:
            version = MIN
            status, kind = (
                (406, "NotAcceptable") if isinstance(exc, NotAcceptable) else (400, "BadRequest")
            )
            answer = fault_response(Request(scope), status, kind, str(exc))

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[HEADER] = f"{SERVICE} {version}"
                headers[LEGACY_HEADER] = str(version)
                headers.append("Vary", f"{HEADER}, {LEGACY_HEADER}")
                request_id = state.get("request_id")
                if isinstance(request_id, str):
                    headers["x-compute-request-id"] = request_id
            await send(message)

        await answer(scope, receive, stamped)
