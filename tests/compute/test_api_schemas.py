"""Every compute view Passnic answers validates against the response schemas strict clients
use (tempest.lib.api_schema, from the installed tempest package) at the lowest and the highest
microversion Passnic advertises; and microversions are negotiated as Nova negotiates them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tempest.lib.api_schema.response.compute as tempest_compute
from fastapi.testclient import TestClient
from tempest.lib.common.rest_client import RestClient

from passnic.compute.microversion import MAX, MIN, APIVersion
from tests.compute.conftest import API, Scene
from tests.compute.test_server_extras import PUBLIC_KEY, port_boot_body
from tests.conftest import make_database_url


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Shapes do not depend on the database: SQLite only."""
    return make_database_url("sqlite", request, tmp_path)


def _schema_versions() -> list[APIVersion]:
    names = [m.name for m in pkgutil.iter_modules(tempest_compute.__path__)]
    return sorted(APIVersion.parse(n[1:].replace("_", ".")) for n in names if n.startswith("v2_"))


def schema(module: str, name: str, version: APIVersion) -> dict[str, Any]:
    """Tempest's schema ``module.name`` for ``version``: from the highest v2_X package at or
    below it that defines it, as tempest's clients choose (schema_versions_info)."""
    for candidate in reversed(_schema_versions()):
        if candidate > version:
            continue
        package = f"{tempest_compute.__name__}.v{candidate.major}_{candidate.minor}"
        try:
            found = importlib.import_module(f"{package}.{module}")
        except ModuleNotFoundError:
            continue
        if hasattr(found, name):
            value: dict[str, Any] = getattr(found, name)
            return value
    raise LookupError(f"tempest has no schema {module}.{name} for {version}")


class _Response(dict[str, str]):
    """What tempest's validator reads of a response: its status and headers."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(headers)
        self.status = status


def check(
    api: TestClient,
    version: APIVersion,
    headers: dict[str, str],
    module: str,
    name: str,
    method: str,
    path: str,
    body: Any = None,
) -> Any:
    hdrs = {**headers, "OpenStack-API-Version": f"compute {version}"}
    resp = api.request(method, f"{API}{path}", json=body, headers=hdrs)
    assert resp.status_code < 300, (path, resp.text)
    assert resp.headers["OpenStack-API-Version"] == f"compute {version}"
    answer = resp.json() if resp.content else None
    RestClient.validate_response(
        schema(module, name, version), _Response(resp.status_code, dict(resp.headers)), answer
    )
    return answer


def created_project(scene: Scene) -> str:
    token = scene.user1["X-Auth-Token"]
    resp = scene.api.get(
        "/identity/v3/auth/tokens", headers={**scene.admin, "X-Subject-Token": token}
    )
    project_id: str = resp.json()["token"]["project"]["id"]
    return project_id


@pytest.fixture(params=[MIN, MAX], ids=str)
def version(request: pytest.FixtureRequest) -> Iterator[APIVersion]:
    yield request.param


def test_every_view_matches_tempest(scene: Scene, version: APIVersion) -> None:
    api, admin, user = scene.api, scene.admin, scene.user1
    flavor_id = scene.alias_flavor("nic", "nic-82574", "8086", "10d3")

    def both(module: str, name: str, method: str, path: str, body: Any = None) -> Any:
        check(api, version, user, module, name, method, path, body)
        return check(api, version, admin, module, name, method, path, body)

    # flavors
    check(api, version, admin, "flavors", "list_flavors", "GET", "/flavors")
    both("flavors", "list_flavors_details", "GET", "/flavors/detail")
    both("flavors", "create_update_get_flavor_details", "GET", f"/flavors/{flavor_id}")
    new = {"flavor": {"name": "made", "ram": 64, "vcpus": 1, "disk": 1}}
    new["flavor"]["os-flavor-access:is_public"] = False
    made = check(
        api, version, admin, "flavors", "create_update_get_flavor_details", "POST", "/flavors", new
    )
    specs = f"/flavors/{flavor_id}/os-extra_specs"
    check(api, version, admin, "flavors_extra_specs", "set_get_flavor_extra_specs", "GET", specs)
    key = f"{specs}/pci_passthrough:alias"
    check(api, version, admin, "flavors_extra_specs", "set_get_flavor_extra_specs_key", "GET", key)
    access = f"/flavors/{made['flavor']['id']}/os-flavor-access"
    check(api, version, admin, "flavors_access", "add_remove_list_flavor_access", "GET", access)

    # servers: create, show, lists, actions, migrations
    port = scene.port("port0")
    boot = port_boot_body(scene, port["id"])
    created = check(
        api, version, user, "servers", "create_server_with_admin_pass", "POST", "/servers", boot
    )
    sid = created["server"]["id"]
    scene.hosts.settle()
    both("servers", "get_server", "GET", f"/servers/{sid}")
    both("servers", "list_servers", "GET", "/servers")
    both("servers", "list_servers_detail", "GET", "/servers/detail")
    actions = both("servers", "list_instance_actions", "GET", f"/servers/{sid}/os-instance-actions")
    request_id = actions["instanceActions"][0]["request_id"]
    both(
        "servers", "show_instance_action", "GET", f"/servers/{sid}/os-instance-actions/{request_id}"
    )
    rebuild = {"rebuild": {"imageRef": scene.image_id}}
    action = f"/servers/{sid}/action"
    check(api, version, user, "servers", "rebuild_server_with_admin_pass", "POST", action, rebuild)
    scene.hosts.settle()
    assert scene.show(sid)["status"] == "ACTIVE"
    migrate = scene.action(sid, {"migrate": None})
    assert migrate.status_code == 202, migrate.text
    check(api, version, admin, "migrations", "list_migrations", "GET", "/os-migrations")
    check(
        api, version, admin, "servers", "list_live_migrations", "GET", f"/servers/{sid}/migrations"
    )

    # what a server has beside its lifecycle
    server = f"/servers/{sid}"
    both("servers", "list_addresses", "GET", f"{server}/ips")
    check(api, version, user, "interfaces", "list_interfaces", "GET", f"{server}/os-interface")
    port_path = f"{server}/os-interface/{port['id']}"
    check(api, version, user, "interfaces", "get_create_interfaces", "GET", port_path)
    groups = check(
        api,
        version,
        user,
        "security_groups",
        "list_security_groups",
        "GET",
        f"{server}/os-security-groups",
    )
    assert groups == {"security_groups": []}
    meta = {"metadata": {"role": "db"}}
    check(api, version, user, "servers", "set_server_metadata", "PUT", f"{server}/metadata", meta)
    check(
        api, version, user, "servers", "update_server_metadata", "POST", f"{server}/metadata", meta
    )
    check(api, version, user, "servers", "list_server_metadata", "GET", f"{server}/metadata")
    item, item_path = {"meta": {"role": "web"}}, f"{server}/metadata/role"
    for method in ("PUT", "GET"):
        check(
            api, version, user, "servers", "set_show_server_metadata_item", method, item_path, item
        )
    rename = {"server": {"name": "vm1-renamed"}}
    check(api, version, user, "servers", "update_server", "PUT", server, rename)
    assert scene.action(sid, {"lock": None}, scene.user1).status_code == 202
    both("servers", "get_server", "GET", server)
    assert scene.action(sid, {"unlock": None}, scene.user1).status_code == 202
    console = {"os-getConsoleOutput": {"length": 10}}
    action = f"{server}/action"
    check(api, version, user, "servers", "get_console_output", "POST", action, console)
    if version >= APIVersion(2, 26):
        tags = f"{server}/tags"
        check(api, version, user, "servers", "update_all_tags", "PUT", tags, {"tags": ["a"]})
        check(api, version, user, "servers", "list_tags", "GET", tags)
        check(api, version, user, "servers", "update_tag", "PUT", f"{tags}/b")
        check(api, version, user, "servers", "check_tag_existence", "GET", f"{tags}/b")
        check(api, version, user, "servers", "delete_tag", "DELETE", f"{tags}/b")
        check(api, version, user, "servers", "delete_all_tags", "DELETE", tags)

    # key pairs, server groups, limits, quotas, zones
    key = {"keypair": {"name": "k1", "public_key": PUBLIC_KEY}}
    check(api, version, user, "keypairs", "create_keypair", "POST", "/os-keypairs", key)
    check(api, version, user, "keypairs", "list_keypairs", "GET", "/os-keypairs")
    check(api, version, user, "keypairs", "get_keypair", "GET", "/os-keypairs/k1")
    check(api, version, user, "keypairs", "delete_keypair", "DELETE", "/os-keypairs/k1")
    policy = (
        {"policy": "anti-affinity"}
        if version >= APIVersion(2, 64)
        else {"policies": ["anti-affinity"]}
    )
    made_group = check(
        api,
        version,
        user,
        "server_groups",
        "create_show_server_group",
        "POST",
        "/os-server-groups",
        {"server_group": {"name": "g1", **policy}},
    )
    group_path = f"/os-server-groups/{made_group['server_group']['id']}"
    check(api, version, user, "server_groups", "create_show_server_group", "GET", group_path)
    check(api, version, user, "server_groups", "list_server_groups", "GET", "/os-server-groups")
    check(api, version, user, "server_groups", "delete_server_group", "DELETE", group_path)
    both("limits", "get_limit", "GET", "/limits")
    project = created_project(scene)
    both("quotas", "get_quota_set", "GET", f"/os-quota-sets/{project}")
    both("quotas", "get_quota_set", "GET", f"/os-quota-sets/{project}/defaults")
    both("quotas", "get_quota_set_details", "GET", f"/os-quota-sets/{project}/detail")
    raised = {"quota_set": {"instances": 20}}
    path = f"/os-quota-sets/{project}"
    check(api, version, admin, "quotas", "update_quota_set", "PUT", path, raised)
    check(api, version, admin, "quotas", "delete_quota", "DELETE", path)
    both("availability_zone", "list_availability_zone_list", "GET", "/os-availability-zone")
    check(
        api,
        version,
        admin,
        "availability_zone",
        "list_availability_zone_list_detail",
        "GET",
        "/os-availability-zone/detail",
    )

    # hosts
    check(api, version, admin, "services", "list_services", "GET", "/os-services")
    check(api, version, admin, "hypervisors", "list_search_hypervisors", "GET", "/os-hypervisors")
    hypervisors = check(
        api,
        version,
        admin,
        "hypervisors",
        "list_hypervisors_detail",
        "GET",
        "/os-hypervisors/detail",
    )
    first = hypervisors["hypervisors"][0]["id"]
    check(api, version, admin, "hypervisors", "get_hypervisor", "GET", f"/os-hypervisors/{first}")


# ---- negotiation -----------------------------------------------------------------------------


def _get(api: TestClient, headers: dict[str, str], **version: str) -> Any:
    return api.get(f"{API}/flavors", headers={"X-Auth-Token": headers["X-Auth-Token"], **version})


def test_no_header_is_the_lowest_version(scene: Scene) -> None:
    resp = _get(scene.api, scene.admin)
    assert resp.headers["OpenStack-API-Version"] == "compute 2.1"
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in resp.headers["Vary"]
    assert resp.headers["x-compute-request-id"] == resp.headers["x-openstack-request-id"]
    assert all("description" not in f for f in resp.json()["flavors"])


@pytest.mark.parametrize(
    ("sent", "answered"),
    [
        ({"OpenStack-API-Version": "compute latest"}, str(MAX)),
        ({"OpenStack-API-Version": "image 2.5, compute 2.55"}, "2.55"),
        ({"X-OpenStack-Nova-API-Version": "2.60"}, "2.60"),
        # the new header wins over the legacy one
        ({"OpenStack-API-Version": "compute 2.3", "X-OpenStack-Nova-API-Version": "2.60"}, "2.3"),
        # another service's version is not compute's
        ({"OpenStack-API-Version": "volume 3.5"}, "2.1"),
    ],
)
def test_negotiated(scene: Scene, sent: dict[str, str], answered: str) -> None:
    resp = _get(scene.api, scene.admin, **sent)
    assert resp.status_code == 200
    assert resp.headers["OpenStack-API-Version"] == f"compute {answered}"
    assert resp.headers["X-OpenStack-Nova-API-Version"] == answered
    has_description = APIVersion.parse(answered) >= APIVersion(2, 55)
    assert all(("description" in f) is has_description for f in resp.json()["flavors"])


@pytest.mark.parametrize(
    ("sent", "status"),
    [("2.200", 406), ("2.0", 406), ("3.1", 406), ("1.1", 406), ("2.x", 400), ("two", 400)],
)
def test_refused(scene: Scene, sent: str, status: int) -> None:
    resp = _get(scene.api, scene.admin, **{"OpenStack-API-Version": f"compute {sent}"})
    assert resp.status_code == status, resp.text
    fault = "computeFault" if status == 406 else "badRequest"
    message = resp.json()[fault]["message"]
    assert sent in message
    assert resp.headers["x-compute-request-id"]


def test_flavor_fields_follow_the_version(scene: Scene) -> None:
    flavor_id = scene.flavor_id("small")
    shapes = {}
    for version in ("2.1", "2.55", "2.61"):
        hdrs = {**scene.admin, "OpenStack-API-Version": f"compute {version}"}
        flavor = scene.api.get(f"{API}/flavors/{flavor_id}", headers=hdrs).json()["flavor"]
        shapes[version] = ("description" in flavor, "extra_specs" in flavor)
    assert shapes == {"2.1": (False, False), "2.55": (True, False), "2.61": (True, True)}


def test_server_fields_follow_the_version(scene: Scene) -> None:
    sid = scene.boot("vm1")["id"]
    seen = {}
    for version in ("2.1", "2.47", "2.70", "2.71", "2.95", "2.96"):
        hdrs = {**scene.admin, "OpenStack-API-Version": f"compute {version}"}
        server = scene.api.get(f"{API}/servers/{sid}", headers=hdrs).json()["server"]
        detail = scene.api.get(f"{API}/servers/detail?all_tenants=1", headers=hdrs).json()[
            "servers"
        ][0]
        seen[version] = (
            "original_name" in server["flavor"],
            "server_groups" in server,
            "server_groups" in detail,
            "pinned_availability_zone" in server,
        )
    assert seen == {
        "2.1": (False, False, False, False),
        "2.47": (True, False, False, False),
        "2.70": (True, False, False, False),
        "2.71": (True, True, False, False),
        "2.95": (True, True, False, False),
        "2.96": (True, True, False, True),
    }


def test_version_document_names_the_range(api: TestClient) -> None:
    version = api.get(f"{API}/").json()["version"]
    assert (version["min_version"], version["version"]) == (str(MIN), str(MAX))
