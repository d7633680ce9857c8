"""Nova's flavor API (extra specs, access) and Passnic's PCI alias API, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.compute.conftest import API

#: The sample cloud already holds flavor ``small`` (seeded by ``passnic up``), so the flavors
#: these tests create take another name.
SEEDED = "small"
NAME = "tiny"


def _flavor(api: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    body = {"name": NAME, "ram": 1024, "vcpus": 1, "disk": 1, "id": None, **fields}
    return api.post(f"{API}/flavors", json={"flavor": body}, headers=headers)


def _alias(api: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    body = {"name": "nic-82574", "vendor_id": "8086", "product_id": "10d3", **fields}
    return api.post(f"{API}/os-pci-aliases", json={"pci_alias": body}, headers=headers)


def test_version_documents_need_no_token(api: TestClient) -> None:
    for path in ("/compute", "/compute/", "/compute/v2.1", "/compute/v2.1/"):
        resp = api.get(path)
        assert resp.status_code == 200, path
        version = resp.json()["version"]
        assert version["id"] == "v2.1"
        assert (version["status"], version["version"], version["min_version"]) == (
            "CURRENT",
            "2.96",
            "2.1",
        )
        assert version["links"][0]["rel"] == "self"
        assert version["links"][0]["href"].endswith("/compute/v2.1/")


def test_errors_use_novas_shape(api: TestClient, admin_headers: dict[str, str]) -> None:
    resp = api.get(f"{API}/flavors/nosuch", headers=admin_headers)
    assert resp.status_code == 404
    assert resp.json() == {
        "itemNotFound": {"code": 404, "message": "Flavor nosuch could not be found."}
    }
    resp = api.post(f"{API}/flavors", content=b"{not json", headers=admin_headers)
    assert resp.status_code == 400
    assert "Malformed JSON" in resp.json()["badRequest"]["message"]
    assert api.get(f"{API}/flavors").status_code == 401


def test_flavor_lifecycle(api: TestClient, admin_headers: dict[str, str]) -> None:
    resp = _flavor(api, admin_headers, **{"OS-FLV-EXT-DATA:ephemeral": 0, "swap": 0})
    assert resp.status_code == 200, resp.text
    flavor = resp.json()["flavor"]
    assert (flavor["name"], flavor["vcpus"], flavor["ram"], flavor["disk"]) == (NAME, 1, 1024, 1)
    assert flavor["os-flavor-access:is_public"] is True
    assert flavor["extra_specs"] == {}
    assert flavor["links"][0]["href"].endswith(f"/compute/v2.1/flavors/{flavor['id']}")
    shown = api.get(f"{API}/flavors/{flavor['id']}", headers=admin_headers).json()["flavor"]
    assert shown == flavor
    listed = api.get(f"{API}/flavors", headers=admin_headers).json()["flavors"]
    assert [f["name"] for f in listed] == [SEEDED, NAME] and "ram" not in listed[1]
    assert listed[1]["id"] == flavor["id"]
    resp = _flavor(api, admin_headers)
    assert resp.status_code == 409
    assert (
        resp.json()["conflictingRequest"]["message"] == f"Flavor with name {NAME} already exists."
    )
    resp = _flavor(api, admin_headers, name=SEEDED)  # the sample cloud's own flavor
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == "Flavor with name small already exists."
    resp = api.delete(f"{API}/flavors/{flavor['id']}", headers=admin_headers)
    assert resp.status_code == 202
    assert api.get(f"{API}/flavors/{flavor['id']}", headers=admin_headers).status_code == 404
    listed = api.get(f"{API}/flavors", headers=admin_headers).json()["flavors"]
    assert [f["name"] for f in listed] == [SEEDED]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ram": 0}, "Invalid input: flavor.ram: Input should be greater than or equal to 1"),
        ({"vcpus": "x"}, "Invalid input: flavor.vcpus: 'x' is not an integer"),
        ({"name": " "}, "Invalid flavor name: it must be 1 to 255 characters, not all spaces."),
        ({"disk": -1}, "Invalid input: flavor.disk: Input should be greater than or equal to 0"),
    ],
)
def test_flavor_bad_input(
    api: TestClient, admin_headers: dict[str, str], fields: dict[str, Any], message: str
) -> None:
    resp = _flavor(api, admin_headers, **fields)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == message


def test_only_admins_manage_flavors(
    api: TestClient, admin_headers: dict[str, str], user1_headers: dict[str, str]
) -> None:
    resp = _flavor(api, user1_headers)
    assert resp.status_code == 403
    assert "forbidden" in resp.json()
    flavor_id = _flavor(api, admin_headers).json()["flavor"]["id"]
    resp = api.post(
        f"{API}/flavors/{flavor_id}/os-extra_specs",
        json={"extra_specs": {"a": "b"}},
        headers=user1_headers,
    )
    assert resp.status_code == 403


def test_extra_specs(api: TestClient, admin_headers: dict[str, str]) -> None:
    flavor_id = _flavor(api, admin_headers).json()["flavor"]["id"]
    specs = f"{API}/flavors/{flavor_id}/os-extra_specs"
    assert api.get(specs, headers=admin_headers).json() == {"extra_specs": {}}
    resp = api.post(specs, json={"extra_specs": {"a": "1", "b": 2}}, headers=admin_headers)
    assert resp.status_code == 200
    assert resp.json() == {"extra_specs": {"a": "1", "b": "2"}}
    resp = api.put(f"{specs}/a", json={"a": "3"}, headers=admin_headers)
    assert resp.json() == {"a": "3"}
    assert api.put(f"{specs}/a", json={"b": "3"}, headers=admin_headers).status_code == 400
    assert api.get(f"{specs}/a", headers=admin_headers).json() == {"a": "3"}
    assert api.delete(f"{specs}/b", headers=admin_headers).status_code == 200
    assert api.get(f"{specs}/b", headers=admin_headers).status_code == 404
    flavor = api.get(f"{API}/flavors/{flavor_id}", headers=admin_headers).json()["flavor"]
    assert flavor["extra_specs"] == {"a": "3"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "pci_passthrough:alias",
            "nic-82574:0",
            "Invalid pci_passthrough:alias value 'nic-82574:0': a count must be at least 1",
        ),
        (
            "pci_passthrough:alias",
            "nic-82574:x",
            "Invalid pci_passthrough:alias value 'nic-82574:x': expected "
            "name[:count][,name[:count]], for example nic-82574:1",
        ),
        (
            "hw:pci_numa_affinity_policy",
            "nearby",
            "Invalid hw:pci_numa_affinity_policy 'nearby': must be one of required, socket, "
            "preferred, legacy.",
        ),
    ],
)
def test_passthrough_extra_specs_are_checked(
    api: TestClient, admin_headers: dict[str, str], key: str, value: str, message: str
) -> None:
    assert _alias(api, admin_headers).status_code == 201
    flavor_id = _flavor(api, admin_headers).json()["flavor"]["id"]
    resp = api.post(
        f"{API}/flavors/{flavor_id}/os-extra_specs",
        json={"extra_specs": {key: value}},
        headers=admin_headers,
    )
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == message


def test_good_alias_spec_is_stored(api: TestClient, admin_headers: dict[str, str]) -> None:
    assert _alias(api, admin_headers).status_code == 201
    flavor_id = _flavor(api, admin_headers).json()["flavor"]["id"]
    resp = api.post(
        f"{API}/flavors/{flavor_id}/os-extra_specs",
        json={
            "extra_specs": {
                "pci_passthrough:alias": "nic-82574:2",
                "hw:pci_numa_affinity_policy": "required",
            }
        },
        headers=admin_headers,
    )
    assert resp.status_code == 200
    assert resp.json()["extra_specs"]["pci_passthrough:alias"] == "nic-82574:2"


def test_private_flavors_and_access(
    api: TestClient,
    admin_headers: dict[str, str],
    user1_headers: dict[str, str],
    sample: Any,
    cloud: Any,
) -> None:
    from tests.compute.conftest import ADMIN as CTX

    project1 = cloud.identity.list_projects(CTX, name="project1")[0].id
    public = _flavor(api, admin_headers, name="public").json()["flavor"]
    private = _flavor(
        api, admin_headers, name="private", **{"os-flavor-access:is_public": False}
    ).json()["flavor"]

    def names(headers: dict[str, str], query: str) -> list[str]:
        resp = api.get(f"{API}/flavors/detail{query}", headers=headers)
        return [f["name"] for f in resp.json()["flavors"]]

    # The sample cloud's seeded flavor small is public: everyone sees it beside "public".
    assert names(admin_headers, "?is_public=None") == ["private", "public", SEEDED]
    assert names(admin_headers, "?is_public=True") == ["public", SEEDED]
    assert names(admin_headers, "?is_public=False") == ["private"]
    assert names(admin_headers, "") == ["public", SEEDED]
    assert names(user1_headers, "?is_public=None") == ["public", SEEDED]
    assert api.get(f"{API}/flavors/{private['id']}", headers=user1_headers).status_code == 404

    access = f"{API}/flavors/{private['id']}/action"
    resp = api.post(access, json={"addTenantAccess": {"tenant": project1}}, headers=admin_headers)
    assert resp.status_code == 200
    assert resp.json() == {"flavor_access": [{"flavor_id": private["id"], "tenant_id": project1}]}
    assert names(user1_headers, "?is_public=None") == ["private", "public", SEEDED]
    resp = api.post(access, json={"addTenantAccess": {"tenant": project1}}, headers=admin_headers)
    assert resp.status_code == 409
    listing = api.get(f"{API}/flavors/{private['id']}/os-flavor-access", headers=admin_headers)
    assert listing.json()["flavor_access"][0]["tenant_id"] == project1
    resp = api.post(
        access, json={"removeTenantAccess": {"tenant": project1}}, headers=admin_headers
    )
    assert resp.json() == {"flavor_access": []}
    assert names(user1_headers, "?is_public=None") == ["public", SEEDED]
    resp = api.get(f"{API}/flavors/{public['id']}/os-flavor-access", headers=admin_headers)
    assert resp.status_code == 404


def test_pci_alias_lifecycle(
    api: TestClient, admin_headers: dict[str, str], user1_headers: dict[str, str]
) -> None:
    resp = _alias(api, admin_headers, vendor_id="8086", product_id="10D3")
    assert resp.status_code == 201
    alias = resp.json()["pci_alias"]
    assert {k: alias[k] for k in ("name", "vendor_id", "product_id", "device_type")} == {
        "name": "nic-82574",
        "vendor_id": "8086",
        "product_id": "10d3",
        "device_type": "type-PCI",
    }
    assert alias["numa_policy"] == "legacy"
    assert _alias(api, admin_headers).status_code == 409
    assert api.get(f"{API}/os-pci-aliases", headers=admin_headers).json()["pci_aliases"] == [alias]
    assert api.get(f"{API}/os-pci-aliases/nic-82574", headers=admin_headers).status_code == 200
    assert _alias(api, user1_headers, name="mine").status_code == 403
    assert api.get(f"{API}/os-pci-aliases", headers=user1_headers).status_code == 403

    flavor_id = _flavor(api, admin_headers).json()["flavor"]["id"]
    api.post(
        f"{API}/flavors/{flavor_id}/os-extra_specs",
        json={"extra_specs": {"pci_passthrough:alias": "nic-82574"}},
        headers=admin_headers,
    )
    resp = api.delete(f"{API}/os-pci-aliases/nic-82574", headers=admin_headers)
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        f"PCI alias nic-82574 is used by flavor(s) {NAME}: remove pci_passthrough:alias from "
        "them first."
    )
    api.delete(
        f"{API}/flavors/{flavor_id}/os-extra_specs/pci_passthrough:alias", headers=admin_headers
    )
    assert api.delete(f"{API}/os-pci-aliases/nic-82574", headers=admin_headers).status_code == 204
    assert api.get(f"{API}/os-pci-aliases/nic-82574", headers=admin_headers).status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"vendor_id": "80866"}, "Invalid PCI alias vendor_id '80866': four hexadecimal digits"),
        ({"product_id": "zz00"}, "Invalid PCI alias product_id 'zz00': four hexadecimal digits"),
        ({"device_type": "type-X"}, "Invalid PCI alias device_type 'type-X'"),
        ({"numa_policy": "near"}, "Invalid PCI alias numa_policy 'near'"),
        ({"name": "a b"}, "Invalid PCI alias name 'a b'"),
    ],
)
def test_pci_alias_bad_input(
    api: TestClient, admin_headers: dict[str, str], fields: dict[str, str], message: str
) -> None:
    resp = _alias(api, admin_headers, **fields)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"].startswith(message)


def test_flavor_description_update(api: TestClient, admin_headers: dict[str, str]) -> None:
    flavor_id = _flavor(api, admin_headers, description="one").json()["flavor"]["id"]
    resp = api.put(
        f"{API}/flavors/{flavor_id}",
        json={"flavor": {"description": "two"}},
        headers=admin_headers,
    )
    assert resp.status_code == 200
    assert resp.json()["flavor"]["description"] == "two"
    resp = api.put(f"{API}/flavors/{flavor_id}", json={"flavor": {"ram": 1}}, headers=admin_headers)
    assert resp.status_code == 400
