"""Networks and network segment ranges: which VLAN of which data network a network is.

Rules (see ``segments`` for the type decisions):

* Only admins give provider attributes, share networks, create networks for other projects and
  manage segment ranges.
* A network without provider attributes (every project network) gets the lowest free VLAN of
  the segment ranges open to its project: the project's private ranges first, then the shared
  ones; the range's data network is the network's physical network.
* When a data network has segment ranges, a network an admin creates for another project must
  use a VLAN inside a range open to that project. A VLAN inside a range private to a project is
  only ever used by that project's networks.
* Ranges of one data network never overlap; a range is not deleted or shrunk while networks use
  its VLANs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database, Paged
from passnic.errors import BadRequest, Conflict, NotFound
from passnic.identity.models import Project
from passnic.inventory.models import DataNetwork
from passnic.inventory.service import InventoryService
from passnic.network import segments
from passnic.network.common import Filters, Page, retrying, serialize
from passnic.network.kinds import NETWORKS, SEGMENT_RANGES
from passnic.network.models import FLAT, VLAN, Network, NetworkSegmentRange, Port
from passnic.network.ports import lock_port, release_ports
from passnic.network.quotas import check_quota

MIN_MTU = 68
IPV6_MIN_MTU = 1280
PROVIDER_FIELDS = ("network_type", "physical_network", "segmentation_id")


@dataclass(frozen=True)
class SegmentRangeUsage:
    """A segment range with which of its VLAN IDs networks use (VLAN ID -> project id)."""

    range: NetworkSegmentRange
    used: dict[int, str]

    @property
    def available(self) -> list[int]:
        return [v for v in range(self.range.minimum, self.range.maximum + 1) if v not in self.used]


@dataclass(frozen=True)
class _Segment:
    network_type: str
    physical_network: str
    segmentation_id: int | None
    mtu: int


def project_label(s: Session, project_id: str | None) -> str:
    """A project as operators name it in messages: its name, else its id."""
    if project_id is None:
        return "(none)"
    name = s.scalar(select(Project.name).where(Project.id == project_id))
    return name or project_id


def _used_vlans(s: Session, physical_network: str, low: int, high: int) -> dict[int, Network]:
    rows = s.scalars(
        select(Network).where(
            Network.physical_network == physical_network,
            Network.segmentation_id.between(low, high),
        )
    )
    return {n.segmentation_id: n for n in rows if n.segmentation_id is not None}


def _ranges_on(s: Session, physical_network: str) -> list[NetworkSegmentRange]:
    return list(
        s.scalars(
            select(NetworkSegmentRange)
            .where(NetworkSegmentRange.physical_network == physical_network)
            .order_by(NetworkSegmentRange.minimum)
        )
    )


def _usage(s: Session, r: NetworkSegmentRange) -> SegmentRangeUsage:
    used = _used_vlans(s, r.physical_network, r.minimum, r.maximum)
    return SegmentRangeUsage(r, {vlan: n.project_id for vlan, n in sorted(used.items())})


class NetworkRules:
    db: Database
    inventory: InventoryService

    # ---- data networks -------------------------------------------------------------------

    def _data_network(self, name: str) -> DataNetwork:
        try:
            return self.inventory.get_datanetwork(name)
        except NotFound:
            raise BadRequest(
                f"Physical network {name} does not exist: no data network has that name",
                kind="InvalidInput",
            ) from None

    def _vlan_data_network(self, name: str) -> DataNetwork:
        dn = self._data_network(name)
        if dn.network_type != VLAN:
            raise BadRequest(
                f"Data network {name} is a {dn.network_type} data network: segment ranges "
                "hold VLAN IDs of vlan data networks",
                kind="InvalidInput",
            )
        return dn

    def data_network_users(self, name: str) -> list[str]:
        """What uses a data network (networks and segment ranges), for the inventory to refuse
        deleting it; empty when nothing does."""
        with self.db.transaction() as s:
            nets = s.scalars(select(Network).where(Network.physical_network == name))
            ranges = s.scalars(
                select(NetworkSegmentRange).where(NetworkSegmentRange.physical_network == name)
            )
            return [f"network {n.name or n.id}" for n in nets] + [
                f"segment range {r.name or r.id}" for r in ranges
            ]

    # ---- segment ranges --------------------------------------------------------------------

    def list_segment_ranges(
        self, ctx: RequestContext, filters: Filters | None = None
    ) -> list[SegmentRangeUsage]:
        policy.enforce(ctx, "network:network_segment_range")
        with self.db.transaction() as s:
            return [_usage(s, r) for r in s.scalars(SEGMENT_RANGES.select(ctx, filters))]

    def get_segment_range(self, ctx: RequestContext, range_id: str) -> SegmentRangeUsage:
        policy.enforce(ctx, "network:network_segment_range")
        with self.db.transaction() as s:
            return _usage(s, SEGMENT_RANGES.get(s, ctx, range_id))

    def create_segment_range(
        self,
        ctx: RequestContext,
        *,
        minimum: int,
        maximum: int,
        physical_network: str | None = None,
        name: str = "",
        shared: bool = True,
        project_id: str | None = None,
        network_type: str = VLAN,
    ) -> SegmentRangeUsage:
        policy.enforce(ctx, "network:network_segment_range")
        if network_type != VLAN:
            raise BadRequest(
                f"Segment ranges of type {network_type} are not supported: Passnic allocates "
                "VLAN IDs only (network_type vlan)",
                kind="InvalidInput",
            )
        if not physical_network:
            raise BadRequest(
                "A vlan segment range needs a physical_network (the data network whose VLAN IDs "
                "it holds)",
                kind="InvalidInput",
            )
        if shared and project_id:
            raise BadRequest(
                "A shared segment range is open to every project: omit project_id, or make it "
                "private (shared false)",
                kind="InvalidInput",
            )
        if not shared and not project_id:
            raise BadRequest(
                "A private segment range needs the project_id it is reserved for",
                kind="InvalidInput",
            )
        segments.check_range(minimum, maximum)
        self._vlan_data_network(physical_network)
        with self.db.transaction() as s:
            serialize(s, f"ranges:{physical_network}")
            _check_no_overlap(s, physical_network, minimum, maximum, None)
            r = NetworkSegmentRange(
                name=name,
                shared=shared,
                project_id=None if shared else project_id,
                network_type=VLAN,
                physical_network=physical_network,
                minimum=minimum,
                maximum=maximum,
            )
            s.add(r)
            s.flush()
            return _usage(s, r)

    def update_segment_range(
        self, ctx: RequestContext, range_id: str, changes: Mapping[str, Any]
    ) -> SegmentRangeUsage:
        """Name, minimum and maximum; never shrinking past VLAN IDs that networks use."""
        policy.enforce(ctx, "network:network_segment_range")
        with self.db.transaction() as s:
            r = SEGMENT_RANGES.get(s, ctx, range_id)
            serialize(s, f"ranges:{r.physical_network}")
            minimum = changes.get("minimum", r.minimum)
            maximum = changes.get("maximum", r.maximum)
            segments.check_range(minimum, maximum)
            _check_no_overlap(s, r.physical_network, minimum, maximum, r.id)
            dropped = {
                vlan: n
                for vlan, n in _used_vlans(s, r.physical_network, r.minimum, r.maximum).items()
                if not minimum <= vlan <= maximum
            }
            if dropped:
                raise Conflict(
                    f"Segment range {r.name or r.id} cannot shrink to {minimum}-{maximum}: "
                    f"{_describe_users(r.physical_network, dropped)}",
                    kind="NetworkSegmentRangeInUse",
                )
            r.minimum, r.maximum = minimum, maximum
            if "name" in changes:
                r.name = changes["name"]
            r.revision_number += 1
            s.flush()
            return _usage(s, r)

    def delete_segment_range(self, ctx: RequestContext, range_id: str) -> None:
        policy.enforce(ctx, "network:network_segment_range")
        with self.db.transaction() as s:
            r = SEGMENT_RANGES.get(s, ctx, range_id)
            serialize(s, f"ranges:{r.physical_network}")
            used = _used_vlans(s, r.physical_network, r.minimum, r.maximum)
            if used:
                raise Conflict(
                    f"Segment range {r.name or r.id} cannot be deleted: "
                    f"{_describe_users(r.physical_network, used)}",
                    kind="NetworkSegmentRangeInUse",
                )
            s.delete(r)

    # ---- networks ------------------------------------------------------------------------

    def list_networks(self, ctx: RequestContext, filters: Filters | None = None) -> list[Network]:
        with self.db.transaction() as s:
            return list(s.scalars(NETWORKS.select(ctx, filters)))

    def page_networks(self, ctx: RequestContext, filters: Filters, page: Page) -> Paged[Network]:
        with self.db.transaction() as s:
            return NETWORKS.page(s, ctx, NETWORKS.select(ctx, filters), page)

    def get_network(self, ctx: RequestContext, network_id: str) -> Network:
        with self.db.transaction() as s:
            return NETWORKS.get(s, ctx, network_id)

    def create_network(
        self,
        ctx: RequestContext,
        *,
        name: str = "",
        description: str = "",
        project_id: str | None = None,
        shared: bool = False,
        admin_state_up: bool = True,
        mtu: int | None = None,
        port_security_enabled: bool = True,
        network_type: str | None = None,
        physical_network: str | None = None,
        segmentation_id: int | None = None,
    ) -> Network:
        owner = project_id or ctx.project_id
        policy.enforce(ctx, "network:create_network", owner)
        if owner != ctx.project_id:
            policy.enforce(ctx, "network:create_network:project_id", owner)
        if shared:
            policy.enforce(ctx, "network:create_network:shared", owner)
        provider = network_type is not None or physical_network is not None
        if provider or segmentation_id is not None:
            policy.enforce(ctx, "network:create_network:provider", owner)
        explicit = self._explicit_segment(network_type, physical_network, segmentation_id)

        def work(s: Session) -> Network:
            check_quota(s, "network", owner)
            if explicit is not None:
                if explicit.segmentation_id is not None:
                    self._check_vlan_open(s, ctx, owner, explicit)
                _check_segment_free(s, explicit)
                segment = explicit
            else:
                # one allocation at a time, so concurrent requests do not all pick the same
                # lowest free VLAN (the unique constraint would refuse all but one)
                serialize(s, "vlan-allocation")
                segment = self._allocate_vlan(s, owner, network_type, physical_network)
            network = Network(
                name=name,
                description=description,
                project_id=owner,
                shared=shared,
                admin_state_up=admin_state_up,
                mtu=_network_mtu(mtu, segment),
                port_security_enabled=port_security_enabled,
                network_type=segment.network_type,
                physical_network=segment.physical_network,
                segmentation_id=segment.segmentation_id,
            )
            s.add(network)
            s.flush()
            s.refresh(network)
            return network

        return retrying(self.db, work)

    def update_network(
        self, ctx: RequestContext, network_id: str, changes: Mapping[str, Any]
    ) -> Network:
        fixed = sorted(set(changes) & set(PROVIDER_FIELDS))
        if fixed:
            raise BadRequest(
                f"The segment of a network cannot be changed ({', '.join(fixed)}): create a new "
                "network instead",
                kind="InvalidInput",
            )
        with self.db.transaction() as s:
            network = NETWORKS.get(s, ctx, network_id, lock=True)
            policy.enforce(ctx, "network:update_network", network.project_id)
            if "shared" in changes and changes["shared"] != network.shared:
                policy.enforce(ctx, "network:update_network:shared", network.project_id)
                if not changes["shared"]:
                    _check_unshare(s, network)
                network.shared = changes["shared"]
            if "mtu" in changes:
                dn = self._data_network(network.physical_network)
                network.mtu = _network_mtu(
                    changes["mtu"],
                    _Segment(network.network_type, network.physical_network, None, dn.mtu),
                )
                if network.mtu < IPV6_MIN_MTU and any(sn.ip_version == 6 for sn in network.subnets):
                    raise BadRequest(
                        f"MTU {network.mtu} is too small for the IPv6 subnets of network "
                        f"{network.id}: IPv6 needs at least {IPV6_MIN_MTU}",
                        kind="InvalidInput",
                    )
            for key in ("name", "description", "admin_state_up", "port_security_enabled"):
                if key in changes:
                    setattr(network, key, changes[key])
            network.bump()
            s.flush()
            s.refresh(network)
            return network

    def delete_network(self, ctx: RequestContext, network_id: str) -> None:
        """Refused while ports are in use (a server, or any owner but the network itself);
        otherwise the network goes with its subnets and its unused ports."""
        retrying(self.db, lambda s: self._delete_network(s, ctx, network_id))

    def _delete_network(self, s: Session, ctx: RequestContext, network_id: str) -> None:
        network = NETWORKS.get(s, ctx, network_id, lock=True)
        policy.enforce(ctx, "network:delete_network", network.project_id)
        on_network = select(Port).where(Port.network_id == network.id).order_by(Port.id)
        for port in list(s.scalars(on_network)):
            lock_port(s, port.id)  # a server reserving one of them now comes first, or after
        ports = list(s.scalars(on_network.execution_options(populate_existing=True)))
        busy = [p for p in ports if p.device_owner and not p.device_owner.startswith("network:")]
        if busy:
            users = ", ".join(f"port {p.id} ({p.device_owner} {p.device_id})" for p in busy)
            raise Conflict(
                f"Unable to complete operation on network {network.id}. There are one or more "
                f"ports still in use on the network: {users}",
                kind="NetworkInUse",
            )
        release_ports(s, ports)
        s.flush()
        for subnet in list(network.subnets):
            s.delete(subnet)
        s.flush()
        s.delete(network)

    # ---- segments ------------------------------------------------------------------------

    def _explicit_segment(
        self, network_type: str | None, physical_network: str | None, segmentation_id: int | None
    ) -> _Segment | None:
        """The segment an admin asked for in full, None when Passnic is to choose the VLAN."""
        if network_type is None:
            if physical_network is not None or segmentation_id is not None:
                raise BadRequest(
                    "provider:network_type is required with provider:physical_network and "
                    "provider:segmentation_id (vlan or flat)",
                    kind="InvalidInput",
                )
            return None
        segments.check_network_type(network_type)
        if network_type == VLAN and segmentation_id is not None:
            segments.check_vlan_id(segmentation_id)
        if physical_network is None:
            if network_type == FLAT:
                raise BadRequest(
                    "A flat network needs provider:physical_network (the data network whose "
                    "untagged traffic it is)",
                    kind="InvalidInput",
                )
            if segmentation_id is not None:
                raise BadRequest(
                    f"VLAN ID {segmentation_id} needs provider:physical_network: the data "
                    "network it is a VLAN of",
                    kind="InvalidInput",
                )
            return None
        dn = self._data_network(physical_network)
        segments.check_segment(network_type, segmentation_id, physical_network, dn.network_type)
        if network_type == VLAN and segmentation_id is None:
            return None
        return _Segment(network_type, physical_network, segmentation_id, dn.mtu)

    def _check_vlan_open(
        self, s: Session, ctx: RequestContext, owner: str, segment: _Segment
    ) -> None:
        """A VLAN inside a private range is its project's; when a data network has ranges, an
        admin's network for another project must use a VLAN open to that project."""
        vlan = segment.segmentation_id
        assert vlan is not None
        ranges = _ranges_on(s, segment.physical_network)
        inside = [r for r in ranges if r.minimum <= vlan <= r.maximum]
        where = f"VLAN {vlan} on {segment.physical_network}"
        for r in inside:
            if not r.shared and r.project_id != owner:
                raise BadRequest(
                    f"{where} is not in a segment range open to project "
                    f"{project_label(s, owner)}: it is in range {r.name or r.id}, private to "
                    f"project {project_label(s, r.project_id)}",
                    kind="InvalidInput",
                )
        if ranges and not inside and owner != ctx.project_id:
            open_ranges = [r for r in ranges if r.shared or r.project_id == owner]
            hint = (
                "; its ranges there: "
                + ", ".join(f"{r.name or r.id} ({r.minimum}-{r.maximum})" for r in open_ranges)
                if open_ranges
                else ""
            )
            raise BadRequest(
                f"{where} is not in a segment range open to project "
                f"{project_label(s, owner)}{hint}",
                kind="InvalidInput",
            )

    def _allocate_vlan(
        self,
        s: Session,
        owner: str,
        network_type: str | None,
        physical_network: str | None,
    ) -> _Segment:
        """The lowest free VLAN of the ranges open to ``owner``: its own first, then shared."""
        query = select(NetworkSegmentRange).where(
            (NetworkSegmentRange.project_id == owner) | NetworkSegmentRange.shared
        )
        if physical_network is not None:
            query = query.where(NetworkSegmentRange.physical_network == physical_network)
        candidates = sorted(
            s.scalars(query),
            key=lambda r: (r.shared, r.physical_network, r.minimum),
        )
        for r in candidates:
            try:
                dn = self.inventory.get_datanetwork(r.physical_network)
            except NotFound:
                continue
            if dn.network_type != VLAN:
                continue
            used = _used_vlans(s, r.physical_network, r.minimum, r.maximum)
            vlan = segments.first_free_vlan(r.minimum, r.maximum, used)
            if vlan is not None:
                return _Segment(VLAN, r.physical_network, vlan, dn.mtu)
        where = f" on {physical_network}" if physical_network else ""
        raise Conflict(
            f"No VLAN is free{where} for project {project_label(s, owner)}: every VLAN ID of the "
            "segment ranges open to it is in use, or it has none. An administrator can add one "
            "(openstack network segment range create)",
            kind="NoNetworkAvailable",
        )


def _network_mtu(requested: int | None, segment: _Segment) -> int:
    if requested is None:
        return segment.mtu
    if requested < MIN_MTU:
        raise BadRequest(
            f"MTU {requested} is too small: the minimum is {MIN_MTU}", kind="InvalidInput"
        )
    if requested > segment.mtu:
        raise BadRequest(
            f"MTU {requested} is above the MTU {segment.mtu} of data network "
            f"{segment.physical_network}",
            kind="InvalidInput",
        )
    return requested


def _check_segment_free(s: Session, segment: _Segment) -> None:
    """One network per (data network, VLAN ID), one flat network per data network. The
    database enforces both too; this check words the refusal."""
    query = select(Network).where(
        Network.physical_network == segment.physical_network,
        Network.network_type == segment.network_type,
    )
    if segment.network_type == VLAN:
        query = query.where(Network.segmentation_id == segment.segmentation_id)
    holder = s.scalar(query)
    if holder is None:
        return
    if segment.network_type == FLAT:
        raise Conflict(
            f"Data network {segment.physical_network} already carries flat network {holder.id}"
            f" ({holder.name}): a flat network is all of its untagged traffic",
            kind="FlatNetworkInUse",
        )
    raise Conflict(
        f"VLAN {segment.segmentation_id} on data network {segment.physical_network} is already "
        f"used by network {holder.id} ({holder.name})",
        kind="VlanIdInUse",
    )


def _check_no_overlap(
    s: Session, physical_network: str, minimum: int, maximum: int, exclude: str | None
) -> None:
    for other in _ranges_on(s, physical_network):
        if other.id != exclude and segments.overlaps(
            minimum, maximum, other.minimum, other.maximum
        ):
            raise Conflict(
                f"Segment range {minimum}-{maximum} on {physical_network} overlaps range "
                f"{other.name or other.id} ({other.minimum}-{other.maximum})",
                kind="NetworkSegmentRangeOverlaps",
            )


def _describe_users(physical_network: str, used: Mapping[int, Network]) -> str:
    nets = ", ".join(sorted({n.name or n.id for n in used.values()}))
    return (
        f"VLAN {segments.describe_ids(used)} on {physical_network} "
        f"{'is' if len(used) == 1 else 'are'} used by network{'s' if len(used) > 1 else ''} "
        f"{nets}"
    )


def _check_unshare(s: Session, network: Network) -> None:
    others: Sequence[str] = list(
        s.scalars(
            select(Port.project_id)
            .where(Port.network_id == network.id, Port.project_id != network.project_id)
            .limit(1)
        )
    )
    if others:
        raise Conflict(
            f"Unable to reconfigure sharing settings for network {network.id}: other projects "
            "have ports on it",
            kind="InvalidSharedSetting",
        )
