"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL where a test folder asks
for both), a cloud, an in-process API client, and a live server driven by the real CLIs."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from passnic.agent.host import password_login
from passnic.app import create_app
from passnic.bootstrap import Credential, bootstrap_sample_cloud
from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.db import Database
from passnic.server import ThreadServer, prepare
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
#
# Each test gets a fresh database copied from a template made once per run (migrating, and
# bootstrapping the sample cloud, per test would dominate the run time): the empty migrated
# schema, or, for a test that asks for ``sample``, the sample cloud with its home (credentials,
# image bytes, fake sysfs trees). PostgreSQL copies with CREATE DATABASE ... TEMPLATE.

SAMPLE_CREDENTIALS = pytest.StashKey[list[Credential]]()


@dataclass(frozen=True)
class Template:
    url: str
    #: the home the template's cloud was made with (None: the empty schema needs none)
    home: Path | None = None
    credentials: tuple[Credential, ...] = ()


def _sample_template(url: str, home: Path) -> Template:
    cloud = Cloud(Settings(home=home, database_url=url, conductor=False))
    try:
        cloud.identity.bootstrap()
        credentials = tuple(bootstrap_sample_cloud(cloud))
    finally:
        cloud.close()
    return Template(url, home, credentials)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("template") / "passnic.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return Template(f"sqlite:///{path}")


@pytest.fixture(scope="session")
def sqlite_sample_template(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Template
) -> Template:
    root = tmp_path_factory.mktemp("sample-template")
    shutil.copy(sqlite_template.url.removeprefix("sqlite:///"), root / "passnic.db")
    return _sample_template(f"sqlite:///{root / 'passnic.db'}", root / "home")


class PgTemplates:
    """This run's PostgreSQL databases: the templates, and the one the current test uses
    (made again from a template for each test)."""

    def __init__(self, admin: Any, prefix: str, tmp: Path) -> None:
        self.admin, self.prefix, self.tmp = admin, prefix, tmp
        self.empty = self._create(f"{prefix}_empty")
        db = Database(self.empty.url)
        db.migrate()
        db.dispose()
        self._sample: Template | None = None

    def _create(self, name: str, template: str | None = None) -> Template:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            like = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{like}'))
        return Template(pg_url(name))

    def sample(self) -> Template:
        if self._sample is None:
            made = self._create(f"{self.prefix}_sample", f"{self.prefix}_empty")
            self._sample = _sample_template(made.url, self.tmp / "sample-home")
        return self._sample

    def fresh(self, template: Template) -> str:
        return self._create(f"{self.prefix}_test", template.url.rsplit("/", 1)[1]).url

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for suffix in ("test", "sample", "empty"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.prefix}_{suffix}" WITH (FORCE)'))


def _pg_admin() -> Any:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except Exception as exc:  # pragma: no cover - only where PostgreSQL is missing
        admin.dispose()
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is unavailable: {exc}")
    return admin


@pytest.fixture(scope="session")
def pg_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgTemplates]:
    admin = _pg_admin()
    templates = PgTemplates(
        admin, f"passnic_test_{uuid.uuid4().hex[:12]}", tmp_path_factory.mktemp("pg")
    )
    try:
        yield templates
    finally:
        templates.drop_all()
        admin.dispose()


def pg_url(name: str) -> str:
    """The URL of database ``name`` on the test PostgreSQL server."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def throwaway_pg_database(migrate: bool = False) -> Iterator[str]:
    """A PostgreSQL database of its own (migrated if asked), dropped afterwards; the test
    skips where there is no PostgreSQL server."""
    admin = _pg_admin()
    name = f"passnic_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        if migrate:
            db = Database(pg_url(name))
            db.migrate()
            db.dispose()
        yield pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One migrated PostgreSQL database for the run (for test folders that keep one engine
    for the run and empty the tables themselves)."""
    with throwaway_pg_database(migrate=True) as url:
        yield url


def make_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database of the given backend for one test; with the sample cloud
    (and its home, as ``tmp_path/home``) when the test asks for ``sample``."""
    wants_sample = "sample" in request.fixturenames
    template: Template
    if backend == "postgres":
        pg: PgTemplates = request.getfixturevalue("pg_templates")
        template = pg.sample() if wants_sample else pg.empty
        url = pg.fresh(template)
    else:
        name = "sqlite_sample_template" if wants_sample else "sqlite_template"
        template = request.getfixturevalue(name)
        path = tmp_path / "db" / "passnic.db"
        path.parent.mkdir()
        shutil.copy(template.url.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    if template.home is not None:
        shutil.copytree(template.home, tmp_path / "home")
        request.node.stash[SAMPLE_CREDENTIALS] = list(template.credentials)
    return url


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
def sample(request: pytest.FixtureRequest, cloud: Cloud) -> dict[str, Credential]:
    """The sample cloud of `passnic up`, by user name: copied from the run's template (see
    `make_database_url`), or made here where a folder makes its databases itself."""
    credentials = request.node.stash.get(SAMPLE_CREDENTIALS, None)
    if credentials is None:
        credentials = bootstrap_sample_cloud(cloud)
    return {c.username: c for c in credentials}


@pytest.fixture
def api(cloud: Cloud) -> Iterator[TestClient]:
    with TestClient(create_app(cloud)) as client:
        yield client


LATEST_COMPUTE = {"OpenStack-API-Version": "compute latest"}
"""The compute microversion the openstack CLI and openstacksdk negotiate (other APIs ignore the
header); tests of an older version's shapes say which they want."""


def assert_bodies_documented(spec: dict[str, Any], bodies: dict[tuple[str, str], str]) -> None:
    """Each (path, method) of ``bodies`` takes the named schema as its JSON body in
    /openapi.json."""
    for (path, method), name in bodies.items():
        content = spec["paths"][path][method]["requestBody"]["content"]
        assert content["application/json"]["schema"]["$ref"].endswith(f"/{name}"), path


def login(api: TestClient, cred: Credential) -> dict[str, str]:
    """A project-scoped token for a sample user, as the host agents sign in."""
    token = password_login("/identity", cred.username, cred.password, cred.project)(api)
    return {"X-Auth-Token": token}


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
    server = ThreadServer(cloud, "127.0.0.1", port)
    server.start()
    agents = AgentSupervisor(prepared.agents)  # the sample hosts' agents, as passnic up runs them
    agents.start()
    try:
        yield LiveCloud(server.url, home, prepared.clouds_yaml, cloud)
    finally:
        agents.stop()
        server.stop()
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
