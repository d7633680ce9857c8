"""FleetIndex: matching, NUMA policies, weighing, targets, capacity, claims and inventory."""

from __future__ import annotations

import pytest

from passnic.errors import BadRequest, Conflict
from passnic.placement import (
    DeviceRequest,
    Flavor,
    FleetView,
    HostState,
    NoValidHost,
    Placement,
    PlacementRequest,
    choose,
)
from tests.placement.fleet_fakes import E1000, X710, host, index, nic

PORT0 = DeviceRequest.port("group0-data0")


def placed(decision: object) -> Placement:
    assert isinstance(decision, Placement), decision
    return decision


def addresses(placement: Placement) -> list[list[str]]:
    return [[d.pci_address for d in chosen] for chosen in placement.devices]


# ---- what matches --------------------------------------------------------------------------


def test_a_port_takes_any_passthrough_nic_on_its_data_network() -> None:
    idx = index([host("compute-0")], [nic("compute-0", 0, model=E1000)])
    result = placed(idx.choose(PlacementRequest(devices=(PORT0,))))
    assert result.host == "compute-0"
    assert result.devices[0][0].device_type == "type-PCI"


def test_alias_device_types_and_id_spelling() -> None:
    devices = [nic("compute-0", 0, model=E1000), nic("compute-0", 1, model=X710)]
    idx = index([host("compute-0")], devices)
    pf = DeviceRequest.alias("0x8086", "1572 ", device_type="type-PF")
    assert addresses(placed(idx.choose(PlacementRequest(devices=(pf,))))) == [["0000:3c:00.0"]]
    no_sriov = DeviceRequest.alias(*E1000, device_type="type-PF")
    assert isinstance(idx.choose(PlacementRequest(devices=(no_sriov,))), NoValidHost)
    # type-PCI: any whole NIC with those ids, SR-IOV capable or not
    whole = DeviceRequest.alias(*X710, device_type="type-PCI")
    assert placed(idx.choose(PlacementRequest(devices=(whole,)))).host == "compute-0"


def test_a_port_and_an_alias_share_out_the_nics_without_greed() -> None:
    # The lower address (the E1000) also suits the port; a greedy pass would give it to the
    # port and leave the alias nothing.
    devices = [nic("compute-0", 0, model=E1000), nic("compute-0", 1, model=X710)]
    request = PlacementRequest(devices=(PORT0, DeviceRequest.alias(*E1000)))
    result = placed(index([host("compute-0")], devices).choose(request))
    assert addresses(result) == [["0000:3c:00.0"], ["0000:3b:00.0"]]


def test_several_devices_for_one_request() -> None:
    devices = [nic("compute-0", slot) for slot in range(3)]
    request = PlacementRequest(devices=(DeviceRequest(count=3, data_network="group0-data0"),))
    result = placed(index([host("compute-0")], devices).choose(request))
    assert len(result.all_devices) == 3


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"count": 0, "data_network": "d"}, "at least 1"),
        ({"vendor_id": "8086"}, "both vendor_id and product_id"),
        ({}, "must name a data network"),
        ({"vendor_id": "8086", "product_id": "154c", "device_type": "type-VF"}, "not SR-IOV"),
        ({"data_network": "d", "device_type": "type-XX"}, "unknown device_type"),
        ({"data_network": "d", "numa_policy": "strict"}, "unknown NUMA policy"),
    ],
)
def test_bad_device_requests_are_refused(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        DeviceRequest(**kwargs)  # type: ignore[arg-type]


def test_bad_placement_requests_and_hosts_are_refused() -> None:
    with pytest.raises(BadRequest, match="weigher"):
        PlacementRequest(weigher="random")  # type: ignore[arg-type]
    with pytest.raises(BadRequest, match="NUMA policy"):
        PlacementRequest(numa_policy="strict")  # type: ignore[arg-type]
    with pytest.raises(BadRequest, match="no reason"):
        HostState("compute-0", schedulable=False)
    with pytest.raises(BadRequest, match="unknown host"):
        index([], [nic("compute-0", 0)])
    with pytest.raises(BadRequest, match="twice"):
        index([host("compute-0")], [nic("compute-0", 0), nic("compute-0", 0)])


# ---- NUMA policies ---------------------------------------------------------------------------

PAIR = DeviceRequest(count=2, data_network="group0-data0")


def test_required_puts_every_device_and_the_guest_on_one_node() -> None:
    hosts = [host("compute-0"), host("compute-1")]
    devices = [
        nic("compute-0", 0, numa=0),
        nic("compute-0", 1, numa=1),  # compute-0 is split: never for required
        nic("compute-1", 0, numa=0),
        nic("compute-1", 1, numa=1),
        nic("compute-1", 2, numa=1),
    ]
    result = placed(
        index(hosts, devices).choose(PlacementRequest(devices=(PAIR,), numa_policy="required"))
    )
    assert (result.host, result.numa_node) == ("compute-1", 1)
    assert {d.numa_node for d in result.all_devices} == {1}


def test_required_refuses_devices_without_numa_node_and_legacy_takes_them() -> None:
    devices = [nic("compute-0", 0, numa=None)]
    idx = index([host("compute-0", nodes=())], devices)
    required = PlacementRequest(devices=(PORT0,), numa_policy="required")
    assert isinstance(idx.choose(required), NoValidHost)
    legacy = placed(idx.choose(PlacementRequest(devices=(PORT0,))))
    assert (legacy.host, legacy.numa_node) == ("compute-0", None)


def test_legacy_mixes_the_guest_node_with_devices_of_unknown_node() -> None:
    devices = [nic("compute-0", 0, numa=1), nic("compute-0", 1, numa=None)]
    result = placed(index([host("compute-0")], devices).choose(PlacementRequest(devices=(PAIR,))))
    assert result.numa_node == 1
    split = [nic("compute-0", 0, numa=0), nic("compute-0", 1, numa=1)]
    assert isinstance(
        index([host("compute-0")], split).choose(PlacementRequest(devices=(PAIR,))), NoValidHost
    )


def test_preferred_takes_affinity_when_it_can_and_falls_back_otherwise() -> None:
    devices = [
        nic("compute-0", 0, numa=0),
        nic("compute-0", 1, numa=1),
        nic("compute-0", 2, numa=1),
    ]
    request = PlacementRequest(devices=(PAIR,), numa_policy="preferred")
    result = placed(index([host("compute-0")], devices).choose(request))
    assert (result.numa_node, addresses(result)) == (1, [["0000:3c:00.0", "0000:3d:00.0"]])
    split = placed(index([host("compute-0")], devices[:2]).choose(request))
    assert (split.numa_node, len(split.all_devices)) == (0, 2)


def test_only_the_preferred_request_falls_back() -> None:
    # The port (legacy) pins the guest to node 0; only the preferred alias may leave it.
    devices = [nic("compute-0", 0, numa=0), nic("compute-0", 1, net=None, model=E1000, numa=1)]
    request = PlacementRequest(
        devices=(PORT0, DeviceRequest.alias(*E1000, numa_policy="preferred"))
    )
    result = placed(index([host("compute-0")], devices).choose(request))
    assert (result.numa_node, addresses(result)) == (0, [["0000:3b:00.0"], ["0000:3c:00.0"]])
    strict = PlacementRequest(devices=(PORT0, DeviceRequest.alias(*E1000)))
    assert isinstance(index([host("compute-0")], devices).choose(strict), NoValidHost)


def test_socket_policy_follows_the_node_to_socket_map() -> None:
    devices = [nic("compute-0", 0, numa=0), nic("compute-0", 1, numa=1)]
    request = PlacementRequest(devices=(PAIR,), numa_policy="socket")
    one_socket = index([host("compute-0", sockets=(0, 0))], devices)
    assert placed(one_socket.choose(request)).numa_node == 0
    two_sockets = index([host("compute-0", sockets=(0, 1))], devices)
    assert isinstance(two_sockets.choose(request), NoValidHost)
    unknown = index([host("compute-0")], devices)  # no socket reported: as Nova, nothing fits
    assert isinstance(unknown.choose(request), NoValidHost)


def test_a_device_requests_own_policy_beats_the_requests() -> None:
    devices = [nic("compute-0", 0, numa=0), nic("compute-0", 1, numa=1)]
    request = PlacementRequest(
        devices=(DeviceRequest(count=2, data_network="group0-data0", numa_policy="preferred"),),
        numa_policy="required",
    )
    assert placed(index([host("compute-0")], devices).choose(request)).host == "compute-0"


# ---- weighing, targets, capacity ------------------------------------------------------------


def fleet_of_free_counts() -> tuple[list[HostState], list]:
    """compute-a has 1 free NIC, compute-b 3, compute-c 2."""
    hosts = [host("compute-a"), host("compute-b"), host("compute-c")]
    devices = [nic("compute-a", 0)]
    devices += [nic("compute-b", s) for s in range(3)]
    devices += [nic("compute-c", s) for s in range(2)]
    return hosts, devices


def test_pack_fills_the_fullest_host_and_spread_the_emptiest() -> None:
    idx = index(*fleet_of_free_counts())
    assert placed(idx.choose(PlacementRequest(devices=(PORT0,)))).host == "compute-a"
    assert placed(idx.choose(PlacementRequest(devices=(PORT0,), weigher="spread"))).host == (
        "compute-b"
    )


def test_weighing_follows_claims_and_releases() -> None:
    idx = index(*fleet_of_free_counts())
    pack = PlacementRequest(devices=(PORT0,))
    order = []
    for n in range(6):
        result = placed(idx.choose(pack))
        idx.claim(result, f"vm{n}")
        order.append(result.host)
    assert order == ["compute-a", "compute-c", "compute-c", "compute-b", "compute-b", "compute-b"]
    assert isinstance(idx.choose(pack), NoValidHost)
    idx.release("compute-b", ["0000:3b:00.0"], Flavor())
    assert placed(idx.choose(pack)).host == "compute-b"
    spread = PlacementRequest(devices=(PORT0,), weigher="spread")
    idx.release("compute-c", ["0000:3b:00.0", "0000:3c:00.0"], Flavor())
    assert placed(idx.choose(spread)).host == "compute-c"


def test_target_host_and_exclude_hosts() -> None:
    idx = index(*fleet_of_free_counts())
    assert placed(idx.choose(PlacementRequest(devices=(PORT0,), target_host="compute-b"))).host == (
        "compute-b"
    )
    moved = PlacementRequest(devices=(PORT0,), exclude_hosts=frozenset({"compute-a"}))
    assert placed(idx.choose(moved)).host == "compute-c"
    both = PlacementRequest(
        devices=(PORT0,), target_host="compute-a", exclude_hosts=frozenset({"compute-a"})
    )
    assert isinstance(idx.choose(both), NoValidHost)


def test_capacity_skips_to_the_next_host() -> None:
    hosts = [host("compute-a", vcpus=2), host("compute-b", vcpus=8)]
    devices = [nic("compute-a", 0), nic("compute-b", 0), nic("compute-b", 1)]
    idx = index(hosts, devices)
    assert placed(idx.choose(PlacementRequest(Flavor(vcpus=4), (PORT0,)))).host == "compute-b"
    assert placed(idx.choose(PlacementRequest(Flavor(vcpus=2), (PORT0,)))).host == "compute-a"


def test_servers_without_devices_go_by_capacity_and_pack() -> None:
    hosts = [host("compute-a", vcpus=4), host("compute-b"), host("compute-c", reason="locked")]
    idx = index(hosts, [nic("compute-b", 0)])
    # compute-a has no NIC at all: fewest free NICs, so pack keeps compute-b's NIC free
    result = placed(idx.choose(PlacementRequest(Flavor(vcpus=4))))
    assert (result.host, result.numa_node, result.devices) == ("compute-a", None, ())
    idx.claim(result, "vm1")
    assert placed(idx.choose(PlacementRequest(Flavor(vcpus=4)))).host == "compute-b"


# ---- claims, releases, inventory -----------------------------------------------------------


def test_claim_records_holders_and_capacity_and_release_gives_them_back() -> None:
    idx = index([host("compute-0", vcpus=4)], [nic("compute-0", 0), nic("compute-0", 1)])
    request = PlacementRequest(Flavor(3, 1024, 10), (PORT0,))
    claimed = idx.claim(placed(idx.choose(request)), "vm1")
    assert [d.holder for d in claimed.all_devices] == ["vm1"]
    state = idx.view().hosts[0]
    assert (state.vcpus_used, state.ram_mb_used, state.disk_gb_used) == (3, 1024, 10)
    assert isinstance(idx.choose(request), NoValidHost)  # 1 vCPU left
    idx.release("compute-0", [claimed.all_devices[0].pci_address], request.flavor)
    assert idx.view().hosts[0].vcpus_used == 0
    assert all(d.holder is None for d in idx.view().devices)


def test_claim_refuses_what_changed_since_choose() -> None:
    idx = index([host("compute-0", vcpus=4)], [nic("compute-0", 0)])
    request = PlacementRequest(Flavor(vcpus=2), (PORT0,))
    first = placed(idx.choose(request))
    idx.claim(first, "vm1")
    with pytest.raises(Conflict, match="in use by vm1"):
        idx.claim(first, "vm2")
    with pytest.raises(Conflict, match="no pci-passthrough NIC at 0000:99"):
        idx.claim(Placement("compute-0", 0, ((nic("compute-0", 0x5E),),), Flavor()), "vm2")
    with pytest.raises(Conflict, match="chosen twice"):
        idx.claim(Placement("compute-0", 0, ((first.devices[0][0],) * 2,), Flavor()), "vm2")
    with pytest.raises(Conflict, match="no longer has room"):
        idx.claim(Placement("compute-0", None, (), Flavor(vcpus=3)), "vm2")
    with pytest.raises(Conflict, match="no longer known"):
        idx.claim(Placement("compute-9", None, (), Flavor()), "vm2")
    idx.update_host(host("compute-0", vcpus=4, reason="locked"))
    with pytest.raises(Conflict, match="is locked"):
        idx.claim(Placement("compute-0", None, (), Flavor()), "vm2")


def test_release_refuses_what_is_not_held() -> None:
    idx = index([host("compute-0")], [nic("compute-0", 0)])
    with pytest.raises(BadRequest, match=r"no NIC at 0000:3b:00\.0 on compute-0 is in use"):
        idx.release("compute-0", ["0000:3b:00.0"], Flavor())
    with pytest.raises(BadRequest, match="not known"):
        idx.release("compute-9", [], Flavor())


def test_lock_unlock_and_device_changes_reach_the_index() -> None:
    idx = index([host("compute-0"), host("compute-1")], [nic("compute-0", 0), nic("compute-1", 0)])
    pack = PlacementRequest(devices=(PORT0,))
    assert placed(idx.choose(pack)).host == "compute-0"
    idx.update_host(host("compute-0", reason="locked"))
    assert placed(idx.choose(pack)).host == "compute-1"
    idx.update_host(host("compute-0"))  # unlocked; its NIC is kept
    assert placed(idx.choose(pack)).host == "compute-0"
    idx.update_host(host("compute-0"), [nic("compute-0", 0, net="group0-data1")])
    assert placed(idx.choose(pack)).host == "compute-1"
    data1 = PlacementRequest(devices=(DeviceRequest.port("group0-data1"),))
    assert placed(idx.choose(data1)).host == "compute-0"
    idx.remove_host("compute-0")
    idx.remove_host("compute-0")  # already gone: nothing to do
    assert isinstance(idx.choose(data1), NoValidHost)
    idx.update_host(host("compute-2"), [nic("compute-2", 0)])
    with pytest.raises(BadRequest, match="is on compute-2, not compute-3"):
        idx.update_host(host("compute-3"), [nic("compute-2", 1)])


def test_heaps_stay_bounded_under_churn() -> None:
    idx = index(
        [host(f"compute-{i}") for i in range(3)], [nic(f"compute-{i}", 0) for i in range(3)]
    )
    request = PlacementRequest(devices=(PORT0,))
    for n in range(500):
        result = idx.claim(placed(idx.choose(request)), f"vm{n}")
        idx.release(result.host, [d.pci_address for d in result.all_devices], Flavor())
    assert max(len(heap) for heap in idx._heaps.values()) <= 2 * 3 + 32 + 1


def test_the_pure_choose_matches_the_index() -> None:
    hosts, devices = fleet_of_free_counts()
    fleet = FleetView(tuple(hosts), tuple(devices))
    assert choose(fleet, PlacementRequest(devices=(PORT0,))) == index(hosts, devices).choose(
        PlacementRequest(devices=(PORT0,))
    )
