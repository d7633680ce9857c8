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

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from passnic.agent.drivers import GuestState, HypervisorDriver, HypervisorError
from passnic.agent.images import CHUNK, GlanceImages
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
#: after a guest changed or printed, its console is followed this long, the long-poll cut to
#: ``CONSOLE_POLL_SECONDS``, so os-getConsoleOutput shows a booting guest's lines within
#: moments (the controller never calls a host) and new work is still taken at once
CONSOLE_FOLLOW_SECONDS = 60.0
CONSOLE_POLL_SECONDS = 2.0


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

    def token(self) -> str:
        """The agent's current Keystone token (logging in when it has none)."""
        if self._token is None:
            self._token = self._login(self.http)
        return self._token

    def images(self) -> GlanceImages:
        """The controller's image API (Glance v2 under ``/image``) with the agent's token."""
        return GlanceImages(self.http, f"{self.base}/image", self.token, self.forget_token)

    def forget_token(self) -> None:
        """The token was refused (expired): the next call logs in again."""
        self._token = None

    def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        content: Callable[[], Iterator[bytes]] | None = None,
    ) -> httpx.Response:
        """One call with the token, logging in again once on 401 (``content`` is made anew
        for the second try); the response is streamed: the caller closes it."""
        for attempt in (1, 2):
            request = self.http.build_request(
                method,
                f"{self.base}{path}",
                headers={**(headers or {}), "X-Auth-Token": self.token()},
                content=content() if content is not None else None,
            )
            try:
                response = self.http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise AgentError(f"cannot reach the controller at {self.base}: {exc}") from exc
            if response.status_code == 401 and attempt == 1:
                response.close()
                self._token = None
                continue
            return response
        raise AgentError("unreachable")  # pragma: no cover

    def put_file(self, path: str, source: Path) -> None:
        """Upload a file (a guest's disk), with its SHA-256 for the controller to check."""
        digest = _sha256(source)

        def chunks() -> Iterator[bytes]:
            with open(source, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        response = self._send(
            "PUT",
            path,
            headers={"Content-Type": "application/octet-stream", "X-Sha256": digest},
            content=chunks,
        )
        try:
            _check(response, path)
        finally:
            response.close()

    def get_file(self, path: str, target: Path) -> bool:
        """Download to ``target`` (written whole or not at all, checked against the
        controller's SHA-256); False when the controller has no such file (404)."""
        response = self._send("GET", path)
        try:
            if response.status_code == 404:
                return False
            _check(response, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                digest = hashlib.sha256()
                with os.fdopen(fd, "wb") as handle:
                    for chunk in response.iter_bytes(CHUNK):
                        digest.update(chunk)
                        handle.write(chunk)
                if digest.hexdigest() != response.headers.get("X-Sha256"):
                    raise AgentError(f"{path} arrived damaged (its SHA-256 does not match)")
                os.replace(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
        finally:
            response.close()
        return True

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


def _check(response: httpx.Response, path: str) -> None:
    if response.is_error:
        response.read()
        raise AgentError(
            f"the controller answered {response.status_code} to {path}: {response.text[:500]}"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def password_login(
    auth_url: str, username: str, password: str, project: str, domain: str = "Default"
) -> Callable[[httpx.Client], str]:
    """Keystone v3 password authentication, scoped to the agent's project."""
    identity = {
        "methods": ["password"],
        "password": {"user": {"name": username, "password": password, "domain": {"name": domain}}},
    }
    scope = {"project": {"name": project, "domain": {"name": domain}}}
    return _keystone_login(auth_url, {"identity": identity, "scope": scope})


def application_credential_login(
    auth_url: str, credential_id: str, secret: str
) -> Callable[[httpx.Client], str]:
    """Keystone v3 application credential authentication (its project and roles are the
    credential's own, so no scope is sent)."""
    identity = {
        "methods": ["application_credential"],
        "application_credential": {"id": credential_id, "secret": secret},
    }
    return _keystone_login(auth_url, {"identity": identity})


def _keystone_login(auth_url: str, auth: dict[str, Any]) -> Callable[[httpx.Client], str]:
    def login(http: httpx.Client) -> str:
        try:
            response = http.post(f"{auth_url.rstrip('/')}/v3/auth/tokens", json={"auth": auth})
        except httpx.HTTPError as exc:
            raise AgentError(f"cannot reach Keystone at {auth_url}: {exc}") from exc
        if response.status_code != 201:
            raise AgentError(f"Keystone refused the agent's credential ({response.status_code})")
        return response.headers["X-Subject-Token"]

    return login


@dataclass
class _Memory:
    """What the agent keeps across its own restarts (the guests themselves live in the
    hypervisor): reboots done per guest, and the parked guests whose disk the controller has
    (an agent killed during an upload sends the disk again)."""

    path: Path | None
    reboots: dict[str, int] = field(default_factory=dict)
    uploaded: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path | None) -> _Memory:
        if path is None or not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        reboots = {k: int(v) for k, v in data.get("reboots", {}).items()}
        return cls(path, reboots, set(data.get("uploaded", [])))

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"reboots": self.reboots, "uploaded": sorted(self.uploaded)}))
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
        self._follow_until = 0.0  # see CONSOLE_FOLLOW_SECONDS
        self.heartbeat_timeout = 30.0
        #: in a long-poll, touching nothing: the moment a stop may cut short
        self.waiting = False

    # ---- one round ----

    def sync_once(self, wait: float = 0.0) -> bool:
        """Report, receive, converge. True when it changed something on the host (then the
        next round reports at once)."""
        heard = self._hear()
        if self.inventory is not None and (not self._inventory_sent or heard != self._heard):
            report = with_neighbours(self.inventory(), heard).model_copy(
                update={"prerequisites": self.driver.prerequisites()}
            )
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
                if acted:
                    self._follow_until = time.monotonic() + CONSOLE_FOLLOW_SECONDS
                wait = 0.0 if acted else min(LONG_POLL_SECONDS, self.heartbeat_timeout / 3)
                if not acted and time.monotonic() < self._follow_until:
                    # a short long-poll, then report the console again; new work still
                    # answers it at once
                    wait = CONSOLE_POLL_SECONDS
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
            if want.power == "parked" and self.driver.guests().get(want.spec.server_id) == "parked":
                self._upload_disk(want.spec.server_id)
        for want in desired:
            if want.power in ("running", "stopped"):
                acted |= self._bring(want, have.get(want.spec.server_id))
        for want in desired:
            sid = want.spec.server_id
            if want.power == "parked" and sid not in self._memory.uploaded:
                continue  # parked, but its disk is not with the controller yet
            if _matches(want, self.driver.guests().get(sid), self._memory.reboots.get(sid, 0)):
                self._versions[sid] = want.version
        stale = {s for s in self._memory.uploaded if s not in wanted or wanted[s].power != "parked"}
        if stale:
            self._memory.uploaded -= stale
            self._memory.save()
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

            def move_in() -> None:
                if spec.migrated_from is not None:
                    self._download_disk(sid)
                self.driver.migrate_in(spec, running)

            return self._act(sid, want, move_in)
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
        except AgentError:
            raise  # the controller, not the guest: the loop retries after a pause
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

    # ---- a cold migration's disk ----

    def _disk_path(self, server_id: str) -> str:
        return f"/agent/v1/hosts/{self.hostname}/disks/{server_id}"

    def _upload_disk(self, server_id: str) -> None:
        """Source side: the parked guest's disk goes to the controller, once (again after a
        crash mid-way: the controller keeps only a whole, verified upload)."""
        if server_id in self._memory.uploaded:
            return
        disk = self.driver.disk_file(server_id)
        if disk is not None and disk.exists():
            log.info("agent %s: uploading the disk of %s", self.hostname, server_id)
            self.client.put_file(self._disk_path(server_id), disk)
        self._memory.uploaded.add(server_id)
        self._memory.save()

    def _download_disk(self, server_id: str) -> None:
        """Destination side: the disk the source uploaded, put where the driver keeps it
        (nothing when the source had none)."""
        disk = self.driver.disk_file(server_id)
        if disk is not None:
            self.client.get_file(self._disk_path(server_id), disk)

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
            if fresh is not None:
                self._follow_until = time.monotonic() + CONSOLE_FOLLOW_SECONDS
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
