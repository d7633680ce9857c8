"""Neutron behaviour strict clients and Ansible rely on: ``fields=``, the ``fixed_ips`` port
filter, all-or-nothing bulk create, and quotas."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.network.test_neutron_api import call, error, make_net0, make_subnet0, ok


def vlan(name: str, vid: int) -> dict[str, Any]:
    """A project1 network on VLAN ``vid`` of group0-data0, as an admin creates it."""
    return {
        "name": name,
        "project_id": "project1",
        "provider:network_type": "vlan",
        "provider:physical_network": "group0-data0",
        "provider:segmentation_id": vid,
    }


def test_fields_on_list_and_show(client: TestClient) -> None:
    net = make_net0(client)
    listed = ok(client, "GET", "/networks?fields=id&fields=name", "admin")["networks"]
    assert listed == [{"id": net["id"], "name": "net0"}]
    shown = ok(client, "GET", f"/networks/{net['id']}?fields=status,mtu", "admin")["network"]
    assert shown == {"status": net["status"], "mtu": net["mtu"]}
    # fields is not a filter
    assert len(ok(client, "GET", "/networks?fields=id", "admin")["networks"]) == 1


def test_fixed_ips_filter(client: TestClient) -> None:
    net = make_net0(client)
    subnet = make_subnet0(client, net["id"])
    ports = [
        ok(client, "POST", "/ports", "admin", {"port": {"network_id": net["id"], "name": n}})[
            "port"
        ]
        for n in ("a", "b")
    ]
    ip_b = ports[1]["fixed_ips"][0]["ip_address"]

    def names(query: str) -> list[str]:
        return sorted(p["name"] for p in ok(client, "GET", f"/ports?{query}", "admin")["ports"])

    assert names(f"fixed_ips=ip_address%3D{ip_b}") == ["b"]
    assert names(f"fixed_ips=subnet_id%3D{subnet['id']}") == ["a", "b"]
    assert names(f"fixed_ips=subnet_id%3D{subnet['id']}&fixed_ips=ip_address%3D{ip_b}") == ["b"]
    assert names("fixed_ips=ip_address%3D10.9.9.9") == []
    error(call(client, "GET", "/ports?fixed_ips=mac%3Dx", "admin"), 400)


def test_bulk_create_is_all_or_nothing(client: TestClient) -> None:
    net = make_net0(client)
    make_subnet0(client, net["id"])
    made = ok(
        client,
        "POST",
        "/ports",
        "admin",
        {
            "ports": [
                {"network_id": net["id"], "name": "p1"},
                {"network_id": net["id"], "name": "p2"},
            ]
        },
    )["ports"]
    assert [p["name"] for p in made] == ["p1", "p2"]
    mac = made[0]["mac_address"]
    # the second port's MAC is taken: the first one of this request must not stay behind
    refused = call(
        client,
        "POST",
        "/ports",
        "admin",
        {
            "ports": [
                {"network_id": net["id"], "name": "p3"},
                {"network_id": net["id"], "name": "p4", "mac_address": mac},
            ]
        },
    )
    assert error(refused, 409)["type"] == "MacAddressInUse"
    names = {p["name"] for p in ok(client, "GET", "/ports", "admin")["ports"]}
    assert names == {"p1", "p2"}
    # a bad body anywhere refuses the whole request before anything is created
    bad = call(client, "POST", "/networks", "admin", {"networks": [{"name": "x"}, {"nope": 1}]})
    error(bad, 400)
    assert [n["name"] for n in ok(client, "GET", "/networks", "admin")["networks"]] == ["net0"]
    nets = ok(client, "POST", "/networks", "admin", {"networks": [vlan("m1", 20), vlan("m2", 21)]})
    assert [n["name"] for n in nets["networks"]] == ["m1", "m2"]
    subnets: dict[str, Any] = {
        "subnets": [
            {"network_id": nets["networks"][0]["id"], "cidr": "10.1.0.0/24", "ip_version": 4},
            {"network_id": nets["networks"][1]["id"], "cidr": "10.2.0.0/24", "ip_version": 4},
        ]
    }
    assert len(ok(client, "POST", "/subnets", "user1", subnets)["subnets"]) == 2
    error(call(client, "POST", "/networks", "admin", {"networks": []}), 400)


def test_quotas_are_enforced(client: TestClient) -> None:
    assert ok(client, "GET", "/quotas/project1", "user1")["quota"] == {
        "network": 100,
        "subnet": 100,
        "port": 500,
    }
    error(call(client, "PUT", "/quotas/project1", "user1", {"quota": {"network": 1}}), 403)
    error(call(client, "GET", "/quotas/project2", "user1"), 403)
    set_ = ok(client, "PUT", "/quotas/project1", "admin", {"quota": {"network": 1, "port": 1}})
    assert set_["quota"] == {"network": 1, "subnet": 100, "port": 1}
    net = ok(client, "POST", "/networks", "admin", {"network": vlan("q1", 30)})["network"]
    over = error(call(client, "POST", "/networks", "admin", {"network": vlan("q2", 31)}), 409)
    assert over == {
        "type": "OverQuota",
        "message": "Quota exceeded for resources: ['network'].",
        "detail": "",
    }
    ok(
        client,
        "POST",
        "/subnets",
        "user1",
        {"subnet": {"network_id": net["id"], "cidr": "10.3.0.0/24", "ip_version": 4}},
    )
    ok(client, "POST", "/ports", "user1", {"port": {"network_id": net["id"]}})
    error(call(client, "POST", "/ports", "user1", {"port": {"network_id": net["id"]}}), 409)
    # a bulk request over the limit leaves nothing behind
    ok(client, "PUT", "/quotas/project1", "admin", {"quota": {"network": 2}})
    bulk = {"networks": [vlan("q3", 32), vlan("q4", 33)]}
    error(call(client, "POST", "/networks", "admin", bulk), 409)
    assert [n["name"] for n in ok(client, "GET", "/networks", "user1")["networks"]] == ["q1"]
    details = ok(client, "GET", "/quotas/project1/details.json", "user1")["quota"]
    assert details["network"] == {"used": 1, "limit": 2, "reserved": 0}
    assert ok(client, "GET", "/quotas", "admin")["quotas"][0]["project_id"] == "project1"
    error(call(client, "PUT", "/quotas/project1", "admin", {"quota": {"network": -2}}), 400)
    error(call(client, "PUT", "/quotas/project1", "admin", {"quota": {"router": 1}}), 400)
    assert call(client, "DELETE", "/quotas/project1", "admin").status_code == 204
    assert ok(client, "GET", "/quotas/project1", "admin")["quota"]["network"] == 100
