"""The 802.1Q rules over real frame bytes, built and checked with scapy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from passnic.fabric.frames import MacTable, SoftSwitch, classify_ingress, egress
from passnic.fabric.portconfig import PortConfig

A = "52:54:00:00:00:0a"
B = "52:54:00:00:00:0b"
C = "52:54:00:00:00:0c"
BROADCAST = "ff:ff:ff:ff:ff:ff"
PAYLOAD = b"passnic!" * 6

ACCESS_10 = PortConfig.access(10)
TRUNK = PortConfig.trunk(99, [10, 20])


def untagged(src: str = A, dst: str = BROADCAST) -> bytes:
    return bytes(Ether(src=src, dst=dst, type=0x0800) / Raw(PAYLOAD))


def tagged(vlan: int, src: str = A, dst: str = BROADCAST, prio: int = 0) -> bytes:
    return bytes(Ether(src=src, dst=dst) / Dot1Q(vlan=vlan, prio=prio, type=0x0800) / Raw(PAYLOAD))


# ---- ingress ---------------------------------------------------------------------------------


def test_access_port_puts_untagged_frames_on_its_vlan() -> None:
    ingress = classify_ingress(untagged(), ACCESS_10)
    assert (ingress.vlan, ingress.reason, ingress.tag) == (10, None, None)
    assert ingress.frame == untagged()


def test_access_port_accepts_its_own_tag_and_strips_it() -> None:
    ingress = classify_ingress(tagged(10), ACCESS_10)
    assert (ingress.vlan, ingress.tag, ingress.frame) == (10, 10, untagged())


def test_access_port_drops_frames_tagged_with_another_vlan() -> None:
    ingress = classify_ingress(tagged(20), ACCESS_10)
    assert ingress.dropped
    assert ingress.reason == "tagged VLAN 20 on an access port for VLAN 10"


def test_priority_tagged_frames_count_as_untagged() -> None:
    ingress = classify_ingress(tagged(0, prio=5), ACCESS_10)
    assert (ingress.vlan, ingress.tag, ingress.pcp) == (10, 0, 5)
    assert classify_ingress(tagged(0), TRUNK).vlan == 99


def test_trunk_accepts_allowed_tags_and_puts_untagged_frames_on_the_native_vlan() -> None:
    assert classify_ingress(tagged(20), TRUNK).vlan == 20
    assert classify_ingress(tagged(99), TRUNK).vlan == 99
    assert classify_ingress(untagged(), TRUNK).vlan == 99
    assert classify_ingress(tagged(30), TRUNK).reason == "VLAN 30 not allowed on trunk"
    no_native = PortConfig.trunk(None, [10])
    assert classify_ingress(untagged(), no_native).reason == (
        "untagged frame on a trunk without a native VLAN"
    )


@pytest.mark.parametrize(
    ("frame", "port", "reason"),
    [
        (untagged(), PortConfig.quarantine(10), "port is shut down"),
        (
            untagged(),
            PortConfig("access", True, None, None, frozenset()),
            "access port has no VLAN",
        ),
        (untagged()[:10], ACCESS_10, "runt frame of 10 bytes"),
        (tagged(10)[:16], ACCESS_10, "truncated 802.1Q tag"),
        (tagged(4095), TRUNK, "reserved VLAN ID 4095"),
        (untagged(src="01:00:5e:00:00:01"), ACCESS_10, "multicast source MAC address"),
    ],
)
def test_frames_every_port_drops(frame: bytes, port: PortConfig, reason: str) -> None:
    assert classify_ingress(frame, port).reason == reason


# ---- egress ----------------------------------------------------------------------------------


def test_egress_untags_on_access_ports_and_the_native_vlan() -> None:
    frame = untagged()
    assert egress(frame, 10, ACCESS_10) == frame
    assert egress(frame, 20, ACCESS_10) is None
    assert egress(frame, 99, TRUNK) == frame


def test_egress_tags_other_allowed_vlans_on_trunks() -> None:
    sent = egress(untagged(), 20, TRUNK, pcp=3)
    assert sent is not None
    parsed = Ether(sent)
    assert (parsed[Dot1Q].vlan, parsed[Dot1Q].prio, parsed[Dot1Q].type) == (20, 3, 0x0800)
    assert bytes(parsed[Raw]) == PAYLOAD
    assert sent == tagged(20, prio=3)
    assert egress(untagged(), 30, TRUNK) is None
    assert egress(untagged(), 10, PortConfig.quarantine(10)) is None


# ---- invariants ------------------------------------------------------------------------------

vlans = st.integers(1, 4094)
ports = st.one_of(
    st.builds(PortConfig.access, vlans),
    st.builds(PortConfig.quarantine, st.none() | vlans),
    st.builds(PortConfig.trunk, st.none() | vlans, st.frozensets(vlans, max_size=6)),
)
unicast_macs = st.binary(min_size=6, max_size=6).map(lambda m: bytes([m[0] & 0xFE]) + m[1:])
frames = st.builds(
    lambda dst, src, payload: dst + src + b"\x08\x00" + payload,
    st.binary(min_size=6, max_size=6),
    unicast_macs,
    st.binary(max_size=64),
)


@settings(max_examples=300, deadline=None)
@given(frames, vlans, ports, st.integers(0, 7))
def test_what_a_port_sends_it_would_classify_back_into_the_same_vlan(
    frame: bytes, vlan: int, port: PortConfig, pcp: int
) -> None:
    sent = egress(frame, vlan, port, pcp)
    if sent is None:
        assert (vlan != port.untagged_vlan and vlan not in port.tagged_vlans) or not port.admin_up
        return
    back = classify_ingress(sent, port)
    assert (back.vlan, back.frame) == (vlan, frame)


@settings(max_examples=300, deadline=None)
@given(frames, st.none() | st.integers(0, 4095), ports)
def test_ingress_only_ever_yields_a_vlan_the_port_carries(
    frame: bytes, tag: int | None, port: PortConfig
) -> None:
    if tag is not None:
        frame = frame[:12] + b"\x81\x00" + tag.to_bytes(2, "big") + frame[12:]
    ingress = classify_ingress(frame, port)
    assert (ingress.vlan is None) == (ingress.reason is not None)
    if ingress.vlan is not None:
        assert ingress.vlan == port.untagged_vlan or ingress.vlan in port.tagged_vlans


# ---- the software switch ---------------------------------------------------------------------


@pytest.fixture
def switch() -> SoftSwitch:
    return SoftSwitch(
        {
            "p1": PortConfig.access(10),
            "p2": PortConfig.access(10),
            "p3": PortConfig.access(20),
            "up": PortConfig.trunk(99, [10, 20]),
        }
    )


def test_broadcast_floods_within_the_vlan_only(switch: SoftSwitch) -> None:
    out = dict(switch.receive("p1", untagged(A)))
    assert set(out) == {"p2", "up"}  # not p3 (VLAN 20), not back out of p1
    assert out["p2"] == untagged(A)
    assert out["up"] == tagged(10, A)


def test_learned_destinations_get_unicast(switch: SoftSwitch) -> None:
    switch.receive("p1", untagged(A))
    assert switch.receive("p2", untagged(B, dst=A)) == [("p1", untagged(B, dst=A))]
    # B was learned on p2 in VLAN 10; a frame to B arriving from the trunk goes there only.
    assert switch.receive("up", tagged(10, C, dst=B)) == [("p2", untagged(C, dst=B))]
    assert switch.mac_table.entries() == [
        (10, A, "p1"),
        (10, B, "p2"),
        (10, C, "up"),
    ]


def test_unknown_unicast_floods(switch: SoftSwitch) -> None:
    assert {p for p, _ in switch.receive("p1", untagged(A, dst=B))} == {"p2", "up"}


def test_learning_is_per_vlan(switch: SoftSwitch) -> None:
    switch.receive("p1", untagged(A))  # A in VLAN 10 on p1
    switch.receive("up", tagged(20, A))  # the same MAC in VLAN 20, on the trunk
    assert switch.mac_table.lookup(10, bytes.fromhex("52540000000a")) == "p1"
    assert switch.receive("p3", untagged(C, dst=A)) == [("up", tagged(20, C, dst=A))]


def test_frames_to_the_ingress_port_are_filtered(switch: SoftSwitch) -> None:
    switch.receive("p1", untagged(A))
    assert switch.receive("p1", untagged(B, dst=A)) == []
    assert switch.counters["p1"].drop_reasons["destination is on the ingress port"] == 1


def test_counters(switch: SoftSwitch) -> None:
    switch.receive("p1", untagged(A))
    switch.receive("p1", tagged(20, A))
    switch.receive("up", tagged(30, B))
    p1, p2, up = switch.counters["p1"], switch.counters["p2"], switch.counters["up"]
    assert (p1.rx, p1.tx, p1.dropped) == (2, 0, 1)
    assert p1.drop_reasons == {"tagged VLAN 20 on an access port for VLAN 10": 1}
    assert (p2.rx, p2.tx, p2.dropped) == (0, 1, 0)
    assert (up.rx, up.tx, up.dropped) == (1, 1, 1)
    assert up.drop_reasons == {"VLAN 30 not allowed on trunk": 1}


def test_reconfiguring_a_port_forgets_what_it_learned(switch: SoftSwitch) -> None:
    switch.receive("p1", untagged(A))
    switch.configure("p1", PortConfig.access(20))
    assert switch.mac_table.entries() == []
    assert {p for p, _ in switch.receive("p3", untagged(C))} == {"p1", "up"}


def test_mac_entries_age_out() -> None:
    now = [0.0]
    table = MacTable(aging=300, clock=lambda: now[0])
    mac = bytes.fromhex("52540000000a")
    table.learn(10, mac, "p1")
    now[0] = 299
    assert table.lookup(10, mac) == "p1"
    now[0] = 301
    assert table.lookup(10, mac) is None
    assert table.entries() == []


def test_unknown_port_is_named(switch: SoftSwitch) -> None:
    with pytest.raises(KeyError, match="switch has no port 'p9'"):
        switch.receive("p9", untagged())


def test_explain_walks_the_decision_without_changing_the_switch(switch: SoftSwitch) -> None:
    assert switch.explain("p1", untagged(A)) == [
        f"ingress p1 (access VLAN 10): untagged frame {A} -> {BROADCAST}",
        "classified to VLAN 10",
        f"learn {A} on p1 in VLAN 10",
        f"{BROADCAST} is a group address in VLAN 10: flood within VLAN 10",
        "egress p2 (access VLAN 10): untagged",
        "egress up (trunk, native 99, allowed 10,20,99): tagged VLAN 10",
    ]
    assert switch.mac_table.entries() == []
    assert switch.counters["p1"].rx == 0


def test_explain_a_drop_and_a_unicast(switch: SoftSwitch) -> None:
    assert switch.explain("p1", tagged(20, A)) == [
        f"ingress p1 (access VLAN 10): frame tagged VLAN 20 {A} -> {BROADCAST}",
        "dropped: tagged VLAN 20 on an access port for VLAN 10",
    ]
    switch.receive("up", tagged(10, B))
    assert switch.explain("p1", untagged(A, dst=B))[-2:] == [
        f"{B} was learned on up in VLAN 10",
        "egress up (trunk, native 99, allowed 10,20,99): tagged VLAN 10",
    ]
    assert switch.explain("up", tagged(0, C))[0] == (
        "ingress up (trunk, native 99, allowed 10,20,99): "
        f"priority-tagged frame (VID 0, treated as untagged) {C} -> {BROADCAST}"
    )
    switch.configure("p3", PortConfig.access(30))
    assert switch.explain("p3", untagged(C))[-1] == "no other port carries VLAN 30"
