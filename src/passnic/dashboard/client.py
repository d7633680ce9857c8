"""The dashboard's session (a Keystone token in an HttpOnly cookie, a CSRF token bound to it) and
its client of Passnic's own APIs, called in-process through the ASGI app."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

from passnic.context import RequestContext
from passnic.errors import PassnicError
from passnic.logs import IN_PROCESS_CLIENT

TOKEN_COOKIE = "passnic_token"
LOGIN_CSRF_COOKIE = "passnic_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
COMPUTE_VERSION = "compute 2.96"
"""The newest Nova microversion: servers show their host, fault details and console."""


def csrf_for(token: str) -> str:
    """The CSRF token of a session: derived from its Keystone token, which a page of another
    site can neither read (HttpOnly) nor send (SameSite=Strict), so it cannot compute this."""
    return hmac.new(token.encode(), b"passnic-dashboard-csrf", hashlib.sha256).hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class LoginRequired(Exception):
    """No valid session (none, or its token expired): the user signs in again."""


class ApiError(Exception):
    """An API refused a call; ``message`` is its own fault text, as the user should read it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def fault_message(body: Any, fallback: str) -> str:
    """The human message inside any of the APIs' fault shapes (Nova, Neutron, Keystone, sysinv,
    fabric, Glance)."""
    if isinstance(body, dict):
        if "error_message" in body:  # sysinv: a JSON document inside a string
            try:
                inner = json.loads(body["error_message"])
            except (TypeError, ValueError):
                return str(body["error_message"])
            return str(inner.get("faultstring", fallback)) if isinstance(inner, dict) else fallback
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
    return fallback


@dataclass
class Api:
    """Passnic's APIs as the signed-in user calls them, without leaving the process."""

    request: Request
    token: str

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> Any:
        transport = httpx.ASGITransport(app=self.request.app, client=(IN_PROCESS_CLIENT, 0))
        headers = {
            "X-Auth-Token": self.token,
            "OpenStack-API-Version": COMPUTE_VERSION,
            **(headers or {}),
        }
        async with httpx.AsyncClient(
            transport=transport, base_url=str(self.request.base_url), timeout=60
        ) as client:
            resp = await client.request(
                method, path, json=body, params=params or None, headers=headers
            )
        if resp.status_code == 401:
            raise LoginRequired()
        data = resp.json() if resp.content else None
        if resp.is_error:
            raise ApiError(resp.status_code, fault_message(data, resp.reason_phrase))
        return data

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, **params)

    async def get_or(self, default: Any, path: str, **params: Any) -> Any:
        """A read the caller may not be allowed (a member reading the fabric): ``default``."""
        try:
            return await self.get(path, **params)
        except ApiError as exc:
            if exc.status in (403, 404):
                return default
            raise


async def authenticate(
    request: Request, domain: str, user: str, password: str, project: str
) -> str:
    """A project-scoped Keystone token for these credentials (Keystone's own refusal on error)."""
    scope = {"project": {"name": project, "domain": {"name": domain}}} if project else None
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
        }
    }
    if scope:
        auth["scope"] = scope
    transport = httpx.ASGITransport(app=request.app, client=(IN_PROCESS_CLIENT, 0))
    async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url)) as client:
        resp = await client.post("/identity/v3/auth/tokens", json={"auth": auth})
    if resp.status_code != 201:
        body = resp.json() if resp.content else None
        raise ApiError(resp.status_code, fault_message(body, "The sign-in was refused."))
    return resp.headers["X-Subject-Token"]


def session_context(request: Request) -> tuple[str, RequestContext]:
    """The signed-in user's token and who they are; LoginRequired without a valid one."""
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise LoginRequired()
    try:
        ctx = request.app.state.cloud.identity.validate_token(token)
    except PassnicError as exc:
        raise LoginRequired() from exc
    request.state.context = ctx  # the request log names the caller
    return token, ctx
