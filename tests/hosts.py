"""Compute hosts for in-process tests: each host's agent is Passnic's own ``HostAgent`` running
the fake driver in the test process and talking to the controller over HTTP through the test
client, exactly as a real agent does. ``settle`` plays conductor and agents in turn until
nothing moves, so a test sees each operation's end state without sleeping."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from passnic.agent.drivers.fake import FakeDriver
from passnic.agent.host import ControllerClient, HostAgent
from passnic.cloud import Cloud
from passnic.compute.models import Guest, Server


class Hosts:
    def __init__(
        self, api: TestClient, cloud: Cloud, admin_token: str, state_dir: Path | None = None
    ) -> None:
        self.api = api
        #: each host's agent and fake driver keep their state under ``state_dir/<host>`` (the
        #: fake guests then have disk files that a cold migration carries)
        self.state_dir = state_dir
        self.cloud = cloud
        self.token = admin_token
        self.agents: dict[str, HostAgent] = {}
        self.down: set[str] = set()

    def agent(self, hostname: str) -> HostAgent:
        if hostname not in self.agents:
            client = ControllerClient(self.api, "", lambda _http: self.token)
            state = self.state_dir / hostname if self.state_dir is not None else None
            self.agents[hostname] = HostAgent(
                hostname, FakeDriver(hostname, state), client, state_dir=state
            )
        return self.agents[hostname]

    def driver(self, hostname: str) -> FakeDriver:
        driver = self.agent(hostname).driver
        assert isinstance(driver, FakeDriver)
        return driver

    def hostnames(self) -> list[str]:
        return [h.hostname for h in self.cloud.inventory.compute_hosts()]

    def sync(self) -> bool:
        """One round of every running agent; True when one changed its host."""
        acted = False
        for hostname in self.hostnames():
            if hostname not in self.down:
                acted |= self.agent(hostname).sync_once(0)
        return acted

    def _signature(self) -> tuple[object, ...]:
        """Everything a round can move: operations under way, and what hosts were told and
        said."""
        with self.cloud.db.transaction() as s:
            guests = s.execute(
                select(
                    Guest.server_id,
                    Guest.hostname,
                    Guest.version,
                    Guest.actual_version,
                    Guest.actual_state,
                ).order_by(Guest.server_id, Guest.hostname)
            ).all()
            servers = s.execute(
                select(Server.id, Server.status, Server.task_state, Server.host).order_by(Server.id)
            ).all()
        return tuple(guests), tuple(servers)

    def settle(self, rounds: int = 40) -> None:
        for _ in range(rounds):
            before = self._signature()
            self.cloud.conductor.drain()
            acted = self.sync()
            self.cloud.conductor.drain()
            if not acted and self._signature() == before:
                return
