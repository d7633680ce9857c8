"""The 802.1Q rules, over real Ethernet frame bytes, in one place.

The lab switch forwards with these functions and `trace` explains with them, so what an operator
is told is what the lab does. Parsing is plain slicing (no scapy) because every lab frame goes
through it. Frames are Ethernet II without FCS: destination, source, EtherType or 802.1Q tag.

The rules: a frame joins the VLAN of its tag, or the port's default VLAN when untagged or
priority-tagged (VID 0). An access port accepts untagged frames and frames tagged with its own
VLAN only; a trunk accepts the VLANs it allows and puts untagged frames on its native VLAN. On
the way out a frame is untagged on an access port and on a trunk's native VLAN, tagged on the
trunk's other allowed VLANs, and not sent where the VLAN does not go.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from passnic.fabric.portconfig import PortConfig

TPID_8021Q = 0x8100
_TPID_BYTES = TPID_8021Q.to_bytes(2, "big")
_ETH_HEADER = 14
_TAG = 4
_VID_RESERVED = 0xFFF


@dataclass(frozen=True, slots=True)
class Ingress:
    """How a port classified a received frame.

    `vlan` is None when the frame is dropped, and `reason` says why. `frame` is the frame with
    any 802.1Q tag removed, ready for `egress`. `tag` is the VID the frame carried (0 for a
    priority tag, None when untagged); `pcp` its priority, kept when the frame is re-tagged.
    """

    vlan: int | None
    frame: bytes
    tag: int | None = None
    pcp: int = 0
    reason: str | None = None

    @property
    def dropped(self) -> bool:
        return self.vlan is None


def _drop(frame: bytes, reason: str, tag: int | None = None) -> Ingress:
    return Ingress(None, frame, tag, 0, reason)


def classify_ingress(frame: bytes, port: PortConfig) -> Ingress:
    """The VLAN a frame received on `port` joins, or why the port drops it."""
    if not port.admin_up:
        return _drop(frame, "port is shut down")
    if len(frame) < _ETH_HEADER:
        return _drop(frame, f"runt frame of {len(frame)} bytes")
    if frame[6] & 1:
        return _drop(frame, "multicast source MAC address")
    tag: int | None = None
    pcp = 0
    untagged = frame
    if frame[12:14] == _TPID_BYTES:
        if len(frame) < _ETH_HEADER + _TAG:
            return _drop(frame, "truncated 802.1Q tag")
        tci = int.from_bytes(frame[14:16], "big")
        tag, pcp = tci & 0xFFF, tci >> 13
        untagged = frame[:12] + frame[16:]
        if tag == _VID_RESERVED:
            return _drop(untagged, "reserved VLAN ID 4095", tag)
    if port.mode == "access":
        if not tag or tag == port.access_vlan:
            if port.access_vlan is None:
                return _drop(untagged, "access port has no VLAN", tag)
            return Ingress(port.access_vlan, untagged, tag, pcp)
        return _drop(
            untagged, f"tagged VLAN {tag} on an access port for VLAN {port.access_vlan}", tag
        )
    if not tag:
        if port.native_vlan is None:
            return _drop(untagged, "untagged frame on a trunk without a native VLAN", tag)
        return Ingress(port.native_vlan, untagged, tag, pcp)
    if tag in port.allowed_vlans:
        return Ingress(tag, untagged, tag, pcp)
    return _drop(untagged, f"VLAN {tag} not allowed on trunk", tag)


def egress(frame: bytes, vlan: int, port: PortConfig, pcp: int = 0) -> bytes | None:
    """The bytes `port` sends for an untagged `frame` of `vlan`, or None when it sends nothing."""
    if not port.admin_up:
        return None
    if port.mode == "access":
        return frame if vlan == port.access_vlan else None
    if vlan not in port.allowed_vlans:
        return None
    if vlan == port.native_vlan:
        return frame
    return frame[:12] + _TPID_BYTES + ((pcp << 13) | vlan).to_bytes(2, "big") + frame[12:]


def format_mac(mac: bytes) -> str:
    return mac.hex(":")


def is_group_mac(mac: bytes) -> bool:
    """Broadcast and multicast destinations are flooded, never learned."""
    return bool(mac[0] & 1)


class MacTable:
    """Per-VLAN learning (independent VLAN learning): the same MAC may sit on different ports
    in different VLANs. Entries age out after `aging` seconds of silence; None keeps them."""

    def __init__(
        self, aging: float | None = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.aging = aging
        self._clock = clock
        self._entries: dict[tuple[int, bytes], tuple[str, float]] = {}

    def learn(self, vlan: int, mac: bytes, port: str) -> None:
        self._entries[(vlan, mac)] = (port, self._clock())

    def lookup(self, vlan: int, mac: bytes) -> str | None:
        entry = self._entries.get((vlan, mac))
        if entry is None:
            return None
        port, seen = entry
        if self.aging is not None and self._clock() - seen > self.aging:
            del self._entries[(vlan, mac)]
            return None
        return port

    def flush(self, port: str) -> None:
        """Forget what was learned on `port`: its VLANs or link changed."""
        self._entries = {k: v for k, v in self._entries.items() if v[0] != port}

    def entries(self) -> list[tuple[int, str, str]]:
        """(VLAN, MAC, port) rows, sorted, as `show mac address-table` prints them."""
        return sorted(
            (vlan, format_mac(mac), port) for (vlan, mac), (port, _) in self._entries.items()
        )


@dataclass(slots=True)
class PortCounters:
    """Frames received, sent and dropped on one port; drops by reason, as `trace` words them."""

    rx: int = 0
    tx: int = 0
    dropped: int = 0
    drop_reasons: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class _Decision:
    ingress: Ingress
    outputs: list[tuple[str, bytes]]
    filtered: str | None = None


class SoftSwitch:
    """An in-process 802.1Q switch: named ports, per-VLAN MAC learning, flooding within a VLAN.

    `receive` forwards and updates counters and the MAC table; `explain` walks the same
    decision without touching either, one sentence per step.
    """

    def __init__(
        self, ports: Mapping[str, PortConfig] | None = None, mac_table: MacTable | None = None
    ) -> None:
        self._ports: dict[str, PortConfig] = {}
        self.counters: dict[str, PortCounters] = {}
        self.mac_table = mac_table if mac_table is not None else MacTable()
        for name, config in (ports or {}).items():
            self.configure(name, config)

    @property
    def ports(self) -> Mapping[str, PortConfig]:
        return MappingProxyType(self._ports)

    def configure(self, name: str, config: PortConfig) -> None:
        """Add or reconfigure a port; what it had learned no longer holds."""
        self._ports[name] = config
        self.counters.setdefault(name, PortCounters())
        self.mac_table.flush(name)

    def receive(self, port_name: str, frame: bytes) -> list[tuple[str, bytes]]:
        """Forward `frame` received on `port_name`: the (port, bytes) pairs sent out."""
        decision = self._decide(port_name, frame, None)
        counters = self.counters[port_name]
        counters.rx += 1
        ingress = decision.ingress
        reason = ingress.reason or decision.filtered
        if reason is not None:
            counters.dropped += 1
            counters.drop_reasons[reason] += 1
        if ingress.vlan is not None:
            self.mac_table.learn(ingress.vlan, frame[6:12], port_name)
        for out, _ in decision.outputs:
            self.counters[out].tx += 1
        return decision.outputs

    def explain(self, port_name: str, frame: bytes) -> list[str]:
        """What the switch does with `frame` and why, without doing it."""
        steps: list[str] = []
        self._decide(port_name, frame, steps)
        return steps

    def _decide(self, port_name: str, frame: bytes, steps: list[str] | None) -> _Decision:
        port = self._port(port_name)
        ingress = classify_ingress(frame, port)
        if steps is not None:
            steps.append(f"ingress {port_name} ({port.summary()}): {_describe(frame, ingress)}")
        if ingress.vlan is None:
            if steps is not None:
                steps.append(f"dropped: {ingress.reason}")
            return _Decision(ingress, [])
        vlan = ingress.vlan
        if steps is not None:
            steps.append(f"classified to VLAN {vlan}")
            steps.append(f"learn {format_mac(frame[6:12])} on {port_name} in VLAN {vlan}")
        dst = ingress.frame[:6]
        known = None if is_group_mac(dst) else self.mac_table.lookup(vlan, dst)
        if known == port_name:
            reason = "destination is on the ingress port"
            if steps is not None:
                steps.append(f"{format_mac(dst)} was learned on {port_name} in VLAN {vlan}")
                steps.append(f"dropped: {reason}")
            return _Decision(ingress, [], reason)
        if known is not None:
            sent = egress(ingress.frame, vlan, self._ports[known], ingress.pcp)
            if sent is not None:
                if steps is not None:
                    steps.append(f"{format_mac(dst)} was learned on {known} in VLAN {vlan}")
                    steps.append(_describe_egress(known, self._ports[known], vlan))
                return _Decision(ingress, [(known, sent)])
        if steps is not None:
            why = "is a group address" if is_group_mac(dst) else "is unknown"
            steps.append(f"{format_mac(dst)} {why} in VLAN {vlan}: flood within VLAN {vlan}")
        outputs = list(self._flood(port_name, ingress))
        if steps is not None:
            steps.extend(_describe_egress(out, self._ports[out], vlan) for out, _ in outputs)
            if not outputs:
                steps.append(f"no other port carries VLAN {vlan}")
        return _Decision(ingress, outputs)

    def _flood(self, ingress_port: str, ingress: Ingress) -> Iterable[tuple[str, bytes]]:
        assert ingress.vlan is not None
        for name, config in self._ports.items():
            if name == ingress_port:
                continue
            sent = egress(ingress.frame, ingress.vlan, config, ingress.pcp)
            if sent is not None:
                yield name, sent

    def _port(self, name: str) -> PortConfig:
        try:
            return self._ports[name]
        except KeyError:
            raise KeyError(f"switch has no port {name!r}") from None


def _describe(frame: bytes, ingress: Ingress) -> str:
    if ingress.tag is None:
        kind = "untagged frame"
    elif ingress.tag == 0:
        kind = "priority-tagged frame (VID 0, treated as untagged)"
    else:
        kind = f"frame tagged VLAN {ingress.tag}"
    return f"{kind} {format_mac(frame[6:12])} -> {format_mac(frame[:6])}"


def _describe_egress(name: str, port: PortConfig, vlan: int) -> str:
    how = "untagged" if vlan == port.untagged_vlan else f"tagged VLAN {vlan}"
    return f"egress {name} ({port.summary()}): {how}"
