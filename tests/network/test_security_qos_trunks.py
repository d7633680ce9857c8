"""Security groups and rules, QoS policies and rules, trunks: the resources themselves (their
refusal on passthrough ports is in test_ports). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from passnic.errors import Forbidden
from passnic.network.models import Network
from passnic.network.service import NetworkService
from passnic.network.trunks import SubPortSpec
from tests.network.conftest import ADMIN, USER1, USER2, refused


@pytest.fixture
def net0(net: NetworkService) -> Network:
    return net.create_network(
        ADMIN,
        project_id="project1",
        network_type="vlan",
        physical_network="group0-data0",
        segmentation_id=10,
    )


def test_the_default_group_is_made_once_per_project(net: NetworkService) -> None:
    groups = net.list_security_groups(USER1)
    assert [g.name for g in groups] == ["default"]
    (default,) = groups
    rules = {(r.direction, r.ethertype, r.remote_group_id) for r in default.rules}
    assert rules == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default.id),
        ("ingress", "IPv6", default.id),
    }
    assert [g.id for g in net.list_security_groups(USER1)] == [default.id]
    assert [g.name for g in net.list_security_groups(USER2)] == ["default"]
    refused(
        "Removing default security group not allowed.", net.delete_security_group, USER1, default.id
    )
    refused(
        "Updating default security group not allowed: its name stays 'default'",
        net.update_security_group,
        USER1,
        default.id,
        {"name": "other"},
    )
    refused(
        "Default security group already exists: each project has one group named 'default'; "
        "choose another name",
        net.create_security_group,
        USER1,
        name="default",
    )


def test_security_group_rules(net: NetworkService) -> None:
    group = net.create_security_group(USER1, name="web")
    assert {(r.direction, r.ethertype) for r in group.rules} == {
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    }
    rule = net.create_security_group_rule(
        USER1,
        security_group_id=group.id,
        direction="ingress",
        protocol="TCP",
        port_range_min=80,
        port_range_max=80,
        remote_ip_prefix="10.0.0.5/8",
    )
    assert (rule.protocol, rule.remote_ip_prefix) == ("tcp", "10.0.0.0/8")
    refused(
        f"Security group rule already exists. Rule id is {rule.id}.",
        net.create_security_group_rule,
        USER1,
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=80,
        port_range_max=80,
        remote_ip_prefix="10.0.0.0/8",
    )
    refused(
        "Invalid port range 90-80: ports are 1-65535 and the minimum is not above the maximum",
        net.create_security_group_rule,
        USER1,
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=90,
        port_range_max=80,
    )
    refused(
        "remote_ip_prefix fd00::/64 does not match ethertype IPv4",
        net.create_security_group_rule,
        USER1,
        security_group_id=group.id,
        direction="ingress",
        remote_ip_prefix="fd00::/64",
    )
    refused(
        "Invalid direction 'sideways': a rule is ingress or egress",
        net.create_security_group_rule,
        USER1,
        security_group_id=group.id,
        direction="sideways",
    )
    assert [
        r.id
        for r in net.list_security_group_rules(
            USER1, {"security_group_id": [group.id], "direction": ["ingress"]}
        )
    ] == [rule.id]
    refused(
        f"Security group rule {rule.id} does not exist",
        net.delete_security_group_rule,
        USER2,
        rule.id,
    )
    net.delete_security_group_rule(USER1, rule.id)
    refused(f"Security group {group.id} does not exist", net.get_security_group, USER2, group.id)
    net.delete_security_group(USER1, group.id)


def test_qos_policies(net: NetworkService) -> None:
    with pytest.raises(Forbidden):
        net.create_qos_policy(USER1, name="mine")
    shared = net.create_qos_policy(ADMIN, name="qos1", shared=True)
    private = net.create_qos_policy(ADMIN, name="qos2")
    assert [q.name for q in net.list_qos_policies(USER1)] == ["qos1"]
    refused(f"QoS policy {private.id} could not be found.", net.get_qos_policy, USER1, private.id)
    rule = net.create_bandwidth_limit_rule(ADMIN, shared.id, max_kbps=1000, max_burst_kbps=100)
    assert [r.id for r in net.get_qos_policy(USER1, shared.id).bandwidth_limit_rules] == [rule.id]
    refused(
        f"QoS policy {shared.id} already has an egress bandwidth limit rule",
        net.create_bandwidth_limit_rule,
        ADMIN,
        shared.id,
        max_kbps=5,
    )
    updated = net.update_bandwidth_limit_rule(ADMIN, shared.id, rule.id, {"max_kbps": 2000})
    assert updated.max_kbps == 2000
    net.delete_bandwidth_limit_rule(ADMIN, shared.id, rule.id)
    assert net.list_bandwidth_limit_rules(ADMIN, shared.id) == []
    assert net.update_qos_policy(ADMIN, shared.id, {"description": "d"}).description == "d"


def test_trunks(net: NetworkService, net0: Network) -> None:
    parent = net.create_port(USER1, network_id=net0.id)
    a = net.create_port(USER1, network_id=net0.id)
    b = net.create_port(USER1, network_id=net0.id)
    trunk = net.create_trunk(USER1, port_id=parent.id, name="t0")
    trunk = net.add_subports(USER1, trunk.id, [SubPortSpec(a.id, 101), SubPortSpec(b.id, 102)])
    assert [(s.port_id, s.segmentation_id) for s in trunk.sub_ports] == [(a.id, 101), (b.id, 102)]
    refused(
        f"segmentation_id 101 is already used by sub-port {a.id} of trunk {trunk.id}",
        net.add_subports,
        USER1,
        trunk.id,
        [SubPortSpec(net.create_port(USER1, network_id=net0.id).id, 101)],
    )
    refused(
        f"Port {a.id} is currently in use by trunk {trunk.id} and is not eligible for use as a "
        "parent port.",
        net.create_trunk,
        USER1,
        port_id=a.id,
    )
    refused(
        f"Port {a.id} is a sub-port of trunk {trunk.id}: remove it from the trunk first",
        net.delete_port,
        USER1,
        a.id,
    )
    refused(
        "VLAN ID 4095 is out of range: valid VLAN IDs are 1-4094",
        net.add_subports,
        USER1,
        trunk.id,
        [SubPortSpec(net.create_port(USER1, network_id=net0.id).id, 4095)],
    )
    refused(f"Trunk {trunk.id} could not be found.", net.get_trunk, USER2, trunk.id)
    assert net.update_trunk(USER1, trunk.id, {"name": "t1"}).name == "t1"
    assert net.get_port(USER1, parent.id).trunk is not None
    net.delete_trunk(USER1, trunk.id)
    net.delete_port(USER1, a.id)
