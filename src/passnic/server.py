"""Running the controller: prepare the database and sample cloud, then serve every API."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn

from passnic.app import create_app
from passnic.bootstrap import (
    Credential,
    bootstrap_sample_cloud,
    ensure_sample_agents,
    load_credentials,
    write_clouds_yaml,
)
from passnic.cloud import Cloud
from passnic.config import Settings, private_dir
from passnic.image.guest import default_cache
from passnic.logs import logging_options
from passnic.supervisor import AgentSupervisor

#: a data plane other than the fake one (the lab): entered with the cloud before the agents
#: start, it says what it is (a line for the operator) and is left however serving ends
DataPlane = Callable[[Cloud], AbstractContextManager[str]]


@dataclass(frozen=True)
class Prepared:
    clouds_yaml: Path
    auth_url: str
    credentials: list[Credential]
    bootstrapped: bool
    #: the sample compute hosts' agent config files
    agents: list[Path]


def prepare(settings: Settings, host: str, port: int) -> Prepared:
    """Migrate; on an empty database create the sample cloud; (re)write clouds.yaml and the
    sample hosts' agent configs."""
    private_dir(settings.home)
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    auth_url = f"http://{reach}:{port}/identity"
    cloud = Cloud(settings)
    try:
        cloud.db.migrate()
        fresh = not cloud.identity.is_bootstrapped()
        creds = (
            bootstrap_sample_cloud(cloud, default_cache())
            if fresh
            else load_credentials(settings.home)
        )
        agents = ensure_sample_agents(cloud, auth_url)
    finally:
        cloud.close()
    path = write_clouds_yaml(settings.home, auth_url, creds)
    return Prepared(path, auth_url, creds, fresh, agents)


#: how long a stopping server waits for requests under way: the agents' long-polls are cut
#: short, not waited for
GRACEFUL_SHUTDOWN_SECONDS = 2
#: how long an idle client connection stays open: longer than clients poll (the openstack
#: CLI's --wait every 5 s, uvicorn's default keep-alive), else the server may close a
#: connection just as the client reuses it and the client fails with "Remote end closed
#: connection without response"
KEEP_ALIVE_SECONDS = 75


class ThreadServer:
    """The API served from a thread of this process, configured as ``passnic up`` serves it
    (the demo and the live tests): ``start`` returns once it listens, ``stop`` ends it."""

    def __init__(self, cloud: Cloud, host: str, port: int, name: str = "controller") -> None:
        config = uvicorn.Config(
            create_app(cloud),
            host=host,
            port=port,
            log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def start(self, timeout: float = 20.0) -> str:
        """Its URL once it listens; RuntimeError when it does not within ``timeout``."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the controller did not start at {self.url}")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)


FAKE_LINE = "Data plane: fake hypervisor and in-process switch ({reason})"


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int = 1,
    *,
    data_plane: DataPlane | None = None,
    agents: list[Path] | None = None,
    say: Callable[[str], None] = print,
    fake_reason: str = "not root / no namespaces",
    log_level: str = "info",
) -> None:
    """Serve until SIGINT/SIGTERM. uvicorn shuts down gracefully, then re-raises the signal it
    caught; our handlers make that final signal a clean exit (status 0).

    The sample hosts' agents (config files ``agents``) run as separate processes, supervised
    here and stopped on the way out. A `data_plane` (one worker only; the lab, which
    ``passnic up`` passes) is entered before the agents start and left however serving ends;
    this module knows nothing of what it is."""
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    if data_plane is not None and workers > 1:
        raise ValueError("the lab data plane needs a single worker")
    settings = replace(settings, workers=workers)  # the fabric refuses its test switch if > 1
    supervisor = AgentSupervisor(agents or [])
    cloud = Cloud(settings)
    with contextlib.ExitStack() as stack:
        stack.callback(cloud.close)
        if data_plane is not None:
            say(stack.enter_context(data_plane(cloud)))
        else:
            say(FAKE_LINE.format(reason=fake_reason))
        stack.callback(supervisor.stop)
        supervisor.start()
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
            "timeout_keep_alive": KEEP_ALIVE_SECONDS,
            **logging_options(log_level),
        }
        if workers > 1:
            # Worker processes re-import the app; the environment carries the settings.
            os.environ.update(settings.export())
            uvicorn.run("passnic.app:create_app", factory=True, workers=workers, **options)
        else:
            uvicorn.run(create_app(cloud), **options)
