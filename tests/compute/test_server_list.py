"""Server lists filter, sort and page as Nova's do; bad filter values are 400s."""

from __future__ import annotations

import dataclasses

from tests.compute.conftest import API, Scene


def _names(scene: Scene, query: str) -> list[str]:
    resp = scene.api.get(f"{API}/servers?{query}", headers=scene.user1)
    assert resp.status_code == 200, resp.text
    return [s["name"] for s in resp.json()["servers"]]


def test_filters_sorting_and_paging(scene: Scene) -> None:
    for name in ("vm-a", "vm-b", "vm-c"):
        scene.boot(name, networks=[{"port": scene.port(f"p-{name}", "normal")["id"]}])
    assert _names(scene, "sort_key=display_name&sort_dir=asc") == ["vm-a", "vm-b", "vm-c"]
    first = scene.api.get(
        f"{API}/servers?sort_key=display_name&sort_dir=asc&limit=2", headers=scene.user1
    ).json()
    assert [s["name"] for s in first["servers"]] == ["vm-a", "vm-b"]
    (link,) = first["servers_links"]
    assert link["rel"] == "next" and "marker=" in link["href"]
    marker = first["servers"][-1]["id"]
    rest = _names(scene, f"sort_key=display_name&sort_dir=asc&limit=2&marker={marker}")
    assert rest == ["vm-c"]
    assert _names(scene, "status=active&sort_key=display_name&sort_dir=asc") == [
        "vm-a",
        "vm-b",
        "vm-c",
    ]
    assert _names(scene, "status=SHUTOFF") == []
    assert _names(scene, f"image={scene.image_id}&limit=1") != []
    assert _names(scene, "flavor=no-such-flavor") == []
    assert _names(scene, "changes-since=2000-01-01T00:00:00Z") != []
    assert _names(scene, "changes-since=2999-01-01T00:00:00Z") == []
    for bad in (
        "status=FROZEN",
        "changes-since=yesterday",
        "limit=-1",
        "limit=x",
        "marker=nope",
        "sort_key=colour",
    ):
        resp = scene.api.get(f"{API}/servers?{bad}", headers=scene.user1)
        assert resp.status_code == 400, (bad, resp.text)
        assert "badRequest" in resp.json()


def test_the_maximum_page_caps_a_larger_limit(scene: Scene) -> None:
    for name in ("vm-a", "vm-b", "vm-c"):
        scene.boot(name, networks=[{"port": scene.port(f"p-{name}", "normal")["id"]}])
    scene.cloud.settings = dataclasses.replace(scene.cloud.settings, max_page=2)
    for path in ("servers", "servers/detail"):
        for query in ("sort_key=display_name&sort_dir=asc", "sort_key=display_name&limit=100"):
            body = scene.api.get(f"{API}/{path}?{query}", headers=scene.user1).json()
            assert len(body["servers"]) == 2, (path, query)
            (link,) = body["servers_links"]
            next_page = scene.api.get(link["href"], headers=scene.user1).json()
            assert len(next_page["servers"]) == 1
            assert "servers_links" not in next_page
