"""The Neutron v2.0 wire format: request bodies to typed values, resources to JSON.

Each resource's attributes are one table (``NETWORK_FIELDS``...); from it come the pydantic
models of its create and update bodies (``body_model``), which ``/openapi.json`` documents and
which check a body field by field with Neutron's words, so a wrong type is a 400 naming the
field, never a 500. Unknown attributes are refused as Neutron refuses them; a few that Neutron
clients may send and Passnic has no use for are accepted and ignored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, ClassVar, Literal

import pydantic

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
from passnic.network.quotas import DEFAULTS as DEFAULT_QUOTAS
from passnic.network.trunks import SubPortSpec


@dataclass(frozen=True)
class Converter:
    """How to read one attribute (``read(name, value)`` raises Neutron's 400 naming it) and the
    JSON type ``/openapi.json`` documents for it."""

    read: Callable[[str, Any], Any]
    kind: Any

    def __call__(self, name: str, value: Any) -> Any:
        return self.read(name, value)


def _invalid(name: str, value: Any, expected: str) -> BadRequest:
    return BadRequest(
        f"Invalid input for {name}. Reason: '{value}' is not {expected}.", kind="HTTPBadRequest"
    )


INT_MAX = 2**31 - 1


def _long_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(name, value, "a valid string")
    if "\x00" in value:
        raise BadRequest(f"Invalid input for {name}: NUL characters", kind="HTTPBadRequest")
    return value


def _text(name: str, value: Any) -> str:
    checked = _long_text(name, value)
    if len(checked) > 255:
        raise BadRequest(
            f"Invalid input for {name}: longer than 255 characters", kind="HTTPBadRequest"
        )
    return checked


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _invalid(name, value, "a valid boolean")


def _integer(name: str, value: Any) -> int:
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


Text = Annotated[str, pydantic.Field(max_length=255)]
Integer = Annotated[int, pydantic.Field(ge=-INT_MAX, le=INT_MAX)]

long_text = Converter(_long_text, str)
text = Converter(_text, Text)
boolean = Converter(_boolean, bool | Literal["true", "false", "True", "False"])
integer = Converter(_integer, Integer | str)


def optional(convert: Converter) -> Converter:
    def parse(name: str, value: Any) -> Any:
        return None if value is None else convert(name, value)

    return Converter(parse, convert.kind | None)


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


class _Entry(pydantic.BaseModel):
    """One entry of a list attribute, as documented; read by its converter below."""

    model_config = pydantic.ConfigDict(extra="forbid")


class FixedIpEntry(_Entry):
    subnet_id: Text | None = None
    ip_address: Text | None = None


class AddressPairEntry(_Entry):
    ip_address: Text
    mac_address: Text | None = None


class AllocationPoolEntry(_Entry):
    start: Text
    end: Text


class HostRouteEntry(_Entry):
    destination: Text
    nexthop: Text


class SubPortEntry(_Entry):
    port_id: Text
    segmentation_type: Text | None = None
    segmentation_id: Integer | None = None


class SubPortRef(_Entry):
    port_id: Text


def _strings(name: str, value: Any) -> list[str]:
    return [text(name, v) for v in _list(name, value or [])]


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(name, value, "a dictionary")
    return value


def _fixed_ips(name: str, value: Any) -> list[FixedIp]:
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


def _address_pairs(name: str, value: Any) -> list[AddressPair]:
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


def _pools(name: str, value: Any) -> list[tuple[str, str]]:
    return [
        (text(f"{name}.start", e["start"]), text(f"{name}.end", e["end"]))
        for e in (
            _dict(name, entry, ("start", "end"), ("start", "end")) for entry in _list(name, value)
        )
    ]


def _routes(name: str, value: Any) -> list[tuple[str, str]]:
    keys = ("destination", "nexthop")
    return [
        (text(f"{name}.destination", e["destination"]), text(f"{name}.nexthop", e["nexthop"]))
        for e in (_dict(name, entry, keys, keys) for entry in _list(name, value or []))
    ]


def _sub_ports(name: str, value: Any) -> list[SubPortSpec]:
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


def _port_ids(name: str, value: Any) -> list[str]:
    return [
        text(f"{name}.port_id", _dict(name, e, ("port_id",), ("port_id",))["port_id"])
        for e in _list(name, value)
    ]


strings = Converter(_strings, list[Text] | None)
mapping = Converter(_mapping, dict[str, Any] | None)
fixed_ips = Converter(_fixed_ips, list[FixedIpEntry])
address_pairs = Converter(_address_pairs, list[AddressPairEntry] | None)
pools = Converter(_pools, list[AllocationPoolEntry])
routes = Converter(_routes, list[HostRouteEntry] | None)
sub_ports = Converter(_sub_ports, list[SubPortEntry])
port_ids = Converter(_port_ids, list[SubPortRef])
anything = Converter(lambda _n, v: v, Any)


def unsupported(message: str) -> Converter:
    """An attribute Passnic has only one value for (null, false or empty)."""

    def parse(name: str, value: Any) -> Any:
        if value not in (None, False, [], {}, ""):
            raise BadRequest(message, kind="InvalidInput")
        return None

    return Converter(parse, Any)


@dataclass(frozen=True)
class Field:
    """One request attribute: the keyword the service takes (None: accepted, ignored), how to
    read it, and whether it may be given on create and on update."""

    attr: str | None
    convert: Converter
    create: bool = True
    update: bool = True


def ignored(convert: Converter = anything) -> Field:
    return Field(None, convert)


def read_body(body: Any, key: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise BadRequest(
            f'Resource body required: expecting a JSON object {{"{key}": {{...}}}}',
            kind="HTTPBadRequest",
        )
    obj: dict[str, Any] = body[key]
    return obj


class Body(pydantic.BaseModel):
    """A resource's create or update body, built from its field table by ``body_model``."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=False)

    table: ClassVar[Mapping[str, Field]]
    updating: ClassVar[bool]
    required: ClassVar[tuple[str, ...]]

    @pydantic.model_validator(mode="before")
    @classmethod
    def _names(cls, obj: Any) -> Any:
        return _check_names(obj, cls.table, update=cls.updating, required=cls.required)

    def values(self) -> dict[str, Any]:
        """The given attributes as the service's keywords (ignored ones left out)."""
        out: dict[str, Any] = {}
        for key in self.model_fields_set:
            wire_name = type(self).model_fields[key].alias or key
            attr = self.table[wire_name].attr
            if attr is not None:
                out[attr] = getattr(self, key)
        return out


def _check_names(
    obj: Any, fields: Mapping[str, Field], *, update: bool, required: tuple[str, ...]
) -> Any:
    """Neutron's refusals that come before any value is read, in Neutron's words."""
    if not isinstance(obj, dict):
        raise _invalid("body", obj, "a dictionary")
    if not update:
        for name in required:
            if obj.get(name) is None:
                raise BadRequest(
                    f"Failed to parse request. Required attribute '{name}' not specified",
                    kind="HTTPBadRequest",
                )
    unknown = sorted(k for k in obj if k not in fields)
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'", kind="HTTPBadRequest")
    for name in obj:
        if update and not fields[name].update:
            raise BadRequest(f"Cannot update read-only attribute {name}", kind="HTTPBadRequest")
        if not update and not fields[name].create:
            raise BadRequest(f"Attribute {name} cannot be set on create", kind="HTTPBadRequest")
    return obj


def body_model(
    model_name: str,
    fields: Mapping[str, Field],
    *,
    update: bool,
    required: tuple[str, ...] = (),
) -> type[Body]:
    """The pydantic model of one resource body: each attribute documented with its JSON type
    and read by its converter, so the messages stay Neutron's."""
    attributes: dict[str, Any] = {}
    for name, field in fields.items():
        if not (field.update if update else field.create):
            continue
        reader = pydantic.PlainValidator(
            partial(field.convert.read, name), json_schema_input_type=field.convert.kind
        )
        default: Any = ... if name in required else None
        attributes[name.replace(":", "_")] = (
            Annotated[Any, reader],
            pydantic.Field(default, alias=name),
        )
    model = pydantic.create_model(model_name, __base__=Body, **attributes)
    model.table, model.updating, model.required = fields, update, required
    return model


def parse_body(model: type[Body], obj: Any) -> dict[str, Any]:
    """A body's attributes as the service's keywords; a bad one is Neutron's 400."""
    try:
        return model.model_validate(obj).values()
    except pydantic.ValidationError as exc:  # a guard: the names check and converters raise first
        raise BadRequest(
            f"Invalid input for operation: {exc.errors()[0]['msg']}", kind="HTTPBadRequest"
        ) from exc


def openapi_schema(annotation: Any) -> dict[str, Any]:
    """The JSON schema of a body with its definitions inlined, for an operation's
    ``openapi_extra`` (which cannot refer to ``#/$defs``)."""
    schema = pydantic.TypeAdapter(annotation).json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            # an attribute left out is not the same as null: no "default": null
            return {k: inline(v) for k, v in node.items() if (k, v) != ("default", None)}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


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
    "protocol": Field("protocol", optional(Converter(lambda n, v: text(n, str(v)), Text | int))),
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

QUOTA_FIELDS = {name: Field(name, integer) for name in DEFAULT_QUOTAS}

SUB_PORTS_FIELDS = {"sub_ports": Field("sub_ports", sub_ports)}
REMOVE_SUB_PORTS_FIELDS = {"sub_ports": Field("sub_ports", port_ids)}


# ---- the bodies, as /openapi.json documents them -----------------------------------------

NetworkCreate = body_model("NetworkCreate", NETWORK_FIELDS, update=False)
NetworkUpdate = body_model("NetworkUpdate", NETWORK_FIELDS, update=True)
SegmentRangeCreate = body_model(
    "NetworkSegmentRangeCreate",
    SEGMENT_RANGE_FIELDS,
    update=False,
    required=("network_type", "minimum", "maximum"),
)
SegmentRangeUpdate = body_model("NetworkSegmentRangeUpdate", SEGMENT_RANGE_FIELDS, update=True)
SubnetCreate = body_model(
    "SubnetCreate", SUBNET_FIELDS, update=False, required=("network_id", "cidr")
)
SubnetUpdate = body_model("SubnetUpdate", SUBNET_FIELDS, update=True)
PortCreate = body_model("PortCreate", PORT_FIELDS, update=False, required=("network_id",))
PortUpdate = body_model("PortUpdate", PORT_FIELDS, update=True)
SecurityGroupCreate = body_model("SecurityGroupCreate", SECURITY_GROUP_FIELDS, update=False)
SecurityGroupUpdate = body_model("SecurityGroupUpdate", SECURITY_GROUP_FIELDS, update=True)
SecurityGroupRuleCreate = body_model(
    "SecurityGroupRuleCreate",
    SECURITY_GROUP_RULE_FIELDS,
    update=False,
    required=("security_group_id", "direction"),
)
QosPolicyCreate = body_model("QosPolicyCreate", QOS_POLICY_FIELDS, update=False)
QosPolicyUpdate = body_model("QosPolicyUpdate", QOS_POLICY_FIELDS, update=True)
BandwidthLimitRuleCreate = body_model(
    "BandwidthLimitRuleCreate", BANDWIDTH_LIMIT_RULE_FIELDS, update=False, required=("max_kbps",)
)
BandwidthLimitRuleUpdate = body_model(
    "BandwidthLimitRuleUpdate", BANDWIDTH_LIMIT_RULE_FIELDS, update=True
)
TrunkCreate = body_model("TrunkCreate", TRUNK_FIELDS, update=False, required=("port_id",))
TrunkUpdate = body_model("TrunkUpdate", TRUNK_FIELDS, update=True)
SubPortsAdd = body_model("SubPortsAdd", SUB_PORTS_FIELDS, update=False, required=("sub_ports",))
SubPortsRemove = body_model(
    "SubPortsRemove", REMOVE_SUB_PORTS_FIELDS, update=False, required=("sub_ports",)
)
QuotaUpdate = body_model("QuotaUpdate", QUOTA_FIELDS, update=True)


def wrapped(key: str, model: type[Body], plural: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a body under its resource key, ``{"network": {...}}``, or with a
    plural also the bulk form ``{"networks": [{...}, ...]}``."""
    single = pydantic.create_model(f"{model.__name__}Body", **{key: (model, ...)})  # type: ignore[call-overload]
    if plural is None:
        return openapi_schema(single)
    bulk = pydantic.create_model(  # type: ignore[call-overload]
        f"{model.__name__}BulkBody", **{plural: (pydantic.conlist(model, min_length=1), ...)}
    )
    return openapi_schema(single | bulk)


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
