"""Nova's instance actions: what was asked of a server, and each step taken for it.

A step is written when it starts (``start``, in the transaction that decides to take it) and
again when it ends (``finish``), so after a crash the record shows where an operation stood,
and ``openstack server event show`` shows a user which NIC, which switch port and which spawn
took how long or failed with what.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from passnic.compute.models import InstanceAction, InstanceActionEvent, Server
from passnic.context import RequestContext
from passnic.db import new_uuid, utcnow
from passnic.logs import current_request_id

SUCCESS, ERROR = "Success", "Error"


def begin_action(s: Session, ctx: RequestContext, server: Server, action: str) -> InstanceAction:
    """Record a user's request on ``server`` and make it the server's current action."""
    row = InstanceAction(
        # the API request's own id (x-openstack-request-id), as Nova records it
        request_id=current_request_id.get() or f"req-{new_uuid()}",
        server_id=server.id,
        action=action,
        project_id=ctx.project_id or server.project_id,
        user_id=ctx.user_id,
        start_time=utcnow(),
    )
    s.add(row)
    s.flush()
    server.action_id = row.id
    return row


def start(s: Session, server: Server, event: str, host: str | None = None) -> None:
    """A step of the server's current action begins (again, after a restart: one row)."""
    if server.action_id is None:
        return
    found = _open(s, server.action_id, event)
    if found is None:
        s.add(
            InstanceActionEvent(
                action_id=server.action_id, event=event, host=host, start_time=utcnow()
            )
        )
    elif host is not None:
        found.host = host


def finish(
    s: Session,
    server: Server,
    event: str,
    *,
    error: str | None = None,
    details: str | None = None,
    host: str | None = None,
) -> None:
    """A step ends, well or with ``error``; a step never started is recorded whole."""
    if server.action_id is None:
        return
    row = _open(s, server.action_id, event)
    now = utcnow()
    if row is None:
        row = InstanceActionEvent(action_id=server.action_id, event=event, start_time=now)
        s.add(row)
    row.finish_time = now
    row.result = ERROR if error else SUCCESS
    row.details = error or details
    if host is not None:
        row.host = host
    if error:
        action = s.get(InstanceAction, server.action_id)
        if action is not None:
            action.message = ERROR


def end_action(s: Session, server: Server) -> None:
    """The operation is over (whatever its outcome)."""
    if server.action_id is None:
        return
    action = s.get(InstanceAction, server.action_id)
    if action is not None and action.finish_time is None:
        action.finish_time = utcnow()
    server.action_id = None


def _open(s: Session, action_id: int, event: str) -> InstanceActionEvent | None:
    return s.scalar(
        select(InstanceActionEvent)
        .where(
            InstanceActionEvent.action_id == action_id,
            InstanceActionEvent.event == event,
            InstanceActionEvent.finish_time.is_(None),
        )
        .order_by(InstanceActionEvent.id.desc())
        .limit(1)
    )


def list_actions(s: Session, server_id: str) -> list[InstanceAction]:
    return list(
        s.scalars(
            select(InstanceAction)
            .where(InstanceAction.server_id == server_id)
            .order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())
        )
    )


def get_action(s: Session, server_id: str, request_id: str) -> InstanceAction | None:
    return s.scalar(
        select(InstanceAction).where(
            InstanceAction.server_id == server_id, InstanceAction.request_id == request_id
        )
    )
