"""Trunks: a parent port that carries sub-ports on VLANs (VLAN-aware VMs). Neither the parent
nor a sub-port may be a PCI passthrough port: the host does not see that traffic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database
from passnic.errors import BadRequest, Conflict
from passnic.network import segments
from passnic.network.common import Filters
from passnic.network.kinds import PORTS, TRUNKS
from passnic.network.models import VLAN, SubPort, Trunk
from passnic.network.ports import trunk_member_check


@dataclass(frozen=True)
class SubPortSpec:
    port_id: str
    segmentation_id: int | None = None
    segmentation_type: str = VLAN


def _add(s: Session, ctx: RequestContext, trunk: Trunk, specs: Sequence[SubPortSpec]) -> None:
    for spec in specs:
        if spec.segmentation_type != VLAN:
            raise BadRequest(
                f"Sub-port segmentation_type {spec.segmentation_type} is not supported: vlan",
                kind="InvalidInput",
            )
        if spec.segmentation_id is None:
            raise BadRequest(
                f"Sub-port {spec.port_id} needs a segmentation_id (its VLAN on the trunk)",
                kind="InvalidInput",
            )
        segments.check_vlan_id(spec.segmentation_id)
        port = PORTS.get(s, ctx, spec.port_id)
        if port.id == trunk.port_id:
            raise BadRequest(
                f"Port {port.id} is the parent of trunk {trunk.id}: it cannot be its sub-port too",
                kind="InvalidInput",
            )
        trunk_member_check(port, as_parent=False)
        for sub in trunk.sub_ports:
            if sub.segmentation_id == spec.segmentation_id:
                raise Conflict(
                    f"segmentation_id {spec.segmentation_id} is already used by sub-port "
                    f"{sub.port_id} of trunk {trunk.id}",
                    kind="DuplicateSubPort",
                )
        trunk.sub_ports.append(
            SubPort(
                port_id=port.id,
                trunk_id=trunk.id,
                segmentation_type=VLAN,
                segmentation_id=spec.segmentation_id,
            )
        )
        s.flush()
        s.refresh(port)


class TrunkRules:
    db: Database

    def list_trunks(self, ctx: RequestContext, filters: Filters | None = None) -> list[Trunk]:
        with self.db.transaction() as s:
            return list(s.scalars(TRUNKS.select(ctx, filters)))

    def get_trunk(self, ctx: RequestContext, trunk_id: str) -> Trunk:
        with self.db.transaction() as s:
            return TRUNKS.get(s, ctx, trunk_id)

    def create_trunk(
        self,
        ctx: RequestContext,
        *,
        port_id: str,
        name: str = "",
        description: str = "",
        project_id: str | None = None,
        admin_state_up: bool = True,
        sub_ports: Sequence[SubPortSpec] = (),
    ) -> Trunk:
        owner = project_id or ctx.project_id
        policy.enforce(ctx, "network:create_trunk", owner)
        with self.db.transaction() as s:
            parent = PORTS.get(s, ctx, port_id)
            if parent.project_id != owner:
                raise BadRequest(
                    f"Trunk and parent port {parent.id} must belong to the same project",
                    kind="InvalidInput",
                )
            trunk_member_check(parent, as_parent=True)
            trunk = Trunk(
                name=name,
                description=description,
                project_id=owner,
                port_id=parent.id,
                admin_state_up=admin_state_up,
                status="ACTIVE" if parent.status == "ACTIVE" else "DOWN",
            )
            s.add(trunk)
            s.flush()
            _add(s, ctx, trunk, sub_ports)
            s.flush()
            s.refresh(trunk)  # loads its sub-ports: the caller gets a complete object
            return trunk

    def update_trunk(self, ctx: RequestContext, trunk_id: str, changes: Mapping[str, Any]) -> Trunk:
        with self.db.transaction() as s:
            trunk = TRUNKS.get(s, ctx, trunk_id)
            policy.enforce(ctx, "network:update_trunk", trunk.project_id)
            for key in ("name", "description", "admin_state_up"):
                if key in changes:
                    setattr(trunk, key, changes[key])
            trunk.bump()
            s.flush()
            return trunk

    def delete_trunk(self, ctx: RequestContext, trunk_id: str) -> None:
        with self.db.transaction() as s:
            trunk = TRUNKS.get(s, ctx, trunk_id)
            policy.enforce(ctx, "network:delete_trunk", trunk.project_id)
            parent = PORTS.get(s, ctx, trunk.port_id)
            if parent.binding_host_id:
                raise Conflict(
                    f"Trunk {trunk.id} is currently in use: its parent port {parent.id} is bound "
                    f"to host {parent.binding_host_id}",
                    kind="TrunkInUse",
                )
            s.delete(trunk)

    def add_subports(
        self, ctx: RequestContext, trunk_id: str, sub_ports: Sequence[SubPortSpec]
    ) -> Trunk:
        with self.db.transaction() as s:
            trunk = TRUNKS.get(s, ctx, trunk_id)
            policy.enforce(ctx, "network:update_trunk", trunk.project_id)
            _add(s, ctx, trunk, sub_ports)
            trunk.bump()
            s.flush()
            return trunk

    def remove_subports(self, ctx: RequestContext, trunk_id: str, port_ids: Sequence[str]) -> Trunk:
        with self.db.transaction() as s:
            trunk = TRUNKS.get(s, ctx, trunk_id)
            policy.enforce(ctx, "network:update_trunk", trunk.project_id)
            for port_id in port_ids:
                sub = next((p for p in trunk.sub_ports if p.port_id == port_id), None)
                if sub is None:
                    raise BadRequest(
                        f"Port {port_id} is not a sub-port of trunk {trunk.id}",
                        kind="SubPortNotFound",
                    )
                trunk.sub_ports.remove(sub)
            trunk.bump()
            s.flush()
            return trunk
