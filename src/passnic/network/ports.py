"""Ports: addresses (IPAM), MACs, security groups, QoS, the restrictions of PCI passthrough
(``direct-physical``) ports, and the binding that compute sets when it places a server.

A ``direct-physical`` port is a whole NIC given to a guest: the host never sees its traffic, so
it cannot police it (QoS), filter it (security groups, port security, allowed address pairs) or
split it into VLANs (trunks). Such a port is created with no security group and port security
off, and any request that would give it one of these is refused with a message naming it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, lazyload

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database, Paged
from passnic.errors import BadRequest, Conflict, NotFound
from passnic.network import ipam
from passnic.network.common import Filters, Page, retrying, serialize
from passnic.network.kinds import NETWORKS, PORTS, QOS_POLICIES, SECURITY_GROUPS
from passnic.network.models import (
    IPAllocation,
    Network,
    Port,
    SecurityGroup,
    Subnet,
)
from passnic.network.quotas import check_quota
from passnic.network.security import default_security_group

DIRECT_PHYSICAL = "direct-physical"
VNIC_TYPES = ("normal", "direct", "direct-physical", "macvtap", "baremetal")
MAC_PREFIX = "fa:16:3e"
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
HOSTDEV_PHYSICAL = "hostdev_physical"
#: the device_owner prefix of ports that servers hold (compute sets ``compute:nova``)
COMPUTE_OWNER = "compute:"
UNBOUND = "unbound"
RESTRICTION = "PassthroughPortRestriction"

NO_QOS = "QoS is not supported on PCI passthrough ports: the host does not see their traffic"
NO_SECURITY_GROUPS = (
    "Security groups are not supported on PCI passthrough (direct-physical) ports: the host "
    "does not see their traffic, so it cannot filter it"
)
NO_PORT_SECURITY = (
    "Port security is not supported on PCI passthrough (direct-physical) ports: the host does "
    "not see their traffic, so it cannot check their addresses"
)
NO_ADDRESS_PAIRS = (
    "Allowed address pairs are not supported on PCI passthrough (direct-physical) ports: they "
    "widen port security, which the host cannot apply to traffic it does not see"
)
NO_TRUNK_PARENT = (
    "A PCI passthrough (direct-physical) port cannot be a trunk parent: the host does not see "
    "its traffic, so it cannot split it into sub-ports"
)
NO_TRUNK_SUBPORT = (
    "A PCI passthrough (direct-physical) port cannot be a trunk sub-port: the host does not see "
    "its traffic, so it cannot carry it on a trunk VLAN"
)


@dataclass(frozen=True)
class FixedIp:
    """One requested address: a subnet (any free address of it), an address, or both."""

    subnet_id: str | None = None
    ip_address: str | None = None


@dataclass(frozen=True)
class AddressPair:
    ip_address: str
    mac_address: str | None = None


@dataclass(frozen=True)
class PortSegment:
    """A port with the segment of its network: what scheduling and binding need."""

    port: Port
    network_name: str
    network_type: str
    physical_network: str
    segmentation_id: int | None
    mtu: int


def random_mac() -> str:
    return MAC_PREFIX + "".join(f":{b:02x}" for b in secrets.token_bytes(3))


def check_passthrough(
    *,
    qos_policy_id: str | None,
    security_groups: Sequence[object],
    port_security_enabled: bool,
    allowed_address_pairs: Sequence[object],
) -> None:
    """The state a direct-physical port may be in; each refusal names its restriction."""
    if qos_policy_id is not None:
        raise BadRequest(NO_QOS, kind=RESTRICTION)
    if security_groups:
        raise BadRequest(NO_SECURITY_GROUPS, kind=RESTRICTION)
    if port_security_enabled:
        raise BadRequest(NO_PORT_SECURITY, kind=RESTRICTION)
    if allowed_address_pairs:
        raise BadRequest(NO_ADDRESS_PAIRS, kind=RESTRICTION)


def _check_port_security(
    port_security_enabled: bool,
    security_groups: Sequence[object],
    allowed_address_pairs: Sequence[object],
) -> None:
    if port_security_enabled:
        return
    if security_groups:
        raise Conflict(
            "Port has security groups but port security disabled: security groups need port "
            "security; remove them (--no-security-group) or enable port security",
            kind="PortSecurityAndIPRequiredForSecurityGroups",
        )
    if allowed_address_pairs:
        raise Conflict(
            "Port Security must be enabled in order to have allowed address pairs on a port.",
            kind="AddressPairAndPortSecurityRequired",
        )


def _check_mac(mac: str) -> str:
    lowered = mac.lower()
    if not MAC_RE.match(lowered) or int(lowered[1], 16) & 1:
        raise BadRequest(f"'{mac}' is not a valid unicast MAC address", kind="InvalidInput")
    return lowered


def _mac_holder(s: Session, mac: str) -> str | None:
    """The id of the port with this MAC, if any."""
    return s.scalar(select(Port.id).where(Port.mac_address == mac))


def _fresh_mac(s: Session) -> str:
    while True:
        mac = random_mac()
        if _mac_holder(s, mac) is None:
            return mac


def _pair_dicts(pairs: Iterable[AddressPair], mac: str) -> list[dict[str, str]]:
    out = []
    for pair in pairs:
        prefix = ipam.parse_prefix(pair.ip_address, "IP address or cidr of an address pair")
        shown = str(prefix.network_address) if "/" not in pair.ip_address else str(prefix)
        entry = {
            "ip_address": shown,
            "mac_address": _check_mac(pair.mac_address) if pair.mac_address else mac,
        }
        if entry not in out:
            out.append(entry)
    return out


def _security_groups(
    s: Session, ctx: RequestContext, owner: str, ids: Sequence[str]
) -> list[SecurityGroup]:
    groups: list[SecurityGroup] = []
    for group_id in dict.fromkeys(ids):  # the CLI may send an id twice: keep one
        group = SECURITY_GROUPS.get(s, ctx, group_id)
        if group.project_id != owner:
            raise SECURITY_GROUPS.not_found(group_id)
        groups.append(group)
    return groups


# ---- IPAM inside a transaction ------------------------------------------------------------


class _Addresses:
    """Address allocation on one network for one request: knows what each subnet has taken,
    including what this request took already."""

    def __init__(self, s: Session, network: Network) -> None:
        self.s = s
        self.network = network
        self.subnets = {sn.id: sn for sn in network.subnets}
        self._taken: dict[str, set[str]] = {}

    def taken(self, subnet: Subnet) -> set[str]:
        if subnet.id not in self._taken:
            self._taken[subnet.id] = set(
                self.s.scalars(
                    select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id)
                )
            )
        return self._taken[subnet.id]

    def subnet(self, subnet_id: str) -> Subnet:
        subnet = self.subnets.get(subnet_id)
        if subnet is None:
            if self.s.get(Subnet, subnet_id) is None:
                raise NotFound(f"Subnet {subnet_id} could not be found.", kind="SubnetNotFound")
            raise BadRequest(
                f"Subnet {subnet_id} is not on network {self.network.id}: a port's addresses "
                "come from the subnets of its network",
                kind="InvalidInput",
            )
        return subnet

    def subnet_for(self, ip: ipam.IPAddress) -> Subnet:
        for subnet in self.subnets.values():
            if ip in ipam.parse_cidr(subnet.cidr):
                return subnet
        raise BadRequest(
            f"IP address {ip} is not a valid IP for any subnet on network {self.network.id}",
            kind="InvalidIpForNetwork",
        )

    def allocate(self, port: Port, request: FixedIp) -> IPAllocation:
        subnet = self.subnet(request.subnet_id) if request.subnet_id else None
        if request.ip_address is not None:
            ip = ipam.parse_ip(request.ip_address)
            subnet = subnet or self.subnet_for(ip)
            gateway = ipam.parse_ip(subnet.gateway_ip) if subnet.gateway_ip else None
            ipam.check_fixed_ip(ipam.parse_cidr(subnet.cidr), ip, gateway, subnet.id)
            if str(ip) in self.taken(subnet):
                raise Conflict(
                    f"IP address {ip} already allocated in subnet {subnet.id}",
                    kind="IpAddressAlreadyAllocated",
                )
        elif subnet is not None:
            ip = self._first_free(subnet)
        else:
            raise BadRequest(
                "A fixed_ips entry needs a subnet_id, an ip_address or both", kind="InvalidInput"
            )
        return self._hold(port, subnet, ip)

    def allocate_default(self, port: Port) -> list[IPAllocation]:
        """One address of every subnet of the network (IPv4 and IPv6)."""
        return [self._hold(port, sn, self._first_free(sn)) for sn in self.subnets.values()]

    def _first_free(self, subnet: Subnet) -> ipam.IPAddress:
        pools = [
            ipam.Pool(ipam.parse_ip(p["start"]), ipam.parse_ip(p["end"]))
            for p in subnet.allocation_pools
        ]
        ip = ipam.first_free(pools, (ipam.parse_ip(a) for a in self.taken(subnet)))
        if ip is None:
            raise Conflict(
                f"No more IP addresses available for subnet {subnet.id} ({subnet.cidr})",
                kind="IpAddressGenerationFailure",
            )
        return ip

    def _hold(self, port: Port, subnet: Subnet, ip: ipam.IPAddress) -> IPAllocation:
        self.taken(subnet).add(str(ip))
        return IPAllocation(
            subnet_id=subnet.id, ip_address=str(ip), port_id=port.id, network_id=self.network.id
        )


def release_ports(s: Session, ports: Sequence[Port]) -> None:
    """Delete ports (their addresses go with them); refused for trunk members."""
    for port in ports:
        _check_not_in_trunk(port)
    for port in ports:
        s.delete(port)


def _check_not_in_trunk(port: Port) -> None:
    if port.trunk is not None:
        raise Conflict(
            f"Port {port.id} is in use by trunk {port.trunk.id} as its parent: delete the trunk "
            "first",
            kind="PortInUseByTrunk",
        )
    if port.subport is not None:
        raise Conflict(
            f"Port {port.id} is a sub-port of trunk {port.subport.trunk_id}: remove it from the "
            "trunk first",
            kind="PortInUseAsSubPort",
        )


#: loader options for the reads compute makes inside its own transactions: a port's (or
#: network's) collections load only when touched, instead of the four SELECTs a wire view needs
_BARE = (lazyload("*"),)


def _port(s: Session, port_id: str, *, bare: bool = False) -> Port:
    port = s.get(Port, port_id, options=_BARE if bare else ())
    if port is None:
        raise PORTS.not_found(port_id)
    return port


def lock_port(s: Session, port_id: str) -> None:
    """No other writer of this port until this transaction ends.

    Every change of a port (delete, update, a server reserving or binding it) takes this lock
    before it reads the port, so a delete and a reservation of one port run one after the
    other and the second sees what the first did: a 404 or a 409, never an UPDATE of a row
    that vanished under it.
    """
    serialize(s, f"port:{port_id}")


def _current(s: Session, port_id: str, *, bare: bool = False) -> Port:
    """The port as last committed, locked (``lock_port``); ``bare``: see ``_BARE``."""
    lock_port(s, port_id)
    port = s.get(Port, port_id, populate_existing=True, options=_BARE if bare else ())
    if port is None:
        raise PORTS.not_found(port_id)
    return port


def server_holding(port: Port) -> str | None:
    """The server that holds the port (compute marks it with ``set_device``), if any."""
    if port.device_id and port.device_owner.startswith(COMPUTE_OWNER):
        return port.device_id
    return None


def _check_device_change(ctx: RequestContext, port: Port, changes: Mapping[str, Any]) -> None:
    """Only compute moves a port between servers (``set_device``): a member who could change
    ``device_id`` or ``device_owner`` could take the port away from a server, then delete it."""
    server = server_holding(port)
    if server is None or policy.allowed(ctx, "network:update_port:device_of_server"):
        return
    changed = [
        k for k in ("device_id", "device_owner") if k in changes and changes[k] != getattr(port, k)
    ]
    if changed:
        raise Conflict(
            f"Port {port.id} is in use by server {server}: its {' and '.join(changed)} cannot be "
            "changed; delete the server to free the port",
            kind="PortInUse",
        )


def _network_of(s: Session, port: Port) -> Network:
    network = s.get(Network, port.network_id, options=_BARE)
    assert network is not None
    return network


def _segment(s: Session, port: Port, network: Network | None = None) -> PortSegment:
    network = network or _network_of(s, port)
    return PortSegment(
        port=port,
        network_name=network.name,
        network_type=network.network_type,
        physical_network=network.physical_network,
        segmentation_id=network.segmentation_id,
        mtu=network.mtu,
    )


class PortRules:
    db: Database

    # ---- reads ---------------------------------------------------------------------------

    def list_ports(self, ctx: RequestContext, filters: Filters | None = None) -> list[Port]:
        with self.db.transaction() as s:
            return list(s.scalars(_ports_query(ctx, filters)))

    def page_ports(self, ctx: RequestContext, filters: Filters, page: Page) -> Paged[Port]:
        with self.db.transaction() as s:
            return PORTS.page(s, ctx, _ports_query(ctx, filters), page)

    def get_port(self, ctx: RequestContext, port_id: str) -> Port:
        with self.db.transaction() as s:
            return PORTS.get(s, ctx, port_id)

    def port_with_segment(self, ctx: RequestContext, port_id: str) -> PortSegment:
        """The caller's port with its network's segment (404 for another project's port)."""
        with self.db.transaction() as s:
            return self.port_segment(s, PORTS.get(s, ctx, port_id).id)

    # ---- create / update / delete --------------------------------------------------------

    def create_port(
        self,
        ctx: RequestContext,
        *,
        network_id: str,
        name: str = "",
        description: str = "",
        project_id: str | None = None,
        admin_state_up: bool = True,
        mac_address: str | None = None,
        fixed_ips: Sequence[FixedIp] | None = None,
        device_id: str = "",
        device_owner: str = "",
        vnic_type: str = "normal",
        binding_host_id: str | None = None,
        binding_profile: Mapping[str, Any] | None = None,
        port_security_enabled: bool | None = None,
        security_groups: Sequence[str] | None = None,
        qos_policy_id: str | None = None,
        allowed_address_pairs: Sequence[AddressPair] | None = None,
    ) -> Port:
        owner = project_id or ctx.project_id
        policy.enforce(ctx, "network:create_port", owner)
        if owner != ctx.project_id:
            policy.enforce(ctx, "network:create_port:project_id", owner)
        if binding_host_id or binding_profile:
            policy.enforce(ctx, "network:create_port:binding", owner)
        _check_vnic_type(vnic_type)
        passthrough = vnic_type == DIRECT_PHYSICAL

        def work(s: Session) -> Port:
            network = NETWORKS.get(s, ctx, network_id)
            check_quota(s, "port", owner)
            if mac_address is not None:
                policy.enforce(ctx, "network:create_port:mac_address", network.project_id)
            if fixed_ips and any(f.ip_address for f in fixed_ips):
                policy.enforce(ctx, "network:create_port:fixed_ips:ip_address", network.project_id)
            security = (
                port_security_enabled
                if port_security_enabled is not None
                else (not passthrough and network.port_security_enabled)
            )
            if security_groups is not None:
                groups = _security_groups(s, ctx, owner, security_groups)
            elif security and not passthrough:
                groups = [default_security_group(s, owner)]
            else:
                groups = []
            if qos_policy_id is not None:
                QOS_POLICIES.get(s, ctx, qos_policy_id)
            mac = _check_mac(mac_address) if mac_address else _fresh_mac(s)
            pairs = _pair_dicts(allowed_address_pairs or (), mac)
            if passthrough:
                check_passthrough(
                    qos_policy_id=qos_policy_id,
                    security_groups=groups,
                    port_security_enabled=security,
                    allowed_address_pairs=pairs,
                )
            _check_port_security(security, groups, pairs)
            holder = _mac_holder(s, mac)
            if holder is not None:
                raise Conflict(
                    f"Unable to complete operation for network {network.id}. The mac address "
                    f"{mac} is in use.",
                    kind="MacAddressInUse",
                )
            port = Port(
                name=name,
                description=description,
                project_id=owner,
                network_id=network.id,
                mac_address=mac,
                admin_state_up=admin_state_up,
                status="DOWN",
                device_id=device_id,
                device_owner=device_owner,
                vnic_type=vnic_type,
                binding_host_id=binding_host_id or "",
                binding_profile=dict(binding_profile or {}),
                port_security_enabled=security,
                qos_policy_id=qos_policy_id,
                allowed_address_pairs=pairs,
            )
            s.add(port)
            s.flush()
            serialize(s, f"addresses:{network.id}")  # concurrent ports: distinct addresses
            addresses = _Addresses(s, network)
            if fixed_ips is None:
                port.fixed_ips = addresses.allocate_default(port)
            else:
                port.fixed_ips = [addresses.allocate(port, f) for f in fixed_ips]
            port.security_groups = groups
            s.flush()
            s.refresh(port)
            return port

        return retrying(self.db, work)

    def update_port(self, ctx: RequestContext, port_id: str, changes: Mapping[str, Any]) -> Port:
        if "vnic_type" in changes:
            _check_vnic_type(changes["vnic_type"])
        if {"binding_host_id", "binding_profile"} & set(changes):
            policy.enforce(ctx, "network:update_port:binding")

        def work(s: Session) -> Port:
            port = _current(s, PORTS.get(s, ctx, port_id).id)
            policy.enforce(ctx, "network:update_port", port.project_id)
            _check_device_change(ctx, port, changes)
            network = _network_of(s, port)
            if "vnic_type" in changes and changes["vnic_type"] != port.vnic_type:
                raise BadRequest(
                    f"binding:vnic_type of port {port.id} cannot be changed ({port.vnic_type} -> "
                    f"{changes['vnic_type']}): create a port of the new type",
                    kind="InvalidInput",
                )
            if "mac_address" in changes:
                self._change_mac(s, ctx, port, changes["mac_address"])
            groups = (
                _security_groups(s, ctx, port.project_id, changes["security_groups"])
                if "security_groups" in changes
                else list(port.security_groups)
            )
            security = changes.get("port_security_enabled", port.port_security_enabled)
            qos = changes.get("qos_policy_id", port.qos_policy_id)
            if "qos_policy_id" in changes and qos is not None and qos != port.qos_policy_id:
                QOS_POLICIES.get(s, ctx, qos)
            pairs = (
                _pair_dicts(changes["allowed_address_pairs"], port.mac_address)
                if "allowed_address_pairs" in changes
                else port.allowed_address_pairs
            )
            if port.vnic_type == DIRECT_PHYSICAL:
                check_passthrough(
                    qos_policy_id=qos,
                    security_groups=groups,
                    port_security_enabled=security,
                    allowed_address_pairs=pairs,
                )
            _check_port_security(security, groups, pairs)
            if "fixed_ips" in changes:
                if any(f.ip_address for f in changes["fixed_ips"]):
                    policy.enforce(
                        ctx, "network:create_port:fixed_ips:ip_address", network.project_id
                    )
                self._change_fixed_ips(s, port, network, changes["fixed_ips"])
            port.security_groups = groups
            port.port_security_enabled = security
            port.qos_policy_id = qos
            port.allowed_address_pairs = pairs
            for key in (
                "name",
                "description",
                "admin_state_up",
                "device_id",
                "device_owner",
                "binding_host_id",
            ):
                if key in changes:
                    setattr(port, key, changes[key])
            if "binding_profile" in changes:
                port.binding_profile = dict(changes["binding_profile"] or {})
            port.bump()
            s.flush()
            s.refresh(port)
            return port

        return retrying(self.db, work)

    def delete_port(self, ctx: RequestContext, port_id: str) -> None:
        """Refused while a server holds the port: the server would lose its NIC's port and
        could never give the NIC back (as Neutron refuses deleting a router's port)."""
        with self.db.transaction() as s:
            port = _current(s, PORTS.get(s, ctx, port_id).id)
            policy.enforce(ctx, "network:delete_port", port.project_id)
            server = server_holding(port)
            if server is not None:
                where = f" on host {port.binding_host_id}" if port.binding_host_id else ""
                raise Conflict(
                    f"Port {port.id} cannot be deleted directly via the port API: it is in use "
                    f"by server {server}{where}; delete the server first",
                    kind="PortInUse",
                )
            release_ports(s, [port])

    def _change_mac(self, s: Session, ctx: RequestContext, port: Port, mac: str) -> None:
        policy.enforce(ctx, "network:update_port:mac_address", port.project_id)
        mac = _check_mac(mac)
        if mac == port.mac_address:
            return
        if port.binding_host_id:
            raise Conflict(
                f"Unable to complete operation on port {port.id}: it is bound to host "
                f"{port.binding_host_id}, whose NIC decides its MAC address",
                kind="PortBound",
            )
        if _mac_holder(s, mac) is not None:
            raise Conflict(
                f"Unable to complete operation for network {port.network_id}. The mac address "
                f"{mac} is in use.",
                kind="MacAddressInUse",
            )
        port.mac_address = mac

    def _change_fixed_ips(
        self, s: Session, port: Port, network: Network, requested: Sequence[FixedIp]
    ) -> None:
        """Keep the addresses the request names again, release the others, allocate the new."""
        held = list(port.fixed_ips)
        kept: list[IPAllocation] = []
        new: list[FixedIp] = []
        for request in requested:
            match = None
            for alloc in held:
                if alloc in kept:
                    continue
                if request.ip_address is not None:
                    same_ip = alloc.ip_address == ipam.canonical(request.ip_address)
                    if same_ip and request.subnet_id in (None, alloc.subnet_id):
                        match = alloc
                        break
                elif request.subnet_id == alloc.subnet_id:
                    match = alloc
                    break
            if match is None:
                new.append(request)
            else:
                kept.append(match)
        port.fixed_ips = kept
        s.flush()
        serialize(s, f"addresses:{network.id}")
        addresses = _Addresses(s, network)
        port.fixed_ips = kept + [addresses.allocate(port, f) for f in new]

    # ---- for compute: inside the caller's transaction ------------------------------------

    def port_segment(self, session: Session, port_id: str) -> PortSegment:
        """A port with its network's segment, read in the caller's transaction."""
        return _segment(session, _port(session, port_id, bare=True))

    def existing_port_segments(
        self, session: Session, port_ids: Sequence[str]
    ) -> list[PortSegment]:
        """The ports of ``port_ids`` that exist, in that order, with their segments: for views
        of a server, which must read even when a port went missing under it."""
        found = {p.id: p for p in session.scalars(select(Port).where(Port.id.in_(port_ids)))}
        wanted = {p.network_id for p in found.values()}
        networks = {n.id: n for n in session.scalars(select(Network).where(Network.id.in_(wanted)))}
        return [
            _segment(session, found[i], networks.get(found[i].network_id))
            for i in port_ids
            if i in found
        ]

    def bind_port(
        self,
        session: Session,
        port_id: str,
        host: str,
        pci_slot: str,
        pci_vendor_info: str,
        physical_network: str,
        mac: str,
        vlan: int | None,
    ) -> Port:
        """Bind a direct-physical port to the NIC compute claimed for it (as Neutron's SR-IOV
        driver binds ``hostdev_physical``): the port takes the NIC's MAC and is ACTIVE. Runs in
        the caller's transaction so a claim and its binding commit together."""
        port = _current(session, port_id, bare=True)
        network = _network_of(session, port)
        if port.vnic_type != DIRECT_PHYSICAL:
            raise BadRequest(
                f"Port {port.id} is a {port.vnic_type} port: only direct-physical ports bind to a "
                "whole NIC",
                kind="PortBindingFailed",
            )
        if physical_network != network.physical_network or vlan != network.segmentation_id:
            here = _segment_label(network.physical_network, network.segmentation_id)
            raise Conflict(
                f"Port {port.id} is on {here}, not {_segment_label(physical_network, vlan)}",
                kind="PortBindingFailed",
            )
        mac = _check_mac(mac)
        holder = _mac_holder(session, mac)
        if holder is not None and holder != port.id:
            raise Conflict(
                f"MAC address {mac} of the NIC at {pci_slot} on {host} is already the address of "
                f"port {holder}",
                kind="MacAddressInUse",
            )
        port.binding_host_id = host
        port.binding_profile = {
            "pci_slot": pci_slot,
            "pci_vendor_info": pci_vendor_info,
            "physical_network": physical_network,
        }
        port.binding_vif_type = HOSTDEV_PHYSICAL
        port.binding_vif_details = {"vlan": str(network.segmentation_id or 0)}
        port.status = "ACTIVE"
        port.mac_address = mac
        port.bump()
        session.flush()
        return port

    def unbind_port(self, session: Session, port_id: str) -> Port:
        """Undo a binding: the port goes DOWN and gets a fresh random MAC, so the NIC's MAC is
        free for the next port that binds it (a cold-migrated server's port gets the new NIC's
        MAC and keeps its addresses)."""
        port = _current(session, port_id, bare=True)
        port.binding_host_id = ""
        port.binding_profile = {}
        port.binding_vif_type = UNBOUND
        port.binding_vif_details = {}
        port.status = "DOWN"
        port.mac_address = _fresh_mac(session)
        port.bump()
        session.flush()
        return port

    def set_device(self, session: Session, port_id: str, device_id: str, device_owner: str) -> Port:
        """Mark which device (server) uses the port; empty strings detach it. A port another
        device took meanwhile is refused (409), one deleted meanwhile is not found (404)."""
        port = _current(session, port_id, bare=True)
        if device_id and port.device_id not in ("", device_id):
            raise Conflict(
                f"Port {port.id} is still in use by {port.device_owner or 'device'} "
                f"{port.device_id}.",
                kind="PortInUse",
            )
        port.device_id = device_id
        port.device_owner = device_owner
        port.bump()
        session.flush()
        return port

    def delete_port_in(self, session: Session, port_id: str) -> None:
        """Delete a port compute created for a server (``--nic net-id=``) with the server."""
        release_ports(session, [_current(session, port_id)])


def _segment_label(physical_network: str, vlan: int | None) -> str:
    return (
        f"VLAN {vlan} of {physical_network}"
        if vlan
        else f"the untagged traffic of {physical_network}"
    )


def _check_vnic_type(vnic_type: str) -> None:
    if vnic_type not in VNIC_TYPES:
        raise BadRequest(
            f"binding:vnic_type {vnic_type} is not supported: Passnic ports are "
            f"{', '.join(VNIC_TYPES)}",
            kind="InvalidInput",
        )


def trunk_member_check(port: Port, as_parent: bool) -> None:
    """A port joining a trunk: not a passthrough port, not already in a trunk."""
    if port.vnic_type == DIRECT_PHYSICAL:
        raise BadRequest(NO_TRUNK_PARENT if as_parent else NO_TRUNK_SUBPORT, kind=RESTRICTION)
    where = port.trunk.id if port.trunk else port.subport.trunk_id if port.subport else None
    if where is not None:
        raise Conflict(
            f"Port {port.id} is currently in use by trunk {where} and is not eligible for use as "
            f"a {'parent' if as_parent else 'sub'} port.",
            kind="TrunkPortInUse",
        )


def _ports_query(ctx: RequestContext, filters: Filters | None) -> Select[Port]:
    """The caller's ports, filtered. ``fixed_ips`` filters take ``ip_address=A`` and
    ``subnet_id=S`` (several of each match any); a port matches when one of its addresses meets
    them all."""
    query = PORTS.select(ctx, filters)
    wanted: dict[str, list[str]] = {}
    for value in (filters or {}).get("fixed_ips", ()):
        key, sep, found = value.partition("=")
        if not sep or key not in ("ip_address", "subnet_id"):
            raise BadRequest(
                f"Invalid fixed_ips filter {value!r}: use ip_address=... or subnet_id=...",
                kind="InvalidInput",
            )
        wanted.setdefault(key, []).append(found)
    if wanted:
        held = select(IPAllocation.port_id)
        if "ip_address" in wanted:
            held = held.where(IPAllocation.ip_address.in_(wanted["ip_address"]))
        if "subnet_id" in wanted:
            held = held.where(IPAllocation.subnet_id.in_(wanted["subnet_id"]))
        query = query.where(Port.id.in_(held))
    return query
