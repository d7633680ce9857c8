"""The networking API inside the whole app, with real Keystone tokens of the sample cloud:
the fault format is registered, group0-data0 comes from the inventory bootstrap, and project
names appear in messages."""

from __future__ import annotations

from fastapi.testclient import TestClient

V2 = "/networking/v2.0"


def test_the_procedure_with_real_tokens(
    api: TestClient,
    admin_headers: dict[str, str],
    user1_headers: dict[str, str],
    user2_headers: dict[str, str],
) -> None:
    project1 = api.get("/identity/v3/projects?name=project1", headers=admin_headers).json()[
        "projects"
    ][0]["id"]
    created = api.post(
        V2 + "/network_segment_ranges",
        headers=admin_headers,
        json={
            "network_segment_range": {
                "name": "project1-vlans",
                "shared": False,
                "project_id": project1,
                "network_type": "vlan",
                "physical_network": "group0-data0",
                "minimum": 10,
                "maximum": 19,
            }
        },
    )
    assert created.status_code == 201, created.text
    outside = api.post(
        V2 + "/networks",
        headers=admin_headers,
        json={
            "network": {
                "name": "net0",
                "project_id": project1,
                "provider:network_type": "vlan",
                "provider:physical_network": "group0-data0",
                "provider:segmentation_id": "25",
            }
        },
    )
    assert outside.status_code == 400
    assert outside.json()["NeutronError"]["message"] == (
        "VLAN 25 on group0-data0 is not in a segment range open to project project1; its "
        "ranges there: project1-vlans (10-19)"
    )
    net9 = api.post(V2 + "/networks", headers=user1_headers, json={"network": {"name": "net9"}})
    assert net9.status_code == 201, net9.text
    network = net9.json()["network"]
    assert (network["provider:segmentation_id"], network["project_id"]) == (10, project1)
    hidden = api.get(V2 + f"/networks/{network['id']}", headers=user2_headers)
    assert hidden.status_code == 404
    assert hidden.json()["NeutronError"]["type"] == "NetworkNotFound"
    assert api.get(V2 + "/networks", headers=user2_headers).json() == {"networks": []}
