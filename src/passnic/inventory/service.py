"""The host inventory rules, as StarlingX sysinv applies them (research §1.3 and §2).

Every public method that acts for a caller takes its ``RequestContext``, enforces policy and
runs as one transaction. Refusals carry sysinv's own sentences so operators who know
StarlingX recognise them. Where sysinv leaves a passthrough restriction unguarded, Passnic
refuses it explicitly (VLAN over, LAG over, QoS on, vxlan on, monitoring of a pci-passthrough
interface).

Create and modify calls take a mapping of attribute -> value (what a REST body or a JSON patch
says); values are checked here, so every caller gets the same messages.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, get_args

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database, Paged, new_uuid, seek
from passnic.errors import BadRequest, Conflict, NotFound
from passnic.inventory.models import (
    DataNetwork,
    EthernetPort,
    Host,
    Interface,
    InterfaceDataNetwork,
    InventoryRevision,
    LldpNeighbour,
    NumaNode,
)
from passnic.inventory.report import INT32_MAX, HostReport, Personality, PortReport
from passnic.logs import log_event

log = logging.getLogger("passnic.inventory")

policy.register(
    {
        "inventory:read": "reader",
        "inventory:write": "admin",
        "inventory:agent_report": "admin",
    }
)

# -- vocabulary (sysinv/common/constants.py) --------------------------------------------------

PLATFORM = "platform"
DATA = "data"
PCI_PASSTHROUGH = "pci-passthrough"
PCI_SRIOV = "pci-sriov"
IFCLASSES = (PLATFORM, DATA, PCI_PASSTHROUGH, PCI_SRIOV)
PCI_CLASSES = frozenset({PCI_PASSTHROUGH, PCI_SRIOV})
DATANETWORK_CLASSES = frozenset({DATA, PCI_PASSTHROUGH, PCI_SRIOV})

ETHERNET, AE, VLAN, VF = "ethernet", "ae", "vlan", "vf"
IFTYPES = (ETHERNET, AE, VLAN, VF)

DATANETWORK_TYPES = ("flat", "vlan", "vxlan")
#: Neutron's SR-IOV driver binds only these segments, so a PCI NIC takes nothing else.
PCI_DATANETWORK_TYPES = ("flat", "vlan")
VXLAN_MODES = ("dynamic", "static")
VXLAN_MTU_OVERHEAD = 74
DATANETWORK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

#: the longest text a name or description column holds
MAX_TEXT = 255
DEFAULT_MTU = 1500
MIN_MTU, MAX_MTU = 576, 9216
MAX_IFNAME_LEN = 15
IFNAME_CHARS = re.compile(r"^[a-z0-9_.-]+$")
SRIOV_VF_DRIVERS = ("vfio", "netdevice")
PTP_ROLES = ("master", "slave", "none")
AE_MODES = ("active_standby", "balanced", "802.3ad")
AE_HASHED_MODES = frozenset({"balanced", "802.3ad"})
TX_HASH_POLICIES = ("layer2", "layer2+3", "layer3+4")
#: VF rate limits may use at most this share of the port's link speed.
MAX_TX_RATE_SHARE = 0.9
#: (vendor id, device id) of NICs that cannot be pci-sriov (Cavium BA00/BC00); passthrough is fine.
SRIOV_RESTRICTED_DEVICES = frozenset({("177d", "ba00"), ("177d", "bc00")})

PCI_CLASS_ON_TYPE = (
    "The pci-passthrough, pci-sriov interface class is only valid on Ethernet and VF interfaces"
)
#: The classes each interface type may have, and the refusal otherwise (rules 3, 6 and VF).
CLASSES_BY_IFTYPE: dict[str, tuple[frozenset[str | None], str]] = {
    ETHERNET: (frozenset({None, *IFCLASSES}), ""),
    VLAN: (frozenset({None, PLATFORM, DATA}), PCI_CLASS_ON_TYPE),
    AE: (
        frozenset({PLATFORM, DATA}),
        "Device interface class with interface type 'aggregated ethernet' must be "
        "'platform' or 'data'",
    ),
    VF: (frozenset({PCI_SRIOV}), "VF interfaces must have the interface class 'pci-sriov'."),
}
#: The interface types each upper type may sit on, and the refusal otherwise.
LOWER_IFTYPES: dict[str, tuple[frozenset[str], str]] = {
    VLAN: (
        frozenset({ETHERNET, AE}),
        "VLAN interfaces cannot be created over existing VLAN or VF interfaces",
    ),
    AE: (
        frozenset({ETHERNET}),
        "An 'aggregated ethernet' interface can only use ethernet interfaces",
    ),
    VF: (frozenset({ETHERNET, VF}), "VF interfaces can only be created over an ethernet or VF"),
}
#: How many lower interfaces each upper type uses: (minimum, maximum).
LOWER_COUNT: dict[str, tuple[int, int | None]] = {VLAN: (1, 1), VF: (1, 1), AE: (1, None)}
#: Classes that may have a PTP role (vf interfaces may too, whatever their class).
PTP_CLASSES = frozenset({PLATFORM, PCI_SRIOV})
#: Classes that may carry a max_tx_rate (vf interfaces may too).
RATE_LIMIT_CLASSES = frozenset({PLATFORM})


@dataclass(frozen=True)
class HostState:
    administrative: str
    operational: str
    availability: str


#: sysinv's typical states (research §1.3): a locked host, and an unlocked one after its reboot.
LOCKED = HostState("locked", "disabled", "online")
UNLOCKED = HostState("unlocked", "enabled", "available")
#: A host an operator added (host-add) whose agent has not reported yet.
ADDED = HostState("locked", "disabled", "offline")

PERSONALITIES = get_args(Personality)
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
#: What host-update may change; hostname and personality only before the agent's first report
#: (sysinv: while unprovisioned), when nothing (ports, cabling, servers) refers to them yet.
HOST_UPDATES = ("hostname", "personality", "mgmt_mac")


@dataclass(frozen=True)
class NicInUse:
    """A host's NIC that a server holds (placement's claim, in the inventory's words)."""

    hostname: str
    pci_address: str
    server: str


#: hostname -> the NICs servers hold on it
NicsInUse = Callable[[str], Sequence[NicInUse]]
#: data network name -> what uses it ("network net0", ...)
DataNetworkUsers = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class PassthroughDevice:
    """One pci-passthrough interface, with what placing a VM on it needs to know."""

    hostname: str
    host_uuid: str
    administrative: str
    operational: str
    availability: str
    interface_uuid: str
    ifname: str
    pciaddr: str
    pvendor: str
    pdevice: str
    vendor_id: str | None
    product_id: str | None
    numa_node: int
    sriov_totalvfs: int | None
    mac: str
    imtu: int
    datanetworks: tuple[str, ...]

    @property
    def sriov_capable(self) -> bool:
        """Whether the NIC can back a ``direct-physical`` port (Nova's type-PF)."""
        return bool(self.sriov_totalvfs)


@dataclass(frozen=True)
class ComputeHost:
    """A host with what the scheduler weighs: state, capacity and NUMA nodes."""

    uuid: str
    hostname: str
    personality: str
    subfunctions: str
    administrative: str
    operational: str
    availability: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    numa_nodes: tuple[int, ...]
    #: why it cannot run passthrough guests, as its agent reported (empty: it can, or unsaid)
    prerequisites: tuple[str, ...] = ()


def pci_id(name: str) -> str | None:
    """The hex id in an lspci "Name [8086]" field, lower case; None when absent."""
    match = re.search(r"\[([0-9A-Fa-f]{4})\]\s*$", name)
    return match.group(1).lower() if match else None


def _is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


# -- value parsing: the type checks a REST body or JSON patch needs ----------------------------

Parser = Callable[[object], object]


def _text(name: str, *, nullable: bool = False) -> Parser:
    def parse(value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
            raise BadRequest(f"Value for {name} must be a string of 1 to {MAX_TEXT} characters.")
        return value

    return parse


def _integer(message: str, *, nullable: bool = False) -> Parser:
    """Integers, also as decimal strings: the CLI sends its options as text."""

    def parse(value: object) -> object:
        if value is None and nullable:
            return None
        if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]{1,12}\s*", value):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest(message)
        if not -INT32_MAX <= value <= INT32_MAX:
            raise BadRequest(f"Value {value} is out of range.")
        return value

    return parse


def _choice(choices: Sequence[str], message: str, *, nullable: bool = False) -> Parser:
    def parse(value: object) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or value not in choices:
            raise BadRequest(message.format(value=value, choices=", ".join(choices)))
        return value

    return parse


def _ifclass(value: object) -> object:
    """sysinv's "none" (or null) is no class."""
    if value is None or value == "none":
        return None
    if not isinstance(value, str) or value not in IFCLASSES:
        raise BadRequest(f"Invalid interface class {value}")
    return value


def _boolean(name: str) -> Parser:
    def parse(value: object) -> object:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise BadRequest(f"Value for {name} must be true or false.")

    return parse


def _names(name: str) -> Parser:
    """A list of names or uuids, or sysinv's comma-separated form."""

    def parse(value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise BadRequest(f"Value for {name} must be a list of names.")

    return parse


def _parse(
    values: Mapping[str, object], parsers: Mapping[str, Parser], what: str
) -> dict[str, Any]:
    unknown = sorted(set(values) - set(parsers))
    if unknown:
        raise BadRequest(f"{what} attribute(s) '{', '.join(unknown)}' may not be set")
    return {key: parsers[key](value) for key, value in values.items()}


MTU_INT = "MTU is an integer value."

#: Interface attributes an operator may change (PATCH /iinterfaces/{uuid}).
INTERFACE_MODIFY: dict[str, Parser] = {
    "ifname": _text("ifname"),
    "ifclass": _ifclass,
    "imtu": _integer(MTU_INT),
    "vlan_id": _integer("VLAN id is an integer value.", nullable=True),
    "aemode": _choice(
        AE_MODES, "Invalid aggregated ethernet mode '{value}'; valid modes are: {choices}"
    ),
    "txhashpolicy": _choice(
        TX_HASH_POLICIES,
        "Invalid aggregated ethernet Tx hash policy '{value}'; valid policies are: {choices}",
        nullable=True,
    ),
    "uses": _names("uses"),
    "sriov_numvfs": _integer("Value for number of SR-IOV VFs must be an integer."),
    "sriov_vf_driver": _choice(
        SRIOV_VF_DRIVERS, "Value for SR-IOV VF driver must be one of {choices}", nullable=True
    ),
    "ptp_role": _choice(PTP_ROLES, "Invalid ptp_role '{value}'; must be one of {choices}"),
    "max_tx_rate": _integer("Value for max_tx_rate must be an integer.", nullable=True),
    "monitoring": _boolean("monitoring"),
}
#: ... and what creating one also takes (POST /iinterfaces).
INTERFACE_CREATE: dict[str, Parser] = {
    **INTERFACE_MODIFY,
    "ihost_uuid": _text("ihost_uuid"),
    "iftype": _choice(IFTYPES, "Invalid interface type '{value}'; must be one of {choices}"),
    "ports": _names("ports"),
}
#: Interface columns a create or modify copies as given.
INTERFACE_COLUMNS = (
    "ifname",
    "ifclass",
    "imtu",
    "vlan_id",
    "aemode",
    "txhashpolicy",
    "sriov_numvfs",
    "sriov_vf_driver",
    "ptp_role",
    "max_tx_rate",
    "monitoring",
)

DATANETWORK_CREATE: dict[str, Parser] = {
    "name": _text("name"),
    "network_type": _choice(DATANETWORK_TYPES, "DataNetwork type {value} is not supported"),
    "mtu": _integer(MTU_INT),
    "description": _text("description", nullable=True),
    "multicast_group": _text("multicast_group", nullable=True),
    "port_num": _integer("Value for port_num must be an integer.", nullable=True),
    "ttl": _integer("Value for ttl must be an integer.", nullable=True),
    "mode": _choice(VXLAN_MODES, "Invalid vxlan mode '{value}'; must be one of {choices}"),
}
VXLAN_ATTRIBUTES = ("multicast_group", "port_num", "ttl", "mode")
#: The only data network attributes PATCH may change.
DATANETWORK_MODIFY = ("mtu", "description")


def _check_mtu(mtu: int) -> None:
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise BadRequest(f"MTU must be between {MIN_MTU} and {MAX_MTU} bytes.")


def _required_mtu(dn: DataNetwork) -> int:
    """The interface MTU a data network needs: its own, plus the vxlan header."""
    return dn.mtu + (VXLAN_MTU_OVERHEAD if dn.network_type == "vxlan" else 0)


# -- the interface rules (research §2.1), on the state an add or modify would leave -----------


@dataclass(frozen=True)
class _Before:
    """What a modified interface looked like, for rules about transitions."""

    ifclass: str | None
    monitoring: bool


@dataclass
class _Proposal:
    """An interface as an add or modify would leave it, with its host's other interfaces."""

    iface: Interface
    host: Host
    others: list[Interface]
    given: frozenset[str]
    before: _Before | None = None


def _names_of(ifaces: Iterable[Interface]) -> list[str]:
    return [i.ifname for i in ifaces]


def _check_ifname(p: _Proposal) -> None:
    name = p.iface.ifname
    if name != name.lower():
        raise BadRequest("Interface name must be in lower case.")
    if not IFNAME_CHARS.match(name):
        raise BadRequest(
            f"Interface name {name} may only contain lower case letters, numbers, '-', '_' and '.'."
        )
    if len(name) > MAX_IFNAME_LEN:
        raise BadRequest(f"Interface {name} has name length greater than {MAX_IFNAME_LEN}.")
    if any(o.ifname == name for o in p.others):
        raise Conflict(f"Interface Name {name} must be unique.")


def _check_class(p: _Proposal) -> None:
    i = p.iface
    allowed, message = CLASSES_BY_IFTYPE[i.iftype]
    if i.ifclass not in allowed:
        raise BadRequest(message)
    if i.ifclass == DATA and "worker" not in p.host.subfunctions.split(","):
        raise BadRequest(
            "The data interface class is only supported on nodes supporting worker functions"
        )


def _check_type_attributes(p: _Proposal) -> None:
    """vlan_id belongs to VLANs, aemode and txhashpolicy to AEs."""
    i = p.iface
    if i.iftype == VLAN:
        if i.vlan_id is None:
            raise BadRequest("VLAN id must be specified.")
        if not 1 <= i.vlan_id <= 4094:
            raise BadRequest("VLAN id must be between 1 and 4094.")
    elif "vlan_id" in p.given and i.vlan_id is not None:
        raise BadRequest("VLAN id is only valid for VLAN interfaces.")
    if i.iftype == AE:
        if i.aemode in AE_HASHED_MODES and i.txhashpolicy is None:
            raise BadRequest(
                "Device interface with interface type 'aggregated ethernet' in 'balanced' "
                "or '802.3ad' mode require a valid Tx Hash Policy."
            )
    elif {"aemode", "txhashpolicy"} & p.given:
        raise BadRequest(
            "aemode and txhashpolicy are only valid for 'aggregated ethernet' interfaces."
        )


def _check_ports(p: _Proposal) -> None:
    """Rule 13: an ethernet interface sits on exactly one free port; others on none."""
    i = p.iface
    if i.iftype != ETHERNET:
        if i.ports:
            raise BadRequest("Ports can only be selected for ethernet interfaces.")
        return
    if not i.ports:
        raise BadRequest("A port must be selected.")
    if len(i.ports) > 1:
        raise BadRequest("For Ethernet, select a single port.")
    port = i.ports[0]
    if port.interface_uuid is not None and port.interface_uuid != i.uuid:
        owner = next((o.ifname for o in p.others if o.uuid == port.interface_uuid), "")
        raise Conflict(f"Another interface {owner} is already using this port")


def _check_lowers(p: _Proposal) -> None:
    """What an upper (VLAN, AE, VF) may sit on (rules 6-9, the VF rules, and Passnic's
    refusal of VLANs and LAGs over pci-passthrough)."""
    i = p.iface
    if i.iftype == ETHERNET:
        if i.uses:
            raise BadRequest("Ethernet interfaces sit on a port, not on other interfaces.")
        return
    least, most = LOWER_COUNT[i.iftype]
    if len(i.uses) < least or (most is not None and len(i.uses) > most):
        count = f"exactly {least}" if least == most else f"at least {least}"
        raise BadRequest(f"An interface of type '{i.iftype}' must use {count} interface(s).")
    lower_types, type_message = LOWER_IFTYPES[i.iftype]
    for lower in i.uses:
        if lower is i:
            raise BadRequest(f"Interface {i.ifname} cannot use itself.")
        if lower.iftype not in lower_types:
            raise BadRequest(type_message)
        _check_not_shared(i, lower)
    {AE: _check_ae_members, VLAN: _check_vlan_lower, VF: _check_vf_lower}[i.iftype](p)


def _check_not_shared(upper: Interface, lower: Interface) -> None:
    """Rule 8: an AE member belongs to its AE alone."""
    for other in lower.used_by:
        if other is upper:
            continue
        if other.iftype == AE:
            raise BadRequest(
                f"Interface '{lower.ifname}' is already used by another 'aggregated ethernet' "
                f"interface '{other.ifname}'"
            )
        if upper.iftype == AE and other.iftype == VLAN:
            raise BadRequest(
                f"Interface '{lower.ifname}' is already used by another VLAN interface "
                f"'{other.ifname}'"
            )


def _lag_refusal(member: Interface) -> BadRequest:
    return BadRequest(
        f"Interface '{member.ifname}' has interface class 'pci-passthrough': LAG is not "
        "supported on PCI passthrough interfaces, so it cannot be a member of an "
        "'aggregated ethernet' interface."
    )


def _check_ae_members(p: _Proposal) -> None:
    for member in p.iface.uses:
        if member.ifclass == PCI_PASSTHROUGH:
            raise _lag_refusal(member)
        if member.ifclass not in (None, PCI_SRIOV):
            raise BadRequest(
                "All interfaces being used in an 'aggregated ethernet' interface must have the "
                "interface class set to 'none' or 'pci-sriov'."
            )
        if member.ptp_role != "none":
            raise BadRequest(
                "All interfaces being used in an 'aggregated ethernet' interface must have the "
                "ptp_role set to 'none'."
            )


def _check_vlan_lower(p: _Proposal) -> None:
    i = p.iface
    lower = i.uses[0]
    if lower.ifclass == PCI_PASSTHROUGH:
        raise BadRequest(
            f"VLAN interface cannot be created over pci-passthrough interface {lower.ifname}: "
            "the NIC belongs to the virtual machine, so VLANs must be managed by the guest."
        )
    if i.ifclass == PLATFORM and lower.ifclass == DATA:
        raise BadRequest("Platform VLAN interface cannot be created over a data interface")
    if i.ifclass == DATA and lower.ifclass == PLATFORM:
        raise BadRequest("Data VLAN interface cannot be created over a platform interface")
    for sibling in lower.used_by:
        if sibling is not i and sibling.iftype == VLAN and sibling.vlan_id == i.vlan_id:
            raise Conflict(f"VLAN id {i.vlan_id} already in use on interface {lower.ifname}")
    _check_upper_mtu(i, lower)


def _vfs_used_by_uppers(lower: Interface, excluding: Interface | None = None) -> int:
    return sum(u.sriov_numvfs for u in lower.used_by if u.iftype == VF and u is not excluding)


def _check_vf_lower(p: _Proposal) -> None:
    i = p.iface
    lower = i.uses[0]
    if lower.ifclass != PCI_SRIOV:
        raise BadRequest("VF interfaces can only be created over an interface of class pci-sriov")
    available = lower.sriov_numvfs - 1 - _vfs_used_by_uppers(lower, excluding=i)
    if i.sriov_numvfs > available:
        raise BadRequest(
            f"The number of virtual functions ({i.sriov_numvfs}) must be less than or equal to "
            f"the available VFs ({available}) available on the underlying interface "
            f"({lower.ifname})"
        )
    _check_upper_mtu(i, lower)


def _check_upper_mtu(upper: Interface, lower: Interface) -> None:
    if upper.imtu > lower.imtu:
        raise BadRequest(
            f"Interface MTU ({upper.imtu}) cannot be larger than MTU of underlying interface "
            f"({lower.imtu})"
        )


def _check_uppers(p: _Proposal) -> None:
    """A lower whose uppers would no longer fit it (rules 5, 7, 12 and the VF rules)."""
    i = p.iface
    if not i.used_by:
        return
    users = _names_of(i.used_by)
    before = p.before
    if before is not None and before.ifclass != i.ifclass:
        if before.ifclass == PLATFORM and i.ifclass != PCI_SRIOV:
            raise BadRequest(
                "The class of an interface with platform networks cannot be changed to "
                f"{i.ifclass or 'none'} since it is being used by {users}"
            )
        if before.ifclass is not None and i.ifclass == PLATFORM:
            raise BadRequest(
                "The class of a non-platform interface cannot be changed to platform since it "
                f"is being used by {users}"
            )
    vf_users = [u for u in i.used_by if u.iftype == VF]
    if vf_users:
        if i.ifclass != PCI_SRIOV:
            raise BadRequest(
                f"Interface '{i.ifname}' is used by VF interface(s) {_names_of(vf_users)} and "
                "therefore the interface class cannot be changed from 'pci-sriov'."
            )
        used = _vfs_used_by_uppers(i)
        if i.sriov_numvfs <= used:
            raise BadRequest(
                f"Interface '{i.ifname}' must keep more SR-IOV VFs ({i.sriov_numvfs}) than its "
                f"VF interfaces {_names_of(vf_users)} use ({used})."
            )
    for upper in i.used_by:
        if upper.iftype == AE:
            if i.ifclass == PCI_PASSTHROUGH:
                raise _lag_refusal(i)
            if i.ifclass not in (None, PCI_SRIOV):
                raise BadRequest(
                    f"Interface '{i.ifname}' is being used by interface '{upper.ifname}' as an "
                    "'aggregated ethernet' interface and therefore the interface class cannot "
                    "be changed from 'none' or 'pci-sriov'."
                )
        elif i.ifclass == PCI_PASSTHROUGH:
            raise BadRequest(
                f"The class of interface {i.ifname} cannot be changed to pci-passthrough since "
                f"it is being used by {users}: a passthrough NIC belongs to the virtual machine."
            )
        if upper.imtu > i.imtu:
            raise BadRequest(
                f"Interface MTU ({i.imtu}) cannot be smaller than the interface MTU "
                f"({upper.imtu}) using this interface"
            )
    for upper in i.used_by:
        _check_lowers(_Proposal(upper, p.host, [], frozenset()))


def _check_sriov(p: _Proposal) -> None:
    """The pci-sriov rules: a VF count, a capable port, a known driver."""
    i = p.iface
    if i.ifclass != PCI_SRIOV:
        if "sriov_numvfs" in p.given and i.sriov_numvfs:
            raise BadRequest(
                "Number of SR-IOV VFs is specified but interface class is not pci-sriov."
            )
        if "sriov_vf_driver" in p.given and i.sriov_vf_driver is not None:
            raise BadRequest("SR-IOV VF driver is specified but interface class is not pci-sriov.")
        return
    if p.before is None and "sriov_numvfs" not in p.given:
        raise BadRequest("A network type of pci-sriov must specify a number for SR-IOV VFs.")
    if i.sriov_numvfs <= 0:
        raise BadRequest("Value for number of SR-IOV VFs must be > 0.")
    if i.iftype != ETHERNET:
        return
    port = i.ports[0]  # _check_ports saw to exactly one
    if (pci_id(port.pvendor), pci_id(port.pdevice)) in SRIOV_RESTRICTED_DEVICES:
        raise BadRequest(
            f"Cannot use port. PCI vendor '{port.pvendor}' and device '{port.pdevice}' is not "
            "allowed."
        )
    if not port.sriov_totalvfs:
        raise BadRequest("SR-IOV can't be configured on this interface")
    if i.sriov_numvfs > port.sriov_totalvfs:
        raise BadRequest(f"The interface support a maximum of {port.sriov_totalvfs} VFs")
    if not port.driver:
        raise BadRequest("Corresponding port has invalid driver")


def _check_ptp(p: _Proposal) -> None:
    i = p.iface
    if i.ptp_role != "none" and i.ifclass not in PTP_CLASSES and i.iftype != VF:
        raise BadRequest(
            f"Invalid interface class for ptp_role: {i.ifclass or 'none'}. Device interface "
            "class must be one of platform, pci-sriov, vf"
        )


def _root_port(i: Interface) -> EthernetPort | None:
    """The physical port under an interface, following its first lower."""
    while not i.ports and i.uses:
        i = i.uses[0]
    return i.ports[0] if i.ports else None


def _check_rate(p: _Proposal) -> None:
    """Rate limits (QoS) exist only on VFs and platform interfaces; VFs share 90% of the link."""
    i = p.iface
    if i.max_tx_rate is None:
        return
    if i.iftype != VF and i.ifclass not in RATE_LIMIT_CLASSES:
        raise BadRequest(
            f"Interface {i.ifname} cannot have a max_tx_rate: rate limiting (QoS) is only "
            f"supported on VF and platform interfaces, not on class '{i.ifclass or 'none'}'."
        )
    if i.max_tx_rate < 0:
        raise BadRequest("Value for max_tx_rate must be >= 0.")
    if i.iftype != VF:
        return
    port = _root_port(i)
    if port is None or port.speed is None:
        return
    vfs = {i.uuid: i}
    for o in p.others:
        if o.iftype == VF and o.uuid != i.uuid and _root_port(o) is port:
            vfs[o.uuid] = o
    total = sum((v.max_tx_rate or 0) * v.sriov_numvfs for v in vfs.values())
    limit = int(port.speed * MAX_TX_RATE_SHARE)
    if total > limit:
        raise BadRequest(f"Configured (max_tx_rate*numvfs) as {total}, range is (0, {limit}].")


def _check_monitoring(p: _Proposal) -> None:
    """The host does not see a passthrough NIC's link, so it cannot monitor it. Turning the
    class to pci-passthrough does not silently drop monitoring: the operator turns it off."""
    i = p.iface
    if i.ifclass != PCI_PASSTHROUGH or not i.monitoring:
        return
    if p.before is not None and p.before.monitoring and "monitoring" not in p.given:
        raise BadRequest(
            f"Interface {i.ifname} has host interface monitoring enabled; disable monitoring "
            "(monitoring=false) to change its class to pci-passthrough: host interface "
            "monitoring is not supported on PCI passthrough interfaces."
        )
    raise BadRequest(
        f"Host interface monitoring is not supported on pci-passthrough interface {i.ifname}: "
        "the host does not see the link of a NIC that belongs to a virtual machine."
    )


def _check_shared_device(p: _Proposal, host_ports: Sequence[EthernetPort]) -> None:
    """Rule 14: ports of one PCI function (same pciaddr) go to one class."""
    i = p.iface
    if i.ifclass is None:
        return
    classes = {o.uuid: o.ifclass for o in p.others}
    for mine in i.ports:
        for port in host_ports:
            if port.pciaddr != mine.pciaddr or port.dev_id == mine.dev_id:
                continue
            theirs = classes.get(port.interface_uuid or "")
            if theirs is not None and theirs != i.ifclass:
                raise BadRequest(
                    f"Shared device {mine.pciaddr} cannot be shared with different interface "
                    "classes"
                )


def _check_assignment(i: Interface, dn: DataNetwork, others: Sequence[Interface]) -> None:
    """Whether interface ``i`` (in its current state) may carry data network ``dn``
    (research §2.2, plus Passnic's flat/vlan-only rule for PCI classes)."""
    if i.ifclass not in DATANETWORK_CLASSES:
        raise BadRequest(
            f"An interface with interface class '{i.ifclass or 'none'}' cannot assign datanetworks."
        )
    if i.ifclass in PCI_CLASSES and dn.network_type not in PCI_DATANETWORK_TYPES:
        raise BadRequest(
            f"Data network '{dn.name}' of type '{dn.network_type}' cannot be assigned to an "
            f"interface with interface class '{i.ifclass}': PCI interfaces only support "
            f"{' and '.join(PCI_DATANETWORK_TYPES)} data networks."
        )
    if dn.network_type == "vlan" and i.iftype == VLAN:
        raise BadRequest(
            f"VLAN based data network '{dn.name}' cannot be assigned to a VLAN interface"
        )
    if i.imtu < _required_mtu(dn):
        raise BadRequest(
            f"The interface MTU {i.imtu} must be larger than the '{dn.name}' datanetwork MTU "
            "requirement."
        )
    if i.ifclass == DATA:
        for o in others:
            if o.ifclass == DATA and any(a.datanetwork_uuid == dn.uuid for a in o.datanetworks):
                raise BadRequest(
                    f"Data interface {o.ifname} is already attached to this Data Network: "
                    f"{dn.name}."
                )


def _validate(p: _Proposal, host_ports: Sequence[EthernetPort]) -> None:
    _check_ifname(p)
    _check_class(p)
    _check_type_attributes(p)
    _check_mtu(p.iface.imtu)
    _check_ports(p)
    _check_lowers(p)
    _check_uppers(p)
    _check_sriov(p)
    _check_ptp(p)
    _check_rate(p)
    _check_monitoring(p)
    _check_shared_device(p, host_ports)
    for assignment in p.iface.datanetworks:
        _check_assignment(p.iface, assignment.datanetwork, p.others)


def _check_vxlan(values: Mapping[str, Any]) -> None:
    """The vxlan parameters (research §2.4), or none of them on flat and vlan."""
    if values["network_type"] != "vxlan":
        present = [a for a in VXLAN_ATTRIBUTES if values.get(a) is not None]
        if present:
            raise BadRequest(
                f"Attribute(s) {', '.join(present)} are only valid for vxlan data networks."
            )
        return
    mode = values["mode"]
    group = values.get("multicast_group")
    if mode == "dynamic":
        if group is None or values.get("port_num") is None or values.get("ttl") is None:
            raise BadRequest(
                "A vxlan data network in dynamic mode must specify multicast_group, port_num "
                "and ttl."
            )
        try:
            multicast = ipaddress.ip_address(group).is_multicast
        except ValueError:
            multicast = False
        if not multicast:
            raise BadRequest(f"multicast_group {group} is not a valid multicast address.")
    else:
        if group is not None:
            raise BadRequest("A vxlan data network in static mode cannot have a multicast_group.")
        if values.get("port_num") is None or values.get("ttl") is None:
            raise BadRequest("A vxlan data network in static mode must specify port_num and ttl.")
    if not 1 <= values["port_num"] <= 65535:
        raise BadRequest("Value for port_num must be between 1 and 65535.")
    if not 1 <= values["ttl"] <= 255:
        raise BadRequest("Value for ttl must be between 1 and 255.")


# -- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeardNeighbour:
    """What one NIC of a host hears over LLDP, as the fabric learns its cabling from it."""

    ifname: str
    pci_address: str
    chassis_id: str
    port_identifier: str
    system_name: str


@dataclass(frozen=True)
class LldpAgent:
    """The host agent's LLDP receiver on one port (sysinv's ``lldp_agents``): Passnic's agent
    listens (rx) and does not advertise (tx)."""

    uuid: str
    host_uuid: str
    port_uuid: str
    port_name: str
    status: str
    chassis_id: str
    port_identifier: str
    system_name: str
    system_description: str


class InventoryService:
    """Hosts, their ports and interfaces, data networks, and the assignments between them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: The servers placed on a host (names or ids), for host-delete. The cloud wires it to
        #: placement: the inventory does not read compute's tables.
        self.servers_on: Callable[[str], list[str]] = lambda _hostname: []
        self._nics_in_use: NicsInUse = lambda _hostname: ()
        self._datanetwork_users: DataNetworkUsers = lambda _name: ()
        #: Told, after each agent report, what the host's NICs hear over LLDP. The cloud
        #: wires it to the fabric, which learns the cabling from it.
        self.lldp_heard: Callable[[str, list[HeardNeighbour]], object] = lambda _h, _n: None

    def consult(self, nics_in_use: NicsInUse, datanetwork_users: DataNetworkUsers) -> None:
        """Where to read what is in use: placement's claims and the networking domain's
        networks (the cloud wires them; the inventory never reads their tables). Until then
        nothing is in use."""
        self._nics_in_use = nics_in_use
        self._datanetwork_users = datanetwork_users

    def _held(self, host: Host, interfaces: Iterable[Interface]) -> list[NicInUse]:
        """The NICs of these interfaces that servers hold."""
        addresses = {p.pciaddr for i in interfaces for p in i.ports}
        return [n for n in self._nics_in_use(host.hostname) if n.pci_address in addresses]

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction that holds the inventory's write lock from its first
        statement: the rules then read what concurrent writers committed, never a stale view,
        and two creators never take the same ``id``. Inventory writes are operator and agent
        actions, rare enough for one lock; a single lock cannot deadlock.

        PostgreSQL: a self-conflicting lock on the host table (readers are not blocked).
        SQLite: its driver begins a transaction only at the first write, so a write that
        changes nothing takes the database's write lock, as BEGIN IMMEDIATE would.
        """
        with self.db.transaction() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("LOCK TABLE i_host IN SHARE ROW EXCLUSIVE MODE"))
            else:
                s.execute(text("UPDATE i_host SET id = id WHERE 1 = 0"))
            yield s
            _bump_revision(s)

    def revision(self, s: Session) -> int:
        """The inventory's revision, read in the caller's transaction: it moves on with every
        inventory write, so a copy tagged with it is current while it has not moved."""
        return s.scalar(select(InventoryRevision.revision).where(InventoryRevision.id == 1)) or 0

    # -- hosts --

    def report_host(
        self, ctx: RequestContext, report: HostReport, *, initial: HostState = LOCKED
    ) -> Host:
        """Upsert a host, its NUMA nodes and its ports from its agent's report.

        A new port gets an ethernet interface named like the port, with no class (as sysinv's
        agent does). A new host starts in ``initial`` (locked/disabled/online unless the sample
        cloud's bootstrap says otherwise); later reports leave the host's state alone.
        Ports missing from a report are kept: the operator's configuration of a NIC that a
        driver rebind hid must survive.
        """
        policy.enforce(ctx, "inventory:agent_report")
        with self._writing() as s:
            host = self._upsert_host(s, report, initial)
            heard = self._record_lldp(s, host, report)
        self.lldp_heard(host.hostname, heard)
        return host

    def _record_lldp(self, s: Session, host: Host, report: HostReport) -> list[HeardNeighbour]:
        """Each reported port's LLDP neighbour: kept, replaced, or gone when it hears none."""
        ports = {p.name: p for p in _host_ports(s, host)}
        rows = {
            n.port_uuid: n
            for n in s.scalars(select(LldpNeighbour).where(LldpNeighbour.host_uuid == host.uuid))
        }
        owners = {i.uuid: i.ifname for i in _host_interfaces(s, host)}
        heard = []
        for reported in report.ports:
            port = ports.get(reported.name)
            if port is None:
                continue
            row = rows.get(port.uuid)
            found = reported.lldp_neighbour
            if found is None:
                if row is not None:
                    s.delete(row)
                continue
            if row is None:
                row = LldpNeighbour(host_uuid=host.uuid, port_uuid=port.uuid)
                s.add(row)
            row.chassis_id, row.port_identifier = found.chassis_id, found.port_identifier
            row.system_name, row.system_description = found.system_name, found.system_description
            row.port_description, row.ttl = found.port_description, found.ttl
            heard.append(
                HeardNeighbour(
                    ifname=owners.get(port.interface_uuid or "", port.name),
                    pci_address=port.pciaddr,
                    chassis_id=found.chassis_id,
                    port_identifier=found.port_identifier,
                    system_name=found.system_name,
                )
            )
        s.flush()
        return heard

    def list_lldp_neighbours(self, ctx: RequestContext, host: str) -> list[LldpNeighbour]:
        """What each port of the host last heard over LLDP."""
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            h = _host(s, host)
            return list(
                s.scalars(
                    select(LldpNeighbour)
                    .join(LldpNeighbour.port)
                    .where(LldpNeighbour.host_uuid == h.uuid)
                    .order_by(EthernetPort.name)
                )
            )

    def list_lldp_agents(self, ctx: RequestContext, host: str) -> list[LldpAgent]:
        """The agent's LLDP receiver on each port of the host (one per port, receive only)."""
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            h = _host(s, host)
            return [
                LldpAgent(
                    uuid=str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"lldp-agent:{p.uuid}")),
                    host_uuid=h.uuid,
                    port_uuid=p.uuid,
                    port_name=p.name,
                    status="rx=enabled,tx=disabled",
                    chassis_id=h.mgmt_mac or h.hostname,
                    port_identifier=p.mac,
                    system_name=h.hostname,
                    system_description="Passnic host agent",
                )
                for p in _host_ports(s, h)
            ]

    def _upsert_host(self, s: Session, report: HostReport, initial: HostState) -> Host:
        host = s.scalar(select(Host).where(Host.hostname == report.hostname))
        if host is None:
            host = Host(
                id=_next_id(s, Host),
                hostname=report.hostname,
                personality=report.personality,
                subfunctions=report.personality,
                administrative=initial.administrative,
                operational=initial.operational,
                availability=initial.availability,
            )
            s.add(host)
        elif host.personality != report.personality:
            raise BadRequest(
                f"Host {host.hostname} is a {host.personality}; a report cannot make it a "
                f"{report.personality}."
            )
        elif host.availability == ADDED.availability:  # its agent answers: it is up
            host.availability = _up(host)
        host.vcpus, host.memory_mb, host.disk_gb = report.vcpus, report.memory_mb, report.disk_gb
        if report.prerequisites is not None:
            host.prerequisites = list(report.prerequisites)
        s.flush()
        nodes = {n.numa_node: n for n in s.scalars(select(NumaNode).filter_by(host_uuid=host.uuid))}
        for numa_node in report.numa_nodes:
            if numa_node not in nodes:
                nodes[numa_node] = NumaNode(host_uuid=host.uuid, numa_node=numa_node)
                s.add(nodes[numa_node])
        s.flush()
        ports = {(p.pciaddr, p.dev_id): p for p in _host_ports(s, host)}
        ifaces = _host_interfaces(s, host)
        names = {i.ifname for i in ifaces}
        owners = {i.uuid: i for i in ifaces}
        for reported in report.ports:
            port = ports.get((reported.pciaddr, reported.dev_id))
            if port is None:
                port = EthernetPort(uuid=new_uuid(), host_uuid=host.uuid)
                s.add(port)
            _copy_port(port, reported, nodes.get(reported.numa_node))
            owner = owners.get(port.interface_uuid or "")
            if owner is not None:
                owner.imac = port.mac
                continue
            if reported.name in names:
                raise Conflict(
                    f"Cannot create an interface for new port {reported.name} of host "
                    f"{host.hostname}: interface name {reported.name} is already in use."
                )
            names.add(reported.name)
            s.add(
                Interface(
                    uuid=new_uuid(),
                    host_uuid=host.uuid,
                    ifname=reported.name,
                    iftype=ETHERNET,
                    imac=reported.mac,
                    imtu=reported.mtu,
                    ports=[port],
                )
            )
        s.flush()
        return host

    def list_hosts(self, ctx: RequestContext) -> list[Host]:
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return list(s.scalars(select(Host).order_by(Host.id)))

    def page_hosts(
        self,
        ctx: RequestContext,
        *,
        limit: int,
        marker: str | None = None,
        sort_key: str = "id",
        descending: bool = False,
    ) -> Paged[Host]:
        """At most ``limit`` hosts after the host whose uuid is ``marker``, read in SQL."""
        policy.enforce(ctx, "inventory:read")
        keys = _sort_keys(HOST_SORT_KEYS, sort_key)
        with self.db.transaction() as s:
            after = _marker(s, select(*keys), Host.uuid, marker, "Host")
            query = seek(select(Host), keys, after, limit=limit, descending=descending)
            rows = list(s.scalars(query))
        return Paged(rows[:limit], more=len(rows) > limit)

    def get_host(self, ctx: RequestContext, host: str) -> Host:
        """``host`` is an id, a uuid or a hostname, as the ``system`` CLI accepts."""
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return _host(s, host)

    def lock_host(self, ctx: RequestContext, host: str, *, force: bool = False) -> Host:
        """Lock a host (research §1.3); its interfaces and assignments may then change.

        StarlingX moves a host's instances away on lock, live; a guest that holds a
        pci-passthrough NIC cannot move live, so the lock is refused while servers hold NICs
        on the host, unless forced (the servers then stay where they are)."""
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s:
            h = _host(s, host)
            if h.administrative == "locked":
                raise BadRequest(f"Avoiding lock action on already 'locked' host {h.hostname}")
            held = self._nics_in_use(h.hostname)
            if held and not force:
                raise BadRequest(
                    f"Rejected: Can not lock {h.hostname}: {_holders(held)} on it, and a guest "
                    "with a pci-passthrough NIC cannot be live-migrated. Cold-migrate "
                    f"(openstack server migrate) or delete the {_them(held)} first, or use "
                    "host-lock --force."
                )
            h.administrative, h.operational = LOCKED.administrative, LOCKED.operational
            h.action = "none"
            if h.availability == UNLOCKED.availability:  # a host that is up stays up: online
                h.availability = LOCKED.availability
        log_event(log, "host_locked", host=h.hostname, user=ctx.user_name)
        return h

    def unlock_host(self, ctx: RequestContext, host: str, *, force: bool = False) -> Host:
        """Unlock a host: it must be online (unless forced) and its pci-sriov interfaces must
        show the VFs the agent was asked for (research §1.3, §2.5)."""
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s:
            h = _host(s, host)
            if h.administrative == "unlocked":
                raise BadRequest(
                    f"Avoiding 'unlock' action on already 'unlocked' host {h.hostname}"
                )
            if not force and h.availability != "online":
                raise BadRequest(
                    f"Host {h.hostname} is not online. Wait for 'online' availability status and "
                    "then 'unlock'"
                )
            for iface in _host_interfaces(s, h):
                _check_sriov_at_unlock(iface)
            h.administrative, h.operational = UNLOCKED.administrative, UNLOCKED.operational
            h.availability, h.action = UNLOCKED.availability, "none"
        log_event(log, "host_unlocked", host=h.hostname, force=force, user=ctx.user_name)
        return h

    def add_host(self, ctx: RequestContext, values: Mapping[str, Any]) -> Host:
        """``system host-add``: a host known before its agent reports, locked and offline
        until then; its agent's first report (same hostname) brings its ports."""
        policy.enforce(ctx, "inventory:write")
        hostname = _hostname(values.get("hostname"))
        personality = _personality(values.get("personality"))
        mgmt_mac = _mgmt_mac(values.get("mgmt_mac"))
        unknown = sorted(set(values) - {"hostname", "personality", "mgmt_mac"})
        if unknown:
            raise BadRequest(f"Host attribute(s) '{', '.join(unknown)}' are not supported.")
        with self._writing() as s:
            if s.scalar(select(Host).where(Host.hostname == hostname)) is not None:
                raise Conflict(f"Host-add Rejected: Hostname {hostname} already exists")
            _check_mgmt_mac_free(s, mgmt_mac, None)
            host = Host(
                id=_next_id(s, Host),
                hostname=hostname,
                personality=personality,
                subfunctions=personality,
                administrative=ADDED.administrative,
                operational=ADDED.operational,
                availability=ADDED.availability,
                mgmt_mac=mgmt_mac,
            )
            s.add(host)
            s.flush()
        log_event(log, "host_added", host=hostname, personality=personality, user=ctx.user_name)
        return host

    def update_host(self, ctx: RequestContext, host: str, changes: Mapping[str, Any]) -> Host:
        """``system host-update``: mgmt_mac on a locked host; hostname and personality also
        only before the agent's first report."""
        policy.enforce(ctx, "inventory:write")
        unknown = sorted(set(changes) - set(HOST_UPDATES))
        if unknown or not changes:
            raise BadRequest(
                f"Host attribute(s) '{', '.join(unknown)}' may not be modified; host-update "
                f"changes {', '.join(HOST_UPDATES)} (lock and unlock are host actions)."
            )
        with self._writing() as s:
            h = _host(s, host)
            if h.administrative != "locked":
                raise BadRequest(f"Host {h.hostname} must be locked to be updated.")
            renames = sorted(
                k
                for k in ("hostname", "personality")
                if k in changes and changes[k] != getattr(h, k)
            )
            if renames and _host_ports(s, h):
                raise BadRequest(
                    f"The {' and '.join(renames)} of host {h.hostname} cannot change: its agent "
                    "has reported it (delete the host and add it again)."
                )
            if "hostname" in changes:
                hostname = _hostname(changes["hostname"])
                other = s.scalar(select(Host).where(Host.hostname == hostname))
                if other is not None and other.uuid != h.uuid:
                    raise Conflict(f"Hostname {hostname} already exists")
                h.hostname = hostname
            if "personality" in changes:
                h.personality = h.subfunctions = _personality(changes["personality"])
            if "mgmt_mac" in changes:
                mgmt_mac = _mgmt_mac(changes["mgmt_mac"])
                _check_mgmt_mac_free(s, mgmt_mac, h.uuid)
                h.mgmt_mac = mgmt_mac
            s.flush()
        log_event(log, "host_updated", host=h.hostname, changed=",".join(sorted(changes)))
        return h

    def delete_host(self, ctx: RequestContext, host: str) -> None:
        """``system host-delete``: only a locked host that holds no servers; its ports,
        interfaces and data network assignments go with it. A locked host takes no new
        servers, so the check cannot race a placement."""
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s:
            h = _host(s, host)
            if h.administrative != "locked":
                raise BadRequest(f"Host {h.hostname} must be locked before it is deleted.")
            servers = self.servers_on(h.hostname)
            if servers:
                raise Conflict(
                    f"Host {h.hostname} cannot be deleted: it holds server(s) "
                    f"{', '.join(servers)}; migrate or delete them first."
                )
            hostname = h.hostname
            s.delete(h)
        log_event(log, "host_deleted", host=hostname, user=ctx.user_name)

    def set_reachable(self, hostname: str, reachable: bool) -> None:
        """What the host's agent heartbeats say (sysinv's maintenance does this): a host whose
        agent went quiet is ``offline``, and the scheduler leaves it alone; when the agent is
        heard again the host is ``online`` (locked) or ``available`` (unlocked) again."""
        with self._writing() as s:
            h = s.scalar(select(Host).where(Host.hostname == hostname))
            if h is None:
                return
            if not reachable:
                h.availability = "offline"
            elif h.availability == "offline":
                h.availability = _up(h)

    # -- ports --

    def list_ports(self, ctx: RequestContext, host: str) -> list[EthernetPort]:
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return _host_ports(s, _host(s, host))

    def get_port(self, ctx: RequestContext, port_uuid: str) -> EthernetPort:
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            port = s.get(EthernetPort, port_uuid)
            if port is None:
                raise NotFound(f"Port {port_uuid} could not be found.")
            return port

    def list_interface_ports(self, ctx: RequestContext, interface_uuid: str) -> list[EthernetPort]:
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return list(_interface(s, interface_uuid).ports)

    # -- interfaces --

    def list_interfaces(self, ctx: RequestContext, host: str | None = None) -> list[Interface]:
        """A host's interfaces, or every host's."""
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            if host is not None:
                return _host_interfaces(s, _host(s, host))
            stmt = select(Interface).join(Interface.host).order_by(Host.id, Interface.ifname)
            return list(s.scalars(stmt).unique())

    def page_interfaces(
        self,
        ctx: RequestContext,
        *,
        limit: int,
        host: str | None = None,
        marker: str | None = None,
        sort_key: str = "id",
        descending: bool = False,
    ) -> Paged[Interface]:
        """At most ``limit`` interfaces (of ``host``, or of every host) after the interface
        whose uuid is ``marker``, read in SQL."""
        policy.enforce(ctx, "inventory:read")
        keys = _sort_keys(INTERFACE_SORT_KEYS, sort_key)
        with self.db.transaction() as s:
            query = select(Interface).join(Interface.host)
            if host is not None:
                query = query.where(Interface.host_uuid == _host(s, host).uuid)
            marker_keys = select(*keys).select_from(Interface).join(Interface.host)
            after = _marker(s, marker_keys, Interface.uuid, marker, "Interface")
            query = seek(query, keys, after, limit=limit, descending=descending)
            rows = list(s.scalars(query).unique())
        return Paged(rows[:limit], more=len(rows) > limit)

    def get_interface(
        self, ctx: RequestContext, interface: str, host: str | None = None
    ) -> Interface:
        """By uuid; or, within ``host``, by name or uuid."""
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            if host is None:
                return _interface(s, interface)
            return _interface_on(s, _host(s, host), interface)

    def create_interface(self, ctx: RequestContext, values: Mapping[str, object]) -> Interface:
        """``host-if-add``: values as sysinv's POST body (``ihost_uuid``, ``ifname``,
        ``iftype``, ``ifclass``, ``ports`` or ``uses``, ...)."""
        policy.enforce(ctx, "inventory:write")
        v = _parse(values, INTERFACE_CREATE, "Interface")
        for required in ("ihost_uuid", "ifname"):
            if required not in v:
                raise BadRequest(f"Interface attribute {required} is required.")
        with self._writing() as s, s.no_autoflush:
            host = _host(s, v["ihost_uuid"])
            _require_locked(host)
            others = _host_interfaces(s, host)
            iftype = v.get("iftype", ETHERNET)
            iface = Interface(
                uuid=new_uuid(),
                host_uuid=host.uuid,
                host=host,
                iftype=iftype,
                imtu=DEFAULT_MTU,
                sriov_numvfs=0,
                ptp_role="none",
                monitoring=False,
                aemode="active_standby" if iftype == AE else None,
            )
            for column in INTERFACE_COLUMNS:
                if column in v:
                    setattr(iface, column, v[column])
            iface.uses = _resolve_interfaces(host, others, v.get("uses", []))
            host_ports = _host_ports(s, host)
            iface.ports = _resolve_ports(host_ports, v.get("ports", []))
            _settle(iface)
            _validate(_Proposal(iface, host, others, frozenset(v)), host_ports)
            s.add(iface)
            s.flush()
            s.refresh(iface)  # loads used_by and datanetworks, which a new row never loaded
            return iface

    def modify_interface(
        self, ctx: RequestContext, interface_uuid: str, changes: Mapping[str, object]
    ) -> Interface:
        """``host-if-modify``: ``changes`` as the ``replace`` ops of a JSON patch. Setting the
        class to none (NULL) resets the SR-IOV settings, drops the data network assignments and
        renames an ethernet interface back to its port, as sysinv does; leaving pci-sriov
        resets the VF count and driver unless the same change sets them."""
        policy.enforce(ctx, "inventory:write")
        v = _parse(changes, INTERFACE_MODIFY, "Interface")
        with self._writing() as s, s.no_autoflush:
            iface = _interface(s, interface_uuid)
            host = iface.host
            _require_locked(host)
            self._refuse_held(host, iface, "modified")
            others = [o for o in _host_interfaces(s, host) if o.uuid != iface.uuid]
            before = _Before(ifclass=iface.ifclass, monitoring=iface.monitoring)
            for column in INTERFACE_COLUMNS:
                if column in v:
                    setattr(iface, column, v[column])
            if "uses" in v:
                iface.uses = _resolve_interfaces(host, others, v["uses"])
            if iface.ifclass != PCI_SRIOV and before.ifclass == PCI_SRIOV:
                iface.sriov_numvfs = v.get("sriov_numvfs", 0)
                iface.sriov_vf_driver = v.get("sriov_vf_driver")
            reset = iface.ifclass is None and before.ifclass is not None
            if reset and iface.iftype == ETHERNET and iface.ports and "ifname" not in v:
                iface.ifname = iface.ports[0].name
            if iface.ifclass not in DATANETWORK_CLASSES:
                iface.datanetworks.clear()
            _settle(iface)
            _validate(_Proposal(iface, host, others, frozenset(v), before), _host_ports(s, host))
            s.flush()
            return iface

    def delete_interface(self, ctx: RequestContext, interface_uuid: str) -> None:
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s:
            iface = _interface(s, interface_uuid)
            _require_locked(iface.host)
            if iface.iftype == ETHERNET and iface.ports:
                raise BadRequest("Cannot delete a system created ethernet interface")
            if iface.used_by:
                raise BadRequest(
                    f"Cannot delete interface {iface.ifname}: it is still used by "
                    f"{_names_of(iface.used_by)}"
                )
            s.delete(iface)

    # -- data networks --

    def list_datanetworks(self, ctx: RequestContext) -> list[DataNetwork]:
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return list(s.scalars(select(DataNetwork).order_by(DataNetwork.name)))

    def show_datanetwork(self, ctx: RequestContext, datanetwork: str) -> DataNetwork:
        """By uuid, id or name."""
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return _datanetwork(s, datanetwork)

    def create_datanetwork(self, ctx: RequestContext, values: Mapping[str, object]) -> DataNetwork:
        """``datanetwork-add``: name, network_type, mtu (1500), description, and for vxlan
        multicast_group, port_num, ttl and mode (dynamic)."""
        policy.enforce(ctx, "inventory:write")
        v = _parse(values, DATANETWORK_CREATE, "DataNetwork")
        if "name" not in v or "network_type" not in v:
            raise BadRequest("DataNetwork name and network_type are required.")
        name = v["name"]
        if name.lower() == "none":
            raise BadRequest("DataNetwork name 'none' is not allowed.")
        if not DATANETWORK_NAME.match(name):
            raise BadRequest(
                f"DataNetwork name '{name}' is not allowed: name may only contain letters, "
                "numbers, underscores, periods and hyphens."
            )
        v.setdefault("mtu", DEFAULT_MTU)
        _check_mtu(v["mtu"])
        if v["network_type"] == "vxlan":
            v.setdefault("mode", "dynamic")
        _check_vxlan(v)
        with self._writing() as s:
            if s.scalar(select(DataNetwork).where(DataNetwork.name == name)) is not None:
                raise Conflict(f"DataNetwork with name {name} already exists.")
            dn = DataNetwork(id=_next_id(s, DataNetwork), **v)
            s.add(dn)
            s.flush()
            return dn

    def modify_datanetwork(
        self, ctx: RequestContext, datanetwork: str, changes: Mapping[str, object]
    ) -> DataNetwork:
        """``datanetwork-modify``: only mtu and description; the MTU must stay within every
        assigned interface's MTU."""
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s:
            dn = _datanetwork(s, datanetwork)
            refused = sorted(set(changes) - set(DATANETWORK_MODIFY))
            if refused:
                raise BadRequest(
                    f"DataNetwork '{dn.uuid}' attributes '{', '.join(refused)}' may not be modified"
                )
            v = _parse(changes, DATANETWORK_CREATE, "DataNetwork")
            if "mtu" in v:
                _check_mtu(v["mtu"])
                dn.mtu = v["mtu"]
                for assignment in _assignments(s, datanetwork=dn):
                    imtu = assignment.interface.imtu
                    if _required_mtu(dn) > imtu:
                        raise BadRequest(
                            f"The datanetwork MTU '{dn.mtu}' must be smaller than assigned "
                            f"interface MTU '{imtu}'."
                        )
            if "description" in v:
                dn.description = v["description"]
            s.flush()
            return dn

    def delete_datanetwork(self, ctx: RequestContext, datanetwork: str) -> None:
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s:
            dn = _datanetwork(s, datanetwork)
            if _assignments(s, datanetwork=dn):
                raise BadRequest(
                    f"DataNetwork '{dn.uuid}' is still assigned to interfaces. Check "
                    "interface-datanetwork."
                )
            users = self._datanetwork_users(dn.name)
            if users:
                raise BadRequest(
                    f"DataNetwork '{dn.uuid}' is still used by {', '.join(users)}. Check "
                    "openstack network list and openstack network segment range list."
                )
            s.delete(dn)

    # -- interface data networks --

    def assign_datanetwork(
        self, ctx: RequestContext, interface_uuid: str, datanetwork: str
    ) -> InterfaceDataNetwork:
        """``interface-datanetwork-assign`` (research §2.2). An interface with no class becomes
        a data interface, as in sysinv."""
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s, s.no_autoflush:
            iface = _interface(s, interface_uuid)
            dn = _datanetwork(s, datanetwork)
            _require_locked_for_assignment(iface.host)
            if any(a.datanetwork_uuid == dn.uuid for a in iface.datanetworks):
                raise Conflict(
                    f"Interface '{iface.ifname}' assignment with Data Network '{dn.name}' "
                    "already exists."
                )
            others = [o for o in _host_interfaces(s, iface.host) if o.uuid != iface.uuid]
            if iface.ifclass is None:
                iface.ifclass = DATA
                proposal = _Proposal(iface, iface.host, others, frozenset({"ifclass"}))
                _validate(proposal, _host_ports(s, iface.host))
            _check_assignment(iface, dn, others)
            assignment = InterfaceDataNetwork(
                id=_next_id(s, InterfaceDataNetwork), interface=iface, datanetwork=dn
            )
            s.add(assignment)
            s.flush()
            return assignment

    def remove_interface_datanetwork(self, ctx: RequestContext, assignment_uuid: str) -> None:
        policy.enforce(ctx, "inventory:write")
        with self._writing() as s:
            assignment = _assignment(s, assignment_uuid)
            iface = assignment.interface
            _require_locked_for_assignment(iface.host)
            self._refuse_held(iface.host, iface, "removed from its data network")
            s.delete(assignment)

    def _refuse_held(self, host: Host, iface: Interface, change: str) -> None:
        """A NIC a server holds keeps its configuration: the guest still uses it (a host
        locked with --force keeps its servers)."""
        held = self._held(host, [iface])
        if held:
            raise BadRequest(
                f"Operation Rejected: Interface '{iface.ifname}' cannot be {change}: "
                f"{_holders(held)}. Migrate or delete the {_them(held)} first."
            )

    def get_interface_datanetwork(
        self, ctx: RequestContext, assignment_uuid: str
    ) -> InterfaceDataNetwork:
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return _assignment(s, assignment_uuid)

    def list_interface_datanetworks(
        self, ctx: RequestContext, *, host: str | None = None, interface: str | None = None
    ) -> list[InterfaceDataNetwork]:
        """All assignments, or a host's, or one interface's (by uuid)."""
        policy.enforce(ctx, "inventory:read")
        with self.db.transaction() as s:
            return _assignments(
                s,
                host=_host(s, host) if host is not None else None,
                interface=_interface(s, interface) if interface is not None else None,
            )

    # -- queries for the other domains (no caller: they act for the cloud) --

    def get_datanetwork(self, name: str) -> DataNetwork:
        """The data network a provider network names as its physical network."""
        with self.db.transaction() as s:
            dn = s.scalar(select(DataNetwork).where(DataNetwork.name == name))
            if dn is None:
                raise NotFound(f"DataNetwork {name} could not be found.")
            return dn

    def passthrough_devices(self, hostname: str | None = None) -> list[PassthroughDevice]:
        """Every pci-passthrough interface (of one host, or all), with its port's PCI identity
        and its data networks, for the scheduler and the compute agent. Two column queries,
        no object graphs: the placement index reads the whole fleet with it."""
        where = [Interface.ifclass == PCI_PASSTHROUGH]
        if hostname is not None:
            where.append(Host.hostname == hostname)
        rows = (
            select(
                Host.hostname,
                Host.uuid,
                Host.administrative,
                Host.operational,
                Host.availability,
                Interface.uuid,
                Interface.ifname,
                EthernetPort.pciaddr,
                EthernetPort.pvendor,
                EthernetPort.pdevice,
                EthernetPort.numa_node,
                EthernetPort.sriov_totalvfs,
                EthernetPort.mac,
                Interface.imtu,
            )
            .select_from(Interface)
            .join(Host, Host.uuid == Interface.host_uuid)
            .join(EthernetPort, EthernetPort.interface_uuid == Interface.uuid)
            .where(*where)
            .order_by(Host.hostname, Interface.ifname, EthernetPort.name)
        )
        assigned = (
            select(InterfaceDataNetwork.interface_uuid, DataNetwork.name)
            .join(DataNetwork, DataNetwork.uuid == InterfaceDataNetwork.datanetwork_uuid)
            .join(Interface, Interface.uuid == InterfaceDataNetwork.interface_uuid)
            .join(Host, Host.uuid == Interface.host_uuid)
            .where(*where)
        )
        with self.db.transaction() as s:
            networks: dict[str, list[str]] = {}
            for interface_uuid, name in s.execute(assigned):
                networks.setdefault(interface_uuid, []).append(name)
            devices: dict[str, PassthroughDevice] = {}
            for row in s.execute(rows):
                if row[5] not in devices:  # its first port by name, as ``Interface.ports[0]``
                    devices[row[5]] = _passthrough_device(tuple(row), networks.get(row[5], ()))
            return list(devices.values())

    def availabilities(self) -> dict[str, str]:
        """Every host's availability by name: what the heartbeat sweep compares, every few
        seconds in every worker, so one column query."""
        with self.db.transaction() as s:
            return dict(s.execute(select(Host.hostname, Host.availability)).tuples().all())

    def nic_pci_address(self, hostname: str, ifname: str) -> str | None:
        """The PCI address of a host's interface ("" when it has no port); None when the host
        has no such interface."""
        with self.db.transaction() as s:
            iface = s.scalar(
                select(Interface)
                .join(Interface.host)
                .where(Host.hostname == hostname, Interface.ifname == ifname)
            )
            if iface is None:
                return None
            port = s.scalar(select(EthernetPort).where(EthernetPort.interface_uuid == iface.uuid))
            return port.pciaddr if port is not None else ""

    def compute_hosts(self) -> list[ComputeHost]:
        """Hosts that can run VMs (worker subfunction), with state and capacity."""
        with self.db.transaction() as s:
            hosts = [
                h
                for h in s.scalars(select(Host).order_by(Host.id))
                if "worker" in h.subfunctions.split(",")
            ]
            nodes: dict[str, list[int]] = {}
            for host_uuid, numa_node in s.execute(
                select(NumaNode.host_uuid, NumaNode.numa_node).order_by(NumaNode.numa_node)
            ):
                nodes.setdefault(host_uuid, []).append(numa_node)
            return [
                ComputeHost(
                    uuid=h.uuid,
                    hostname=h.hostname,
                    personality=h.personality,
                    subfunctions=h.subfunctions,
                    administrative=h.administrative,
                    operational=h.operational,
                    availability=h.availability,
                    vcpus=h.vcpus,
                    memory_mb=h.memory_mb,
                    disk_gb=h.disk_gb,
                    numa_nodes=tuple(nodes.get(h.uuid, ())),
                    prerequisites=tuple(h.prerequisites or ()),
                )
                for h in hosts
            ]


# -- helpers inside a transaction -------------------------------------------------------------


def _next_id(s: Session, model: type[Host] | type[DataNetwork] | type[InterfaceDataNetwork]) -> int:
    """sysinv's small integer id for a new row (unique because writers hold the write lock)."""
    return (s.scalar(select(func.max(model.id))) or 0) + 1


def _holders(held: Sequence[NicInUse]) -> str:
    """``server vm1 holds pci-passthrough NIC 0000:00:03.0``, or several, in the plural."""
    servers = list(dict.fromkeys(n.server for n in held))
    who = f"servers {', '.join(servers)} hold" if len(servers) > 1 else f"server {servers[0]} holds"
    nics = "NICs" if len(held) > 1 else "NIC"
    return f"{who} pci-passthrough {nics} {', '.join(n.pci_address for n in held)}"


def _them(held: Sequence[NicInUse]) -> str:
    return "servers" if len({n.server for n in held}) > 1 else "server"


def _hostname(value: Any) -> str:
    if not isinstance(value, str) or not HOSTNAME.match(value):
        raise BadRequest(
            f"Invalid hostname {value!r}: lowercase letters, digits and '-', at most 63, not "
            "starting or ending with '-'."
        )
    return value


def _personality(value: Any) -> str:
    if value not in PERSONALITIES:
        raise BadRequest(f"Invalid personality {value!r}: one of {', '.join(PERSONALITIES)}.")
    return str(value)


def _mgmt_mac(value: Any) -> str | None:
    if value is None:
        return None
    mac = value.lower() if isinstance(value, str) else value
    if not isinstance(mac, str) or not MAC.match(mac):
        raise BadRequest(f"Invalid mgmt_mac {value!r}: six hex pairs, e.g. 08:00:27:aa:bb:cc.")
    return mac


def _check_mgmt_mac_free(s: Session, mac: str | None, host_uuid: str | None) -> None:
    if mac is None:
        return
    other = s.scalar(select(Host).where(Host.mgmt_mac == mac))
    if other is not None and other.uuid != host_uuid:
        raise Conflict(f"mgmt_mac {mac} is already that of host {other.hostname}")


def _up(host: Host) -> str:
    """The availability of a host that is heard: ``online`` locked, ``available`` unlocked."""
    unlocked = host.administrative == UNLOCKED.administrative
    return (UNLOCKED if unlocked else LOCKED).availability


def _require_locked(host: Host) -> None:
    if host.administrative != "locked":
        raise BadRequest("Host must be locked.")


def _require_locked_for_assignment(host: Host) -> None:
    if host.administrative != "locked":
        raise BadRequest(
            f"Operation Rejected: Host '{host.hostname}' is adminstrative '{host.administrative}'"
        )


def _check_sriov_at_unlock(iface: Interface) -> None:
    if iface.ifclass != PCI_SRIOV or iface.iftype != ETHERNET or not iface.ports:
        return
    port = iface.ports[0]
    if len(port.vf_addresses) != iface.sriov_numvfs:
        raise BadRequest(
            f"Expecting number of interface sriov_numvfs={iface.sriov_numvfs}. Please wait a few "
            "minutes for inventory update and retry host-unlock."
        )
    if iface.sriov_vf_driver == "netdevice" and not port.sriov_vf_driver:
        raise BadRequest(
            "Value for SR-IOV VF driver is 'netdevice', but corresponding port has an invalid "
            f"driver (interface {iface.ifname})."
        )


def _row_id(ident: str) -> int | None:
    """A reference that is a numeric id (ASCII digits only: ``isdigit`` also admits "²"), or
    None; an id beyond the column's range matches nothing rather than failing."""
    if ident.isascii() and ident.isdecimal() and len(ident) <= 10 and int(ident) <= INT32_MAX:
        return int(ident)
    return None


#: sysinv's ``sort_key`` values, each completed to a unique order (keyset paging needs one)
HOST_SORT_KEYS: dict[str, tuple[InstrumentedAttribute[Any], ...]] = {
    "id": (Host.id,),
    "uuid": (Host.uuid,),
    "hostname": (Host.hostname,),
    "created_at": (Host.created_at, Host.id),
}
INTERFACE_SORT_KEYS: dict[str, tuple[InstrumentedAttribute[Any], ...]] = {
    "id": (Host.id, Interface.ifname),  # by host, then name: the order of a host's list
    "uuid": (Interface.uuid,),
    "ifname": (Interface.ifname, Interface.uuid),
    "created_at": (Interface.created_at, Interface.uuid),
}


def _sort_keys(
    keys: Mapping[str, tuple[InstrumentedAttribute[Any], ...]], sort_key: str
) -> tuple[InstrumentedAttribute[Any], ...]:
    if sort_key not in keys:
        raise BadRequest(f"Invalid sort_key {sort_key}; one of {', '.join(keys)}.")
    return keys[sort_key]


def _marker(
    s: Session, keys: Select[Any], uuid_column: Any, marker: str | None, label: str
) -> tuple[Any, ...] | None:
    """The sort keys of the marker row (only those: loading it would load its relations)."""
    if marker is None:
        return None
    found = s.execute(keys.where(uuid_column == marker)).first() if _is_uuid(marker) else None
    if found is None:
        raise NotFound(f"{label} {marker} could not be found.")
    return tuple(found)


def _host(s: Session, ident: str) -> Host:
    conditions = [Host.uuid == ident, Host.hostname == ident]
    if (row_id := _row_id(ident)) is not None:
        conditions.append(Host.id == row_id)
    host = s.scalar(select(Host).where(or_(*conditions)))
    if host is None:
        raise NotFound(f"Host {ident} could not be found.")
    return host


def _host_ports(s: Session, host: Host) -> list[EthernetPort]:
    stmt = select(EthernetPort).where(EthernetPort.host_uuid == host.uuid)
    return list(s.scalars(stmt.order_by(EthernetPort.name)).unique())


def _host_interfaces(s: Session, host: Host) -> list[Interface]:
    stmt = select(Interface).where(Interface.host_uuid == host.uuid).order_by(Interface.ifname)
    return list(s.scalars(stmt).unique())


def _interface(s: Session, interface_uuid: str) -> Interface:
    iface = s.get(Interface, interface_uuid) if _is_uuid(interface_uuid) else None
    if iface is None:
        raise NotFound(f"Interface {interface_uuid} could not be found.")
    return iface


def _interface_on(s: Session, host: Host, ident: str) -> Interface:
    for iface in _host_interfaces(s, host):
        if ident in (iface.uuid, iface.ifname):
            return iface
    raise NotFound(f"Interface {ident} could not be found on host {host.hostname}.")


def _resolve_interfaces(
    host: Host, others: Sequence[Interface], refs: Sequence[str]
) -> list[Interface]:
    found = []
    for ref in refs:
        match = next((o for o in others if ref in (o.uuid, o.ifname)), None)
        if match is None:
            raise BadRequest(f"Interface {ref} does not exist on host {host.hostname}.")
        found.append(match)
    return found


def _resolve_ports(host_ports: Sequence[EthernetPort], refs: Sequence[str]) -> list[EthernetPort]:
    found = []
    for ref in refs:
        match = next((p for p in host_ports if ref in (p.uuid, p.name)), None)
        if match is None:
            raise BadRequest(f"Port {ref} does not exist.")
        found.append(match)
    return found


def _settle(iface: Interface) -> None:
    """Derived attributes: an upper's MAC is its (first) lower's, AE members follow their AE's
    MTU, and an active/standby AE hashes nothing."""
    if iface.uses:
        iface.imac = iface.uses[0].imac
    if iface.iftype == AE:
        for member in iface.uses:
            member.imtu = iface.imtu
        if iface.aemode == "active_standby":
            iface.txhashpolicy = None


def _datanetwork(s: Session, ident: str) -> DataNetwork:
    conditions = [DataNetwork.uuid == ident, DataNetwork.name == ident]
    if (row_id := _row_id(ident)) is not None:
        conditions.append(DataNetwork.id == row_id)
    dn = s.scalar(select(DataNetwork).where(or_(*conditions)))
    if dn is None:
        raise NotFound(f"DataNetwork {ident} could not be found.")
    return dn


def _assignment(s: Session, assignment_uuid: str) -> InterfaceDataNetwork:
    assignment = s.get(InterfaceDataNetwork, assignment_uuid)
    if assignment is None:
        raise NotFound(f"Interface DataNetwork {assignment_uuid} could not be found.")
    return assignment


def _assignments(
    s: Session,
    *,
    host: Host | None = None,
    interface: Interface | None = None,
    datanetwork: DataNetwork | None = None,
) -> list[InterfaceDataNetwork]:
    stmt = select(InterfaceDataNetwork).join(InterfaceDataNetwork.interface)
    if host is not None:
        stmt = stmt.where(Interface.host_uuid == host.uuid)
    if interface is not None:
        stmt = stmt.where(InterfaceDataNetwork.interface_uuid == interface.uuid)
    if datanetwork is not None:
        stmt = stmt.where(InterfaceDataNetwork.datanetwork_uuid == datanetwork.uuid)
    return list(s.scalars(stmt.order_by(InterfaceDataNetwork.id)).unique())


def _copy_port(port: EthernetPort, reported: PortReport, node: NumaNode | None) -> None:
    """Every reported field onto the port row (the agent is the truth for hardware)."""
    for f in PortReport.model_fields:
        if f != "sriov_vfs_pci_address":
            setattr(port, f, getattr(reported, f))
    port.sriov_vfs_pci_address = ",".join(reported.sriov_vfs_pci_address)
    port.node_uuid = node.uuid if node is not None else None


def _passthrough_device(row: tuple[Any, ...], networks: Iterable[str]) -> PassthroughDevice:
    """A device from a ``passthrough_devices`` row (host, interface and port columns)."""
    (hostname, host_uuid, administrative, operational, availability) = row[:5]
    (interface_uuid, ifname, pciaddr, pvendor, pdevice, numa_node, totalvfs, mac, imtu) = row[5:]
    return PassthroughDevice(
        hostname=hostname,
        host_uuid=host_uuid,
        administrative=administrative,
        operational=operational,
        availability=availability,
        interface_uuid=interface_uuid,
        ifname=ifname,
        pciaddr=pciaddr,
        pvendor=pvendor,
        pdevice=pdevice,
        vendor_id=pci_id(pvendor),
        product_id=pci_id(pdevice),
        numa_node=numa_node,
        sriov_totalvfs=totalvfs,
        mac=mac,
        imtu=imtu,
        datanetworks=tuple(sorted(networks)),
    )


def _bump_revision(s: Session) -> None:
    """Move the inventory's revision on (inside the writer's lock: no two writers race)."""
    bumped = s.execute(
        update(InventoryRevision)
        .where(InventoryRevision.id == 1)
        .values(revision=InventoryRevision.revision + 1)
    )
    if not getattr(bumped, "rowcount", 0):
        s.add(InventoryRevision(id=1, revision=1))
        s.flush()


__all__ = [
    "LOCKED",
    "UNLOCKED",
    "ComputeHost",
    "HostState",
    "InventoryService",
    "NicInUse",
    "PassthroughDevice",
    "pci_id",
]
