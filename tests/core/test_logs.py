"""Operator logs: one structured line per request (never a body, token or password), an id per
request answered in x-openstack-request-id, and decisions logged under that id."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from fastapi.testclient import TestClient

from passnic.bootstrap import Credential
from passnic.cloud import Cloud
from passnic.logs import fields, logging_config, logging_options
from passnic.server import ThreadServer
from tests.conftest import free_port, login

REQUEST_ID = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_fields_quote_what_a_key_value_parser_would_split() -> None:
    assert fields(a=1, b=None, c="two words", d='say "hi"', e="") == (
        'a=1 b=- c="two words" d="say \\"hi\\"" e=""'
    )


def test_each_request_has_an_id_and_one_line(
    api: TestClient, sample: dict[str, Credential], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="passnic")
    anonymous = api.get("/?secret=x")
    request_id = anonymous.headers["x-openstack-request-id"]
    assert REQUEST_ID.fullmatch(request_id)
    (line,) = messages(caplog, "passnic.request")
    assert re.fullmatch(
        rf"request method=GET path=/ status=200 duration_ms=[0-9.]+ request_id={request_id} "
        "user_id=- project_id=-",
        line,
    ), line

    user1 = sample["user1"]
    headers = login(api, user1)
    caplog.clear()
    listed = api.get("/compute/v2.1/servers", headers=headers)
    assert listed.status_code == 200
    assert listed.headers["x-openstack-request-id"] != request_id
    ctx = api.app.state.cloud.identity.validate_token(headers["X-Auth-Token"])
    (line,) = messages(caplog, "passnic.request")
    assert line.startswith("request method=GET path=/compute/v2.1/servers status=200 ")
    assert line.endswith(f" user_id={ctx.user_id} project_id={ctx.project_id}")

    missing = api.get("/compute/v2.1/servers/nope", headers=headers)
    assert missing.status_code == 404
    assert "x-openstack-request-id" in missing.headers
    assert " status=404 " in messages(caplog, "passnic.request")[-1]
    assert user1.password not in caplog.text
    assert headers["X-Auth-Token"] not in caplog.text
    assert "secret" not in caplog.text


def test_host_lock_and_unlock_are_logged_under_the_request_id(
    api: TestClient, admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="passnic")
    patch = [{"op": "replace", "path": "/action", "value": "lock"}]
    locked = api.patch("/inventory/v1/ihosts/compute-2", json=patch, headers=admin_headers)
    assert locked.status_code == 200, locked.text
    request_id = locked.headers["x-openstack-request-id"]
    assert messages(caplog, "passnic.inventory") == [
        f"host_locked host=compute-2 user=admin request_id={request_id}"
    ]
    patch[0]["value"] = "force-unlock"
    unlocked = api.patch("/inventory/v1/ihosts/compute-2", json=patch, headers=admin_headers)
    assert messages(caplog, "passnic.inventory")[-1] == (
        "host_unlocked host=compute-2 force=True user=admin "
        f"request_id={unlocked.headers['x-openstack-request-id']}"
    )


def test_uvicorn_gets_our_level_and_no_access_log() -> None:
    options = logging_options("debug")
    assert options["log_level"] == "debug" and options["access_log"] is False
    assert options["log_config"]["loggers"]["passnic"]["level"] == "DEBUG"
    assert logging_config("warning")["loggers"]["passnic"]["handlers"] == ["passnic"]


def test_a_server_error_logs_no_secret(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug deep in a request that carries a password: the traceback uvicorn logs for the 500
    names the error, never the password nor the statement's parameters."""
    from passnic.identity.models import Domain

    secret = "s3cret-never-logged"

    def failing(*_args: object) -> None:  # a write that fails with the secret as a parameter
        with cloud.db.transaction() as s:
            s.add(Domain(id="default", name=secret))

    monkeypatch.setattr(cloud.identity, "authenticate", failing)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    server = ThreadServer(cloud, "127.0.0.1", free_port())  # configures uvicorn's loggers
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "passnic")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        url = server.start()
        user = {"name": "admin", "password": secret, "domain": {"name": "Default"}}
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
        resp = httpx.post(f"{url}/identity/v3/auth/tokens", json=body, timeout=30)
    finally:
        server.stop()
        for logger in loggers:
            logger.removeHandler(handler)
    assert resp.status_code == 500
    logged = "\n".join(logging.Formatter().format(r) for r in records)
    assert "IntegrityError" in logged  # the traceback was logged...
    assert secret not in logged and secret not in resp.text  # ...without the password
