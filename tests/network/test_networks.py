"""Networks and segment ranges: the segment rules, VLAN allocation from ranges, who may do
what. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from passnic.db import Database
from passnic.errors import Conflict, Forbidden, NotFound
from passnic.network.models import Network
from passnic.network.service import NetworkService
from tests.network.conftest import ADMIN, USER1, USER2, refused


def vlan_net(net: NetworkService, vlan: int, name: str = "net0", **kw: Any) -> Network:
    kw.setdefault("project_id", "project1")
    kw.setdefault("physical_network", "group0-data0")
    return net.create_network(ADMIN, name=name, network_type="vlan", segmentation_id=vlan, **kw)


def project1_range(net: NetworkService, low: int = 10, high: int = 19) -> str:
    return net.create_segment_range(
        ADMIN,
        name="project1-vlans",
        shared=False,
        project_id="project1",
        physical_network="group0-data0",
        minimum=low,
        maximum=high,
    ).range.id


# ---- segments ----------------------------------------------------------------------------


def test_admin_creates_the_vlan_network_of_the_procedure(net: NetworkService) -> None:
    n = vlan_net(net, 10)
    assert (n.network_type, n.physical_network, n.segmentation_id) == ("vlan", "group0-data0", 10)
    assert (n.project_id, n.mtu, n.status, n.shared, n.subnets) == (
        "project1",
        1500,
        "ACTIVE",
        False,
        [],
    )
    assert net.get_network(USER1, n.id).id == n.id


@pytest.mark.parametrize("vlan", [0, 4095, 5000])
def test_vlan_ids_outside_1_to_4094_are_refused(net: NetworkService, vlan: int) -> None:
    refused(f"VLAN ID {vlan} is out of range: valid VLAN IDs are 1-4094", vlan_net, net, vlan)


def test_unknown_physical_network(net: NetworkService) -> None:
    refused(
        "Physical network nosuch does not exist: no data network has that name",
        vlan_net,
        net,
        10,
        physical_network="nosuch",
    )


def test_one_network_per_vlan_of_a_data_network(net: NetworkService) -> None:
    first = vlan_net(net, 10)
    error = refused(
        f"VLAN 10 on data network group0-data0 is already used by network {first.id} (net0)",
        vlan_net,
        net,
        10,
        name="again",
    )
    assert error.status == 409
    # the same VLAN ID on another data network is another segment
    assert vlan_net(net, 10, physical_network="group0-data1").segmentation_id == 10


def test_the_database_refuses_a_second_network_on_a_vlan(net: NetworkService, db: Database) -> None:
    """Concurrent requests that both pass the check still cannot both commit."""
    vlan_net(net, 10)
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(
            Network(
                project_id="project1",
                mtu=1500,
                network_type="vlan",
                physical_network="group0-data0",
                segmentation_id=10,
            )
        )


def test_flat_networks(net: NetworkService, db: Database) -> None:
    flat = net.create_network(ADMIN, name="f", network_type="flat", physical_network="flat0")
    assert (flat.segmentation_id, flat.network_type) == (None, "flat")
    refused(
        "A flat network takes no segmentation ID (got 7): it is the untagged traffic of data "
        "network flat0",
        net.create_network,
        ADMIN,
        network_type="flat",
        physical_network="flat0",
        segmentation_id=7,
    )
    refused(
        f"Data network flat0 already carries flat network {flat.id} (f): a flat network is all "
        "of its untagged traffic",
        net.create_network,
        ADMIN,
        network_type="flat",
        physical_network="flat0",
    )
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(Network(project_id="x", mtu=1500, network_type="flat", physical_network="flat0"))
    refused(
        "A flat network cannot be on data network group0-data0: it is a vlan data network, "
        "which carries only vlan networks",
        net.create_network,
        ADMIN,
        network_type="flat",
        physical_network="group0-data0",
    )
    refused(
        "A vlan network cannot be on data network flat0: it is a flat data network, which "
        "carries only flat networks",
        vlan_net,
        net,
        10,
        physical_network="flat0",
    )
    refused(
        "A vlan network cannot be on data network vx0: it is a vxlan data network, which "
        "carries only vxlan networks",
        vlan_net,
        net,
        10,
        physical_network="vx0",
    )
    refused(
        "A flat network needs provider:physical_network (the data network whose untagged "
        "traffic it is)",
        net.create_network,
        ADMIN,
        network_type="flat",
    )


def test_mtu_is_the_data_networks_unless_lower(net: NetworkService) -> None:
    assert vlan_net(net, 10, physical_network="group0-data1").mtu == 9000
    assert vlan_net(net, 11, physical_network="group0-data1", mtu=1400).mtu == 1400
    refused(
        "MTU 9000 is above the MTU 1500 of data network group0-data0",
        vlan_net,
        net,
        12,
        mtu=9000,
    )
    n = vlan_net(net, 13)
    refused(
        "MTU 1600 is above the MTU 1500 of data network group0-data0",
        net.update_network,
        ADMIN,
        n.id,
        {"mtu": 1600},
    )
    assert net.update_network(ADMIN, n.id, {"mtu": 1450}).mtu == 1450


def test_provider_attributes_cannot_change(net: NetworkService) -> None:
    n = vlan_net(net, 10)
    refused(
        "The segment of a network cannot be changed (segmentation_id): create a new network "
        "instead",
        net.update_network,
        ADMIN,
        n.id,
        {"segmentation_id": 11},
    )


def test_only_admins_set_provider_attributes_share_or_act_for_others(net: NetworkService) -> None:
    project1_range(net)
    for kwargs, action in (
        (
            {"network_type": "vlan", "physical_network": "group0-data0", "segmentation_id": 10},
            "provider",
        ),
        ({"shared": True}, "shared"),
        ({"project_id": "project2"}, "project_id"),
    ):
        error = refused(
            f"Policy does not allow network:create_network:{action} to be performed.",
            net.create_network,
            USER1,
            **kwargs,
        )
        assert isinstance(error, Forbidden)


# ---- segment ranges ------------------------------------------------------------------------


def test_project_networks_take_free_vlans_of_their_ranges_private_first(
    net: NetworkService,
) -> None:
    project1_range(net, 10, 11)
    net.create_segment_range(
        ADMIN, name="shared", physical_network="group0-data1", minimum=100, maximum=100
    )
    got = [net.create_network(USER1, name=f"n{i}") for i in range(3)]
    assert [(n.physical_network, n.segmentation_id, n.mtu) for n in got] == [
        ("group0-data0", 10, 1500),
        ("group0-data0", 11, 1500),
        ("group0-data1", 100, 9000),
    ]
    assert {n.project_id for n in got} == {"project1"}
    # project2 has no private range and the shared one is used up
    refused(
        "No VLAN is free for project project2: every VLAN ID of the segment ranges open to it is "
        "in use, or it has none. An administrator can add one (openstack network segment range "
        "create)",
        net.create_network,
        USER2,
        name="none-left",
    )
    net.delete_network(USER1, got[0].id)
    assert net.create_network(USER1).segmentation_id == 10  # a freed VLAN is reused


def test_admin_networks_for_a_project_stay_in_its_ranges(net: NetworkService) -> None:
    project1_range(net)
    refused(
        "VLAN 25 on group0-data0 is not in a segment range open to project project1; its ranges "
        "there: project1-vlans (10-19)",
        vlan_net,
        net,
        25,
    )
    refused(
        "VLAN 15 on group0-data0 is not in a segment range open to project project2: it is in "
        "range project1-vlans, private to project project1",
        vlan_net,
        net,
        15,
        project_id="project2",
    )
    # the admin's own networks (e.g. shared provider networks) may use VLANs outside the ranges
    own = vlan_net(net, 25, project_id="admin", shared=True)
    assert own.segmentation_id == 25
    assert net.get_network(USER2, own.id).shared  # shared networks are seen by every project
    assert vlan_net(net, 15).segmentation_id == 15
    # a VLAN chosen by Passnic for the project comes from its range
    assert vlan_net_auto(net).segmentation_id == 10


def vlan_net_auto(net: NetworkService) -> Network:
    return net.create_network(
        ADMIN, project_id="project1", network_type="vlan", physical_network="group0-data0"
    )


def test_ranges_show_used_and_available(net: NetworkService) -> None:
    range_id = project1_range(net, 10, 13)
    vlan_net(net, 11)
    usage = net.get_segment_range(ADMIN, range_id)
    assert usage.used == {11: "project1"}
    assert usage.available == [10, 12, 13]


def test_ranges_of_a_data_network_do_not_overlap(net: NetworkService) -> None:
    project1_range(net, 10, 19)
    error = refused(
        "Segment range 15-30 on group0-data0 overlaps range project1-vlans (10-19)",
        net.create_segment_range,
        ADMIN,
        physical_network="group0-data0",
        minimum=15,
        maximum=30,
    )
    assert error.status == 409
    # another data network has its own VLAN IDs
    net.create_segment_range(ADMIN, physical_network="group0-data1", minimum=15, maximum=30)


def test_a_range_in_use_is_neither_deleted_nor_shrunk(net: NetworkService) -> None:
    range_id = project1_range(net, 10, 19)
    vlan_net(net, 10, name="net0")
    vlan_net(net, 11, name="net1")
    refused(
        "Segment range project1-vlans cannot be deleted: VLAN 10-11 on group0-data0 are used by "
        "networks net0, net1",
        net.delete_segment_range,
        ADMIN,
        range_id,
    )
    refused(
        "Segment range project1-vlans cannot shrink to 11-19: VLAN 10 on group0-data0 is used "
        "by network net0",
        net.update_segment_range,
        ADMIN,
        range_id,
        {"minimum": 11},
    )
    grown = net.update_segment_range(ADMIN, range_id, {"maximum": 29, "name": "wider"})
    assert (grown.range.minimum, grown.range.maximum, grown.range.name) == (10, 29, "wider")
    unused = net.create_segment_range(
        ADMIN, physical_network="group0-data0", minimum=100, maximum=110
    )
    net.delete_segment_range(ADMIN, unused.range.id)
    with pytest.raises(NotFound):
        net.get_segment_range(ADMIN, unused.range.id)


def test_segment_range_rules(net: NetworkService) -> None:
    refused(
        "A shared segment range is open to every project: omit project_id, or make it private "
        "(shared false)",
        net.create_segment_range,
        ADMIN,
        physical_network="group0-data0",
        minimum=1,
        maximum=2,
        project_id="project1",
    )
    refused(
        "A private segment range needs the project_id it is reserved for",
        net.create_segment_range,
        ADMIN,
        physical_network="group0-data0",
        minimum=1,
        maximum=2,
        shared=False,
    )
    refused(
        "Segment ranges of type vxlan are not supported: Passnic allocates VLAN IDs only "
        "(network_type vlan)",
        net.create_segment_range,
        ADMIN,
        physical_network="vx0",
        network_type="vxlan",
        minimum=1,
        maximum=2,
    )
    refused(
        "Data network flat0 is a flat data network: segment ranges hold VLAN IDs of vlan data "
        "networks",
        net.create_segment_range,
        ADMIN,
        physical_network="flat0",
        minimum=1,
        maximum=2,
    )
    refused(
        "VLAN ID 4095 is out of range: valid VLAN IDs are 1-4094",
        net.create_segment_range,
        ADMIN,
        physical_network="group0-data0",
        minimum=1,
        maximum=4095,
    )
    refused(
        "Segment range minimum 20 is above its maximum 10",
        net.create_segment_range,
        ADMIN,
        physical_network="group0-data0",
        minimum=20,
        maximum=10,
    )
    refused(
        "Policy does not allow network:network_segment_range to be performed.",
        net.list_segment_ranges,
        USER1,
    )


# ---- visibility --------------------------------------------------------------------------


def test_another_projects_network_reads_as_missing(net: NetworkService) -> None:
    n = vlan_net(net, 10)
    message = f"Network {n.id} could not be found."
    for call, args in (
        (net.get_network, (USER2, n.id)),
        (net.update_network, (USER2, n.id, {"name": "mine"})),
        (net.delete_network, (USER2, n.id)),
    ):
        error = refused(message, call, *args)
        assert error.kind == "NetworkNotFound"
    assert net.list_networks(USER2) == []
    assert [x.id for x in net.list_networks(USER1)] == [n.id]
    assert len(net.list_networks(ADMIN)) == 1


def test_a_shared_network_is_seen_but_not_changed_by_others(net: NetworkService) -> None:
    n = vlan_net(net, 10, shared=True)
    assert [x.id for x in net.list_networks(USER2)] == [n.id]
    with pytest.raises(Forbidden):
        net.update_network(USER2, n.id, {"name": "mine"})
    with pytest.raises(Forbidden):
        net.delete_network(USER2, n.id)


def test_list_filters(net: NetworkService) -> None:
    a = vlan_net(net, 10, name="net0")
    b = vlan_net(net, 11, name="net1")
    assert [n.id for n in net.list_networks(USER1, {"name": ["net1"]})] == [b.id]
    assert [n.id for n in net.list_networks(USER1, {"segmentation_id": ["10"]})] == [a.id]
    assert len(net.list_networks(USER1, {"id": [a.id, b.id], "shared": ["False"]})) == 2
    assert len(net.list_networks(USER1, {"shared": ["None"]})) == 2  # the CLI's "all"
    assert net.list_networks(USER1, {"physical_network": ["group0-data1"]}) == []


def test_network_updates(net: NetworkService) -> None:
    n = vlan_net(net, 10)
    changed = net.update_network(USER1, n.id, {"name": "renamed", "admin_state_up": False})
    assert (changed.name, changed.admin_state_up, changed.revision_number) == ("renamed", False, 2)
    with pytest.raises(Forbidden):
        net.update_network(USER1, n.id, {"shared": True})
    assert net.update_network(ADMIN, n.id, {"shared": True}).shared


def test_delete_network_refused_while_a_server_uses_a_port(net: NetworkService) -> None:
    n = vlan_net(net, 10)
    subnet = net.create_subnet(USER1, network_id=n.id, cidr="192.168.10.0/24")
    loose = net.create_port(USER1, network_id=n.id)
    used = net.create_port(USER1, network_id=n.id, device_id="vm1", device_owner="compute:nova")
    error = refused(
        f"Unable to complete operation on network {n.id}. There are one or more ports still in "
        f"use on the network: port {used.id} (compute:nova vm1)",
        net.delete_network,
        USER1,
        n.id,
    )
    assert (error.status, error.kind) == (409, "NetworkInUse")
    net.update_port(ADMIN, used.id, {"device_id": "", "device_owner": ""})  # an admin repairs
    net.delete_network(USER1, n.id)
    for call, ident in ((net.get_subnet, subnet.id), (net.get_port, loose.id)):
        with pytest.raises(NotFound):
            call(USER1, ident)


def test_concurrent_project_networks_get_distinct_vlans(net: NetworkService) -> None:
    project1_range(net, 10, 19)
    got: list[int | None] = []
    errors: list[Exception] = []

    def create() -> None:
        try:
            got.append(net.create_network(USER1).segmentation_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(v for v in got if v is not None) == list(range(10, 18))


def test_conflict_on_exhaustion_is_a_409(net: NetworkService) -> None:
    project1_range(net, 10, 10)
    net.create_network(USER1)
    with pytest.raises(Conflict) as info:
        net.create_network(USER1)
    assert info.value.kind == "NoNetworkAvailable"


def test_what_uses_a_data_network(net: NetworkService) -> None:
    assert net.data_network_users("group0-data0") == []
    project1_range(net)
    vlan_net(net, 10)
    assert net.data_network_users("group0-data0") == [
        "network net0",
        "segment range project1-vlans",
    ]
