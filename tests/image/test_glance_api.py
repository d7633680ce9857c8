"""The Glance v2 wire format, through HTTP: what openstacksdk sends and reads."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passnic.cloud import Cloud

Headers = dict[str, str]
DATA = b"\x00\x01passnic" * 5000
PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTETS = {"Content-Type": "application/octet-stream"}


def create(api: TestClient, headers: Headers, **body: Any) -> dict[str, Any]:
    body = {"name": "img", "disk_format": "qcow2", "container_format": "bare", **body}
    resp = api.post("/image/v2/images", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    image: dict[str, Any] = resp.json()
    return image


def upload(api: TestClient, headers: Headers, image_id: str, data: bytes = DATA) -> None:
    resp = api.put(f"/image/v2/images/{image_id}/file", content=data, headers=headers | OCTETS)
    assert resp.status_code == 204, resp.text


def error_of(resp: Any) -> str:
    assert resp.headers["content-type"].startswith("application/json")
    message: str = resp.json()["error"]["message"]
    return message


def test_version_documents_need_no_token(api: TestClient) -> None:
    resp = api.get("/image")
    assert resp.status_code == 300
    current = [v for v in resp.json()["versions"] if v["status"] == "CURRENT"]
    assert len(current) == 1
    assert current[0]["links"][0]["href"] == "http://testserver/image/v2/"
    assert api.get("/image/v2").status_code == 200
    assert api.get("/image/v2/images").status_code == 401


def test_the_cli_create_upload_show_sequence(api: TestClient, user1_headers: Headers) -> None:
    # Exactly what `openstack image create --file` posts first.
    resp = api.post(
        "/image/v2/images",
        json={
            "name": "cirros",
            "disk_format": "qcow2",
            "container_format": "bare",
            "owner_specified.openstack.md5": "",
            "owner_specified.openstack.sha256": "",
            "owner_specified.openstack.object": "images/cirros",
        },
        headers=user1_headers,
    )
    assert resp.status_code == 201
    image = resp.json()
    assert resp.headers["Location"].endswith(f"/image/v2/images/{image['id']}")
    assert image["status"] == "queued"
    assert image["owner_specified.openstack.object"] == "images/cirros"  # flat, as Glance
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"

    upload(api, user1_headers, image["id"])
    shown = api.get(f"/image/v2/images/{image['id']}", headers=user1_headers).json()
    assert shown["status"] == "active"
    assert shown["size"] == len(DATA)
    assert shown["checksum"] == hashlib.md5(DATA).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    for key in ("created_at", "updated_at", "tags", "min_disk", "min_ram", "protected"):
        assert key in shown
    assert shown["created_at"].endswith("Z")

    resp = api.get(f"/image/v2/images/{image['id']}/file", headers=user1_headers)
    assert resp.status_code == 200
    assert resp.content == DATA
    assert resp.headers["Content-MD5"] == shown["checksum"]

    resp = api.put(
        f"/image/v2/images/{image['id']}/file", content=b"x", headers=user1_headers | OCTETS
    )
    assert resp.status_code == 409
    assert "active to saving" in error_of(resp)


def test_bad_input_is_a_4xx_with_a_json_message(api: TestClient, user1_headers: Headers) -> None:
    resp = api.post(
        "/image/v2/images", json={"name": "x", "disk_format": "floppy"}, headers=user1_headers
    )
    assert resp.status_code == 400
    assert "qcow2" in error_of(resp) and "floppy" in error_of(resp)

    resp = api.post(
        "/image/v2/images",
        content=b"{not json",
        headers=user1_headers | {"Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert "Malformed JSON" in error_of(resp)

    resp = api.post("/image/v2/images", json=["name"], headers=user1_headers)
    assert resp.status_code == 400

    resp = api.post("/image/v2/images", json={"name": "x", "size": 3}, headers=user1_headers)
    assert resp.status_code == 403 and "read-only" in error_of(resp)

    resp = api.get("/image/v2/images/cirros", headers=user1_headers)
    assert resp.status_code == 404
    assert error_of(resp) == "No image found with ID cirros"

    image = create(api, user1_headers)
    resp = api.put(
        f"/image/v2/images/{image['id']}/file",
        content=b"x",
        headers=user1_headers | {"Content-Type": "text/plain"},
    )
    assert resp.status_code == 415
    resp = api.patch(
        f"/image/v2/images/{image['id']}",
        json=[{"op": "replace", "path": "/name", "value": "y"}],
        headers=user1_headers,
    )
    assert resp.status_code == 415
    resp = api.patch(
        f"/image/v2/images/{image['id']}",
        content=b"[{",
        headers=user1_headers | PATCH,
    )
    assert resp.status_code == 400
    for query in ("limit=x", "limit=-1", "marker=nope", "visibility=secret", "os_hidden=maybe"):
        resp = api.get(f"/image/v2/images?{query}", headers=user1_headers)
        assert resp.status_code == 400, query
    resp = api.get(f"/image/v2/images/{image['id']}/file", headers=user1_headers)
    assert resp.status_code == 204  # no data yet, as Glance


def test_other_projects_private_images_are_not_found(
    api: TestClient, admin_headers: Headers, user1_headers: Headers, user2_headers: Headers
) -> None:
    private = create(api, user1_headers, name="mine", visibility="private")
    upload(api, user1_headers, private["id"])
    url = f"/image/v2/images/{private['id']}"
    for resp in (
        api.get(url, headers=user2_headers),
        api.get(f"{url}/file", headers=user2_headers),
        api.delete(url, headers=user2_headers),
        api.patch(url, json=[], headers=user2_headers | PATCH),
    ):
        assert resp.status_code == 404
    names = [i["name"] for i in api.get("/image/v2/images", headers=user2_headers).json()["images"]]
    assert "mine" not in names
    assert api.get(url, headers=admin_headers).status_code == 200

    resp = api.post(
        "/image/v2/images", json={"name": "pub", "visibility": "public"}, headers=user1_headers
    )
    assert resp.status_code == 403
    assert "publicize_image" in error_of(resp)
    public = create(api, admin_headers, name="pub", visibility="public")
    assert api.get(f"/image/v2/images/{public['id']}", headers=user2_headers).status_code == 200
    resp = api.delete(f"/image/v2/images/{public['id']}", headers=user2_headers)
    assert resp.status_code == 403


def test_patch_protect_and_delete(api: TestClient, user1_headers: Headers) -> None:
    image = create(api, user1_headers, protected=True)
    upload(api, user1_headers, image["id"])
    url = f"/image/v2/images/{image['id']}"

    resp = api.patch(
        url,
        json=[
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/hw_rng_model", "value": "virtio"},
            {"op": "add", "path": "/tags", "value": ["x", "y"]},
        ],
        headers=user1_headers | PATCH,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["name"], body["hw_rng_model"], body["tags"]) == ("renamed", "virtio", ["x", "y"])

    resp = api.patch(url, json=[{"op": "remove", "path": "/nope"}], headers=user1_headers | PATCH)
    assert resp.status_code == 409

    assert api.put(f"{url}/tags/z", headers=user1_headers).status_code == 204
    assert api.delete(f"{url}/tags/x", headers=user1_headers).status_code == 204
    assert api.get(url, headers=user1_headers).json()["tags"] == ["y", "z"]

    resp = api.delete(url, headers=user1_headers)
    assert resp.status_code == 403
    assert "protected" in error_of(resp)
    resp = api.patch(
        url,
        json=[{"op": "replace", "path": "/protected", "value": False}],
        headers=user1_headers | PATCH,
    )
    assert resp.status_code == 200
    assert api.delete(url, headers=user1_headers).status_code == 204
    assert api.get(url, headers=user1_headers).status_code == 404


def test_delete_removes_the_bytes(cloud: Cloud, api: TestClient, user1_headers: Headers) -> None:
    image = create(api, user1_headers)
    upload(api, user1_headers, image["id"])
    assert (cloud.settings.image_dir / image["id"]).exists()
    assert api.delete(f"/image/v2/images/{image['id']}", headers=user1_headers).status_code == 204
    assert not (cloud.settings.image_dir / image["id"]).exists()


def test_list_filters_and_next_links(api: TestClient, user1_headers: Headers) -> None:
    ids = [create(api, user1_headers, name=f"img{i}")["id"] for i in range(5)]
    upload(api, user1_headers, ids[0])

    def listed(query: str) -> dict[str, Any]:
        resp = api.get(f"/image/v2/images?{query}", headers=user1_headers)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def names(query: str) -> list[str]:
        return sorted(i["name"] for i in listed(query)["images"])

    assert names("name=img3") == ["img3"]
    assert names(f"id=in:{ids[1]},{ids[2]}") == ["img1", "img2"]
    assert names("status=active") == ["cirros", "img0"]  # the sample cloud's public cirros
    assert names("visibility=shared") == [f"img{i}" for i in range(5)]
    assert names("os_hidden=True") == []  # openstacksdk's second lookup pass

    body = listed("limit=2&sort_key=name&sort_dir=asc")
    assert body["first"] == "/v2/images" and body["schema"] == "/v2/schemas/images"
    seen = [i["name"] for i in body["images"]]
    while "next" in body:
        assert body["next"].startswith("/v2/images?")
        body = listed(body["next"].split("?", 1)[1])
        seen += [i["name"] for i in body["images"]]
    assert seen == ["cirros"] + [f"img{i}" for i in range(5)]
    assert [i["name"] for i in listed("sort=name:desc")["images"]] == seen[::-1]


@pytest.mark.parametrize("path", ["/image/v2/schemas/image", "/image/v2/schemas/images"])
def test_schemas(api: TestClient, user1_headers: Headers, path: str) -> None:
    resp = api.get(path, headers=user1_headers)
    assert resp.status_code == 200
    assert resp.json()["name"] in ("image", "images")
