"""Send a host report to the controller's inventory API.

The controller route is ``POST {inventory}/v1/agent/reports`` (body: the HostReport JSON;
answer: the host JSON). Errors come back in sysinv's shape, where the fault is itself a JSON
string: ``{"error_message": "{\\"faultstring\\": \\"...\\", ...}"}``; we unwrap it so the
operator sees the controller's sentence, not an HTTP status.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from passnic.errors import PassnicError
from passnic.inventory.report import HostReport

REPORTS_PATH = "/v1/agent/reports"
DEFAULT_TIMEOUT = 30.0


class ReportError(PassnicError):
    """The controller refused the report or could not be reached.

    ``status`` is the HTTP status (0 when no response arrived)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def report_to_controller(
    report: HostReport,
    inventory_url: str,
    token: str,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """POST ``report`` and return the host the controller recorded.

    ``inventory_url`` is the inventory service base (the catalog's "platform" endpoint, e.g.
    ``http://ctl:6385/inventory``). ``client`` lets callers (and tests) supply transport and
    TLS settings; when omitted a short-lived client is used.
    """
    url = inventory_url.rstrip("/") + REPORTS_PATH
    headers = {"X-Auth-Token": token, "Accept": "application/json"}
    body = report.model_dump(mode="json")
    try:
        if client is None:
            with httpx.Client(timeout=DEFAULT_TIMEOUT) as own_client:
                response = own_client.post(url, json=body, headers=headers)
        else:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ReportError(f"cannot reach the controller at {url}: {exc}") from exc

    if response.is_error:
        message = error_message(response)
        raise ReportError(
            f"controller refused the report for host {report.hostname!r} "
            f"(HTTP {response.status_code}): {message}",
            status=response.status_code,
        )
    try:
        host = response.json()
    except ValueError as exc:
        raise ReportError(
            f"controller answered {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from exc
    if not isinstance(host, dict):
        raise ReportError(
            f"controller answered with {type(host).__name__}, not a host object",
            status=response.status_code,
        )
    return host


def error_message(response: httpx.Response) -> str:
    """The human sentence in an error response, whatever shape the server used.

    Understands sysinv's ``error_message`` (a JSON string holding ``faultstring``), a plain
    ``error_message`` string, FastAPI's ``detail`` and, failing all, the raw text.
    """
    try:
        payload: Any = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(payload, dict):
        wrapped = payload.get("error_message")
        if isinstance(wrapped, str):
            try:
                inner = json.loads(wrapped)
            except ValueError:
                return wrapped
            if isinstance(inner, dict) and isinstance(inner.get("faultstring"), str):
                return str(inner["faultstring"])
            return wrapped
        if isinstance(wrapped, dict) and isinstance(wrapped.get("faultstring"), str):
            return str(wrapped["faultstring"])
        detail = payload.get("detail")
        if isinstance(detail, str):
            return detail
        if detail is not None:
            return json.dumps(detail)
    return response.text.strip() or response.reason_phrase
