"""Keystone v3 behaviour over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from passnic.bootstrap import Credential
from passnic.cloud import Cloud
from tests.conftest import login

SERVICES = {"identity", "compute", "network", "image", "platform", "fabric", "host-agent"}


def _auth(user: str, password: str, project: str | None, by_id: bool = False) -> dict:
    domain = {"id": "default"} if by_id else {"name": "Default"}
    body: dict = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": domain}},
            }
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": domain}}
    return body


def test_version_documents_need_no_token(api: TestClient) -> None:
    root = api.get("/identity")
    assert root.status_code == 300
    href = root.json()["versions"]["values"][0]["links"][0]["href"]
    assert href.endswith("/identity/v3/")
    assert api.get("/identity/v3").json()["version"]["status"] == "stable"


def test_password_auth_returns_scoped_token_and_catalog(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    admin = sample["admin"]
    for by_id in (False, True):
        resp = api.post(
            "/identity/v3/auth/tokens", json=_auth("admin", admin.password, "admin", by_id)
        )
        assert resp.status_code == 201
        assert resp.headers["X-Subject-Token"]
        token = resp.json()["token"]
        assert token["project"]["name"] == "admin"
        assert token["user"]["name"] == "admin"
        assert [r["name"] for r in token["roles"]] == ["admin"]
        assert {s["type"] for s in token["catalog"]} == SERVICES
        endpoint = token["catalog"][0]["endpoints"][0]
        assert endpoint["interface"] == "public"
        assert endpoint["region_id"] == endpoint["region"] == "RegionOne"


def test_wrong_password_and_unknown_user_read_the_same(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    bad = api.post("/identity/v3/auth/tokens", json=_auth("admin", "wrong", "admin"))
    nobody = api.post("/identity/v3/auth/tokens", json=_auth("nobody", "wrong", "admin"))
    assert bad.status_code == nobody.status_code == 401
    assert bad.json() == nobody.json()
    assert bad.json()["error"]["code"] == 401


def test_user_without_role_on_project_cannot_scope_to_it(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    user1 = sample["user1"]
    resp = api.post("/identity/v3/auth/tokens", json=_auth("user1", user1.password, "project2"))
    assert resp.status_code == 401
    assert "no access to project" in resp.json()["error"]["message"]


def test_malformed_auth_is_a_400(api: TestClient) -> None:
    assert api.post("/identity/v3/auth/tokens", json={"auth": {}}).status_code == 400
    raw = api.post("/identity/v3/auth/tokens", content=b"{not json")
    assert raw.status_code == 400
    assert "Malformed JSON" in raw.json()["error"]["message"]


def test_every_call_needs_a_valid_token(api: TestClient, admin_headers: dict[str, str]) -> None:
    assert api.get("/identity/v3/projects").status_code == 401
    bogus = api.get("/identity/v3/projects", headers={"X-Auth-Token": "bogus"})
    assert bogus.status_code == 401
    assert bogus.json()["error"]["title"] == "Unauthorized"
    assert api.get("/identity/v3/projects", headers=admin_headers).status_code == 200


def test_revoked_token_is_refused(api: TestClient, admin_headers: dict[str, str]) -> None:
    token = admin_headers["X-Auth-Token"]
    check = api.get("/identity/v3/auth/tokens", headers={**admin_headers, "X-Subject-Token": token})
    assert check.status_code == 200
    assert check.json()["token"]["user"]["name"] == "admin"
    revoked = api.delete(
        "/identity/v3/auth/tokens", headers={**admin_headers, "X-Subject-Token": token}
    )
    assert revoked.status_code == 204
    assert api.get("/identity/v3/projects", headers=admin_headers).status_code == 401


def test_expired_token_is_refused(cloud: Cloud, sample: dict[str, Credential]) -> None:
    from dataclasses import replace

    from passnic.identity.service import IdentityService, PasswordAuth

    short = IdentityService(cloud.db, replace(cloud.settings, token_ttl=timedelta(seconds=-1)))
    token, _info = short.authenticate(
        PasswordAuth(password=sample["admin"].password, user_name="admin", project_name="admin")
    )
    from passnic.errors import NotAuthenticated

    try:
        cloud.identity.validate_token(token)
    except NotAuthenticated:
        pass
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("an expired token was accepted")


def test_admin_manages_projects_users_and_grants(
    api: TestClient, admin_headers: dict[str, str]
) -> None:
    h = admin_headers
    project = api.post("/identity/v3/projects", json={"project": {"name": "p9"}}, headers=h)
    assert project.status_code == 201
    pid = project.json()["project"]["id"]
    dup = api.post("/identity/v3/projects", json={"project": {"name": "p9"}}, headers=h)
    assert dup.status_code == 409
    user = api.post(
        "/identity/v3/users",
        json={"user": {"name": "u9", "password": "pw9", "default_project_id": pid}},
        headers=h,
    )
    assert user.status_code == 201
    uid = user.json()["user"]["id"]
    assert "password" not in user.json()["user"]
    member = api.get("/identity/v3/roles?name=member", headers=h).json()["roles"][0]["id"]
    grant = f"/identity/v3/projects/{pid}/users/{uid}/roles/{member}"
    assert api.put(grant, headers=h).status_code == 204
    assert api.put(grant, headers=h).status_code == 204  # idempotent
    assert api.head(grant, headers=h).status_code == 204
    u9 = login(api, Credential("x", "u9", "pw9", "p9"))
    assert api.get(f"/identity/v3/projects/{pid}", headers=u9).status_code == 200
    listed = api.get(
        f"/identity/v3/role_assignments?user.id={uid}&include_names=True", headers=h
    ).json()["role_assignments"]
    assert listed == [
        {
            "role": {"id": member, "name": "member"},
            "user": {"id": uid, "name": "u9", "domain": {"id": "default", "name": "Default"}},
            "scope": {
                "project": {"id": pid, "name": "p9", "domain": {"id": "default", "name": "Default"}}
            },
            "links": {"assignment": f"/v3/projects/{pid}/users/{uid}/roles/{member}"},
        }
    ]
    renamed = api.patch(
        f"/identity/v3/projects/{pid}", json={"project": {"description": "nine"}}, headers=h
    )
    assert renamed.json()["project"]["description"] == "nine"
    assert api.delete(grant, headers=h).status_code == 204
    assert api.head(grant, headers=h).status_code == 404
    assert api.delete(f"/identity/v3/users/{uid}", headers=h).status_code == 204
    assert api.delete(f"/identity/v3/projects/{pid}", headers=h).status_code == 204
    assert api.get(f"/identity/v3/projects/{pid}", headers=h).status_code == 404


def test_members_cannot_administer(api: TestClient, user1_headers: dict[str, str]) -> None:
    h = user1_headers
    denied = api.post("/identity/v3/projects", json={"project": {"name": "x"}}, headers=h)
    assert denied.status_code == 403
    assert denied.json()["error"]["message"].startswith("Policy does not allow")
    assert (
        api.post("/identity/v3/users", json={"user": {"name": "x"}}, headers=h).status_code == 403
    )
    # As Keystone: a member may not list projects, only its own (which the CLI asks for with
    # /v3/auth/projects or /v3/users/{id}/projects), and sees only itself among users.
    listing = api.get("/identity/v3/projects", headers=h)
    assert listing.status_code == 403
    assert listing.json()["error"]["title"] == "Forbidden"
    mine = api.get("/identity/v3/auth/projects", headers=h).json()["projects"]
    assert [p["name"] for p in mine] == ["project1"]
    users = api.get("/identity/v3/users", headers=h).json()["users"]
    assert [u["name"] for u in users] == ["user1"]
    me = users[0]["id"]
    held = api.get(f"/identity/v3/users/{me}/projects", headers=h).json()["projects"]
    assert [p["name"] for p in held] == ["project1"]
    other = api.get("/identity/v3/users?name=admin", headers=h).json()["users"]
    assert other == []


def test_lookup_by_name_follows_the_cli_pattern(
    api: TestClient, admin_headers: dict[str, str]
) -> None:
    assert api.get("/identity/v3/projects/project1", headers=admin_headers).status_code == 404
    found = api.get("/identity/v3/projects?name=project1", headers=admin_headers).json()
    assert [p["name"] for p in found["projects"]] == ["project1"]


def test_bad_input_is_a_400_not_a_500(api: TestClient, admin_headers: dict[str, str]) -> None:
    h = admin_headers
    for body in ({}, {"project": "x"}, {"project": {"name": 5}}, {"project": {"name": ""}}):
        assert api.post("/identity/v3/projects", json=body, headers=h).status_code == 400
    enabled = api.post(
        "/identity/v3/projects", json={"project": {"name": "a", "enabled": "yes"}}, headers=h
    )
    assert enabled.status_code == 400
    unknown = api.post(
        "/identity/v3/users", json={"user": {"name": "z", "domain_id": "nope"}}, headers=h
    )
    assert unknown.status_code == 404


def test_password_hashing_profile_is_chosen_by_settings(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud
) -> None:
    from dataclasses import replace

    from passnic.config import Settings
    from passnic.identity.service import IdentityService

    monkeypatch.delenv("PASSNIC_PASSWORD_HASHING", raising=False)
    assert Settings().password_hashing == "rfc9106-low-memory"  # production strength
    with pytest.raises(ValueError, match="Unknown password hashing profile 'md5'"):
        IdentityService(cloud.db, replace(cloud.settings, password_hashing="md5"))
    strong = IdentityService(
        cloud.db, replace(cloud.settings, password_hashing="rfc9106-low-memory")
    )
    project = strong.seed_project("hashing")
    strong.seed_user("strong", "pw", project, "member")
    # A hash records its parameters: the cheap-profile service verifies the strong hash.
    from passnic.identity.service import PasswordAuth

    _token, info = cloud.identity.authenticate(
        PasswordAuth(password="pw", user_name="strong", project_name="hashing")
    )
    assert info.user.name == "strong"
