"""Bad input never answers 5xx: the framework-level guards every API shares, on SQLite and
PostgreSQL, each answering in the API's own fault format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from passnic.app import create_app
from passnic.bootstrap import Credential
from passnic.cloud import Cloud
from tests.conftest import BOTH_BACKENDS, make_database_url


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request.param, request, tmp_path)


def _auth(name: Any, password: Any = "pw", domain: Any = None) -> dict[str, Any]:
    user: dict[str, Any] = {"name": name, "password": password}
    user["domain"] = {"id": "default"} if domain is None else domain
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def _post(api: TestClient, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    """POST a JSON body as ASCII escapes, the way a lone surrogate travels on the wire."""
    return api.post(
        path,
        content=json.dumps(body).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _keystone_400(resp: Any) -> str:
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == 400 and error["title"] == "Bad Request"
    message: str = error["message"]
    return message


def test_a_lone_surrogate_is_refused_before_any_route(
    api: TestClient, admin_headers: dict[str, str]
) -> None:
    # Unauthenticated, in a user name, a password and a dictionary key.
    for body in (_auth("\ud800"), _auth("admin", "\udfff"), {"auth": {"\ud800": 1}}):
        message = _keystone_400(_post(api, "/identity/v3/auth/tokens", body))
        assert "surrogate" in message
    # Every API, authenticated: the fault format is the API's own.
    flavor = {"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": 1, "extra": "\ud800"}}
    nova = _post(api, "/compute/v2.1/flavors", flavor, admin_headers)
    assert nova.status_code == 400
    assert "surrogate" in nova.json()["badRequest"]["message"]
    fabric = _post(api, "/fabric/v1/switches", {"switch": {"name": "\ud800"}}, admin_headers)
    assert fabric.status_code == 400
    assert fabric.json()["fabricFault"]["code"] == 400


def test_deep_nesting_is_a_400(api: TestClient, admin_headers: dict[str, str]) -> None:
    for depth in (40, 100_000):
        deep = b"[" * depth + b"]" * depth
        resp = api.post(
            "/identity/v3/auth/tokens",
            content=deep,
            headers={"Content-Type": "application/json"},
        )
        assert "nested" in _keystone_400(resp)
    inventory = api.post(
        "/inventory/v1/datanetworks",
        content=b'{"a":' * 5000 + b"1" + b"}" * 5000,
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert inventory.status_code == 400


def test_a_body_over_the_limit_is_a_413_but_image_data_streams(
    cloud: Cloud, sample: dict[str, Credential], tmp_path: Path
) -> None:
    small = Cloud(replace(cloud.settings, max_request_body=4096))
    try:
        with TestClient(create_app(small)) as api:
            huge_password = _auth("admin", "x" * 10_000)
            resp = api.post("/identity/v3/auth/tokens", json=huge_password)
            assert resp.status_code == 413
            assert resp.json()["error"]["title"] == "Request Entity Too Large"

            def chunked() -> Iterator[bytes]:  # no Content-Length: counted while read
                yield b'{"auth": "' + b"x" * 5000
                yield b'"}'

            streamed = api.post(
                "/identity/v3/auth/tokens",
                content=chunked(),
                headers={"Content-Type": "application/json"},
            )
            assert streamed.status_code == 413

            admin = sample["admin"]
            token = api.post(
                "/identity/v3/auth/tokens",
                json={
                    **_auth("admin", admin.password),
                    "auth": {
                        **_auth("admin", admin.password)["auth"],
                        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
                    },
                },
            )
            h = {"X-Auth-Token": token.headers["X-Subject-Token"]}
            image = api.post(
                "/image/v2/images",
                json={"name": "big", "disk_format": "raw", "container_format": "bare"},
                headers=h,
            ).json()
            data = b"\x01" * 20_000
            upload = api.put(
                f"/image/v2/images/{image['id']}/file",
                content=data,
                headers={**h, "Content-Type": "application/octet-stream"},
            )
            assert upload.status_code == 204, upload.text
            assert api.get(f"/image/v2/images/{image['id']}", headers=h).json()["size"] == 20_000
    finally:
        small.close()


def test_nul_characters_in_ids_queries_and_bodies_are_4xx(
    api: TestClient, admin_headers: dict[str, str]
) -> None:
    h = admin_headers
    for path in (
        "/identity/v3/projects/a%00b",
        "/identity/v3/users/a%00b",
        "/compute/v2.1/flavors/a%00b",
        "/compute/v2.1/servers/a%00b",
        "/image/v2/images/a%00b",
        "/inventory/v1/ihosts/a%00b",
        "/inventory/v1/datanetworks/a%00b",
        "/fabric/v1/switches/a%00b",
    ):
        assert api.get(path, headers=h).status_code in (400, 404), path
    for path in (
        "/identity/v3/projects?name=a%00",
        "/image/v2/images?name=a%00",
        "/compute/v2.1/servers?name=a%00",
    ):
        resp = api.get(path, headers=h)
        assert resp.status_code == 400, path
        assert "NUL" in resp.text
    bodies = (
        ("/identity/v3/projects", {"project": {"name": "p", "description": "a\x00b"}}),
        ("/image/v2/images", {"name": "a\x00b"}),
        ("/inventory/v1/datanetworks", {"name": "a\x00b", "network_type": "vlan"}),
        ("/fabric/v1/switches", {"switch": {"name": "s", "driver": "lab", "address": "\x00"}}),
    )
    for path, body in bodies:
        resp = api.post(path, json=body, headers=h)
        assert resp.status_code < 500, (path, resp.text)


def test_out_of_range_numbers_are_400(api: TestClient, admin_headers: dict[str, str]) -> None:
    h = admin_headers
    for query in ("size_min=99999999999999999999", "size_max=9223372036854775808"):
        resp = api.get(f"/image/v2/images?{query}", headers=h)
        assert resp.status_code == 400, query
        assert "at most" in resp.json()["error"]["message"]


def test_strings_longer_than_their_column_are_400(
    api: TestClient, admin_headers: dict[str, str]
) -> None:
    h = admin_headers
    email = api.post(
        "/identity/v3/users", json={"user": {"name": "long", "email": "e" * 300}}, headers=h
    )
    assert "email" in _keystone_400(email)


def test_database_errors_never_show_their_parameters(cloud: Cloud) -> None:
    """A traceback logged on a 500 must not carry password hashes or switch passwords."""
    from passnic.identity.models import Domain

    secret = "s3cret-never-logged"
    with pytest.raises(IntegrityError) as caught, cloud.db.transaction() as s:
        s.add(Domain(id="default", name=secret))
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"native_vlan": " "},
        {"native_vlan": True},
        {"quarantine_vlan": "x"},
        {"native_vlan": 99999999999999999999},
        {"ports": True},
        {"ports": [1, 2]},
        {"name": "s" * 300},
        {"password": 5},
    ],
)
def test_switch_bodies_are_validated(
    api: TestClient, admin_headers: dict[str, str], fields: dict[str, Any]
) -> None:
    body = {"switch": {"name": "tor-9", "driver": "lab", **fields}}
    resp = api.post("/fabric/v1/switches", json=body, headers=admin_headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["fabricFault"]["code"] == 400


def test_flavor_numbers_are_validated(api: TestClient, admin_headers: dict[str, str]) -> None:
    for factor in (" ", "x", [1], True, -1, "inf"):
        body = {"flavor": {"name": "f", "vcpus": 1, "ram": 64, "disk": 1, "rxtx_factor": factor}}
        resp = api.post("/compute/v2.1/flavors", json=body, headers=admin_headers)
        assert resp.status_code == 400, (factor, resp.text)
    for vcpus in ("²", "٣", 10**30):
        body = {"flavor": {"name": "g", "vcpus": vcpus, "ram": 64, "disk": 1}}
        resp = api.post("/compute/v2.1/flavors", json=body, headers=admin_headers)
        assert resp.status_code == 400, (vcpus, resp.text)


def test_inventory_references_and_reports_are_validated(
    api: TestClient, admin_headers: dict[str, str]
) -> None:
    h = admin_headers
    for ref in ("²", "٣", "99999999999999999999", "9" * 5000):
        for collection in ("ihosts", "datanetworks"):
            resp = api.get(f"/inventory/v1/{collection}/{ref}", headers=h)
            assert resp.status_code == 404, (collection, ref, resp.text)
    port = {
        "name": "enp1s0",
        "pciaddr": "0000:01:00.0",
        "pclass": "Ethernet controller [0200]",
        "pvendor": "Intel Corporation [8086]",
        "pdevice": "X710 [1572]",
        "mac": "52:54:00:00:00:01",
    }
    for twin in ({**port, "mac": "52:54:00:00:00:02"}, {**port, "name": "enp1s1"}):
        report = {"hostname": "compute-9", "ports": [port, twin]}
        resp = api.post("/inventory/v1/agent/reports", json=report, headers=h)
        assert resp.status_code == 400, resp.text
        assert "listed twice" in resp.text
