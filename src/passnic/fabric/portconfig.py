"""The configuration of one switch port, desired or read back, and the drift between the two.

`PortConfig` describes forwarding behaviour, not CLI text: every driver parses its switch's
configuration into it, so the audit compares like with like whatever the vendor. One rule follows
from that: a trunk's native VLAN is always among its allowed VLANs, because a native VLAN the
trunk does not carry forwards nothing (parsers report such a port as having no native VLAN).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Mode = Literal["access", "trunk"]

VLAN_MIN = 1
VLAN_MAX = 4094
ALL_VLANS = frozenset(range(VLAN_MIN, VLAN_MAX + 1))


def _check_vlan(vlan: int, what: str) -> None:
    if not VLAN_MIN <= vlan <= VLAN_MAX:
        raise ValueError(f"{what} {vlan} is outside {VLAN_MIN}-{VLAN_MAX}")


@dataclass(frozen=True, slots=True)
class PortConfig:
    """One switch port: its mode, admin state and VLANs.

    `access_vlan` is set only in access mode; `native_vlan` and `allowed_vlans` only in trunk
    mode. An access port without a VLAN is, when desired, a quarantine that only shuts the port
    and leaves its mode and VLANs alone or, when read back, a port in no VLAN (a routed port).
    """

    mode: Mode
    admin_up: bool
    access_vlan: int | None
    native_vlan: int | None
    allowed_vlans: frozenset[int]
    description: str = ""

    def __post_init__(self) -> None:
        if self.mode == "access":
            if self.native_vlan is not None or self.allowed_vlans:
                raise ValueError("an access port has no native or allowed VLANs")
            if self.access_vlan is not None:
                _check_vlan(self.access_vlan, "access VLAN")
        else:
            if self.access_vlan is not None:
                raise ValueError("a trunk port has no access VLAN")
            for vlan in self.allowed_vlans:
                _check_vlan(vlan, "allowed VLAN")
            if self.native_vlan is not None and self.native_vlan not in self.allowed_vlans:
                raise ValueError(f"native VLAN {self.native_vlan} is not allowed on the trunk")

    @classmethod
    def access(cls, vlan: int, description: str = "") -> PortConfig:
        """The recommended port: untagged frames join `vlan`, tagged ones are refused."""
        return cls("access", True, vlan, None, frozenset(), description)

    @classmethod
    def quarantine(cls, vlan: int | None = None, description: str = "") -> PortConfig:
        """A port Passnic no longer serves: shut down and, when given, parked on `vlan`."""
        return cls("access", False, vlan, None, frozenset(), description)

    @classmethod
    def trunk(cls, native: int | None, allowed: Iterable[int], description: str = "") -> PortConfig:
        """A trunk carrying `allowed` tagged; untagged frames join `native` (allowed too)."""
        vlans = frozenset(allowed) | ({native} if native is not None else frozenset())
        return cls("trunk", True, None, native, vlans, description)

    @property
    def untagged_vlan(self) -> int | None:
        """The VLAN whose frames leave this port untagged (and that untagged frames join)."""
        return self.access_vlan if self.mode == "access" else self.native_vlan

    @property
    def tagged_vlans(self) -> frozenset[int]:
        """The VLANs whose frames cross this port with an 802.1Q tag."""
        if self.mode == "access":
            return frozenset()
        return self.allowed_vlans - {self.native_vlan}

    def summary(self) -> str:
        """One line for operators, e.g. "access VLAN 10" or "trunk, native 99, allowed 10,99"."""
        if self.mode == "access":
            text = (
                "access, no VLAN" if self.access_vlan is None else f"access VLAN {self.access_vlan}"
            )
        else:
            native = "none" if self.native_vlan is None else str(self.native_vlan)
            text = f"trunk, native {native}, allowed {format_vlan_list(self.allowed_vlans)}"
        return text if self.admin_up else f"{text}, shut down"


def format_vlan_list(vlans: Iterable[int]) -> str:
    """The compact list switches print and accept: "10,20,30-32"; "none" when empty."""
    ordered = sorted(set(vlans))
    if not ordered:
        return "none"
    runs: list[str] = []
    start = prev = ordered[0]
    for vlan in [*ordered[1:], None]:
        if vlan is not None and vlan == prev + 1:
            prev = vlan
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if vlan is not None:
            start = prev = vlan
    return ",".join(runs)


def parse_vlan_list(text: str) -> frozenset[int]:
    """The inverse of `format_vlan_list`, also accepting "all" and spaces after commas."""
    text = text.strip()
    if text in ("none", ""):
        return frozenset()
    if text == "all":
        return ALL_VLANS
    vlans: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        vlans.update(range(int(low), int(high or low) + 1))
    for vlan in vlans:
        _check_vlan(vlan, "VLAN")
    return frozenset(vlans)


class DriftKind(StrEnum):
    """What is wrong with a port; the audit groups and remediates by kind."""

    PORT_MISSING = "port-missing"
    WRONG_MODE = "wrong-mode"
    WRONG_VLAN = "wrong-vlan"
    WRONG_NATIVE_VLAN = "wrong-native-vlan"
    WRONG_ALLOWED_VLANS = "wrong-allowed-vlans"
    QUARANTINED_PORT_UP = "quarantined-port-up"
    PORT_DOWN = "port-down"
    WRONG_DESCRIPTION = "wrong-description"


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference between the desired and the actual port, in operator words."""

    kind: DriftKind
    message: str


def _vlan(vlan: int | None) -> str:
    return "none" if vlan is None else str(vlan)


def diff(desired: PortConfig, actual: PortConfig | None) -> list[Drift]:
    """What the switch port gets wrong; empty when it does what Passnic wants.

    Only what `desired` has an opinion on is compared: a quarantine without a VLAN asks only
    for the port to be down (a shut port forwards nothing, whatever its mode and VLANs), and an
    empty description ignores the description.
    """
    if actual is None:
        return [Drift(DriftKind.PORT_MISSING, "port not found on the switch")]
    drifts = _vlan_drifts(desired, actual)
    if desired.admin_up != actual.admin_up:
        if actual.admin_up:
            drifts.append(Drift(DriftKind.QUARANTINED_PORT_UP, "quarantined port is up"))
        else:
            drifts.append(Drift(DriftKind.PORT_DOWN, "port is down"))
    if desired.description and desired.description != actual.description:
        drifts.append(
            Drift(
                DriftKind.WRONG_DESCRIPTION,
                f"description is {actual.description!r}, expected {desired.description!r}",
            )
        )
    return drifts


def _vlan_drifts(desired: PortConfig, actual: PortConfig) -> list[Drift]:
    """Mode first: once it is wrong, the VLANs of the other mode say nothing useful."""
    if desired.mode == "access" and desired.access_vlan is None:
        return []
    if desired.mode != actual.mode:
        return [Drift(DriftKind.WRONG_MODE, f"{actual.mode} where {desired.mode} was expected")]
    if desired.mode == "access":
        if desired.access_vlan == actual.access_vlan:
            return []
        message = (
            f"wrong VLAN: access VLAN {_vlan(actual.access_vlan)}, expected {desired.access_vlan}"
        )
        return [Drift(DriftKind.WRONG_VLAN, message)]
    drifts: list[Drift] = []
    if desired.native_vlan != actual.native_vlan:
        message = (
            f"wrong native VLAN: native VLAN {_vlan(actual.native_vlan)}, "
            f"expected {_vlan(desired.native_vlan)}"
        )
        drifts.append(Drift(DriftKind.WRONG_NATIVE_VLAN, message))
    extra = actual.allowed_vlans - desired.allowed_vlans
    missing = desired.allowed_vlans - actual.allowed_vlans
    parts = []
    if extra:
        parts.append(f"VLANs {format_vlan_list(extra)} allowed but not expected")
    if missing:
        parts.append(f"VLANs {format_vlan_list(missing)} expected but not allowed")
    if parts:
        drifts.append(
            Drift(DriftKind.WRONG_ALLOWED_VLANS, "wrong allowed VLANs: " + "; ".join(parts))
        )
    return drifts
