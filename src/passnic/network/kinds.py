"""The networking resources: what a project sees of each, and which list filters each takes.

A project sees its own resources; networks also when shared (and the subnets of shared
networks, so ports can be made on them); QoS policies also when shared. Admins see everything.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from passnic.network.common import Kind
from passnic.network.models import (
    Network,
    NetworkSegmentRange,
    Port,
    QosPolicy,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Trunk,
)


def _network_visible(project_id: str) -> ColumnElement[bool]:
    return or_(Network.project_id == project_id, Network.shared)


def _subnet_visible(project_id: str) -> ColumnElement[bool]:
    shared = select(Network.id).where(Network.shared).scalar_subquery()
    return or_(Subnet.project_id == project_id, Subnet.network_id.in_(shared))


NETWORKS = Kind(
    Network,
    "Network",
    _network_visible,
    filterable=(
        "id",
        "name",
        "project_id",
        "shared",
        "status",
        "admin_state_up",
        "mtu",
        "network_type",
        "physical_network",
        "segmentation_id",
        "description",
    ),
)
SUBNETS = Kind(
    Subnet,
    "Subnet",
    _subnet_visible,
    filterable=(
        "id",
        "name",
        "project_id",
        "network_id",
        "cidr",
        "ip_version",
        "gateway_ip",
        "enable_dhcp",
    ),
)
PORTS = Kind(
    Port,
    "Port",
    lambda project_id: Port.project_id == project_id,
    filterable=(
        "id",
        "name",
        "project_id",
        "network_id",
        "device_id",
        "device_owner",
        "mac_address",
        "status",
        "vnic_type",
        "binding_host_id",
        "admin_state_up",
    ),
)
SECURITY_GROUPS = Kind(
    SecurityGroup,
    "Security group",
    lambda project_id: SecurityGroup.project_id == project_id,
    missing="Security group {id} does not exist",
)
SECURITY_GROUP_RULES = Kind(
    SecurityGroupRule,
    "Security group rule",
    lambda project_id: SecurityGroupRule.project_id == project_id,
    filterable=(
        "id",
        "project_id",
        "security_group_id",
        "direction",
        "ethertype",
        "protocol",
        "remote_group_id",
    ),
    missing="Security group rule {id} does not exist",
)
QOS_POLICIES = Kind(
    QosPolicy,
    "QoS policy",
    lambda project_id: or_(QosPolicy.project_id == project_id, QosPolicy.shared),
    filterable=("id", "name", "project_id", "shared"),
)
TRUNKS = Kind(
    Trunk,
    "Trunk",
    lambda project_id: Trunk.project_id == project_id,
    filterable=("id", "name", "project_id", "port_id", "status", "admin_state_up"),
)
SEGMENT_RANGES = Kind(
    NetworkSegmentRange,
    "Network segment range",
    # Only admins manage ranges (policy); a project never sees them.
    lambda project_id: NetworkSegmentRange.project_id == project_id,
    filterable=(
        "id",
        "name",
        "project_id",
        "shared",
        "network_type",
        "physical_network",
    ),
)
