"""Subnets: the IPv4 and IPv6 address ranges of a network (the math is in ``ipam``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database
from passnic.errors import BadRequest, Conflict
from passnic.network import ipam
from passnic.network.common import Filters, serialize
from passnic.network.kinds import NETWORKS, SUBNETS
from passnic.network.models import IPAllocation, Network, Subnet
from passnic.network.quotas import check_quota

IPV6_MIN_MTU = 1280
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
UNSET: Any = object()
"""``gateway_ip`` not given (the first host) as opposed to ``None`` (no gateway)."""


def _dns(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        ip = ipam.parse_ip(value, "DNS nameserver address")
        if str(ip) in out:
            raise BadRequest(f"Duplicate DNS nameserver {ip}", kind="InvalidInput")
        out.append(str(ip))
    return out


def _routes(values: Sequence[tuple[str, str]], version: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for destination, nexthop in values:
        dest = ipam.parse_prefix(destination, "host route destination")
        hop = ipam.parse_ip(nexthop, "host route nexthop")
        if dest.version != version or hop.version != version:
            raise BadRequest(
                f"Host route {destination} via {nexthop} is not IPv{version} like its subnet",
                kind="InvalidInput",
            )
        route = {"destination": str(dest), "nexthop": str(hop)}
        if route in out:
            raise BadRequest(f"Duplicate host route {dest} via {hop}", kind="InvalidInput")
        out.append(route)
    return out


def _ipv6_mode(name: str, value: str | None, version: int) -> str | None:
    if value is None:
        return None
    if version != 6:
        raise BadRequest(f"{name} is only for IPv6 subnets", kind="InvalidInput")
    if value not in IPV6_MODES:
        raise BadRequest(
            f"Invalid {name} {value!r}: use one of {', '.join(IPV6_MODES)}", kind="InvalidInput"
        )
    return value


def _pools_of(subnet: Subnet) -> list[ipam.Pool]:
    return [
        ipam.Pool(ipam.parse_ip(p["start"]), ipam.parse_ip(p["end"]))
        for p in subnet.allocation_pools
    ]


class SubnetRules:
    db: Database

    def list_subnets(self, ctx: RequestContext, filters: Filters | None = None) -> list[Subnet]:
        with self.db.transaction() as s:
            return list(s.scalars(SUBNETS.select(ctx, filters)))

    def get_subnet(self, ctx: RequestContext, subnet_id: str) -> Subnet:
        with self.db.transaction() as s:
            return SUBNETS.get(s, ctx, subnet_id)

    def create_subnet(
        self,
        ctx: RequestContext,
        *,
        network_id: str,
        cidr: str,
        ip_version: int | None = None,
        name: str = "",
        description: str = "",
        project_id: str | None = None,
        gateway_ip: str | None = UNSET,
        allocation_pools: Sequence[tuple[str, str]] | None = None,
        enable_dhcp: bool = True,
        dns_nameservers: Sequence[str] = (),
        host_routes: Sequence[tuple[str, str]] = (),
        ipv6_ra_mode: str | None = None,
        ipv6_address_mode: str | None = None,
    ) -> Subnet:
        if ip_version is not None and ip_version not in (4, 6):
            raise BadRequest(f"Invalid ip_version {ip_version}: 4 or 6", kind="InvalidInput")
        net = ipam.parse_cidr(cidr, ip_version)
        gateway = (
            ipam.default_gateway(net)
            if gateway_ip is UNSET
            else (ipam.parse_ip(gateway_ip, "gateway IP") if gateway_ip is not None else None)
        )
        if gateway is not None:
            ipam.check_gateway(net, gateway)
        if allocation_pools is None:
            pools = ipam.default_pools(net, gateway)
        else:
            pools = ipam.parse_pools(net, allocation_pools)
            ipam.check_pools(net, pools, gateway)
        dns = _dns(dns_nameservers)
        routes = _routes(host_routes, net.version)
        ra_mode = _ipv6_mode("ipv6_ra_mode", ipv6_ra_mode, net.version)
        address_mode = _ipv6_mode("ipv6_address_mode", ipv6_address_mode, net.version)
        with self.db.transaction() as s:
            network = NETWORKS.get(s, ctx, network_id)
            owner = project_id or network.project_id
            policy.enforce(ctx, "network:create_subnet", network.project_id)
            if owner != network.project_id:
                raise BadRequest(
                    f"A subnet belongs to the project of its network ({network.project_id})",
                    kind="InvalidInput",
                )
            check_quota(s, "subnet", owner)
            if net.version == 6 and network.mtu < IPV6_MIN_MTU:
                raise BadRequest(
                    f"IPv6 subnets need an MTU of at least {IPV6_MIN_MTU}: network "
                    f"{network.id} has MTU {network.mtu}",
                    kind="InvalidInput",
                )
            serialize(s, f"subnets:{network.id}")
            existing = {ipam.parse_cidr(sn.cidr): sn for sn in _subnets_of(s, network)}
            clash = ipam.overlapping(net, existing)
            if clash is not None:
                raise BadRequest(
                    f"Invalid input for operation: Requested subnet with cidr: {net} for network: "
                    f"{network.id} overlaps with another subnet ({existing[clash].id}, {clash})",
                    kind="InvalidInput",
                )
            subnet = Subnet(
                name=name,
                description=description,
                project_id=owner,
                network_id=network.id,
                ip_version=net.version,
                cidr=str(net),
                gateway_ip=str(gateway) if gateway is not None else None,
                enable_dhcp=enable_dhcp,
                allocation_pools=[p.as_dict() for p in pools],
                dns_nameservers=dns,
                host_routes=routes,
                ipv6_ra_mode=ra_mode,
                ipv6_address_mode=address_mode,
            )
            s.add(subnet)
            network.bump()
            s.flush()
            return subnet

    def update_subnet(
        self, ctx: RequestContext, subnet_id: str, changes: Mapping[str, Any]
    ) -> Subnet:
        with self.db.transaction() as s:
            subnet = SUBNETS.get(s, ctx, subnet_id)
            policy.enforce(ctx, "network:update_subnet", subnet.project_id)
            net = ipam.parse_cidr(subnet.cidr)
            gateway = ipam.parse_ip(subnet.gateway_ip) if subnet.gateway_ip else None
            if "gateway_ip" in changes:
                gateway = (
                    ipam.parse_ip(changes["gateway_ip"], "gateway IP")
                    if changes["gateway_ip"] is not None
                    else None
                )
                if gateway is not None:
                    ipam.check_gateway(net, gateway)
                    holder = s.get(IPAllocation, (subnet.id, str(gateway)))
                    if holder is not None:
                        raise Conflict(
                            f"Gateway {gateway} is already the address of port {holder.port_id}",
                            kind="GatewayIpInUse",
                        )
            pools = (
                ipam.parse_pools(net, changes["allocation_pools"])
                if "allocation_pools" in changes
                else _pools_of(subnet)
            )
            ipam.check_pools(net, pools, gateway)
            subnet.gateway_ip = str(gateway) if gateway is not None else None
            subnet.allocation_pools = [p.as_dict() for p in pools]
            if "dns_nameservers" in changes:
                subnet.dns_nameservers = _dns(changes["dns_nameservers"])
            if "host_routes" in changes:
                subnet.host_routes = _routes(changes["host_routes"], net.version)
            for key in ("name", "description", "enable_dhcp"):
                if key in changes:
                    setattr(subnet, key, changes[key])
            subnet.bump()
            s.flush()
            return subnet

    def delete_subnet(self, ctx: RequestContext, subnet_id: str) -> None:
        with self.db.transaction() as s:
            subnet = SUBNETS.get(s, ctx, subnet_id)
            policy.enforce(ctx, "network:delete_subnet", subnet.project_id)
            users = list(
                s.scalars(
                    select(IPAllocation.port_id).where(IPAllocation.subnet_id == subnet.id).limit(5)
                )
            )
            if users:
                raise Conflict(
                    f"Unable to complete operation on subnet {subnet.id}: One or more ports have "
                    f"an IP allocation from this subnet ({', '.join(users)})",
                    kind="SubnetInUse",
                )
            s.delete(subnet)


def _subnets_of(s: Session, network: Network) -> list[Subnet]:
    return list(s.scalars(select(Subnet).where(Subnet.network_id == network.id)))
