"""HTTP plumbing shared by every API: which fault format a path speaks, how domain errors and
bad input become that format, and the dependencies that give routes the caller and the cloud.

Each API's routes module registers its fault format with ``register_fault_format``; the rules
never see HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote_plus

import anyio
import anyio.from_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passnic.context import RequestContext
from passnic.errors import BadRequest, NotAuthenticated, PassnicError

if TYPE_CHECKING:
    from passnic.cloud import Cloud

FaultFormatter = Callable[[int, str, str], dict[str, Any]]
"""(HTTP status, kind, message) -> JSON body in the API's own error shape."""

_FAULT_FORMATS: dict[str, FaultFormatter] = {}

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def register_fault_format(prefix: str, formatter: FaultFormatter) -> None:
    _FAULT_FORMATS[prefix.rstrip("/")] = formatter


def generic_fault(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "title": TITLES.get(status, kind), "message": message}}


def fault_response(request: Request, status: int, kind: str, message: str) -> JSONResponse:
    path = request.url.path
    formatter: FaultFormatter = generic_fault
    best = -1
    for prefix, fmt in _FAULT_FORMATS.items():
        if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > best:
            formatter, best = fmt, len(prefix)
    headers = {"WWW-Authenticate": 'Keystone uri="/identity"'} if status == 401 else None
    return JSONResponse(formatter(status, kind, message), status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "not JSON")
            return f"Malformed JSON in request body: {reason}"
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else str(msg))
    return "Invalid input: " + "; ".join(parts) if parts else "Invalid input"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PassnicError)
    async def _domain(request: Request, exc: PassnicError) -> JSONResponse:
        return fault_response(request, exc.status, exc.kind, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return fault_response(request, 400, "BadRequest", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"The resource could not be found: {request.url.path}"
        kind = TITLES.get(exc.status_code, "Error").replace(" ", "")
        return fault_response(request, exc.status_code, kind, detail)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        """The database's own limits (a string longer than its column, a number out of range, a
        NUL character on PostgreSQL) are bad input that validation did not catch: a 400 that
        names the kind of problem and never the statement or its parameters."""
        reason = _DATA_ERRORS.get(getattr(exc.orig, "sqlstate", None) or "", "")
        return fault_response(
            request, 400, "BadRequest", f"Invalid input: {reason or 'a value cannot be stored'}."
        )

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, _exc: OverflowError) -> JSONResponse:
        """SQLite's driver refuses integers beyond 64 bits before the database sees them."""
        return fault_response(request, 400, "BadRequest", "Invalid input: a number is too large.")


_DATA_ERRORS = {
    "22001": "a value is longer than its field allows",
    "22003": "a number is out of range",
    "22021": "a value contains a character the database cannot store",
    "22P05": "a value contains a character the database cannot store",
}
"""PostgreSQL SQLSTATEs of class 22 (data exception) by what they tell the caller."""


def get_cloud(request: Request) -> Cloud:
    cloud: Cloud = request.app.state.cloud
    return cloud


def get_context(request: Request) -> RequestContext:
    """The caller, from X-Auth-Token. Every API call except version documents needs one."""
    token = request.headers.get("X-Auth-Token")
    if not token:
        raise NotAuthenticated("The request you have made requires authentication.")
    ctx = get_cloud(request).identity.validate_token(token)
    if not ctx.project_id and not request.url.path.startswith("/identity/"):
        # an unscoped token only asks Keystone which projects it may be scoped to
        raise NotAuthenticated("A project-scoped token is required.")
    request.state.context = ctx  # the request log names the caller (passnic.logs)
    return ctx


CloudDep = Annotated["Cloud", Depends(get_cloud)]
ContextDep = Annotated[RequestContext, Depends(get_context)]


def base_url(request: Request) -> str:
    """The address the caller used to reach us, so links and catalogs work behind any name."""
    return str(request.base_url).rstrip("/")


async def json_body(request: Request) -> Any:
    """The request body as JSON; malformed JSON is a 400 in the API's own format."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise PassnicError(f"Malformed JSON in request body: {exc}") from exc


# ---- input every route can trust -----------------------------------------------------------

MAX_JSON_DEPTH = 32
"""Deeper than any body an API takes (Glance patches and metadata are a few levels)."""

_STREAMED: list[tuple[str, re.Pattern[str]]] = []


def register_streamed_upload(method: str, path_pattern: str) -> None:
    """A route that streams its body (image data): exempt from the size limit and JSON checks."""
    _STREAMED.append((method.upper(), re.compile(path_pattern)))


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why a parsed JSON document is unfit for any API, or None: lone UTF-16 surrogates cannot
    be stored or answered as UTF-8, and deep nesting only exhausts the stack."""
    if depth > MAX_JSON_DEPTH:
        return f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return "a string holds a lone UTF-16 surrogate"
        return None
    if isinstance(value, dict):
        children: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        problem = json_problem(child, depth + 1)
        if problem:
            return problem
    return None


class InputGuard:
    """ASGI middleware that refuses, in the API's own fault format, input no route should have
    to think about: a body over the size limit (413, before it is read into memory), a NUL
    character in the query string, and JSON bodies with lone surrogates or absurd nesting.
    Bodies that are not JSON pass through for the route to refuse in its own words."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if "\x00" in unquote_plus(scope.get("query_string", b"").decode("latin-1")):
            await self._refuse(scope, receive, send, 400, "Invalid input: NUL in the query string.")
            return
        if any(m == method and p.fullmatch(path) for m, p in _STREAMED):
            await self.app(scope, receive, send)
            return
        too_large = f"Request body exceeds the limit of {self.max_body} bytes."
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(scope, receive, send, 413, too_large)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._refuse(scope, receive, send, 413, too_large)
                return
            more = message.get("more_body", False)
        problem = _body_problem(bytes(body))
        if problem:
            await self._refuse(scope, receive, send, 400, f"Invalid input: {problem}.")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, why: str) -> None:
        kind = TITLES.get(status, "Error").replace(" ", "")
        await fault_response(Request(scope), status, kind, why)(scope, receive, send)


def _body_problem(body: bytes) -> str | None:
    if not body:
        return None
    try:
        document = json.loads(body)
    except RecursionError:
        return f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
    except ValueError:
        return None  # not JSON: the route answers in its own words
    return json_problem(document)


def streamed_body(request: Request, disconnected: str) -> Iterator[bytes]:
    """The request's body a chunk at a time, for a worker thread (``anyio.to_thread``) to
    write out without holding it in memory; `disconnected` is the 400's message when the
    client goes away before the end."""
    stream = request.stream().__aiter__()

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None
        except ClientDisconnect:
            raise BadRequest(disconnected) from None

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        yield chunk
