"""Flavor lists as Nova pages and filters them: minRam, minDisk, limit and marker."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.compute.conftest import API


def test_filters_and_paging(api: TestClient, admin_headers: dict[str, str]) -> None:
    for name, ram, disk in (("f1", 512, 1), ("f2", 2048, 10), ("f3", 4096, 40)):
        body = {"flavor": {"name": name, "ram": ram, "vcpus": 1, "disk": disk}}
        assert api.post(f"{API}/flavors", json=body, headers=admin_headers).status_code == 200

    def names(query: str) -> tuple[list[str], list[dict[str, str]]]:
        resp = api.get(f"{API}/flavors/detail?{query}", headers=admin_headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return [f["name"] for f in body["flavors"] if f["name"] in ("f1", "f2", "f3")], body.get(
            "flavors_links", []
        )

    assert names("minRam=2048")[0] == ["f2", "f3"]
    assert names("minDisk=20")[0] == ["f3"]
    assert names("minRam=1000&minDisk=5")[0] == ["f2", "f3"]
    every = api.get(f"{API}/flavors", headers=admin_headers).json()["flavors"]
    page = api.get(f"{API}/flavors?limit=1", headers=admin_headers).json()
    assert [f["id"] for f in page["flavors"]] == [every[0]["id"]]
    assert f"marker={every[0]['id']}" in page["flavors_links"][0]["href"]
    rest = api.get(f"{API}/flavors?marker={every[0]['id']}", headers=admin_headers).json()
    assert [f["id"] for f in rest["flavors"]] == [f["id"] for f in every[1:]]
    assert "flavors_links" not in rest
    for query, words in (
        ("minRam=abc", "Invalid minRam filter [abc]"),
        ("minDisk=-1", "Invalid minDisk filter [-1]"),
        ("marker=nosuch", "marker [nosuch] not found"),
        ("limit=x", "Invalid limit filter [x]"),
    ):
        resp = api.get(f"{API}/flavors?{query}", headers=admin_headers)
        assert resp.status_code == 400, query
        assert resp.json()["badRequest"]["message"] == words
