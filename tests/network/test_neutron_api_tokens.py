"""The networking API inside the whole app, with real Keystone tokens of the sample cloud:
the fault format is registered, group0-data0 and its shared VLAN range come from the sample
cloud, and project names appear in messages."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

V2 = "/networking/v2.0"


def _range(api: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    body = {
        "network_segment_range": {
            "network_type": "vlan",
            "physical_network": "group0-data0",
            **fields,
        }
    }
    return api.post(V2 + "/network_segment_ranges", headers=headers, json=body)


def _admin_network(api: TestClient, headers: dict[str, str], project: str, vlan: int) -> Any:
    body = {
        "network": {
            "name": f"vlan{vlan}",
            "project_id": project,
            "provider:network_type": "vlan",
            "provider:physical_network": "group0-data0",
            "provider:segmentation_id": str(vlan),
        }
    }
    return api.post(V2 + "/networks", headers=headers, json=body)


def test_segment_ranges_of_the_sample_cloud_lock_nobody_out(
    api: TestClient,
    admin_headers: dict[str, str],
    user1_headers: dict[str, str],
    user2_headers: dict[str, str],
) -> None:
    """The README's range example: a private range for project1 beside the shared default."""
    projects = api.get("/identity/v3/projects", headers=admin_headers).json()["projects"]
    ids = {p["name"]: p["id"] for p in projects}
    (shared,) = api.get(V2 + "/network_segment_ranges", headers=admin_headers).json()[
        "network_segment_ranges"
    ]
    assert (shared["name"], shared["shared"], shared["minimum"], shared["maximum"]) == (
        "group0-data0-shared",
        True,
        10,
        999,
    )
    overlapping = _range(
        api, admin_headers, shared=False, project_id=ids["project1"], minimum=10, maximum=19
    )
    assert overlapping.status_code == 409
    assert overlapping.json()["NeutronError"]["message"] == (
        "Segment range 10-19 on group0-data0 overlaps range group0-data0-shared (10-999)"
    )
    created = _range(
        api,
        admin_headers,
        name="project1-vlans",
        shared=False,
        project_id=ids["project1"],
        minimum=1000,
        maximum=1009,
    )
    assert created.status_code == 201, created.text

    assert _admin_network(api, admin_headers, ids["project1"], 145).status_code == 201
    outside = _admin_network(api, admin_headers, ids["project1"], 2500)
    assert outside.status_code == 400
    assert outside.json()["NeutronError"]["message"] == (
        "VLAN 2500 on group0-data0 is not in a segment range open to project project1; its "
        "ranges there: group0-data0-shared (10-999), project1-vlans (1000-1009)"
    )
    private = _admin_network(api, admin_headers, ids["project2"], 1005)
    assert private.status_code == 400
    assert "private to project project1" in private.json()["NeutronError"]["message"]

    net9 = api.post(V2 + "/networks", headers=user1_headers, json={"network": {"name": "net9"}})
    assert net9.status_code == 201, net9.text
    network = net9.json()["network"]
    assert (network["provider:segmentation_id"], network["project_id"]) == (1000, ids["project1"])
    net2 = api.post(V2 + "/networks", headers=user2_headers, json={"network": {"name": "net2"}})
    assert net2.status_code == 201, net2.text
    assert net2.json()["network"]["provider:segmentation_id"] == 10  # the shared range's first

    hidden = api.get(V2 + f"/networks/{network['id']}", headers=user2_headers)
    assert hidden.status_code == 404
    assert hidden.json()["NeutronError"]["type"] == "NetworkNotFound"
    assert [
        n["name"] for n in api.get(V2 + "/networks", headers=user2_headers).json()["networks"]
    ] == ["net2"]
