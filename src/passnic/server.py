"""Running the controller: prepare the database and sample cloud, then serve every API."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from passnic.app import create_app
from passnic.bootstrap import (
    Credential,
    bootstrap_sample_cloud,
    load_credentials,
    write_clouds_yaml,
)
from passnic.cloud import Cloud
from passnic.config import Settings


@dataclass(frozen=True)
class Prepared:
    clouds_yaml: Path
    auth_url: str
    credentials: list[Credential]
    bootstrapped: bool


def prepare(settings: Settings, host: str, port: int) -> Prepared:
    """Migrate; on an empty database create the sample cloud; (re)write clouds.yaml."""
    settings.home.mkdir(parents=True, exist_ok=True)
    cloud = Cloud(settings)
    try:
        cloud.db.migrate()
        fresh = not cloud.identity.is_bootstrapped()
        creds = bootstrap_sample_cloud(cloud) if fresh else load_credentials(settings.home)
    finally:
        cloud.close()
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    auth_url = f"http://{reach}:{port}/identity"
    path = write_clouds_yaml(settings.home, auth_url, creds)
    return Prepared(path, auth_url, creds, fresh)


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve until SIGINT/SIGTERM. uvicorn shuts down gracefully, then re-raises the signal it
    caught; our handlers make that final signal a clean exit (status 0)."""
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    if workers > 1:
        # Worker processes re-import the app; the environment carries the settings.
        os.environ.update(settings.export())
        uvicorn.run(
            "passnic.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
        return
    cloud = Cloud(settings)
    try:
        uvicorn.run(create_app(cloud), host=host, port=port, log_level="warning")
    finally:
        cloud.close()
