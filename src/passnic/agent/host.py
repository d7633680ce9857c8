"""The host agent: the service on each compute host that runs its hypervisor driver.

It connects OUT to the controller (a compute host needs no listening port), authenticates
with its host's credential, reports the host's inventory once, then loops: tell the controller
what the hypervisor runs, get back what it should run, make it so. The loop is
level-triggered: after either side restarts it compares and repairs; it replays nothing. When
nothing is to be done it waits in the controller (long-poll) for the next change, so new work
reaches it within moments without polling.

Convergence order matters for passthrough: guests to remove go first, then guests to park
(their NICs are freed), and only then guests to start, so a NIC handed from one server to
another on the same host is free before it is taken.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from passnic.agent.drivers import GuestState, HypervisorDriver, HypervisorError
from passnic.agent.lldp import Neighbour, with_neighbours
from passnic.compute.protocol import (
    MAX_CONSOLE,
    ActualGuest,
    DesiredGuest,
    SyncAnswer,
    SyncRequest,
)
from passnic.inventory.report import HostReport

log = logging.getLogger(__name__)

#: longest a sync may wait in the controller; well under any heartbeat time-out
LONG_POLL_SECONDS = 20.0
#: the HTTP client's time-out: a long-poll plus room for a slow controller
HTTP_TIMEOUT_SECONDS = LONG_POLL_SECONDS + 30.0
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)


class AgentError(Exception):
    """The controller refused a call or could not be reached."""


class ControllerClient:
    """The agent's HTTP calls to the controller, with a Keystone token renewed on 401."""

    def __init__(
        self, http: httpx.Client, controller_url: str, login: Callable[[httpx.Client], str]
    ) -> None:
        self.http = http
        self.base = controller_url.rstrip("/")
        self._login = login
        self._token: str | None = None

    def post(self, path: str, body: Any) -> Any:
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login(self.http)
            try:
                response = self.http.post(
                    f"{self.base}{path}",
                    json=body,
                    headers={"X-Auth-Token": self._token},
                )
            except httpx.HTTPError as exc:
                raise AgentError(f"cannot reach the controller at {self.base}: {exc}") from exc
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired or revoked: log in again once
                continue
            if response.is_error:
                raise AgentError(
                    f"the controller answered {response.status_code} to {path}: "
                    f"{response.text[:500]}"
                )
            return response.json()
        raise AgentError("unreachable")  # pragma: no cover - the loop always returns or raises


def password_login(
    auth_url: str, username: str, password: str, project: str, domain: str = "Default"
) -> Callable[[httpx.Client], str]:
    """Keystone v3 password authentication, scoped to the agent's project."""

    def login(http: httpx.Client) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": username, "password": password, "domain": {"name": domain}}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"name": domain}}},
            }
        }
        try:
            response = http.post(f"{auth_url.rstrip('/')}/v3/auth/tokens", json=body)
        except httpx.HTTPError as exc:
            raise AgentError(f"cannot reach Keystone at {auth_url}: {exc}") from exc
        if response.status_code != 201:
            raise AgentError(f"Keystone refused the agent's credential ({response.status_code})")
        return response.headers["X-Subject-Token"]

    return login


@dataclass
class _Memory:
    """What the agent keeps across its own restarts (the guests themselves live in the
    hypervisor): reboots done per guest, and the failures it must not retry blindly."""

    path: Path | None
    reboots: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> _Memory:
        if path is None or not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(path, {k: int(v) for k, v in data.get("reboots", {}).items()})

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"reboots": self.reboots}))
        os.replace(tmp, self.path)


class HostAgent:
    def __init__(
        self,
        hostname: str,
        driver: HypervisorDriver,
        client: ControllerClient,
        *,
        state_dir: Path | None = None,
        inventory: Callable[[], HostReport] | None = None,
        lldp: Callable[[], Mapping[str, Neighbour]] | None = None,
    ) -> None:
        self.hostname = hostname
        self.driver = driver
        self.client = client
        self.inventory = inventory
        #: what each NIC hears over LLDP now; a change sends the inventory again
        self.lldp = lldp
        self._heard: dict[str, Neighbour] = {}
        self._memory = _Memory.load(state_dir / "agent.json" if state_dir else None)
        self._errors: dict[str, tuple[int, str]] = {}  # server id -> (version, message)
        self._versions: dict[str, int] = {}  # server id -> the version it last converged
        self._consoles: dict[str, str] = {}  # server id -> the console last sent
        self._generation: int | None = None
        self._desired: list[DesiredGuest] | None = None
        self._inventory_sent = False
        self.heartbeat_timeout = 30.0
        #: in a long-poll, touching nothing: the moment a stop may cut short
        self.waiting = False

    # ---- one round ----

    def sync_once(self, wait: float = 0.0) -> bool:
        """Report, receive, converge. True when it changed something on the host (then the
        next round reports at once)."""
        heard = self._hear()
        if self.inventory is not None and (not self._inventory_sent or heard != self._heard):
            report = with_neighbours(self.inventory(), heard)
            self.client.post(
                f"/agent/v1/hosts/{self.hostname}/inventory", report.model_dump(mode="json")
            )
            self._inventory_sent, self._heard = True, heard
        request = SyncRequest(
            generation=self._generation, guests=self._actual(), wait=wait
        ).model_dump(mode="json")
        self.waiting = wait > 0
        try:
            answer = SyncAnswer.model_validate(
                self.client.post(f"/agent/v1/hosts/{self.hostname}/sync", request)
            )
        finally:
            self.waiting = False
        self._generation = answer.generation
        self._desired = answer.guests
        self.heartbeat_timeout = answer.heartbeat_timeout
        return self.converge(answer.guests)

    def _hear(self) -> dict[str, Neighbour]:
        if self.lldp is None:
            return {}
        try:
            return dict(self.lldp())
        except Exception:  # hearing nothing new must never stop the agent
            log.exception("agent %s: LLDP", self.hostname)
            return self._heard

    def run(self, stop: threading.Event) -> None:
        """Sync until ``stop``: at once after a change, else a long-poll; back off on errors.
        A second thread beats the heart meanwhile: a hypervisor call may take longer than the
        controller waits before it calls a host offline."""
        beating = threading.Thread(target=self._beat, args=(stop,), name="heartbeat", daemon=True)
        beating.start()
        failures = 0
        acted = True
        while not stop.is_set():
            try:
                wait = 0.0 if acted else min(LONG_POLL_SECONDS, self.heartbeat_timeout / 3)
                acted = self.sync_once(wait)
                failures = 0
            except (AgentError, httpx.HTTPError, ValueError) as exc:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("agent %s: %s (again in %.1f s)", self.hostname, exc, delay)
                acted = True
                stop.wait(delay)

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_timeout / 3):
            try:
                answer = self.client.post(f"/agent/v1/hosts/{self.hostname}/heartbeat", {})
                self.heartbeat_timeout = float(answer["heartbeat_timeout"])
            except (AgentError, httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("agent %s: heartbeat: %s", self.hostname, exc)

    # ---- convergence ----

    def converge(self, desired: list[DesiredGuest]) -> bool:
        have = self.driver.guests()
        wanted = {d.spec.server_id: d for d in desired}
        acted = False
        for server_id in sorted(have):
            want = wanted.get(server_id)
            if want is None or want.power == "absent":
                acted |= self._act(server_id, want, partial(self.driver.destroy, server_id))
        for want in desired:
            if want.power == "parked" and have.get(want.spec.server_id) in ("running", "stopped"):
                sid = want.spec.server_id
                acted |= self._act(sid, want, partial(self.driver.migrate_out, sid))
        for want in desired:
            if want.power in ("running", "stopped"):
                acted |= self._bring(want, have.get(want.spec.server_id))
        for want in desired:
            state = self.driver.guests().get(want.spec.server_id)
            if _matches(want, state, self._memory.reboots.get(want.spec.server_id, 0)):
                self._versions[want.spec.server_id] = want.version
        for gone in set(self._memory.reboots) - set(self.driver.guests()):
            del self._memory.reboots[gone]
            self._memory.save()
        return acted

    def _bring(self, want: DesiredGuest, state: GuestState | None) -> bool:
        sid, running = want.spec.server_id, want.power == "running"
        spec = want.spec
        if state is None:
            if running and spec.migrated_from is None:
                return self._act(sid, want, lambda: self.driver.spawn(spec))
            return self._act(sid, want, lambda: self.driver.migrate_in(spec, running))
        if state == "parked":
            return self._act(sid, want, lambda: self.driver.migrate_in(spec, running))
        if state == "running" and not running:
            return self._act(sid, want, lambda: self.driver.power_off(sid))
        if state == "stopped" and running:
            return self._act(sid, want, lambda: self.driver.power_on(sid))
        done = self._memory.reboots.get(sid, 0)
        if running and done < want.reboots:

            def reboot() -> None:
                self.driver.reboot(sid, hard=True)
                self._memory.reboots[sid] = want.reboots
                self._memory.save()

            return self._act(sid, want, reboot)
        return False

    def _act(self, server_id: str, want: DesiredGuest | None, call: Callable[[], None]) -> bool:
        """Run one driver call, unless this very wish already failed (a new wish retries)."""
        version = want.version if want is not None else -1
        failed = self._errors.get(server_id)
        if failed is not None and failed[0] == version:
            return False
        try:
            call()
        except HypervisorError as exc:
            log.warning("agent %s: guest %s: %s", self.hostname, server_id, exc.message)
            self._errors[server_id] = (version, exc.message)
            return True
        except Exception as exc:  # a driver bug must not stop the agent; say what it was
            log.exception("agent %s: guest %s", self.hostname, server_id)
            self._errors[server_id] = (version, f"{type(exc).__name__}: {exc}")
            return True
        self._errors.pop(server_id, None)
        owed = want is not None and want.reboots > self._memory.reboots.get(server_id, 0)
        if owed and want is not None and want.power != "absent":
            # a guest defined or started again from its spec starts fresh: no reboot is owed
            self._memory.reboots[server_id] = want.reboots
            self._memory.save()
        return True

    def _actual(self) -> list[ActualGuest]:
        have = self.driver.guests()
        wanted = {d.spec.server_id: d for d in self._desired or []}
        out = []
        for server_id in sorted(set(have) | set(self._errors)):
            failed = self._errors.get(server_id)
            want = wanted.get(server_id)
            if failed is not None and want is not None and failed[0] == want.version:
                out.append(
                    ActualGuest(
                        server_id=server_id,
                        state="error",
                        version=failed[0],
                        error=failed[1][:4096],
                    )
                )
                continue
            if server_id not in have:
                continue
            console = self.driver.console(server_id)[-MAX_CONSOLE:]
            fresh = console if console != self._consoles.get(server_id) else None
            self._consoles[server_id] = console
            out.append(
                ActualGuest(
                    server_id=server_id,
                    state=have[server_id],
                    version=self._versions.get(server_id, 0),
                    reboots=self._memory.reboots.get(server_id, 0),
                    console=fresh,
                )
            )
        return out


def _matches(want: DesiredGuest, state: GuestState | None, reboots: int) -> bool:
    if want.power == "absent":
        return state is None
    return state == want.power and (want.power != "running" or reboots >= want.reboots)
