"""Per-project limits on networks, subnets and ports (Neutron's quotas).

A create counts the project's rows in its own transaction, after taking a per-project lock
(``serialize``), so two concurrent creates cannot both pass the last free unit.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database
from passnic.errors import BadRequest, Conflict
from passnic.network.common import serialize
from passnic.network.models import Network, Port, Quota, Subnet

#: Neutron's defaults; -1 is unlimited.
DEFAULTS: Mapping[str, int] = {"network": 100, "subnet": 100, "port": 500}
_MODELS: Mapping[str, type[Network] | type[Subnet] | type[Port]] = {
    "network": Network,
    "subnet": Subnet,
    "port": Port,
}


def check_quota(s: Session, resource: str, project_id: str) -> None:
    """Refuse one more ``resource`` for the project when it is at its limit (409 OverQuota)."""
    serialize(s, f"quota:{project_id}")
    row = s.get(Quota, project_id)
    limit = getattr(row, resource, None) if row is not None else None
    limit = DEFAULTS[resource] if limit is None else limit
    if limit < 0:
        return
    model = _MODELS[resource]
    used = s.scalar(select(func.count()).select_from(model).where(model.project_id == project_id))
    if (used or 0) >= limit:
        raise Conflict(f"Quota exceeded for resources: ['{resource}'].", kind="OverQuota")


class QuotaRules:
    db: Database

    def get_quota(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        policy.enforce(ctx, "network:get_quota", project_id)
        with self.db.transaction() as s:
            return _limits(s.get(Quota, project_id))

    def quota_usage(self, ctx: RequestContext, project_id: str) -> dict[str, tuple[int, int]]:
        """(used, limit) per resource (GET /quotas/{id}/details)."""
        policy.enforce(ctx, "network:get_quota", project_id)
        with self.db.transaction() as s:
            limits = _limits(s.get(Quota, project_id))
            out = {}
            for resource, model in _MODELS.items():
                used = s.scalar(
                    select(func.count()).select_from(model).where(model.project_id == project_id)
                )
                out[resource] = (used or 0, limits[resource])
            return out

    def update_quota(
        self, ctx: RequestContext, project_id: str, changes: Mapping[str, int]
    ) -> dict[str, int]:
        policy.enforce(ctx, "network:update_quota", project_id)
        unknown = sorted(set(changes) - set(DEFAULTS))
        if unknown:
            raise BadRequest(
                f"Unrecognized attribute(s) '{', '.join(unknown)}'", kind="HTTPBadRequest"
            )
        for resource, limit in changes.items():
            if limit < -1:
                raise BadRequest(
                    f"Invalid input for {resource}. Reason: '{limit}' should be an integer "
                    "greater than or equal to -1.",
                    kind="HTTPBadRequest",
                )
        with self.db.transaction() as s:
            row = s.get(Quota, project_id, with_for_update=True)
            if row is None:
                row = Quota(project_id=project_id)
                s.add(row)
            for resource, limit in changes.items():
                setattr(row, resource, limit)
            s.flush()
            return _limits(row)

    def reset_quota(self, ctx: RequestContext, project_id: str) -> None:
        policy.enforce(ctx, "network:update_quota", project_id)
        with self.db.transaction() as s:
            row = s.get(Quota, project_id)
            if row is not None:
                s.delete(row)

    def list_quotas(self, ctx: RequestContext) -> dict[str, dict[str, int]]:
        """The projects with limits of their own (Neutron lists only those)."""
        policy.enforce(ctx, "network:update_quota")
        with self.db.transaction() as s:
            return {row.project_id: _limits(row) for row in s.scalars(select(Quota))}


def _limits(row: Quota | None) -> dict[str, int]:
    out = dict(DEFAULTS)
    if row is not None:
        for resource in DEFAULTS:
            value = getattr(row, resource)
            if value is not None:
                out[resource] = value
    return out
