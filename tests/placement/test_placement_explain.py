"""The "no valid host" fault, stage by stage, word for word."""

from __future__ import annotations

from passnic.placement import (
    DeviceRequest,
    Flavor,
    NoValidHost,
    PlacementRequest,
)
from passnic.placement.model import hidden_holder
from tests.placement.fleet_fakes import E1000, X710, host, index, nic

PORT0 = DeviceRequest.port("group0-data0", label="port port0")


def fail(idx_hosts: list, devices: list, request: PlacementRequest) -> NoValidHost:
    decision = index(idx_hosts, devices).choose(request)
    assert isinstance(decision, NoValidHost), decision
    return decision


def port_request(**kwargs: object) -> PlacementRequest:
    return PlacementRequest(Flavor(2, 2048, 20), (PORT0,), **kwargs)  # type: ignore[arg-type]


def test_the_issue_example_word_for_word() -> None:
    hosts = [host("compute-0"), host("compute-1"), host("compute-2", reason="locked")]
    devices = [
        nic("compute-0", 0, holder="vm2"),
        nic("compute-1", 0, holder="vm3"),
        nic("compute-2", 0),
        nic("compute-0", 1, net="group0-data1"),  # another network: not counted
    ]
    result = fail([*hosts, host("compute-3")], devices, port_request())
    assert result.message == (
        "No valid host: 3 hosts have a pci-passthrough NIC on group0-data0; compute-2 is locked;"
        " compute-0 and compute-1 have theirs in use by vm2 and vm3"
    )
    assert [(s.name, s.hosts) for s in result.stages] == [
        ("considered", ("compute-0", "compute-1", "compute-2")),
        ("not_schedulable", ("compute-2",)),
        ("in_use", ("compute-0", "compute-1")),
    ]
    assert str(result) == result.message


def test_no_host_has_the_data_network() -> None:
    request = PlacementRequest(devices=(DeviceRequest.port("group0-data9"),))
    result = fail([host("compute-0")], [nic("compute-0", 0)], request)
    assert result.message == "No valid host: no host has a pci-passthrough NIC on group0-data9"
    assert [(s.name, s.hosts) for s in result.stages] == [("considered", ())]


def test_excluded_and_not_schedulable_grouped_by_reason() -> None:
    hosts = [
        host("compute-0"),
        host("compute-1", reason="locked"),
        host("compute-2", reason="locked"),
        host("compute-3", reason="offline"),
        host("compute-4", reason="disabled"),
    ]
    devices = [nic(h.name, 0) for h in hosts]
    result = fail(hosts, devices, port_request(exclude_hosts=frozenset({"compute-0"})))
    assert result.message == (
        "No valid host: 5 hosts have a pci-passthrough NIC on group0-data0; compute-0 is excluded;"
        " compute-1 and compute-2 are locked; compute-3 is offline; compute-4 is disabled"
    )


def test_capacity_names_the_first_short_resource() -> None:
    hosts = [
        host("compute-0", vcpus=1),
        host("compute-1", vcpus=1),
        host("compute-2", ram_mb=1024),
        host("compute-3", disk_gb=10),
    ]
    result = fail(hosts, [nic(h.name, 0) for h in hosts], port_request())
    assert result.message == (
        "No valid host: 4 hosts have a pci-passthrough NIC on group0-data0;"
        " compute-0 and compute-1 do not have 2 vCPUs free;"
        " compute-2 does not have 2048 MB of RAM free; compute-3 does not have 20 GB of disk free"
    )
    one_vcpu = PlacementRequest(Flavor(vcpus=1), (PORT0,))
    assert fail([host("compute-0", vcpus=0)], [nic("compute-0", 0)], one_vcpu).stages[-1].text == (
        "compute-0 does not have 1 vCPU free"
    )


def test_in_use_singular_plural_and_partly() -> None:
    one = fail([host("compute-0")], [nic("compute-0", 0, holder="vm2")], port_request())
    assert one.stages[-1].text == "compute-0 has its NIC in use by vm2"

    two = fail(
        [host("compute-0")],
        [nic("compute-0", 0, holder="vm1"), nic("compute-0", 1, holder="vm2")],
        port_request(),
    )
    assert two.stages[-1].text == "compute-0 has its NICs in use by vm1 and vm2"

    pair = PlacementRequest(devices=(DeviceRequest(count=2, data_network="group0-data0"),))
    partly = fail(
        [host("compute-0")], [nic("compute-0", 0, holder="vm1"), nic("compute-0", 1)], pair
    )
    assert partly.message == (
        "No valid host: 1 host has 2 pci-passthrough NICs on group0-data0;"
        " compute-0 has too few of them free; the rest are in use by vm1"
    )


def test_other_projects_servers_are_counted_not_named() -> None:
    """A member reads the fault of their server: the servers of other projects holding the
    NICs are not named (they used to be: "... in use by vm1, vm-normal and vmN")."""
    one = fail(
        [host("compute-0")], [nic("compute-0", 0, holder=hidden_holder("a"))], port_request()
    )
    assert one.stages[-1].text == "compute-0 has its NIC in use by another project's server"
    devices = [
        nic("compute-0", 0, holder="vm1"),
        nic("compute-0", 1, holder=hidden_holder("a")),
        nic("compute-1", 0, holder=hidden_holder("b")),
    ]
    result = fail([host("compute-0"), host("compute-1")], devices, port_request())
    assert result.stages[-1].text == (
        "compute-0 and compute-1 have theirs in use by vm1 and 2 servers of other projects"
    )


def test_same_kind_requests_are_merged_and_aliases_named_by_ids() -> None:
    two_ports = PlacementRequest(
        devices=(PORT0, DeviceRequest.port("group0-data0", label="port port1"))
    )
    result = fail([host("compute-0")], [nic("compute-0", 0)], two_ports)
    assert result.message == "No valid host: no host has 2 pci-passthrough NICs on group0-data0"

    pf_alias = PlacementRequest(
        devices=(DeviceRequest.alias(*X710, device_type="type-PF"), DeviceRequest.alias(*E1000))
    )
    result = fail([host("compute-0")], [nic("compute-0", 0)], pf_alias)
    assert result.message == (
        "No valid host: no host has an SR-IOV-capable pci-passthrough NIC 8086:1572"
        " and a pci-passthrough NIC 8086:10d3"
    )


def test_together_when_one_nic_would_serve_two_requests() -> None:
    # The only NIC is on group0-data0 and is an 8086:10d3: each request alone fits.
    request = PlacementRequest(
        devices=(PORT0, DeviceRequest.alias(*E1000, label="alias nic1")),
    )
    result = fail([host("compute-0")], [nic("compute-0", 0, model=E1000)], request)
    assert result.message == (
        "No valid host: 1 host has a pci-passthrough NIC on group0-data0 and a pci-passthrough"
        " NIC 8086:10d3; compute-0 does not have enough free NICs for port port0 and alias nic1"
        " together"
    )


def test_numa_policy_stage() -> None:
    split = [nic("compute-0", 0, numa=0), nic("compute-0", 1, numa=1)]
    pair = DeviceRequest(count=2, data_network="group0-data0")
    required = PlacementRequest(devices=(pair,), numa_policy="required")
    assert fail([host("compute-0")], split, required).stages[-1].text == (
        "compute-0 cannot put its free NICs and the guest on one NUMA node (NUMA policy required)"
    )
    socket = PlacementRequest(devices=(pair,), numa_policy="socket")
    hosts = [host("compute-0", sockets=(0, 1)), host("compute-1")]
    devices = [*split, nic("compute-1", 0, numa=0), nic("compute-1", 1, numa=1)]
    assert fail(hosts, devices, socket).stages[-1].text == (
        "compute-0 and compute-1 cannot put their free NICs and the guest on one socket"
        " (NUMA policy socket)"
    )
    mixed = PlacementRequest(
        devices=(PORT0, DeviceRequest.port("group0-data0", numa_policy="socket")),
        numa_policy="required",
    )
    assert fail([host("compute-0", sockets=(0, 1))], split, mixed).stages[-1].text == (
        "compute-0 cannot put its free NICs and the guest on one NUMA node or socket, as asked"
        " (NUMA policies required and socket)"
    )


def test_target_host_stages() -> None:
    devices = [nic("compute-0", 0), nic("compute-1", 0, net="group0-data1")]
    hosts = [host("compute-0", reason="locked"), host("compute-1")]
    assert fail(hosts, devices, port_request(target_host="compute-9")).message == (
        "No valid host: compute-9 was asked for but is not a known host"
    )
    assert fail(hosts, devices, port_request(target_host="compute-1")).message == (
        "No valid host: compute-1 was asked for;"
        " compute-1 does not have a pci-passthrough NIC on group0-data0"
    )
    assert fail(hosts, devices, port_request(target_host="compute-0")).message == (
        "No valid host: compute-0 was asked for; compute-0 is locked"
    )


def test_request_without_devices_counts_every_host() -> None:
    hosts = [host("compute-0"), host("compute-1", reason="locked")]
    big = PlacementRequest(Flavor(vcpus=64))
    assert fail(hosts, [], big).message == (
        "No valid host: 2 hosts are known; compute-1 is locked;"
        " compute-0 does not have 64 vCPUs free"
    )
    assert fail([], [], big).message == "No valid host: no host is known"
    assert fail(hosts[:1], [], big).message == (
        "No valid host: 1 host is known; compute-0 does not have 64 vCPUs free"
    )


def test_long_lists_are_cut_and_counted_in_operator_order() -> None:
    hosts = [host(f"compute-{i}", reason="locked") for i in range(12)]
    result = fail(hosts, [nic(h.name, 0) for h in hosts], port_request())
    assert result.message == (
        "No valid host: 12 hosts have a pci-passthrough NIC on group0-data0; compute-0,"
        " compute-1, compute-2, compute-3, compute-4 and 7 more are locked"
    )
    assert len(result.stages[-1].hosts) == 12
