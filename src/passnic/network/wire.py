"""The Neutron v2.0 wire format: request bodies to typed values, resources to JSON.

Bodies are checked field by field, so a wrong type is a 400 naming the field, never a 500.
Unknown attributes are refused as Neutron refuses them; a few that Neutron clients may send and
Passnic has no use for are accepted and ignored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from passnic.db import isotime
from passnic.errors import BadRequest
from passnic.network.models import (
    Network,
    Port,
    QosBandwidthLimitRule,
    QosPolicy,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Trunk,
)
from passnic.network.networks import SegmentRangeUsage
from passnic.network.ports import AddressPair, FixedIp
from passnic.network.trunks import SubPortSpec

Converter = Callable[[str, Any], Any]


def _invalid(name: str, value: Any, expected: str) -> BadRequest:
    return BadRequest(
        f"Invalid input for {name}. Reason: '{value}' is not {expected}.", kind="HTTPBadRequest"
    )


INT_MAX = 2**31 - 1


def long_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(name, value, "a valid string")
    if "\x00" in value:
        raise BadRequest(f"Invalid input for {name}: NUL characters", kind="HTTPBadRequest")
    return value


def text(name: str, value: Any) -> str:
    checked = long_text(name, value)
    if len(checked) > 255:
        raise BadRequest(
            f"Invalid input for {name}: longer than 255 characters", kind="HTTPBadRequest"
        )
    return checked


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _invalid(name, value, "a valid boolean")


def integer(name: str, value: Any) -> int:
    """An integer, also as a string: the CLI sends ``provider:segmentation_id`` as "10"."""
    if isinstance(value, bool):
        raise _invalid(name, value, "an integer")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = int(value.strip())
    if number is None:
        raise _invalid(name, value, "an integer")
    if abs(number) > INT_MAX:
        raise _invalid(name, value, f"an integer of at most {INT_MAX}")
    return number


def optional(convert: Converter) -> Converter:
    def parse(name: str, value: Any) -> Any:
        return None if value is None else convert(name, value)

    return parse


def _list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(name, value, "a list")
    return value


def _dict(
    name: str, value: Any, required: tuple[str, ...], allowed: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(name, value, "a dictionary")
    missing = [k for k in required if k not in value]
    extra = sorted(set(value) - set(allowed))
    if missing or extra:
        raise BadRequest(
            f"Invalid input for {name}: each entry takes {', '.join(allowed)}"
            + (f" and needs {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else ""),
            kind="HTTPBadRequest",
        )
    return value


def strings(name: str, value: Any) -> list[str]:
    return [text(name, v) for v in _list(name, value or [])]


def mapping(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(name, value, "a dictionary")
    return value


def fixed_ips(name: str, value: Any) -> list[FixedIp]:
    out = []
    for entry in _list(name, value):
        e = _dict(name, entry, (), ("subnet_id", "ip_address"))
        out.append(
            FixedIp(
                subnet_id=optional(text)(f"{name}.subnet_id", e.get("subnet_id")),
                ip_address=optional(text)(f"{name}.ip_address", e.get("ip_address")),
            )
        )
    return out


def address_pairs(name: str, value: Any) -> list[AddressPair]:
    out = []
    for entry in _list(name, value or []):
        e = _dict(name, entry, ("ip_address",), ("ip_address", "mac_address"))
        out.append(
            AddressPair(
                ip_address=text(f"{name}.ip_address", e["ip_address"]),
                mac_address=optional(text)(f"{name}.mac_address", e.get("mac_address")),
            )
        )
    return out


def pools(name: str, value: Any) -> list[tuple[str, str]]:
    return [
        (text(f"{name}.start", e["start"]), text(f"{name}.end", e["end"]))
        for e in (
            _dict(name, entry, ("start", "end"), ("start", "end")) for entry in _list(name, value)
        )
    ]


def routes(name: str, value: Any) -> list[tuple[str, str]]:
    keys = ("destination", "nexthop")
    return [
        (text(f"{name}.destination", e["destination"]), text(f"{name}.nexthop", e["nexthop"]))
        for e in (_dict(name, entry, keys, keys) for entry in _list(name, value or []))
    ]


def sub_ports(name: str, value: Any) -> list[SubPortSpec]:
    out = []
    for entry in _list(name, value):
        e = _dict(name, entry, ("port_id",), ("port_id", "segmentation_type", "segmentation_id"))
        out.append(
            SubPortSpec(
                port_id=text(f"{name}.port_id", e["port_id"]),
                segmentation_id=optional(integer)(
                    f"{name}.segmentation_id", e.get("segmentation_id")
                ),
                segmentation_type=text(
                    f"{name}.segmentation_type", e.get("segmentation_type") or "vlan"
                ),
            )
        )
    return out


def port_ids(name: str, value: Any) -> list[str]:
    return [
        text(f"{name}.port_id", _dict(name, e, ("port_id",), ("port_id",))["port_id"])
        for e in _list(name, value)
    ]


def unsupported(message: str) -> Converter:
    """An attribute Passnic has only one value for (null, false or empty)."""

    def parse(name: str, value: Any) -> Any:
        if value not in (None, False, [], {}, ""):
            raise BadRequest(message, kind="InvalidInput")
        return None

    return parse


@dataclass(frozen=True)
class Field:
    """One request attribute: the keyword the service takes (None: accepted, ignored), how to
    read it, and whether it may be given on create and on update."""

    attr: str | None
    convert: Converter
    create: bool = True
    update: bool = True


def ignored(convert: Converter = lambda _n, v: v) -> Field:
    return Field(None, convert)


def read_body(body: Any, key: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise BadRequest(
            f'Resource body required: expecting a JSON object {{"{key}": {{...}}}}',
            kind="HTTPBadRequest",
        )
    obj: dict[str, Any] = body[key]
    return obj


def parse(obj: Mapping[str, Any], fields: Mapping[str, Field], *, update: bool) -> dict[str, Any]:
    unknown = sorted(k for k in obj if k not in fields)
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'", kind="HTTPBadRequest")
    out: dict[str, Any] = {}
    for name, value in obj.items():
        field = fields[name]
        if update and not field.update:
            raise BadRequest(f"Cannot update read-only attribute {name}", kind="HTTPBadRequest")
        if not update and not field.create:
            raise BadRequest(f"Attribute {name} cannot be set on create", kind="HTTPBadRequest")
        converted = field.convert(name, value)
        if field.attr is not None:
            out[field.attr] = converted
    return out


# ---- request fields per resource ----------------------------------------------------------

STANDARD = {
    "name": Field("name", text),
    "description": Field("description", long_text),
    "project_id": Field("project_id", text, update=False),
    "tenant_id": Field("project_id", text, update=False),
    "tags": ignored(strings),
}

NETWORK_FIELDS = {
    **STANDARD,
    "admin_state_up": Field("admin_state_up", boolean),
    "shared": Field("shared", boolean),
    "mtu": Field("mtu", integer),
    "port_security_enabled": Field("port_security_enabled", boolean),
    "provider:network_type": Field("network_type", optional(text)),
    "provider:physical_network": Field("physical_network", optional(text)),
    "provider:segmentation_id": Field("segmentation_id", optional(integer)),
    "qos_policy_id": Field(
        None,
        unsupported(
            "QoS policies on networks are not supported: Passnic applies QoS per port (and "
            "never on PCI passthrough ports)"
        ),
    ),
    "router:external": Field(
        None, unsupported("External (router:external) networks are not supported by Passnic")
    ),
    "availability_zone_hints": ignored(strings),
    "dns_domain": ignored(),
    "is_default": ignored(),
}

SEGMENT_RANGE_FIELDS = {
    "name": Field("name", text),
    "project_id": Field("project_id", optional(text), update=False),
    "tenant_id": Field("project_id", optional(text), update=False),
    "shared": Field("shared", boolean, update=False),
    "network_type": Field("network_type", text, update=False),
    "physical_network": Field("physical_network", optional(text), update=False),
    "minimum": Field("minimum", integer),
    "maximum": Field("maximum", integer),
    "description": ignored(),
    "tags": ignored(strings),
}

SUBNET_FIELDS = {
    **STANDARD,
    "network_id": Field("network_id", text, update=False),
    "cidr": Field("cidr", text, update=False),
    "ip_version": Field("ip_version", integer, update=False),
    "gateway_ip": Field("gateway_ip", optional(text)),
    "allocation_pools": Field("allocation_pools", pools),
    "enable_dhcp": Field("enable_dhcp", boolean),
    "dns_nameservers": Field("dns_nameservers", strings),
    "host_routes": Field("host_routes", routes),
    "ipv6_ra_mode": Field("ipv6_ra_mode", optional(text), update=False),
    "ipv6_address_mode": Field("ipv6_address_mode", optional(text), update=False),
    "subnetpool_id": Field(None, unsupported("Subnet pools are not supported by Passnic")),
    "use_default_subnet_pool": Field(
        None, unsupported("Subnet pools are not supported by Passnic")
    ),
    "prefixlen": Field(None, unsupported("Subnet pools are not supported by Passnic")),
    "segment_id": Field(None, unsupported("Routed networks (segment_id) are not supported")),
    "service_types": ignored(strings),
    "dns_publish_fixed_ip": ignored(),
}

_BINDING_READ_ONLY = (
    "is set by Passnic when it binds the port to the NIC of a server's host; it cannot be "
    "set through the API"
)

PORT_FIELDS = {
    **STANDARD,
    "network_id": Field("network_id", text, update=False),
    "admin_state_up": Field("admin_state_up", boolean),
    "mac_address": Field("mac_address", text),
    "fixed_ips": Field("fixed_ips", fixed_ips),
    "device_id": Field("device_id", text),
    "device_owner": Field("device_owner", text),
    "binding:vnic_type": Field("vnic_type", text),
    "binding:host_id": Field("binding_host_id", text),
    "binding:profile": Field("binding_profile", mapping),
    "binding:vif_type": Field(None, unsupported(f"binding:vif_type {_BINDING_READ_ONLY}")),
    "binding:vif_details": Field(None, unsupported(f"binding:vif_details {_BINDING_READ_ONLY}")),
    "port_security_enabled": Field("port_security_enabled", boolean),
    "security_groups": Field("security_groups", strings),
    "qos_policy_id": Field("qos_policy_id", optional(text)),
    "allowed_address_pairs": Field("allowed_address_pairs", address_pairs),
    "extra_dhcp_opts": Field(None, unsupported("extra_dhcp_opts are not supported by Passnic")),
    "propagate_uplink_status": ignored(),
    "dns_name": ignored(),
    "dns_domain": ignored(),
}

SECURITY_GROUP_FIELDS = {**STANDARD, "stateful": Field("stateful", boolean)}

SECURITY_GROUP_RULE_FIELDS = {
    "security_group_id": Field("security_group_id", text, update=False),
    "direction": Field("direction", text, update=False),
    "ethertype": Field("ethertype", text, update=False),
    "protocol": Field("protocol", optional(lambda n, v: text(n, str(v)))),
    "port_range_min": Field("port_range_min", optional(integer)),
    "port_range_max": Field("port_range_max", optional(integer)),
    "remote_ip_prefix": Field("remote_ip_prefix", optional(text)),
    "remote_group_id": Field("remote_group_id", optional(text)),
    "remote_address_group_id": Field(
        None, unsupported("Address groups are not supported by Passnic")
    ),
    "description": Field("description", long_text),
    "project_id": ignored(),
    "tenant_id": ignored(),
}

QOS_POLICY_FIELDS = {
    **STANDARD,
    "shared": Field("shared", boolean),
    "is_default": Field("is_default", boolean),
}

BANDWIDTH_LIMIT_RULE_FIELDS = {
    "max_kbps": Field("max_kbps", integer),
    "max_burst_kbps": Field("max_burst_kbps", integer),
    "direction": Field("direction", text),
}

TRUNK_FIELDS = {
    **STANDARD,
    "port_id": Field("port_id", text, update=False),
    "admin_state_up": Field("admin_state_up", boolean),
    "sub_ports": Field("sub_ports", sub_ports, update=False),
}

FILTER_ALIASES = {
    "tenant_id": "project_id",
    "provider:network_type": "network_type",
    "provider:physical_network": "physical_network",
    "provider:segmentation_id": "segmentation_id",
    "binding:vnic_type": "vnic_type",
    "binding:host_id": "binding_host_id",
}


# ---- resources to JSON --------------------------------------------------------------------


def _standard(obj: Any) -> dict[str, Any]:
    return {
        "id": obj.id,
        "name": obj.name,
        "description": obj.description,
        "project_id": obj.project_id,
        "tenant_id": obj.project_id,
        "revision_number": obj.revision_number,
        "tags": [],
        "created_at": isotime(obj.created_at),
        "updated_at": isotime(obj.updated_at or obj.created_at),
    }


def network_view(n: Network) -> dict[str, Any]:
    return {
        **_standard(n),
        "admin_state_up": n.admin_state_up,
        "status": n.status,
        "shared": n.shared,
        "mtu": n.mtu,
        "port_security_enabled": n.port_security_enabled,
        "provider:network_type": n.network_type,
        "provider:physical_network": n.physical_network,
        "provider:segmentation_id": n.segmentation_id,
        "subnets": [sn.id for sn in n.subnets],
        "availability_zone_hints": [],
        "availability_zones": [],
        "router:external": False,
        "is_default": False,
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "l2_adjacency": True,
        "qos_policy_id": None,
        "dns_domain": "",
    }


def segment_range_view(u: SegmentRangeUsage) -> dict[str, Any]:
    r = u.range
    return {
        "id": r.id,
        "name": r.name,
        "default": r.default,
        "shared": r.shared,
        "project_id": r.project_id,
        "tenant_id": r.project_id,
        "network_type": r.network_type,
        "physical_network": r.physical_network,
        "minimum": r.minimum,
        "maximum": r.maximum,
        "used": {str(vlan): project for vlan, project in u.used.items()},
        "available": u.available,
        "revision_number": r.revision_number,
        "description": "",
        "tags": [],
        "created_at": isotime(r.created_at),
        "updated_at": isotime(r.updated_at or r.created_at),
    }


def subnet_view(sn: Subnet) -> dict[str, Any]:
    return {
        **_standard(sn),
        "network_id": sn.network_id,
        "ip_version": sn.ip_version,
        "cidr": sn.cidr,
        "gateway_ip": sn.gateway_ip,
        "enable_dhcp": sn.enable_dhcp,
        "allocation_pools": list(sn.allocation_pools),
        "dns_nameservers": list(sn.dns_nameservers),
        "host_routes": list(sn.host_routes),
        "ipv6_ra_mode": sn.ipv6_ra_mode,
        "ipv6_address_mode": sn.ipv6_address_mode,
        "subnetpool_id": None,
        "segment_id": None,
        "service_types": [],
        "dns_publish_fixed_ip": False,
    }


def port_view(p: Port) -> dict[str, Any]:
    trunk_details = None
    if p.trunk is not None:
        trunk_details = {
            "trunk_id": p.trunk.id,
            "sub_ports": [_subport_view(sp) for sp in p.trunk.sub_ports],
        }
    view = {
        **_standard(p),
        "network_id": p.network_id,
        "admin_state_up": p.admin_state_up,
        "status": p.status,
        "mac_address": p.mac_address,
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in p.fixed_ips],
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "binding:vnic_type": p.vnic_type,
        "binding:host_id": p.binding_host_id,
        "binding:profile": dict(p.binding_profile),
        "binding:vif_type": p.binding_vif_type,
        "binding:vif_details": dict(p.binding_vif_details),
        "port_security_enabled": p.port_security_enabled,
        "security_groups": [g.id for g in p.security_groups],
        "qos_policy_id": p.qos_policy_id,
        "qos_network_policy_id": None,
        "allowed_address_pairs": [dict(pair) for pair in p.allowed_address_pairs],
        "extra_dhcp_opts": [],
        "propagate_uplink_status": False,
        "data_plane_status": None,
    }
    if trunk_details is not None:
        view["trunk_details"] = trunk_details
    return view


def security_group_rule_view(r: SecurityGroupRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "project_id": r.project_id,
        "tenant_id": r.project_id,
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "normalized_cidr": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id,
        "remote_address_group_id": None,
        "description": r.description,
        "revision_number": r.revision_number,
        "tags": [],
        "created_at": isotime(r.created_at),
        "updated_at": isotime(r.updated_at or r.created_at),
    }


def security_group_view(g: SecurityGroup) -> dict[str, Any]:
    return {
        **_standard(g),
        "stateful": g.stateful,
        "shared": False,
        "security_group_rules": [security_group_rule_view(r) for r in g.rules],
    }


def bandwidth_limit_rule_view(r: QosBandwidthLimitRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "qos_policy_id": r.qos_policy_id,
        "max_kbps": r.max_kbps,
        "max_burst_kbps": r.max_burst_kbps,
        "direction": r.direction,
        "type": "bandwidth_limit",
    }


def qos_policy_view(q: QosPolicy) -> dict[str, Any]:
    return {
        **_standard(q),
        "shared": q.shared,
        "is_default": q.is_default,
        "rules": [bandwidth_limit_rule_view(r) for r in q.bandwidth_limit_rules],
    }


def _subport_view(sp: Any) -> dict[str, Any]:
    return {
        "port_id": sp.port_id,
        "segmentation_type": sp.segmentation_type,
        "segmentation_id": sp.segmentation_id,
    }


def trunk_view(t: Trunk) -> dict[str, Any]:
    return {
        **_standard(t),
        "port_id": t.port_id,
        "admin_state_up": t.admin_state_up,
        "status": t.status,
        "sub_ports": [_subport_view(sp) for sp in t.sub_ports],
    }
