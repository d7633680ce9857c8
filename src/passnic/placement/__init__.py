"""Where servers with pci-passthrough NICs go: a pure scheduler core (no DB, no HTTP)."""

from passnic.placement.model import (
    Decision,
    Device,
    DeviceRequest,
    DeviceType,
    Flavor,
    FleetView,
    GroupRule,
    HostState,
    NoValidHost,
    NumaNode,
    NumaPolicy,
    Placement,
    PlacementRequest,
    Stage,
    Weigher,
)
from passnic.placement.scheduler import FleetIndex, choose

__all__ = [
    "Decision",
    "Device",
    "DeviceRequest",
    "DeviceType",
    "Flavor",
    "FleetIndex",
    "FleetView",
    "GroupRule",
    "HostState",
    "NoValidHost",
    "NumaNode",
    "NumaPolicy",
    "Placement",
    "PlacementRequest",
    "Stage",
    "Weigher",
    "choose",
]
