"""Server group rules in the scheduler core: anti-affinity avoids, affinity requires."""

from __future__ import annotations

import pytest

from passnic.errors import BadRequest
from passnic.placement import (
    DeviceRequest,
    FleetIndex,
    GroupRule,
    NoValidHost,
    Placement,
    PlacementRequest,
)
from tests.placement.fleet_fakes import host, index, nic

PORT0 = DeviceRequest.port("group0-data0")


def three_hosts() -> FleetIndex:
    names = ["compute-0", "compute-1", "compute-2"]
    return index([host(n) for n in names], [nic(n, 0) for n in names])


def test_anti_affinity_walks_past_the_hosts_of_members() -> None:
    idx = three_hosts()
    rule = GroupRule("web", "anti-affinity", frozenset({"compute-0"}))
    result = idx.choose(PlacementRequest(devices=(PORT0,), group=rule))
    assert isinstance(result, Placement)
    assert result.host != "compute-0"


def test_two_anti_affinity_members_in_turn_take_different_hosts() -> None:
    idx = three_hosts()
    placed: list[str] = []
    for n in range(3):
        rule = GroupRule("web", "anti-affinity", frozenset(placed))
        found = idx.choose(PlacementRequest(devices=(PORT0,), group=rule))
        assert isinstance(found, Placement), found
        idx.claim(found, f"vm{n}")
        placed.append(found.host)
    assert sorted(placed) == ["compute-0", "compute-1", "compute-2"]
    full = GroupRule("web", "anti-affinity", frozenset(placed))
    # a fourth member has no host left, although no NIC is the reason
    idx.update_host(host("compute-3"), [nic("compute-3", 0)])
    other = idx.choose(PlacementRequest(devices=(PORT0,)))
    assert isinstance(other, Placement) and other.host == "compute-3"
    idx.claim(other, "other")
    why = idx.choose(PlacementRequest(devices=(PORT0,), group=full))
    assert isinstance(why, NoValidHost)
    assert (
        "compute-0, compute-1 and compute-2 already run a server of anti-affinity group web"
        in why.message
    )
    assert "compute-3 has its NIC in use by other" in why.message


def test_affinity_stays_on_the_members_host_and_says_why_not() -> None:
    idx = three_hosts()
    rule = GroupRule("db", "affinity", frozenset({"compute-2"}))
    found = idx.choose(PlacementRequest(devices=(PORT0,), group=rule))
    assert isinstance(found, Placement)
    assert found.host == "compute-2"
    idx.claim(found, "db-1")
    why = idx.choose(PlacementRequest(devices=(PORT0,), group=rule))
    assert isinstance(why, NoValidHost)
    assert "compute-2 has its NIC in use by db-1" in why.message
    assert (
        "compute-0 and compute-1 are not where the servers of affinity group db are "
        "(compute-2)" in why.message
    )


def test_first_member_of_an_affinity_group_goes_anywhere() -> None:
    found = three_hosts().choose(
        PlacementRequest(devices=(PORT0,), group=GroupRule("db", "affinity"))
    )
    assert isinstance(found, Placement)


def test_a_target_host_is_still_checked_against_the_group() -> None:
    rule = GroupRule("web", "anti-affinity", frozenset({"compute-1"}))
    why = three_hosts().choose(
        PlacementRequest(devices=(PORT0,), group=rule, target_host="compute-1")
    )
    assert isinstance(why, NoValidHost)
    assert "compute-1 already runs a server of anti-affinity group web" in why.message


def test_soft_policies_are_not_rules() -> None:
    with pytest.raises(BadRequest, match="soft-affinity"):
        GroupRule("x", "soft-affinity")  # type: ignore[arg-type]
