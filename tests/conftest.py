"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL where a test folder asks
for both), a cloud, an in-process API client, and a live server driven by the real CLIs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from passnic.app import create_app
from passnic.bootstrap import Credential, bootstrap_sample_cloud
from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.db import Base, Database, load_models
from passnic.server import prepare
from passnic.supervisor import AgentSupervisor

# Argon2's cheapest parameters: the suite hashes and verifies passwords in nearly every test
# (servers it starts inherit this too). Production keeps RFC 9106's.
os.environ.setdefault("PASSNIC_PASSWORD_HASHING", "cheapest")

PG_ADMIN_URL = os.environ.get(
    "PASSNIC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _own_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI caches tokens under XDG_CACHE_HOME: each test its own, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# ---- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test copies it (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "passnic.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, migrated once, dropped at the end."""
    name = f"passnic_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - only where PostgreSQL is missing
        admin.dispose()
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is unavailable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    db.migrate()
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    load_models()
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database of the given backend for one test."""
    if backend == "postgres":
        url: str = request.getfixturevalue("pg_database")
        _truncate_all(url)
        return url
    path = tmp_path / "db" / "passnic.db"
    path.parent.mkdir()
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite by default; folders that must also run on PostgreSQL override this fixture
    with ``params=BOTH_BACKENDS`` (see tests/identity/conftest.py)."""
    return make_database_url("sqlite", request, tmp_path)


BOTH_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


# ---- a cloud in this process -------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """No conductor thread: tests that build servers take the steps themselves (``Hosts``)."""
    return Settings(home=tmp_path / "home", database_url=database_url, conductor=False)


@pytest.fixture
def cloud(settings: Settings) -> Iterator[Cloud]:
    """An empty cloud: the Default domain and the standard roles only."""
    c = Cloud(settings)
    c.identity.bootstrap()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def sample(cloud: Cloud) -> dict[str, Credential]:
    """The sample cloud of `passnic up`, by user name."""
    return {c.username: c for c in bootstrap_sample_cloud(cloud)}


@pytest.fixture
def api(cloud: Cloud) -> Iterator[TestClient]:
    with TestClient(create_app(cloud)) as client:
        yield client


LATEST_COMPUTE = {"OpenStack-API-Version": "compute latest"}
"""The compute microversion the openstack CLI and openstacksdk negotiate (other APIs ignore the
header); tests of an older version's shapes say which they want."""


def login(api: TestClient, cred: Credential) -> dict[str, str]:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": cred.username,
                        "password": cred.password,
                        "domain": {"id": "default"},
                    }
                },
            },
            "scope": {"project": {"name": cred.project, "domain": {"id": "default"}}},
        }
    }
    resp = api.post("/identity/v3/auth/tokens", json=body)
    assert resp.status_code == 201, resp.text
    return {"X-Auth-Token": resp.headers["X-Subject-Token"]}


@pytest.fixture
def admin_headers(api: TestClient, sample: dict[str, Credential]) -> dict[str, str]:
    return {**login(api, sample["admin"]), **LATEST_COMPUTE}


@pytest.fixture
def user1_headers(api: TestClient, sample: dict[str, Credential]) -> dict[str, str]:
    return {**login(api, sample["user1"]), **LATEST_COMPUTE}


@pytest.fixture
def user2_headers(api: TestClient, sample: dict[str, Credential]) -> dict[str, str]:
    return {**login(api, sample["user2"]), **LATEST_COMPUTE}


# ---- a live server and the real CLIs -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveCloud:
    url: str
    home: Path
    clouds_yaml: Path
    cloud: Cloud

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        env["XDG_CACHE_HOME"] = str(self.home / "cache")  # this cloud's cached tokens
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def openstack(
        self, cloud: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """The real python-openstackclient, as an operator runs it."""
        return self.run([str(BIN / "openstack"), "--os-cloud", cloud, *args], check=check)

    def passnic(
        self, cloud: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run([str(BIN / "passnic"), "--os-cloud", cloud, *args], check=check)

    def openstack_json(self, cloud: str, *args: str) -> Any:
        import json

        return json.loads(self.openstack(cloud, *args, "-f", "json").stdout)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCloud]:
    """`passnic up` in a thread: a fresh embedded cloud per test module. Its periodic fabric
    audit is off: it would repair the drift a test makes on purpose while the test runs. Its
    sample image is ``cirros`` (the fake driver's, as the README's procedure names it), also
    where ``make guest`` has built the real guest image."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PASSNIC_FABRIC_AUDIT_INTERVAL", "0")
        mp.setenv("PASSNIC_GUEST_CACHE", str(tmp_path_factory.mktemp("no-guest-image")))
        yield from _live(tmp_path_factory)


def _live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCloud]:
    home = tmp_path_factory.mktemp("live")
    settings = Settings(home=home)
    port = free_port()
    prepared = prepare(settings, "127.0.0.1", port)
    cloud = Cloud(settings)
    config = uvicorn.Config(create_app(cloud), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    agents = AgentSupervisor(prepared.agents)  # the sample hosts' agents, as passnic up runs them
    agents.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield LiveCloud(url, home, prepared.clouds_yaml, cloud)
    finally:
        agents.stop()
        server.should_exit = True
        thread.join(timeout=10)
        cloud.close()


LoginFn = Callable[[Credential], dict[str, str]]


def stop_leftover_agents(home: Path) -> None:
    """Kill the agents a `passnic up` in ``home`` left running (they run in sessions of their
    own and outlive a killed controller, as on real compute hosts)."""
    import contextlib
    import signal

    for pidfile in (home / "agents").glob("*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
