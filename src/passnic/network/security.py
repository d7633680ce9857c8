"""Security groups and their rules, as Neutron has them: every project gets a ``default`` group
(created lazily, the first time the project lists groups or makes a port) that lets all traffic
out and lets in traffic from its own members. A normal port gets its project's default group;
a PCI passthrough port gets none (the host cannot filter traffic it does not see)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passnic import policy
from passnic.context import RequestContext
from passnic.db import Database, new_uuid
from passnic.errors import BadRequest, Conflict
from passnic.network.common import Filters, retrying
from passnic.network.kinds import SECURITY_GROUP_RULES, SECURITY_GROUPS
from passnic.network.models import (
    DefaultSecurityGroup,
    SecurityGroup,
    SecurityGroupRule,
    port_security_groups,
)

DEFAULT_NAME = "default"
DIRECTIONS = ("ingress", "egress")
ETHERTYPES = {"IPv4": 4, "IPv6": 6}
PROTOCOL_NUMBERS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "icmp": 1,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "udplite", "dccp", "6", "17", "132", "136", "33"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}


def default_security_group(s: Session, project_id: str) -> SecurityGroup:
    """The project's ``default`` group, made on first use. Two concurrent first uses collide
    on the primary key of ``default_security_group``; callers run under ``retrying``."""
    row = s.get(DefaultSecurityGroup, project_id)
    if row is not None:
        group = s.get(SecurityGroup, row.security_group_id)
        assert group is not None
        return group
    group_id = new_uuid()
    group = SecurityGroup(
        id=group_id,
        name=DEFAULT_NAME,
        description="Default security group",
        project_id=project_id,
    )
    group.rules = [
        SecurityGroupRule(
            project_id=project_id,
            direction=direction,
            ethertype=ethertype,
            remote_group_id=group_id if direction == "ingress" else None,
        )
        for direction in DIRECTIONS
        for ethertype in ETHERTYPES
    ]
    s.add(group)
    s.flush()
    s.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group_id))
    s.flush()
    return group


def _is_default(s: Session, group: SecurityGroup) -> bool:
    row = s.get(DefaultSecurityGroup, group.project_id)
    return row is not None and row.security_group_id == group.id


class SecurityGroupRules:
    db: Database

    # ---- groups --------------------------------------------------------------------------

    def list_security_groups(
        self, ctx: RequestContext, filters: Filters | None = None
    ) -> list[SecurityGroup]:
        retrying(self.db, lambda s: default_security_group(s, ctx.project_id))
        with self.db.transaction() as s:
            return list(s.scalars(SECURITY_GROUPS.select(ctx, filters)))

    def get_security_group(self, ctx: RequestContext, group_id: str) -> SecurityGroup:
        with self.db.transaction() as s:
            return SECURITY_GROUPS.get(s, ctx, group_id)

    def create_security_group(
        self,
        ctx: RequestContext,
        *,
        name: str = "",
        description: str = "",
        project_id: str | None = None,
        stateful: bool = True,
    ) -> SecurityGroup:
        owner = project_id or ctx.project_id
        policy.enforce(ctx, "network:create_security_group", owner)
        if owner != ctx.project_id:
            policy.enforce(ctx, "network:create_security_group:project_id", owner)
        if name == DEFAULT_NAME:
            raise Conflict(
                "Default security group already exists: each project has one group named "
                "'default'; choose another name",
                kind="SecurityGroupDefaultAlreadyExists",
            )

        def work(s: Session) -> SecurityGroup:
            default_security_group(s, owner)
            group_id = new_uuid()
            group = SecurityGroup(
                id=group_id, name=name, description=description, project_id=owner, stateful=stateful
            )
            group.rules = [
                SecurityGroupRule(project_id=owner, direction="egress", ethertype=ethertype)
                for ethertype in ETHERTYPES
            ]
            s.add(group)
            s.flush()
            return group

        return retrying(self.db, work)

    def update_security_group(
        self, ctx: RequestContext, group_id: str, changes: Mapping[str, Any]
    ) -> SecurityGroup:
        with self.db.transaction() as s:
            group = SECURITY_GROUPS.get(s, ctx, group_id)
            policy.enforce(ctx, "network:update_security_group", group.project_id)
            if "name" in changes and changes["name"] != group.name:
                if _is_default(s, group):
                    raise Conflict(
                        "Updating default security group not allowed: its name stays 'default'",
                        kind="SecurityGroupCannotUpdateDefault",
                    )
                if changes["name"] == DEFAULT_NAME:
                    raise Conflict(
                        "Only a project's default group is named 'default'",
                        kind="SecurityGroupDefaultAlreadyExists",
                    )
            for key in ("name", "description", "stateful"):
                if key in changes:
                    setattr(group, key, changes[key])
            group.bump()
            s.flush()
            return group

    def delete_security_group(self, ctx: RequestContext, group_id: str) -> None:
        with self.db.transaction() as s:
            group = SECURITY_GROUPS.get(s, ctx, group_id)
            policy.enforce(ctx, "network:delete_security_group", group.project_id)
            if _is_default(s, group) and not policy.allowed(
                ctx, "network:delete_default_security_group", group.project_id
            ):
                raise Conflict(
                    "Removing default security group not allowed.",
                    kind="SecurityGroupCannotRemoveDefault",
                )
            users = list(
                s.scalars(
                    select(port_security_groups.c.port_id).where(
                        port_security_groups.c.security_group_id == group.id
                    )
                )
            )
            if users:
                raise Conflict(
                    f"Security Group {group.id} in use: ports {', '.join(sorted(users))} have it",
                    kind="SecurityGroupInUse",
                )
            s.delete(group)

    # ---- rules ---------------------------------------------------------------------------

    def list_security_group_rules(
        self, ctx: RequestContext, filters: Filters | None = None
    ) -> list[SecurityGroupRule]:
        with self.db.transaction() as s:
            return list(s.scalars(SECURITY_GROUP_RULES.select(ctx, filters)))

    def get_security_group_rule(self, ctx: RequestContext, rule_id: str) -> SecurityGroupRule:
        with self.db.transaction() as s:
            return SECURITY_GROUP_RULES.get(s, ctx, rule_id)

    def create_security_group_rule(
        self,
        ctx: RequestContext,
        *,
        security_group_id: str,
        direction: str,
        ethertype: str = "IPv4",
        protocol: str | None = None,
        port_range_min: int | None = None,
        port_range_max: int | None = None,
        remote_ip_prefix: str | None = None,
        remote_group_id: str | None = None,
        description: str = "",
    ) -> SecurityGroupRule:
        if direction not in DIRECTIONS:
            raise BadRequest(
                f"Invalid direction {direction!r}: a rule is ingress or egress", kind="InvalidInput"
            )
        if ethertype not in ETHERTYPES:
            raise BadRequest(
                f"Invalid ethertype {ethertype!r}: a rule is for IPv4 or IPv6", kind="InvalidInput"
            )
        protocol = _protocol(protocol)
        _check_ports(protocol, port_range_min, port_range_max)
        if remote_ip_prefix is not None and remote_group_id is not None:
            raise BadRequest(
                "Only remote_ip_prefix or remote_group_id may be provided.", kind="InvalidInput"
            )
        if remote_ip_prefix is not None:
            remote_ip_prefix = _prefix(remote_ip_prefix, ethertype)
        with self.db.transaction() as s:
            group = SECURITY_GROUPS.get(s, ctx, security_group_id)
            policy.enforce(ctx, "network:create_security_group_rule", group.project_id)
            if remote_group_id is not None:
                SECURITY_GROUPS.get(s, ctx, remote_group_id)
            values = {
                "direction": direction,
                "ethertype": ethertype,
                "protocol": protocol,
                "port_range_min": port_range_min,
                "port_range_max": port_range_max,
                "remote_ip_prefix": remote_ip_prefix,
                "remote_group_id": remote_group_id,
            }
            for rule in group.rules:
                if all(getattr(rule, k) == v for k, v in values.items()):
                    raise Conflict(
                        f"Security group rule already exists. Rule id is {rule.id}.",
                        kind="SecurityGroupRuleExists",
                    )
            rule = SecurityGroupRule(
                project_id=group.project_id,
                security_group_id=group.id,
                description=description,
                **values,
            )
            s.add(rule)
            group.bump()
            s.flush()
            return rule

    def delete_security_group_rule(self, ctx: RequestContext, rule_id: str) -> None:
        with self.db.transaction() as s:
            rule = SECURITY_GROUP_RULES.get(s, ctx, rule_id)
            policy.enforce(ctx, "network:delete_security_group_rule", rule.project_id)
            s.delete(rule)


def _protocol(protocol: str | None) -> str | None:
    if protocol is None or protocol.lower() in ("any", ""):
        return None
    lowered = protocol.lower()
    if lowered in PROTOCOL_NUMBERS:
        return lowered
    if lowered.isdigit() and 0 <= int(lowered) <= 255:
        return str(int(lowered))
    raise BadRequest(
        f"Security group rule protocol {protocol} not supported: use a name "
        f"({', '.join(sorted(PROTOCOL_NUMBERS))}) or a number 0-255",
        kind="SecurityGroupRuleInvalidProtocol",
    )


def _check_ports(protocol: str | None, low: int | None, high: int | None) -> None:
    if low is None and high is None:
        return
    if protocol in PORT_PROTOCOLS:
        if low is None or high is None:
            raise BadRequest(
                "port_range_min and port_range_max go together for a port range",
                kind="SecurityGroupInvalidPortRange",
            )
        if not (1 <= low <= 65535 and 1 <= high <= 65535) or low > high:
            raise BadRequest(
                f"Invalid port range {low}-{high}: ports are 1-65535 and the minimum is not "
                "above the maximum",
                kind="SecurityGroupInvalidPortRange",
            )
        return
    if protocol in ICMP_PROTOCOLS:
        for what, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise BadRequest(
                    f"Invalid ICMP {what} {value}: it is 0-255",
                    kind="SecurityGroupInvalidIcmpValue",
                )
        return
    raise BadRequest(
        f"Port ranges need protocol tcp, udp, sctp, udplite, dccp or icmp, not {protocol}",
        kind="SecurityGroupInvalidPortRange",
    )


def _prefix(value: str, ethertype: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise BadRequest(
            f"'{value}' is not a valid remote_ip_prefix", kind="InvalidInput"
        ) from None
    if net.version != ETHERTYPES[ethertype]:
        raise BadRequest(
            f"remote_ip_prefix {net} does not match ethertype {ethertype}", kind="InvalidInput"
        )
    return str(net)
