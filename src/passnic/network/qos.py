"""QoS policies and their bandwidth-limit rules. Admins manage them (as Neutron's default
policy has it); a project attaches its own or shared policies to its normal ports. PCI
passthrough ports refuse them (``ports.check_passthrough``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database
from passnic.errors import BadRequest, Conflict, NotFound
from passnic.network.common import Filters
from passnic.network.kinds import QOS_POLICIES
from passnic.network.models import Port, QosBandwidthLimitRule, QosPolicy

DIRECTIONS = ("egress", "ingress")


def _check_rule_values(max_kbps: int, max_burst_kbps: int, direction: str) -> None:
    if max_kbps < 0 or max_burst_kbps < 0:
        raise BadRequest("max_kbps and max_burst_kbps are 0 or more", kind="InvalidInput")
    if direction not in DIRECTIONS:
        raise BadRequest(f"Invalid direction {direction!r}: egress or ingress", kind="InvalidInput")


class QosRules:
    db: Database

    def list_qos_policies(
        self, ctx: RequestContext, filters: Filters | None = None
    ) -> list[QosPolicy]:
        with self.db.transaction() as s:
            return list(s.scalars(QOS_POLICIES.select(ctx, filters)))

    def get_qos_policy(self, ctx: RequestContext, policy_id: str) -> QosPolicy:
        with self.db.transaction() as s:
            return QOS_POLICIES.get(s, ctx, policy_id)

    def create_qos_policy(
        self,
        ctx: RequestContext,
        *,
        name: str = "",
        description: str = "",
        project_id: str | None = None,
        shared: bool = False,
        is_default: bool = False,
    ) -> QosPolicy:
        owner = project_id or ctx.project_id
        policy.enforce(ctx, "network:create_qos_policy", owner)
        if is_default:
            raise BadRequest(
                "Default QoS policies are not supported: attach a policy to each port",
                kind="InvalidInput",
            )
        with self.db.transaction() as s:
            qos = QosPolicy(name=name, description=description, project_id=owner, shared=shared)
            s.add(qos)
            s.flush()
            s.refresh(qos)  # loads its (empty) rules: the caller gets a complete object
            return qos

    def update_qos_policy(
        self, ctx: RequestContext, policy_id: str, changes: Mapping[str, Any]
    ) -> QosPolicy:
        with self.db.transaction() as s:
            qos = QOS_POLICIES.get(s, ctx, policy_id)
            policy.enforce(ctx, "network:update_qos_policy", qos.project_id)
            if changes.get("is_default"):
                raise BadRequest(
                    "Default QoS policies are not supported: attach a policy to each port",
                    kind="InvalidInput",
                )
            if changes.get("shared") is False and qos.shared:
                foreign = s.scalar(
                    select(Port.id).where(
                        Port.qos_policy_id == qos.id, Port.project_id != qos.project_id
                    )
                )
                if foreign is not None:
                    raise Conflict(
                        f"QoS policy {qos.id} is used by port {foreign} of another project: it "
                        "must stay shared",
                        kind="QosPolicyInUse",
                    )
            for key in ("name", "description", "shared"):
                if key in changes:
                    setattr(qos, key, changes[key])
            qos.bump()
            s.flush()
            return qos

    def delete_qos_policy(self, ctx: RequestContext, policy_id: str) -> None:
        with self.db.transaction() as s:
            qos = QOS_POLICIES.get(s, ctx, policy_id)
            policy.enforce(ctx, "network:delete_qos_policy", qos.project_id)
            user = s.scalar(select(Port.id).where(Port.qos_policy_id == qos.id))
            if user is not None:
                raise Conflict(
                    f"QoS Policy {qos.id} is used by port {user}.", kind="QosPolicyInUse"
                )
            s.delete(qos)

    # ---- bandwidth limit rules -----------------------------------------------------------

    def create_bandwidth_limit_rule(
        self,
        ctx: RequestContext,
        policy_id: str,
        *,
        max_kbps: int,
        max_burst_kbps: int = 0,
        direction: str = "egress",
    ) -> QosBandwidthLimitRule:
        _check_rule_values(max_kbps, max_burst_kbps, direction)
        with self.db.transaction() as s:
            qos = QOS_POLICIES.get(s, ctx, policy_id)
            policy.enforce(ctx, "network:update_qos_policy", qos.project_id)
            if any(r.direction == direction for r in qos.bandwidth_limit_rules):
                raise Conflict(
                    f"QoS policy {qos.id} already has an {direction} bandwidth limit rule",
                    kind="QoSRulesConflict",
                )
            rule = QosBandwidthLimitRule(
                qos_policy_id=qos.id,
                max_kbps=max_kbps,
                max_burst_kbps=max_burst_kbps,
                direction=direction,
            )
            s.add(rule)
            qos.bump()
            s.flush()
            return rule

    def list_bandwidth_limit_rules(
        self, ctx: RequestContext, policy_id: str
    ) -> list[QosBandwidthLimitRule]:
        return list(self.get_qos_policy(ctx, policy_id).bandwidth_limit_rules)

    def get_bandwidth_limit_rule(
        self, ctx: RequestContext, policy_id: str, rule_id: str
    ) -> QosBandwidthLimitRule:
        for rule in self.get_qos_policy(ctx, policy_id).bandwidth_limit_rules:
            if rule.id == rule_id:
                return rule
        raise _rule_not_found(rule_id, policy_id)

    def update_bandwidth_limit_rule(
        self, ctx: RequestContext, policy_id: str, rule_id: str, changes: Mapping[str, Any]
    ) -> QosBandwidthLimitRule:
        with self.db.transaction() as s:
            qos = QOS_POLICIES.get(s, ctx, policy_id)
            policy.enforce(ctx, "network:update_qos_policy", qos.project_id)
            rule = next((r for r in qos.bandwidth_limit_rules if r.id == rule_id), None)
            if rule is None:
                raise _rule_not_found(rule_id, policy_id)
            max_kbps = changes.get("max_kbps", rule.max_kbps)
            burst = changes.get("max_burst_kbps", rule.max_burst_kbps)
            direction = changes.get("direction", rule.direction)
            _check_rule_values(max_kbps, burst, direction)
            if any(r.direction == direction and r.id != rule.id for r in qos.bandwidth_limit_rules):
                raise Conflict(
                    f"QoS policy {qos.id} already has an {direction} bandwidth limit rule",
                    kind="QoSRulesConflict",
                )
            rule.max_kbps, rule.max_burst_kbps, rule.direction = max_kbps, burst, direction
            qos.bump()
            s.flush()
            return rule

    def delete_bandwidth_limit_rule(
        self, ctx: RequestContext, policy_id: str, rule_id: str
    ) -> None:
        with self.db.transaction() as s:
            qos = QOS_POLICIES.get(s, ctx, policy_id)
            policy.enforce(ctx, "network:update_qos_policy", qos.project_id)
            rule = next((r for r in qos.bandwidth_limit_rules if r.id == rule_id), None)
            if rule is None:
                raise _rule_not_found(rule_id, policy_id)
            qos.bandwidth_limit_rules.remove(rule)
            qos.bump()


def _rule_not_found(rule_id: str, policy_id: str) -> NotFound:
    return NotFound(
        f"Rule {rule_id} of QoS policy {policy_id} could not be found.",
        kind="QosRuleNotFound",
    )
