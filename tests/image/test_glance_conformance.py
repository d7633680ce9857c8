"""Glance behaviour beyond the CLI's sequence: sharing images with members, deactivation,
reserved properties, the v2.0 patch media type and the trailing-slash 404."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.image.test_glance_api import OCTETS, Headers, create, error_of, upload

V2 = "/image/v2"
PATCH_20 = {"Content-Type": "application/openstack-images-v2.0-json-patch"}


def _project_of(api: TestClient, headers: Headers) -> str:
    token = headers["X-Auth-Token"]
    body = api.get("/identity/v3/auth/tokens", headers={**headers, "X-Subject-Token": token})
    project: str = body.json()["token"]["project"]["id"]
    return project


def _ids(api: TestClient, headers: Headers, query: str = "") -> set[str]:
    return {i["id"] for i in api.get(f"{V2}/images{query}", headers=headers).json()["images"]}


def test_sharing_an_image_with_another_project(
    api: TestClient, user1_headers: Headers, user2_headers: Headers
) -> None:
    image = create(api, user1_headers, visibility="shared")
    iid = image["id"]
    project2 = _project_of(api, user2_headers)
    members = f"{V2}/images/{iid}/members"
    assert api.get(f"{V2}/images/{iid}", headers=user2_headers).status_code == 404
    # only the owner shares, and only a shared image
    assert api.post(members, json={"member": project2}, headers=user2_headers).status_code == 404
    private = create(api, user1_headers, visibility="private")
    refused = api.post(
        f"{V2}/images/{private['id']}/members", json={"member": project2}, headers=user1_headers
    )
    assert refused.status_code == 403
    added = api.post(members, json={"member": project2}, headers=user1_headers)
    assert added.status_code == 200, added.text
    assert added.json()["status"] == "pending"
    assert api.post(members, json={"member": project2}, headers=user1_headers).status_code == 409
    # pending: the member can show the image but does not list it
    assert api.get(f"{V2}/images/{iid}", headers=user2_headers).status_code == 200
    assert iid not in _ids(api, user2_headers)
    # the owner cannot accept for the member
    owner_try = api.put(f"{members}/{project2}", json={"status": "accepted"}, headers=user1_headers)
    assert owner_try.status_code == 403
    bad = api.put(f"{members}/{project2}", json={"status": "maybe"}, headers=user2_headers)
    assert bad.status_code == 400
    accepted = api.put(f"{members}/{project2}", json={"status": "accepted"}, headers=user2_headers)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert iid in _ids(api, user2_headers)
    assert iid in _ids(api, user2_headers, "?visibility=shared")
    listed = api.get(members, headers=user2_headers).json()
    assert [m["member_id"] for m in listed["members"]] == [project2]
    assert api.get(f"{members}/{project2}", headers=user1_headers).json()["status"] == "accepted"
    # a member cannot change the image nor remove itself
    patch = [{"op": "replace", "path": "/name", "value": "mine"}]
    assert (
        api.patch(f"{V2}/images/{iid}", json=patch, headers=user2_headers | PATCH_20).status_code
        == 403
    )
    assert api.delete(f"{members}/{project2}", headers=user2_headers).status_code == 403
    assert api.delete(f"{members}/{project2}", headers=user1_headers).status_code == 204
    assert api.get(f"{V2}/images/{iid}", headers=user2_headers).status_code == 404


def test_deactivate_and_reactivate(
    api: TestClient, user1_headers: Headers, user2_headers: Headers
) -> None:
    queued = create(api, user1_headers)
    resp = api.post(f"{V2}/images/{queued['id']}/actions/deactivate", headers=user1_headers)
    assert resp.status_code == 403
    image = create(api, user1_headers)
    iid = image["id"]
    upload(api, user1_headers, iid)
    deactivate = f"{V2}/images/{iid}/actions/deactivate"
    assert api.post(deactivate, headers=user2_headers).status_code == 404
    assert api.post(deactivate, headers=user1_headers).status_code == 204
    assert api.post(deactivate, headers=user1_headers).status_code == 204  # harmless again
    assert api.get(f"{V2}/images/{iid}", headers=user1_headers).json()["status"] == "deactivated"
    download = api.get(f"{V2}/images/{iid}/file", headers=user1_headers)
    assert download.status_code == 403
    assert "deactivated" in error_of(download)
    assert (
        api.post(f"{V2}/images/{iid}/actions/reactivate", headers=user1_headers).status_code == 204
    )
    assert api.get(f"{V2}/images/{iid}/file", headers=user1_headers).status_code == 200


def test_reserved_properties_are_refused(api: TestClient, user1_headers: Headers) -> None:
    body = {"name": "x", "os_glance_import_task": "t"}
    created = api.post(f"{V2}/images", json=body, headers=user1_headers)
    assert created.status_code == 403
    assert error_of(created) == "Attribute 'os_glance_import_task' is reserved."
    image = create(api, user1_headers)
    patch = [{"op": "add", "path": "/os_glance_foo", "value": "1"}]
    resp = api.patch(f"{V2}/images/{image['id']}", json=patch, headers=user1_headers | PATCH_20)
    assert resp.status_code == 403


def test_v20_patch_and_its_errors(api: TestClient, user1_headers: Headers) -> None:
    image = create(api, user1_headers)
    url = f"{V2}/images/{image['id']}"
    ops = [
        {"op": "add", "path": "/hw_vif_model", "value": "e1000"},
        {"op": "replace", "path": "/name", "value": "renamed"},
    ]
    patched = api.patch(url, json=ops, headers=user1_headers | PATCH_20)
    assert patched.status_code == 200, patched.text
    assert patched.json()["hw_vif_model"] == "e1000" and patched.json()["name"] == "renamed"
    removed = api.patch(
        url, json=[{"op": "remove", "path": "/hw_vif_model"}], headers=user1_headers | PATCH_20
    )
    assert "hw_vif_model" not in removed.json()
    missing = api.patch(
        url, json=[{"op": "remove", "path": "/nope"}], headers=user1_headers | PATCH_20
    )
    assert 400 <= missing.status_code < 500
    bad_op = api.patch(
        url, json=[{"op": "move", "path": "/name"}], headers=user1_headers | PATCH_20
    )
    assert bad_op.status_code == 400
    plain = api.patch(url, json=ops, headers=user1_headers | OCTETS)
    assert plain.status_code == 415


def test_trailing_slash_is_a_404(api: TestClient, user1_headers: Headers) -> None:
    for method in ("GET", "POST"):
        resp = api.request(method, f"{V2}/images/", headers=user1_headers, json={})
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("application/json")


def test_size_filters(api: TestClient, user1_headers: Headers) -> None:
    small, big = create(api, user1_headers), create(api, user1_headers)
    upload(api, user1_headers, small["id"], b"x" * 10)
    upload(api, user1_headers, big["id"], b"x" * 1000)
    mine = {small["id"], big["id"]}
    assert _ids(api, user1_headers, "?size_min=100") & mine == {big["id"]}
    assert _ids(api, user1_headers, "?size_max=100") & mine == {small["id"]}
    assert _ids(api, user1_headers, "?size_min=5&size_max=20") & mine == {small["id"]}
    assert api.get(f"{V2}/images?size_min=x", headers=user1_headers).status_code == 400
