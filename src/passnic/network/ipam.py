"""IP address management math: pure functions over ``ipaddress`` objects, no database.

The rules follow Neutron: a subnet's gateway defaults to its first host; its allocation pools
default to every usable address but the gateway (for IPv4 the network and broadcast addresses
are never usable); pools must lie inside the cidr, must not overlap each other and must not hold
the gateway; a port is given the lowest free address of the pools.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from passnic.errors import BadRequest, Conflict

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_PREFIX = {4: 30, 6: 126}
"""The smallest subnets: a /31 or /32 (v4) or /127 (v6) leaves no address for a port."""


@dataclass(frozen=True)
class Pool:
    """An inclusive range of addresses, ``start-end``."""

    start: IPAddress
    end: IPAddress

    def __contains__(self, ip: object) -> bool:
        return (
            isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and ip.version == self.start.version
            and self.start <= ip <= self.end  # type: ignore[operator]
        )

    def overlaps(self, other: Pool) -> bool:
        return other.start in self or self.start in other

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"

    def as_dict(self) -> dict[str, str]:
        return {"start": str(self.start), "end": str(self.end)}


def parse_ip(value: str, what: str = "IP address") -> IPAddress:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise BadRequest(f"'{value}' is not a valid {what}") from None


def canonical(value: str) -> str:
    """The one text form an address is stored and compared in (``::0:1`` -> ``::1``)."""
    return str(parse_ip(value))


def parse_cidr(value: str, ip_version: int | None = None) -> IPNetwork:
    """A subnet cidr: a network address with its prefix, of the requested IP version."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BadRequest(f"'{value}' is not a valid IP subnet cidr") from None
    if "/" not in value:
        raise BadRequest(f"'{value}' is not a valid IP subnet cidr: the prefix length is missing")
    if ipaddress.ip_interface(value).ip != net.network_address:
        raise BadRequest(
            f"'{value}' isn't a recognized IP subnet cidr, '{net}' is recommended: "
            "the address has host bits set"
        )
    if ip_version is not None and net.version != ip_version:
        raise BadRequest(f"cidr {net} is not an IPv{ip_version} network (ip_version {ip_version})")
    if net.prefixlen > MAX_PREFIX[net.version]:
        raise BadRequest(
            f"cidr {net} is too small: IPv{net.version} subnets need a prefix of "
            f"/{MAX_PREFIX[net.version]} or shorter to leave addresses for ports"
        )
    return net


def parse_prefix(value: str, what: str = "IP prefix") -> IPNetwork:
    """Any prefix (a route destination, a remote prefix): host bits are dropped."""
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BadRequest(f"'{value}' is not a valid {what}") from None


def usable(net: IPNetwork) -> Pool:
    """Every address a port may hold: IPv4 skips the network and broadcast addresses; IPv6
    skips the subnet-router anycast address (the network address)."""
    last = net.broadcast_address - 1 if net.version == 4 else net.broadcast_address
    return Pool(net.network_address + 1, last)


def default_gateway(net: IPNetwork) -> IPAddress:
    return net.network_address + 1


def default_pools(net: IPNetwork, gateway: IPAddress | None) -> list[Pool]:
    """Every usable address except the gateway: one pool, or two around a gateway inside."""
    whole = usable(net)
    if gateway is None or gateway not in whole:
        return [whole]
    pools = []
    if gateway > whole.start:  # type: ignore[operator]
        pools.append(Pool(whole.start, gateway - 1))
    if gateway < whole.end:  # type: ignore[operator]
        pools.append(Pool(gateway + 1, whole.end))
    return pools


def check_gateway(net: IPNetwork, gateway: IPAddress) -> None:
    if gateway.version != net.version:
        raise BadRequest(f"Gateway IP {gateway} is not an IPv{net.version} address")
    if gateway not in usable(net):
        what = "not inside" if gateway not in net else "a reserved address of"
        raise BadRequest(f"Gateway IP {gateway} is {what} subnet {net}")


def parse_pools(net: IPNetwork, raw: Sequence[tuple[str, str]]) -> list[Pool]:
    pools = []
    for start_text, end_text in raw:
        start, end = parse_ip(start_text), parse_ip(end_text)
        if start.version != net.version or end.version != net.version:
            raise BadRequest(
                f"Allocation pool {start}-{end} is not of IP version {net.version} "
                f"like subnet {net}"
            )
        if start > end:  # type: ignore[operator]
            raise BadRequest(f"Allocation pool {start}-{end}: the start is after the end")
        pools.append(Pool(start, end))
    return sorted(pools, key=lambda p: int(p.start))


def check_pools(net: IPNetwork, pools: Sequence[Pool], gateway: IPAddress | None) -> None:
    """Pools inside the subnet's usable addresses, disjoint, and without the gateway."""
    whole = usable(net)
    for pool in pools:
        if pool.start not in whole or pool.end not in whole:
            raise BadRequest(
                f"Allocation pool {pool} is outside subnet {net} (usable addresses {whole})"
            )
        if gateway is not None and gateway in pool:
            raise BadRequest(f"Gateway ip {gateway} conflicts with allocation pool {pool}")
    ordered = sorted(pools, key=lambda p: int(p.start))
    for left, right in itertools.pairwise(ordered):
        if left.overlaps(right):
            raise BadRequest(f"Allocation pools {left} and {right} overlap")


def overlapping(net: IPNetwork, others: Iterable[IPNetwork]) -> IPNetwork | None:
    """The first of ``others`` that shares an address with ``net``."""
    for other in others:
        if other.version == net.version and net.overlaps(other):
            return other
    return None


def check_fixed_ip(
    net: IPNetwork, ip: IPAddress, gateway: IPAddress | None, subnet_id: str
) -> None:
    """A requested fixed IP: inside the subnet, not a reserved address, not the gateway."""
    if ip.version != net.version or ip not in net:
        raise BadRequest(f"IP address {ip} is not a valid IP for subnet {subnet_id} ({net})")
    if ip not in usable(net):
        kind = "network" if ip == net.network_address else "broadcast"
        raise BadRequest(f"IP address {ip} is the {kind} address of subnet {subnet_id} ({net})")
    if gateway is not None and ip == gateway:
        raise Conflict(
            f"IP address {ip} is the gateway of subnet {subnet_id}",
            kind="IpAddressAlreadyAllocated",
        )


def first_free(pools: Sequence[Pool], taken: Iterable[IPAddress]) -> IPAddress | None:
    """The lowest address of the pools not in ``taken``; None when the pools are full.

    Walks the sorted taken addresses once, so a large (IPv6) pool costs only its allocations.
    """
    used = sorted({int(ip) for ip in taken})
    for pool in sorted(pools, key=lambda p: int(p.start)):
        candidate, end = int(pool.start), int(pool.end)
        for value in used:
            if value < candidate:
                continue
            if value > candidate:
                break
            candidate += 1
        if candidate <= end:
            return _address(candidate, pool.start.version)
    return None


def _address(value: int, version: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
