"""Operator logs: one structured line per API request and per decision an operator looks for
(where a server was placed or why nowhere, what was pushed to a switch, host lock and unlock).

A line is ``<event> key=value ...`` under a ``passnic.*`` logger, values quoted when they hold
spaces, so ``grep request_id=req-...`` or a log shipper's key=value parser finds it. Lines never
carry request bodies, tokens or passwords: callers pass identifiers and decisions only.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

LEVELS = ("debug", "info", "warning", "error")
REQUEST_ID_HEADER = "x-openstack-request-id"
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

request_log = logging.getLogger("passnic.request")
#: The id of the request being served, so a decision logged deep in a service names the
#: request that caused it (contextvars follow the request into FastAPI's worker threads).
current_request_id: ContextVar[str | None] = ContextVar("passnic_request_id", default=None)


def _value(value: Any) -> str:
    text = "-" if value is None else str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def fields(**values: Any) -> str:
    """``key=value`` pairs in the order given; None reads ``-``."""
    return " ".join(f"{key}={_value(value)}" for key, value in values.items())


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **values: Any) -> None:
    """One structured line: the event name, then its fields, then the id of the request being
    served (if any)."""
    if logger.isEnabledFor(level):
        values.setdefault("request_id", current_request_id.get())
        logger.log(level, "%s %s", event, fields(**values))


def logging_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration plus the ``passnic`` loggers at ``level``, to stderr.
    uvicorn applies it in every worker process, so ``--workers N`` logs the same way."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["passnic"] = {"format": LINE_FORMAT}
    config["handlers"]["passnic"] = {
        "class": "logging.StreamHandler",
        "formatter": "passnic",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["passnic"] = {
        "handlers": ["passnic"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def logging_options(level: str) -> dict[str, Any]:
    """uvicorn.run's logging arguments: ``level`` for uvicorn and Passnic alike, and no access
    log (the request log replaces it)."""
    return {"log_level": level, "log_config": logging_config(level), "access_log": False}


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


IN_PROCESS_CLIENT = "passnic-in-process"
"""The client address of the dashboard's own API calls (an ASGI scope value no socket can
give): the request log keeps them at debug, beside the page request that made them."""


class RequestLog:
    """ASGI middleware: gives each request an id (``request.state.request_id``, answered in
    ``x-openstack-request-id`` as OpenStack services do) and logs one line when it ends:
    method, path (no query string), status, duration, request id and, once a token was
    validated, the caller's user and project ids (``request.state.context``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500  # what the caller gets if the app raises before answering
        started = time.perf_counter()
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
            caller = state.get("context")
            level = logging.INFO
            if status >= 500:
                level = logging.ERROR
            elif (scope.get("client") or ("",))[0] == IN_PROCESS_CLIENT:
                level = logging.DEBUG
            log_event(
                request_log,
                "request",
                level,
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                request_id=request_id,
                user_id=getattr(caller, "user_id", None),
                project_id=getattr(caller, "project_id", None) or None,
            )
