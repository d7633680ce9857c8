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
* ``PUT /agent/v1/hosts/{hostname}/disks/{server_id}`` (the source host's agent, header
  ``X-Sha256``) the disk of a guest it holds parked during a cold migration -> 204.
* ``GET /agent/v1/hosts/{hostname}/disks/{server_id}`` (the destination host's agent) -> the
  disk with its ``X-Sha256``; 404 when the source had no disk to send.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from passnic.compute.protocol import AgentCredential, SyncAnswer, SyncRequest
from passnic.context import RequestContext
from passnic.errors import BadRequest
from passnic.inventory.report import HostReport
from passnic.inventory.routes import host_json
from passnic.web import CloudDep, ContextDep, base_url, register_streamed_upload, streamed_body

router = APIRouter(prefix="/agent/v1", tags=["agent"])
register_streamed_upload("PUT", r"/agent/v1/hosts/[^/]+/disks/[^/]+")

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


@router.put("/hosts/{hostname}/disks/{server_id}", status_code=204)
async def put_disk(
    request: Request, hostname: str, server_id: str, cloud: CloudDep, ctx: ContextDep
) -> Response:
    """Streamed to a file from a worker thread, a chunk at a time (as an image upload)."""

    sha256 = request.headers.get("x-sha256")
    await anyio.to_thread.run_sync(
        cloud.hosts.receive_disk,
        ctx,
        hostname,
        server_id,
        streamed_body(request, "The agent disconnected before sending the whole disk."),
        sha256,
    )
    return Response(status_code=204)


@router.get("/hosts/{hostname}/disks/{server_id}")
def get_disk(hostname: str, server_id: str, cloud: CloudDep, ctx: ContextDep) -> Response:
    path, sha256 = cloud.hosts.disk(ctx, hostname, server_id)
    return FileResponse(path, media_type="application/octet-stream", headers={"X-Sha256": sha256})
