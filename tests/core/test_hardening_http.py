"""Hardening through the HTTP API, on SQLite and PostgreSQL: stored bad values, NUL bytes in
compute bodies, races with deletes, what a member's "no valid host" may name, settings that
must reach the workers, and the bodies /openapi.json documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passnic.config import Settings
from tests.compute.conftest import ADMIN, API, DATANET, Scene
from tests.compute.conftest import scene as scene  # the compute tests' fixture
from tests.conftest import BOTH_BACKENDS, assert_bodies_documented, make_database_url


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request.param, request, tmp_path)


def _post_raw(api: TestClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    """POST a JSON body with ASCII escapes (httpx cannot encode a lone surrogate itself)."""
    return api.post(
        path,
        content=json.dumps(body).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )


def _server_names(scene: Scene) -> tuple[list[str], list[str]]:
    """The names in user1's project list and in the admin's all-projects list (both 200)."""
    mine = scene.api.get(f"{API}/servers/detail", headers=scene.user1)
    every = scene.api.get(f"{API}/servers/detail?all_tenants=True", headers=scene.admin)
    assert mine.status_code == 200, mine.text
    assert every.status_code == 200, every.text
    return (
        [s["name"] for s in mine.json()["servers"]],
        [s["name"] for s in every.json()["servers"]],
    )


# ---- a stored bad value never breaks a read ----------------------------------------------


@pytest.mark.parametrize("value", ["\ud800", "a\x00b"], ids=["surrogate", "nul"])
def test_a_boot_with_bad_metadata_leaves_the_lists_readable(scene: Scene, value: str) -> None:
    """Once answered 500 yet created the server, and servers/detail answered 500 ever after."""
    body = {
        "server": {
            "name": "bad-metadata",
            "imageRef": scene.image_id,
            "flavorRef": scene.flavor_id("small"),
            "networks": "none",
            "metadata": {"k": value},
        }
    }
    resp = _post_raw(scene.api, f"{API}/servers", body, scene.user1)
    scene.hosts.settle()
    assert resp.status_code < 500, resp.text
    mine, every = _server_names(scene)
    if resp.status_code >= 400:  # refused: nothing was kept
        assert "bad-metadata" not in mine and "bad-metadata" not in every
    else:  # kept (a NUL on SQLite): it reads back
        sid = resp.json()["server"]["id"]
        assert scene.show(sid, scene.user1)["metadata"] == {"k": value}


def test_a_nul_in_compute_bodies_is_never_a_5xx(scene: Scene) -> None:
    """The NUL class of the issue names compute bodies too; test_bad_input sends none."""
    h = scene.admin
    for path, body in (
        (f"{API}/flavors", {"flavor": {"name": "a\x00b", "vcpus": 1, "ram": 64, "disk": 1}}),
        (f"{API}/os-keypairs", {"keypair": {"name": "k\x00"}}),
        (
            f"{API}/servers",
            {
                "server": {
                    "name": "n\x00",
                    "imageRef": scene.image_id,
                    "flavorRef": scene.flavor_id("small"),
                    "networks": "none",
                }
            },
        ),
    ):
        resp = scene.api.post(path, json=body, headers=h)
        assert resp.status_code < 500, (path, resp.text)
    scene.hosts.settle()
    _server_names(scene)


# ---- races give clean answers ------------------------------------------------------------


def test_a_boot_reserving_a_port_deleted_meanwhile_is_a_404(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The boot read the port, a delete committed, then the boot reserved it (StaleDataError,
    a 500). tests/network covers set_device alone; this goes through POST /servers."""
    if scene.cloud.db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer: the boot's quota claim blocks the racing delete")
    port = scene.port("doomed")
    network = scene.cloud.compute.network
    original = network.port_segment
    raced: list[str] = []

    def racing(s: Any, port_id: str) -> Any:
        seg = original(s, port_id)
        with scene.cloud.db.transaction() as other:
            scene.cloud.network.delete_port_in(other, port_id)
        raced.append(port_id)
        return seg

    monkeypatch.setattr(network, "port_segment", racing)
    resp = scene.api.post(
        f"{API}/servers",
        json={
            "server": {
                "name": "racer",
                "imageRef": scene.image_id,
                "flavorRef": scene.flavor_id("small"),
                "networks": [{"port": port["id"]}],
            }
        },
        headers=scene.user1,
    )
    monkeypatch.undo()
    assert raced == [port["id"]]
    assert resp.status_code == 404, resp.text
    assert resp.json()["itemNotFound"]["message"] == f"Port {port['id']} could not be found."
    mine, _every = _server_names(scene)
    assert "racer" not in mine


# ---- "no valid host" shown to a member ---------------------------------------------------


def _project2_holds_a_nic(scene: Scene) -> dict[str, Any]:
    """project2's net2 (VLAN 20 of the same data network) and a server of theirs holding one
    of the two passthrough NICs."""
    project2 = scene.cloud.identity.list_projects(ADMIN, name="project2")[0].id
    network = scene.api.post(
        "/networking/v2.0/networks",
        json={
            "network": {
                "name": "net2",
                "project_id": project2,
                "provider:network_type": "vlan",
                "provider:physical_network": DATANET,
                "provider:segmentation_id": "20",
            }
        },
        headers=scene.admin,
    )
    assert network.status_code == 201, network.text
    net_id = network.json()["network"]["id"]
    subnet = scene.api.post(
        "/networking/v2.0/subnets",
        json={"subnet": {"network_id": net_id, "cidr": "192.168.20.0/24", "ip_version": 4}},
        headers=scene.user2,
    )
    assert subnet.status_code == 201, subnet.text
    port = scene.api.post(
        "/networking/v2.0/ports",
        json={"port": {"network_id": net_id, "binding:vnic_type": "direct-physical"}},
        headers=scene.user2,
    )
    assert port.status_code == 201, port.text
    theirs = scene.boot(
        "secret-vm", networks=[{"port": port.json()["port"]["id"]}], headers=scene.user2
    )
    assert theirs["status"] == "ACTIVE", theirs.get("fault")
    return theirs


def test_a_members_boot_fault_does_not_name_other_projects_servers(scene: Scene) -> None:
    """test_tenant_boundaries calls placement with ``shown``; this is what user1 reads."""
    vm1 = scene.boot("vm1", networks=[{"port": scene.port("p1")["id"]}])
    assert vm1["status"] == "ACTIVE", vm1.get("fault")
    _project2_holds_a_nic(scene)
    vm3 = scene.boot("vm3", networks=[{"port": scene.port("p3")["id"]}])
    assert vm3["status"] == "ERROR"
    shown = scene.show(vm3["id"], scene.user1)
    message = shown["fault"]["message"]
    assert message.startswith("No valid host"), message
    assert "secret-vm" not in message and "another project's server" in message, message
    actions = f"{API}/servers/{vm3['id']}/os-instance-actions"
    (create,) = scene.api.get(actions, headers=scene.user1).json()["instanceActions"]
    detail = scene.api.get(f"{actions}/{create['request_id']}", headers=scene.user1)
    assert "secret-vm" not in detail.text


def test_a_members_resize_refusal_does_not_name_other_projects_servers(scene: Scene) -> None:
    """A member may resize (a cold migration to another host): its 'No valid host' answer is
    as much the member's as a boot fault."""
    vm1 = scene.boot("vm1", networks=[{"port": scene.port("p1")["id"]}])
    assert vm1["status"] == "ACTIVE", vm1.get("fault")
    _project2_holds_a_nic(scene)
    flavor = scene.api.post(
        f"{API}/flavors",
        json={"flavor": {"name": "medium", "ram": 1024, "vcpus": 2, "disk": 1}},
        headers=scene.admin,
    )
    assert flavor.status_code == 200, flavor.text
    resp = scene.action(
        vm1["id"], {"resize": {"flavorRef": flavor.json()["flavor"]["id"]}}, scene.user1
    )
    assert resp.status_code == 400, resp.text
    message = resp.json()["badRequest"]["message"]
    assert message.startswith("No valid host"), message
    actions = f"{API}/servers/{vm1['id']}/os-instance-actions"
    listed = scene.api.get(actions, headers=scene.user1).json()["instanceActions"]
    resize = next(a for a in listed if a["action"] == "resize")
    events = scene.api.get(f"{actions}/{resize['request_id']}", headers=scene.user1).text
    assert "secret-vm" not in message, message
    assert "secret-vm" not in events, events


# ---- settings reach the worker processes -------------------------------------------------


def test_serve_hands_the_token_ttl_to_its_workers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_up_honours_the_environments_settings replaces serve(); this runs it with two
    workers (uvicorn.run replaced) and reads the environment the workers would inherit."""
    from dataclasses import replace
    from datetime import timedelta

    import passnic.server

    ttl = replace(settings, token_ttl=timedelta(seconds=120))
    for key in ttl.export():
        monkeypatch.setenv(key, "")  # restored after the test, whatever serve() sets
    monkeypatch.setenv("PASSNIC_TOKEN_TTL_SECONDS", "3600")
    monkeypatch.setattr(passnic.server.signal, "signal", lambda *_a: None)
    seen: list[Settings] = []
    monkeypatch.setattr(
        passnic.server.uvicorn, "run", lambda *_a, **_k: seen.append(Settings.from_env())
    )
    passnic.server.serve(ttl, "127.0.0.1", 0, workers=2, say=lambda _line: None)
    (worker,) = seen
    assert worker.token_ttl == timedelta(seconds=120)
    assert worker.database_url == settings.database_url


# ---- /openapi.json documents the identity and fabric bodies -------------------------------


def test_openapi_documents_the_identity_and_fabric_bodies(api: TestClient) -> None:
    """Compute, image, networking and inventory have such a test; identity and fabric had
    none."""
    spec = api.get("/openapi.json").json()
    documented = {
        ("/identity/v3/auth/tokens", "post"): "AuthRequest",
        ("/identity/v3/projects", "post"): "ProjectBody",
        ("/identity/v3/projects/{project_id}", "patch"): "ProjectPatch",
        ("/identity/v3/users", "post"): "UserBody",
        ("/identity/v3/users/{user_id}", "patch"): "UserPatch",
        ("/identity/v3/roles", "post"): "RoleBody",
        ("/fabric/v1/switches", "post"): "SwitchBody",
        ("/fabric/v1/links", "put"): "LinkBody",
        ("/fabric/v1/servers/{server_id}/trunk", "put"): "TrunkBody",
    }
    assert_bodies_documented(spec, documented)
    schemas = spec["components"]["schemas"]

    def fields(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """Every property name the schema and the schemas it refers to describe."""
        found: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                ref = node.get("$ref", "")
                if ref and ref.rsplit("/", 1)[1] not in seen:
                    found.update(fields(ref.rsplit("/", 1)[1], seen | {name}))
                found.update(node.get("properties", {}))
                for child in node.values():
                    walk(child)
            elif isinstance(node, list):
                for child in node:
                    walk(child)

        walk(schemas[name])
        return found

    assert {"identity", "methods", "password", "user", "domain", "scope"} <= fields("AuthRequest")
    assert {"name", "driver", "password"} <= fields("SwitchBody")
