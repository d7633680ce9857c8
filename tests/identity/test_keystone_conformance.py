"""Keystone v3 as dashboards and strict clients use it: long names, unscoped tokens and
rescoping, the catalog, project tags and application credentials."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from passnic.bootstrap import Credential

TOKENS = "/identity/v3/auth/tokens"


def _password(user: str, password: str, scope: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "password": password, "domain": {"id": "default"}}
                },
            }
        }
    }
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def _unscoped(api: TestClient, cred: Credential) -> str:
    resp = api.post(TOKENS, json=_password(cred.username, cred.password, {"unscoped": {}}))
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert "project" not in token and "catalog" not in token and "roles" not in token
    return resp.headers["X-Subject-Token"]


def test_unscoped_token_lists_projects_then_rescopes(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    """Horizon's sign-in: unscoped password token, /auth/projects, then the token method."""
    unscoped = _unscoped(api, sample["user1"])
    h = {"X-Auth-Token": unscoped}
    projects = api.get("/identity/v3/auth/projects", headers=h)
    assert projects.status_code == 200
    names = [p["name"] for p in projects.json()["projects"]]
    assert names == ["project1"]
    me = api.get(TOKENS, headers={**h, "X-Subject-Token": unscoped}).json()["token"]
    assert (
        api.get(f"/identity/v3/users/{me['user']['id']}/projects", headers=h).json()["projects"][0][
            "name"
        ]
        == "project1"
    )
    assert api.get("/identity/v3/auth/domains", headers=h).json()["domains"] == []
    # an unscoped token is good for nothing else
    assert api.get("/identity/v3/auth/catalog", headers=h).status_code == 403
    assert api.get("/networking/v2.0/networks", headers=h).status_code == 401
    assert api.get("/compute/v2.1/servers", headers=h).status_code == 401

    pid = projects.json()["projects"][0]["id"]
    scoped = api.post(
        TOKENS,
        json={
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"id": pid}},
            }
        },
    )
    assert scoped.status_code == 201, scoped.text
    body = scoped.json()["token"]
    assert body["methods"] == ["token"]
    assert body["project"]["id"] == pid
    assert body["expires_at"] == me["expires_at"]
    sh = {"X-Auth-Token": scoped.headers["X-Subject-Token"]}
    cat = api.get("/identity/v3/auth/catalog", headers=sh)
    assert cat.status_code == 200
    assert {s["type"] for s in cat.json()["catalog"]} >= {"identity", "compute", "network"}
    assert api.get("/networking/v2.0/networks", headers=sh).status_code == 200
    # not to a project the user holds no role on
    other = api.post(
        TOKENS,
        json={
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"name": "project2", "domain": {"id": "default"}}},
            }
        },
    )
    assert other.status_code == 401


def test_names_up_to_255_characters(api: TestClient, admin_headers: dict[str, str]) -> None:
    h = admin_headers
    long = "p" * 255
    created = api.post("/identity/v3/projects", json={"project": {"name": long}}, headers=h)
    assert created.status_code == 201, created.text
    assert created.json()["project"]["name"] == long
    user = api.post("/identity/v3/users", json={"user": {"name": "u" * 255}}, headers=h)
    assert user.status_code == 201
    too_long = api.post("/identity/v3/projects", json={"project": {"name": "p" * 256}}, headers=h)
    assert too_long.status_code == 400


def test_project_tags_and_tag_filters(api: TestClient, admin_headers: dict[str, str]) -> None:
    h = admin_headers
    a = api.post(
        "/identity/v3/projects", json={"project": {"name": "ta", "tags": ["x", "y"]}}, headers=h
    ).json()["project"]
    assert a["tags"] == ["x", "y"]
    b = api.post("/identity/v3/projects", json={"project": {"name": "tb"}}, headers=h).json()[
        "project"
    ]
    tags = f"/identity/v3/projects/{b['id']}/tags"
    assert api.put(f"{tags}/y", headers=h).status_code == 201
    assert api.get(f"{tags}/y", headers=h).status_code == 204
    assert api.get(f"{tags}/nope", headers=h).status_code == 404
    assert api.get(tags, headers=h).json() == {"tags": ["y"]}

    def names(query: str) -> set[str]:
        resp = api.get(f"/identity/v3/projects?{query}", headers=h)
        assert resp.status_code == 200
        return {p["name"] for p in resp.json()["projects"]} & {"ta", "tb"}

    assert names("tags=x,y") == {"ta"}
    assert names("tags=y") == {"ta", "tb"}
    assert names("tags-any=x,z") == {"ta"}
    assert names("not-tags=x") == {"tb"}
    assert names("not-tags-any=y") == set()

    replaced = api.put(tags, json={"tags": ["z", "z", "w"]}, headers=h)
    assert replaced.json() == {"tags": ["w", "z"]}
    assert api.get(f"/identity/v3/projects/{b['id']}", headers=h).json()["project"]["tags"] == [
        "w",
        "z",
    ]
    assert api.put(tags, json={"tags": ["a/b"]}, headers=h).status_code == 400
    assert api.put(tags, json={"tags": [f"t{i}" for i in range(81)]}, headers=h).status_code == 400
    assert api.delete(f"{tags}/w", headers=h).status_code == 204
    assert api.delete(f"{tags}/w", headers=h).status_code == 404
    assert api.delete(tags, headers=h).status_code == 204
    assert api.get(tags, headers=h).json() == {"tags": []}
    patched = api.patch(
        f"/identity/v3/projects/{b['id']}", json={"project": {"tags": ["q"]}}, headers=h
    )
    assert patched.json()["project"]["tags"] == ["q"]


def test_member_cannot_change_tags(
    api: TestClient, user1_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    pid = api.get("/identity/v3/projects?name=project1", headers=admin_headers).json()["projects"][
        0
    ]["id"]
    tags = f"/identity/v3/projects/{pid}/tags"
    assert api.get(tags, headers=user1_headers).status_code == 200
    assert api.put(f"{tags}/mine", headers=user1_headers).status_code == 403


def _credential_auth(body: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": ["application_credential"], **body}}}


def test_application_credentials(
    api: TestClient, sample: dict[str, Credential], user1_headers: dict[str, str]
) -> None:
    h = user1_headers
    me = api.get(TOKENS, headers={**h, "X-Subject-Token": h["X-Auth-Token"]}).json()["token"]
    uid = me["user"]["id"]
    creds = f"/identity/v3/users/{uid}/application_credentials"
    made = api.post(creds, json={"application_credential": {"name": "agent"}}, headers=h)
    assert made.status_code == 201, made.text
    cred = made.json()["application_credential"]
    assert cred["project_id"] == me["project"]["id"]
    assert [r["name"] for r in cred["roles"]] == [r["name"] for r in me["roles"]]
    assert cred["unrestricted"] is False
    secret = cred["secret"]
    assert (
        api.get(f"{creds}/{cred['id']}", headers=h).json()["application_credential"]["name"]
        == "agent"
    )
    assert "secret" not in api.get(creds, headers=h).json()["application_credentials"][0]
    dup = api.post(creds, json={"application_credential": {"name": "agent"}}, headers=h)
    assert dup.status_code == 409

    by_id = api.post(
        TOKENS,
        json=_credential_auth({"application_credential": {"id": cred["id"], "secret": secret}}),
    )
    assert by_id.status_code == 201, by_id.text
    token = by_id.json()["token"]
    assert token["methods"] == ["application_credential"]
    assert token["project"]["id"] == me["project"]["id"]
    assert token["application_credential"] == {
        "id": cred["id"],
        "name": "agent",
        "restricted": True,
    }
    ah = {"X-Auth-Token": by_id.headers["X-Subject-Token"]}
    assert api.get("/networking/v2.0/networks", headers=ah).status_code == 200
    by_name = api.post(
        TOKENS,
        json=_credential_auth(
            {
                "application_credential": {
                    "name": "agent",
                    "secret": secret,
                    "user": {"name": "user1", "domain": {"name": "Default"}},
                }
            }
        ),
    )
    assert by_name.status_code == 201
    wrong = api.post(
        TOKENS,
        json=_credential_auth({"application_credential": {"id": cred["id"], "secret": "no"}}),
    )
    assert wrong.status_code == 401
    # a restricted credential cannot make more credentials
    more = api.post(creds, json={"application_credential": {"name": "more"}}, headers=ah)
    assert more.status_code == 403
    # another user neither sees nor deletes it
    other = api.get(creds, headers={"X-Auth-Token": _unscoped(api, sample["user2"])})
    assert other.status_code == 403
    # deleting it ends its tokens
    assert api.delete(f"{creds}/{cred['id']}", headers=h).status_code == 204
    assert api.get("/networking/v2.0/networks", headers=ah).status_code == 401
    assert api.get(f"{creds}/{cred['id']}", headers=h).status_code == 404


def test_application_credential_roles_must_be_held(
    api: TestClient, user1_headers: dict[str, str]
) -> None:
    h = user1_headers
    me = api.get(TOKENS, headers={**h, "X-Subject-Token": h["X-Auth-Token"]}).json()["token"]
    creds = f"/identity/v3/users/{me['user']['id']}/application_credentials"
    refused = api.post(
        creds,
        json={"application_credential": {"name": "x", "roles": [{"name": "admin"}]}},
        headers=h,
    )
    assert refused.status_code == 403
    past = api.post(
        creds,
        json={"application_credential": {"name": "y", "expires_at": "2000-01-01T00:00:00Z"}},
        headers=h,
    )
    assert past.status_code == 400
