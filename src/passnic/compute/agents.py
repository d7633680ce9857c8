"""The boundary between the controller and the compute hosts.

Each compute host runs an agent; the agent runs the hypervisor driver chosen for that host and
is the only thing that touches guests. The compute service talks to a host only through the
``HostAgent`` protocol below, and only OUTSIDE its database transactions (an agent call may be
slow; the claims it depends on are already committed).

``LocalAgent`` runs a driver in the controller's process: the sample cloud uses it with the fake
driver, one per host, created on first use.

A remote agent plugs in by implementing the same six calls over HTTP and registering itself in
the directory (``AgentDirectory.register(hostname, agent)``), e.g. an ``HttpAgent`` that sends
``POST {agent_url}/v1/guests`` with the ``GuestSpec`` as JSON for ``spawn``,
``DELETE /v1/guests/{server_id}`` for ``destroy``, and ``POST /v1/guests/{server_id}/action``
with ``{"power_off": null}``, ``{"power_on": null}``, ``{"reboot": {"hard": bool}}``,
``{"migrate_out": null}``, ``{"migrate_in": {"guest": {...}, "power_on": bool}}`` for the
rest, and turns any non-2xx answer (or a timeout) into ``HypervisorError`` carrying the agent's
message. The host agent process would serve those routes with its own driver; it already holds a
token to report its inventory (``passnic.agent.reporter``), and the controller would learn the
agent URL from that report.
"""

from __future__ import annotations

import threading
from typing import Protocol

from passnic.compute.hypervisor import DriverFactory, GuestSpec, HypervisorDriver, driver_factory


class HostAgent(Protocol):
    """What the controller may ask of a compute host. Raises ``HypervisorError``."""

    def spawn(self, guest: GuestSpec) -> None: ...

    def destroy(self, server_id: str) -> None: ...

    def power_off(self, server_id: str) -> None: ...

    def power_on(self, server_id: str) -> None: ...

    def reboot(self, server_id: str, hard: bool) -> None: ...

    def migrate_out(self, server_id: str) -> None: ...

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None: ...


class LocalAgent:
    """An agent in the controller's own process: calls its driver directly."""

    def __init__(self, hostname: str, driver: HypervisorDriver) -> None:
        self.hostname = hostname
        self.driver = driver

    def spawn(self, guest: GuestSpec) -> None:
        self.driver.spawn(guest)

    def destroy(self, server_id: str) -> None:
        self.driver.destroy(server_id)

    def power_off(self, server_id: str) -> None:
        self.driver.power_off(server_id)

    def power_on(self, server_id: str) -> None:
        self.driver.power_on(server_id)

    def reboot(self, server_id: str, hard: bool) -> None:
        self.driver.reboot(server_id, hard)

    def migrate_out(self, server_id: str) -> None:
        self.driver.migrate_out(server_id)

    def migrate_in(self, guest: GuestSpec, power_on: bool) -> None:
        self.driver.migrate_in(guest, power_on)


class AgentDirectory:
    """hostname -> its agent. Hosts without a registered agent get a ``LocalAgent`` running
    the default driver (``fake`` unless told otherwise)."""

    def __init__(self, default_driver: str | DriverFactory = "fake") -> None:
        self._factory = (
            driver_factory(default_driver) if isinstance(default_driver, str) else default_driver
        )
        self._agents: dict[str, HostAgent] = {}
        self._lock = threading.Lock()

    def register(self, hostname: str, agent: HostAgent) -> None:
        with self._lock:
            self._agents[hostname] = agent

    def for_host(self, hostname: str) -> HostAgent:
        with self._lock:
            agent = self._agents.get(hostname)
            if agent is None:
                agent = LocalAgent(hostname, self._factory(hostname))
                self._agents[hostname] = agent
            return agent

    def local(self, hostname: str) -> LocalAgent:
        """The in-process agent of a host (tests reach its driver through it)."""
        agent = self.for_host(hostname)
        if not isinstance(agent, LocalAgent):
            raise TypeError(f"host {hostname} has a remote agent")
        return agent
