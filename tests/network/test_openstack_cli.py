"""The real `openstack` CLI against a running Passnic: the networking steps of the StarlingX
procedure (net0 on VLAN 10 of group0-data0 for project1, its subnet, a direct-physical port),
the refusals an operator meets, and project isolation. One ordered procedure: each CLI start
costs about 1.5 s."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveCloud

pytestmark = pytest.mark.osc

ADMIN, USER1, USER2 = "passnic-admin", "passnic-user1", "passnic-user2"


def refused(live: LiveCloud, cloud: str, *args: str) -> str:
    """Run a command that must fail; return its stderr."""
    proc = live.openstack(cloud, *args, check=False)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    return proc.stderr


def show(live: LiveCloud, cloud: str, *args: str) -> dict[str, Any]:
    value: dict[str, Any] = live.openstack_json(cloud, *args)
    return value


def test_network_procedure(live: LiveCloud) -> None:
    # -- as admin: a private range beside the shared default, net0 on VLAN 10 for project1 -
    rng = show(
        live,
        ADMIN,
        "network", "segment", "range", "create",
        "--private", "--project", "project1",
        "--network-type", "vlan", "--physical-network", "group0-data0",
        "--minimum", "1000", "--maximum", "1009",
        "project1-vlans",
    )  # fmt: skip
    assert (rng["minimum"], rng["maximum"], rng["shared"]) == (1000, 1009, False)
    net0 = show(
        live,
        ADMIN,
        "network", "create", "--project", "project1",
        "--provider-network-type", "vlan", "--provider-physical-network", "group0-data0",
        "--provider-segment", "10",
        "net0",
    )  # fmt: skip
    assert net0["provider:segmentation_id"] == 10
    assert (net0["mtu"], net0["status"]) == (1500, "ACTIVE")
    subnet0 = show(
        live, ADMIN, "subnet", "create", "--network", "net0", "--subnet-range", "192.168.10.0/24",
        "subnet0",
    )  # fmt: skip
    assert subnet0["gateway_ip"] == "192.168.10.1"

    # -- refusals an operator meets -------------------------------------------------------
    err = refused(
        live, ADMIN, "network", "create", "--provider-network-type", "vlan",
        "--provider-physical-network", "group0-data0", "--provider-segment", "5000", "bad",
    )  # fmt: skip
    assert "VLAN ID 5000 is out of range: valid VLAN IDs are 1-4094" in err
    err = refused(
        live, ADMIN, "subnet", "create", "--network", "net0", "--subnet-range", "192.168.0.0/16",
        "subnet1",
    )  # fmt: skip
    assert "overlaps with another subnet" in err and subnet0["id"] in err
    qos = show(live, ADMIN, "network", "qos", "policy", "create", "--share", "qos1")

    # -- as user1: see net0, make the passthrough port ------------------------------------
    names = {n["Name"] for n in live.openstack_json(USER1, "network", "list")}
    assert names == {"net0"}
    shown = show(live, USER1, "network", "show", "net0")
    assert (shown["id"], shown["subnets"]) == (net0["id"], [subnet0["id"]])
    port0 = show(
        live, USER1, "port", "create", "--network", net0["id"], "--vnic-type", "direct-physical",
        "port0",
    )  # fmt: skip
    assert port0["binding_vnic_type"] == "direct-physical"
    assert port0["status"] == "DOWN" and port0["mac_address"].startswith("fa:16:3e:")
    assert port0["fixed_ips"] == [{"subnet_id": subnet0["id"], "ip_address": "192.168.10.2"}]
    assert port0["security_group_ids"] == [] and port0["port_security_enabled"] is False
    again = show(live, USER1, "port", "show", "port0")
    assert again["id"] == port0["id"] and again["binding_vif_type"] == "unbound"
    ports = live.openstack_json(USER1, "port", "list")
    assert [p["Name"] for p in ports] == ["port0"]

    err = refused(live, USER1, "port", "set", "--qos-policy", qos["id"], "port0")
    assert (
        "QoS is not supported on PCI passthrough ports: the host does not see their traffic"
    ) in err
    group = show(live, USER1, "security", "group", "create", "sg1")
    err = refused(live, USER1, "port", "set", "--security-group", group["id"], "port0")
    assert (
        "Security groups are not supported on PCI passthrough (direct-physical) ports: the host "
        "does not see their traffic, so it cannot filter it"
    ) in err

    net9 = show(live, USER1, "network", "create", "net9")
    assert net9["provider:segmentation_id"] == 1000  # project1's private range comes first
    assert net9["provider:physical_network"] == "group0-data0"

    # -- as user2: nothing of project1's --------------------------------------------------
    assert live.openstack_json(USER2, "network", "list") == []
    assert live.openstack_json(USER2, "port", "list") == []
    err = refused(live, USER2, "port", "create", "--network", net0["id"], "stolen")
    assert net0["id"] in err
