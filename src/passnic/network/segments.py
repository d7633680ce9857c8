"""Segment rules: pure functions over VLAN IDs, network types and data network types.

Decisions (StarlingX/Neutron semantics, kept simple):

* A **vlan** network is a VLAN ID (1-4094) on a **vlan** data network: the passthrough NIC's
  access-switch port puts untagged guest frames on that VLAN.
* A **flat** network is the untagged traffic of a **flat** data network; it has no segmentation
  ID and a data network carries at most one flat network. A flat network on a vlan data network is
  refused: StarlingX configures vlan data networks for VLAN segments only (Neutron's
  ``network_vlan_ranges``), flat ones for flat networks only (``flat_networks``).
* vxlan data networks carry no project network Passnic can give a passthrough NIC (Neutron's
  SR-IOV driver binds flat and vlan segments only).
"""

from __future__ import annotations

from collections.abc import Iterable

from passnic.errors import BadRequest

VLAN_MIN = 1
VLAN_MAX = 4094
NETWORK_TYPES = ("vlan", "flat")


def check_vlan_id(vlan: int) -> None:
    if not VLAN_MIN <= vlan <= VLAN_MAX:
        raise BadRequest(
            f"VLAN ID {vlan} is out of range: valid VLAN IDs are {VLAN_MIN}-{VLAN_MAX}",
            kind="InvalidInput",
        )


def check_network_type(network_type: str) -> None:
    if network_type not in NETWORK_TYPES:
        raise BadRequest(
            f"Network type {network_type} is not supported: Passnic networks are vlan or flat "
            "(a PCI passthrough NIC joins a VLAN or the untagged traffic of its data network)",
            kind="InvalidInput",
        )


def check_segment(
    network_type: str,
    segmentation_id: int | None,
    physical_network: str,
    data_network_type: str,
) -> None:
    """A network's segment against the type of the data network it is on."""
    check_network_type(network_type)
    if network_type != data_network_type:
        raise BadRequest(
            f"A {network_type} network cannot be on data network {physical_network}: it is a "
            f"{data_network_type} data network, which carries only {data_network_type} networks",
            kind="InvalidInput",
        )
    if network_type == "flat" and segmentation_id is not None:
        raise BadRequest(
            f"A flat network takes no segmentation ID (got {segmentation_id}): it is the "
            f"untagged traffic of data network {physical_network}",
            kind="InvalidInput",
        )
    if network_type == "vlan" and segmentation_id is not None:
        check_vlan_id(segmentation_id)


def check_range(minimum: int, maximum: int) -> None:
    check_vlan_id(minimum)
    check_vlan_id(maximum)
    if minimum > maximum:
        raise BadRequest(
            f"Segment range minimum {minimum} is above its maximum {maximum}", kind="InvalidInput"
        )


def overlaps(a_min: int, a_max: int, b_min: int, b_max: int) -> bool:
    return a_min <= b_max and b_min <= a_max


def first_free_vlan(minimum: int, maximum: int, used: Iterable[int]) -> int | None:
    """The lowest VLAN ID of ``minimum..maximum`` not in ``used``."""
    taken = set(used)
    for vlan in range(minimum, maximum + 1):
        if vlan not in taken:
            return vlan
    return None


def describe_ids(ids: Iterable[int]) -> str:
    """``[10, 11, 12, 15]`` -> ``"10-12, 15"``, for messages."""
    out: list[str] = []
    ordered = sorted(set(ids))
    start = prev = None
    for value in [*ordered, None]:
        if value is not None and prev is not None and value == prev + 1:
            prev = value
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = value
    return ", ".join(out)
