"""IPAM and VLAN math, without a database."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passnic.errors import BadRequest, Conflict
from passnic.network import ipam, segments
from passnic.network.ipam import Pool

ip = ipaddress.ip_address
V4 = ipaddress.ip_network("192.168.10.0/24")
V6 = ipaddress.ip_network("fd00::/64")


def test_default_gateway_and_pools_v4() -> None:
    gateway = ipam.default_gateway(V4)
    assert gateway == ip("192.168.10.1")
    assert ipam.default_pools(V4, gateway) == [Pool(ip("192.168.10.2"), ip("192.168.10.254"))]


def test_default_pools_v6_keep_the_last_address() -> None:
    assert ipam.default_pools(V6, ipam.default_gateway(V6)) == [
        Pool(ip("fd00::2"), ip("fd00::ffff:ffff:ffff:ffff"))
    ]


def test_default_pools_split_around_a_gateway_inside() -> None:
    assert ipam.default_pools(V4, ip("192.168.10.100")) == [
        Pool(ip("192.168.10.1"), ip("192.168.10.99")),
        Pool(ip("192.168.10.101"), ip("192.168.10.254")),
    ]
    assert ipam.default_pools(V4, None) == [Pool(ip("192.168.10.1"), ip("192.168.10.254"))]


@pytest.mark.parametrize(
    ("cidr", "version", "message"),
    [
        ("nonsense", None, "'nonsense' is not a valid IP subnet cidr"),
        (
            "192.168.10.0",
            None,
            "'192.168.10.0' is not a valid IP subnet cidr: the prefix length is missing",
        ),
        (
            "192.168.10.5/24",
            None,
            "'192.168.10.5/24' isn't a recognized IP subnet cidr, '192.168.10.0/24' is "
            "recommended: the address has host bits set",
        ),
        ("fd00::/64", 4, "cidr fd00::/64 is not an IPv4 network (ip_version 4)"),
        (
            "10.0.0.0/31",
            4,
            "cidr 10.0.0.0/31 is too small: IPv4 subnets need a prefix of /30 or shorter to "
            "leave addresses for ports",
        ),
    ],
)
def test_bad_cidrs(cidr: str, version: int | None, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        ipam.parse_cidr(cidr, version)
    assert info.value.message == message


def test_pools_must_stay_inside_the_subnet_and_off_the_gateway() -> None:
    gateway = ip("192.168.10.1")
    with pytest.raises(BadRequest, match=r"Allocation pool 192.168.10.200-192.168.11.5 is outside"):
        ipam.check_pools(V4, ipam.parse_pools(V4, [("192.168.10.200", "192.168.11.5")]), gateway)
    with pytest.raises(BadRequest) as info:
        ipam.check_pools(V4, ipam.parse_pools(V4, [("192.168.10.1", "192.168.10.9")]), gateway)
    assert info.value.message == (
        "Gateway ip 192.168.10.1 conflicts with allocation pool 192.168.10.1-192.168.10.9"
    )
    with pytest.raises(BadRequest, match="overlap"):
        pools = ipam.parse_pools(
            V4, [("192.168.10.2", "192.168.10.9"), ("192.168.10.5", "192.168.10.20")]
        )
        ipam.check_pools(V4, pools, gateway)
    with pytest.raises(BadRequest, match="the start is after the end"):
        ipam.parse_pools(V4, [("192.168.10.9", "192.168.10.2")])
    with pytest.raises(BadRequest, match="is outside"):  # the broadcast address
        ipam.check_pools(V4, ipam.parse_pools(V4, [("192.168.10.2", "192.168.10.255")]), gateway)


def test_fixed_ip_checks() -> None:
    gateway = ip("192.168.10.1")
    ipam.check_fixed_ip(V4, ip("192.168.10.77"), gateway, "sn")
    with pytest.raises(BadRequest) as info:
        ipam.check_fixed_ip(V4, ip("10.0.0.5"), gateway, "sn")
    assert (
        info.value.message
        == "IP address 10.0.0.5 is not a valid IP for subnet sn (192.168.10.0/24)"
    )
    with pytest.raises(BadRequest, match="is the broadcast address of subnet sn"):
        ipam.check_fixed_ip(V4, ip("192.168.10.255"), gateway, "sn")
    with pytest.raises(BadRequest, match="is the network address of subnet sn"):
        ipam.check_fixed_ip(V4, ip("192.168.10.0"), gateway, "sn")
    with pytest.raises(Conflict, match=r"IP address 192\.168\.10\.1 is the gateway of subnet sn"):
        ipam.check_fixed_ip(V4, gateway, gateway, "sn")


def test_first_free_takes_the_lowest_gap() -> None:
    pools = [
        Pool(ip("192.168.10.2"), ip("192.168.10.4")),
        Pool(ip("192.168.10.10"), ip("192.168.10.11")),
    ]
    assert ipam.first_free(pools, []) == ip("192.168.10.2")
    assert ipam.first_free(pools, [ip("192.168.10.2"), ip("192.168.10.4")]) == ip("192.168.10.3")
    taken = [ip(f"192.168.10.{n}") for n in (2, 3, 4, 10)]
    assert ipam.first_free(pools, taken) == ip("192.168.10.11")
    assert ipam.first_free(pools, [*taken, ip("192.168.10.11")]) is None


def test_first_free_v6_small_values_stay_v6() -> None:
    pools = [Pool(ip("::2"), ip("::ff"))]
    assert ipam.first_free(pools, [ip("::2")]) == ip("::3")


@given(st.sets(st.integers(min_value=0, max_value=40)))
def test_first_free_is_the_minimum_of_the_free_addresses(taken_offsets: set[int]) -> None:
    base = int(ip("10.0.0.10"))
    pools = [Pool(ip(base), ip(base + 15)), Pool(ip(base + 20), ip(base + 30))]
    taken = [ip(base + o) for o in taken_offsets]
    free = [
        ip(v)
        for pool in pools
        for v in range(int(pool.start), int(pool.end) + 1)
        if v - base not in taken_offsets
    ]
    assert ipam.first_free(pools, taken) == (min(free) if free else None)


def test_overlapping_subnets() -> None:
    existing = [ipaddress.ip_network("192.168.0.0/16"), V6]
    assert ipam.overlapping(V4, existing) == ipaddress.ip_network("192.168.0.0/16")
    assert ipam.overlapping(ipaddress.ip_network("10.0.0.0/8"), existing) is None


@pytest.mark.parametrize("vlan", [0, 4095, 5000, -1])
def test_vlan_ids_out_of_range(vlan: int) -> None:
    with pytest.raises(BadRequest) as info:
        segments.check_vlan_id(vlan)
    assert info.value.message == f"VLAN ID {vlan} is out of range: valid VLAN IDs are 1-4094"


def test_vlan_helpers() -> None:
    segments.check_vlan_id(1)
    segments.check_vlan_id(4094)
    assert segments.first_free_vlan(10, 12, {10, 12}) == 11
    assert segments.first_free_vlan(10, 11, {10, 11}) is None
    assert segments.overlaps(10, 19, 19, 30) and not segments.overlaps(10, 19, 20, 30)
    assert segments.describe_ids([15, 10, 11, 12]) == "10-12, 15"


@pytest.mark.parametrize(
    ("network_type", "segmentation_id", "datanet_type", "message"),
    [
        (
            "flat",
            None,
            "vlan",
            "A flat network cannot be on data network dn: it is a vlan data network, which "
            "carries only vlan networks",
        ),
        (
            "vlan",
            10,
            "flat",
            "A vlan network cannot be on data network dn: it is a flat data network, which "
            "carries only flat networks",
        ),
        (
            "flat",
            10,
            "flat",
            "A flat network takes no segmentation ID (got 10): it is the untagged traffic of "
            "data network dn",
        ),
        (
            "vxlan",
            10,
            "vxlan",
            "Network type vxlan is not supported: Passnic networks are vlan or flat (a PCI "
            "passthrough NIC joins a VLAN or the untagged traffic of its data network)",
        ),
    ],
)
def test_segment_type_rules(
    network_type: str, segmentation_id: int | None, datanet_type: str, message: str
) -> None:
    with pytest.raises(BadRequest) as info:
        segments.check_segment(network_type, segmentation_id, "dn", datanet_type)
    assert info.value.message == message
