"""The port model, VLAN lists, and the drift the audit reports in operator words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passnic.fabric.portconfig import (
    ALL_VLANS,
    Drift,
    DriftKind,
    PortConfig,
    diff,
    format_vlan_list,
    parse_vlan_list,
)


def test_constructors() -> None:
    assert PortConfig.access(10) == PortConfig("access", True, 10, None, frozenset())
    assert PortConfig.quarantine() == PortConfig("access", False, None, None, frozenset())
    assert PortConfig.quarantine(999).access_vlan == 999
    trunk = PortConfig.trunk(99, [10, 20])
    assert trunk.allowed_vlans == {10, 20, 99}  # the native VLAN is carried, hence allowed
    assert (trunk.untagged_vlan, trunk.tagged_vlans) == (99, frozenset({10, 20}))
    assert PortConfig.trunk(None, [10]).untagged_vlan is None
    assert PortConfig.access(10).tagged_vlans == frozenset()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("access", True, 0, None, frozenset()), "access VLAN 0 is outside 1-4094"),
        (("access", True, 10, 10, frozenset()), "an access port has no native or allowed"),
        (("trunk", True, 10, None, frozenset()), "a trunk port has no access VLAN"),
        (("trunk", True, None, None, frozenset({4095})), "allowed VLAN 4095 is outside"),
        (("trunk", True, None, 99, frozenset({10})), "native VLAN 99 is not allowed"),
    ],
)
def test_invalid_configs_are_refused(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PortConfig(*args)  # type: ignore[arg-type]


def test_summary() -> None:
    assert PortConfig.access(10).summary() == "access VLAN 10"
    assert PortConfig.quarantine().summary() == "access, no VLAN, shut down"
    assert PortConfig.trunk(99, [10, 11, 12]).summary() == "trunk, native 99, allowed 10-12,99"
    assert PortConfig.trunk(None, []).summary() == "trunk, native none, allowed none"


def test_vlan_lists() -> None:
    assert format_vlan_list([30, 10, 31, 32, 20]) == "10,20,30-32"
    assert format_vlan_list([]) == "none"
    assert parse_vlan_list("10, 20,30-32") == {10, 20, 30, 31, 32}
    assert parse_vlan_list("none") == frozenset()
    assert parse_vlan_list("all") == ALL_VLANS
    assert format_vlan_list(ALL_VLANS) == "1-4094"
    with pytest.raises(ValueError, match="VLAN 5000 is outside"):
        parse_vlan_list("10,5000")


@given(st.frozensets(st.integers(1, 4094), max_size=40))
def test_vlan_list_round_trip(vlans: frozenset[int]) -> None:
    assert parse_vlan_list(format_vlan_list(vlans)) == vlans


def messages(drifts: list[Drift]) -> list[str]:
    return [d.message for d in drifts]


def test_no_drift_when_the_port_does_what_is_wanted() -> None:
    assert diff(PortConfig.access(10), PortConfig.access(10, "set by someone")) == []
    assert diff(PortConfig.trunk(99, [10]), PortConfig.trunk(99, [10])) == []
    # A quarantine without a VLAN only asks for the port to be down.
    assert diff(PortConfig.quarantine(), PortConfig.quarantine(20)) == []


def test_port_missing() -> None:
    assert diff(PortConfig.access(10), None) == [
        Drift(DriftKind.PORT_MISSING, "port not found on the switch")
    ]


def test_wrong_vlan() -> None:
    drifts = diff(PortConfig.access(10), PortConfig.access(20))
    assert drifts == [Drift(DriftKind.WRONG_VLAN, "wrong VLAN: access VLAN 20, expected 10")]
    routed = PortConfig("access", True, None, None, frozenset())
    assert messages(diff(PortConfig.access(10), routed)) == [
        "wrong VLAN: access VLAN none, expected 10"
    ]
    assert messages(diff(PortConfig.quarantine(999), PortConfig.quarantine(10))) == [
        "wrong VLAN: access VLAN 10, expected 999"
    ]


def test_wrong_mode_reports_the_mode_not_the_other_modes_vlans() -> None:
    drifts = diff(PortConfig.access(10), PortConfig.trunk(10, [10, 20]))
    assert drifts == [Drift(DriftKind.WRONG_MODE, "trunk where access was expected")]
    assert messages(diff(PortConfig.trunk(99, [10]), PortConfig.access(99))) == [
        "access where trunk was expected"
    ]


def test_trunk_drift() -> None:
    drifts = diff(PortConfig.trunk(99, [10, 20]), PortConfig.trunk(None, [10, 30, 31]))
    assert [d.kind for d in drifts] == [DriftKind.WRONG_NATIVE_VLAN, DriftKind.WRONG_ALLOWED_VLANS]
    assert messages(drifts) == [
        "wrong native VLAN: native VLAN none, expected 99",
        "wrong allowed VLANs: VLANs 30-31 allowed but not expected; "
        "VLANs 20,99 expected but not allowed",
    ]


def test_admin_state_drift() -> None:
    assert diff(PortConfig.quarantine(), PortConfig.access(10)) == [
        Drift(DriftKind.QUARANTINED_PORT_UP, "quarantined port is up")
    ]
    assert diff(PortConfig.access(10), PortConfig.quarantine(10)) == [
        Drift(DriftKind.PORT_DOWN, "port is down")
    ]


def test_several_drifts_at_once() -> None:
    desired = PortConfig.access(10, "compute-0 enp0s3")
    actual = PortConfig.quarantine(20, "old")
    assert messages(diff(desired, actual)) == [
        "wrong VLAN: access VLAN 20, expected 10",
        "port is down",
        "description is 'old', expected 'compute-0 enp0s3'",
    ]
