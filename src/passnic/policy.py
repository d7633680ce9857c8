"""Policy as a table of (action -> rule). Each domain registers its own rows.

A rule is a name from RULES; it sees the caller and the target: the project that owns it and,
for identity, the user it is about. Unknown actions are denied, so forgetting a row fails closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from passnic.context import RequestContext
from passnic.errors import Forbidden

Rule = Callable[[RequestContext, str | None, str | None], bool]

RULES: dict[str, Rule] = {
    "admin": lambda ctx, _owner, _user: ctx.is_admin,
    "reader": lambda ctx, _owner, _user: ctx.is_admin or "reader" in ctx.roles,
    "member": lambda ctx, _owner, _user: bool(ctx.roles & {"admin", "member"}),
    "owner": lambda ctx, owner, _user: ctx.owns(owner),
    "self": lambda ctx, _owner, user: ctx.is_admin or user == ctx.user_id,
    "any": lambda _ctx, _owner, _user: True,
}

_TABLE: dict[str, str] = {}


def register(rows: Mapping[str, str]) -> None:
    """Add a domain's rows; each value must name a rule in RULES."""
    for action, rule in rows.items():
        if rule not in RULES:
            raise ValueError(f"policy row {action!r} names unknown rule {rule!r}")
    _TABLE.update(rows)


def allowed(
    ctx: RequestContext, action: str, owner: str | None = None, *, user_id: str | None = None
) -> bool:
    rule = _TABLE.get(action)
    return rule is not None and RULES[rule](ctx, owner, user_id)


def enforce(
    ctx: RequestContext, action: str, owner: str | None = None, *, user_id: str | None = None
) -> None:
    """Raise Forbidden unless the action's rule admits the caller for this target."""
    if not allowed(ctx, action, owner, user_id=user_id):
        raise Forbidden(f"Policy does not allow {action} to be performed.")


def table() -> dict[str, str]:
    return dict(_TABLE)
