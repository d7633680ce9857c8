"""HTTP plumbing shared by every API: which fault format a path speaks, how domain errors and
bad input become that format, and the dependencies that give routes the caller and the cloud.

Each API's routes module registers its fault format with ``register_fault_format``; the rules
never see HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from passnic.context import RequestContext
from passnic.errors import NotAuthenticated, PassnicError

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
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = err.get("msg", "invalid")
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


def get_cloud(request: Request) -> Cloud:
    cloud: Cloud = request.app.state.cloud
    return cloud


def get_context(request: Request) -> RequestContext:
    """The caller, from X-Auth-Token. Every API call except version documents needs one."""
    token = request.headers.get("X-Auth-Token")
    if not token:
        raise NotAuthenticated("The request you have made requires authentication.")
    ctx = get_cloud(request).identity.validate_token(token)
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
