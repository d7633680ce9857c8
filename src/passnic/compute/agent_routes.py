"""The host agents' API under ``/agent/v1`` (Passnic's own; agents connect out to it).

* ``POST /agent/v1/hosts/{hostname}/credential`` (admin) -> ``AgentCredential``: a Keystone
  user that may act as this host's agent and nothing else (a new password each call).
* ``POST /agent/v1/hosts/{hostname}/inventory`` (the host's agent) ``HostReport`` -> the host,
  as the inventory API shows it.
* ``POST /agent/v1/hosts/{hostname}/heartbeat`` (the host's agent) -> ``{"heartbeat_timeout"}``:
  sent on its own while a slow hypervisor call keeps the agent from syncing.
* ``POST /agent/v1/hosts/{hostname}/sync`` (the host's agent) ``SyncRequest`` ->
  ``SyncAnswer``: a heartbeat with what the host runs; the answer is what it should run. When
  the agent already has the newest generation and reported nothing new, the answer waits up
  to ``wait`` seconds for a change (long-poll), whichever worker the change happened in.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from passnic.compute.protocol import AgentCredential, SyncAnswer, SyncRequest
from passnic.context import RequestContext
from passnic.errors import BadRequest
from passnic.inventory.report import HostReport
from passnic.inventory.routes import host_json
from passnic.web import CloudDep, ContextDep, base_url

router = APIRouter(prefix="/agent/v1", tags=["agent"])

#: the inventory is written for the agent with the rights of the inventory's own agent calls
AGENT_REPORTER = RequestContext(
    user_id="passnic-agent",
    user_name="agent",
    project_id="",
    project_name="service",
    roles=frozenset({"admin"}),
)


@router.post("/hosts/{hostname}/credential")
def create_credential(
    request: Request, hostname: str, cloud: CloudDep, ctx: ContextDep
) -> AgentCredential:
    return cloud.hosts.create_agent_credential(ctx, hostname, f"{base_url(request)}/identity")


@router.post("/hosts/{hostname}/inventory")
def report_inventory(
    request: Request, hostname: str, report: HostReport, cloud: CloudDep, ctx: ContextDep
) -> Any:
    if report.hostname != hostname:
        raise BadRequest(f"This report is about {report.hostname}, not {hostname}.")
    with cloud.db.transaction() as s:
        cloud.hosts.authorize(s, ctx, hostname)
    return host_json(request, cloud.inventory.report_host(AGENT_REPORTER, report))


@router.post("/hosts/{hostname}/heartbeat")
def heartbeat(hostname: str, cloud: CloudDep, ctx: ContextDep) -> dict[str, float]:
    return {"heartbeat_timeout": cloud.hosts.heartbeat(ctx, hostname)}


@router.post("/hosts/{hostname}/sync")
async def sync(hostname: str, body: SyncRequest, cloud: CloudDep, ctx: ContextDep) -> SyncAnswer:
    hosts = cloud.hosts
    answer, changed = await run_in_threadpool(hosts.sync, ctx, hostname, body)
    if changed or body.wait <= 0 or body.generation != answer.generation:
        return answer
    with hosts.watch.subscription(hostname) as woken:
        # read again once subscribed: a change between the two reads is not lost
        if await run_in_threadpool(hosts.generation, hostname) == body.generation:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), body.wait)
    return await run_in_threadpool(hosts.answer, hostname)
