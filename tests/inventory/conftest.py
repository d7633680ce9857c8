"""Local fixtures for the inventory tests: a fresh SQLite database per test, the service, the
callers, a worker host as its agent reports it, and an HTTP client on a tiny app."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from passnic.config import Settings
from passnic.context import RequestContext
from passnic.db import Base, Database, load_models
from passnic.errors import NotAuthenticated, PassnicError
from passnic.inventory.models import Host
from passnic.inventory.report import HostReport, PortReport
from passnic.inventory.routes import router
from passnic.inventory.service import InventoryService
from passnic.web import install_error_handlers

INTEL = "Intel Corporation [8086]"
ETHERNET_CLASS = "Ethernet controller [0200]"


def ctx(name: str, *roles: str) -> RequestContext:
    return RequestContext(
        user_id=name,
        user_name=name,
        project_id="p-" + name,
        project_name=name,
        roles=frozenset(roles),
    )


ADMIN = ctx("admin", "admin")
READER = ctx("auditor", "reader")
MEMBER = ctx("user1", "member")


def refused(message: str, call: Any, *args: Any, **kwargs: Any) -> PassnicError:
    """Run ``call`` and return its refusal, checking the operator's message word for word and
    that it is the caller's fault (4xx)."""
    with pytest.raises(PassnicError) as info:
        call(*args, **kwargs)
    assert info.value.message == message
    assert 400 <= info.value.status < 500
    return info.value


def port(name: str, pciaddr: str, **fields: Any) -> PortReport:
    """A port report; by default an Intel NIC without SR-IOV on NUMA node 0."""
    values: dict[str, Any] = {
        "name": name,
        "pciaddr": pciaddr,
        "pclass": ETHERNET_CLASS,
        "pvendor": INTEL,
        "pdevice": "82540EM Gigabit Ethernet Controller [100e]",
        "driver": "e1000",
        "mac": "52:54:00:00:" + pciaddr[-4:-2] + ":" + pciaddr[-1:] + "0",
        "speed": 1000,
    }
    values.update(fields)
    return PortReport(**values)


def sriov_port(name: str, pciaddr: str, **fields: Any) -> PortReport:
    """An X710 port that can carry 16 VFs."""
    values: dict[str, Any] = {
        "pdevice": "Ethernet Controller X710 for 10GbE SFP+ [1572]",
        "driver": "i40e",
        "sriov_totalvfs": 16,
        "speed": 10000,
        "numa_node": 1,
    }
    values.update(fields)
    return port(name, pciaddr, **values)


def worker_report(hostname: str = "compute-0", **fields: Any) -> HostReport:
    """A worker with two NUMA nodes: enp0s3 (no SR-IOV), enp0s8 (SR-IOV), enp0s9, and a
    dual-port single-function NIC (enp1s0 / enp1s0d1 share 0000:01:00.0)."""
    values: dict[str, Any] = {
        "hostname": hostname,
        "personality": "worker",
        "numa_nodes": [0, 1],
        "vcpus": 16,
        "memory_mb": 65536,
        "disk_gb": 500,
        "ports": [
            port("enp0s3", "0000:00:03.0"),
            sriov_port("enp0s8", "0000:00:08.0"),
            port("enp0s9", "0000:00:09.0"),
            port("enp1s0", "0000:01:00.0", dev_id=0),
            port("enp1s0d1", "0000:01:00.0", dev_id=1),
        ],
    }
    values.update(fields)
    return HostReport(**values)


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    """Tests need no durability; skipping fsync keeps the folder fast."""
    dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture
def backend() -> str:
    """SQLite. Modules where the database itself matters (locking, joins, constraints)
    override this with ``params=BOTH_BACKENDS``."""
    return "sqlite"


@pytest.fixture(scope="session")
def inventory_databases() -> Iterator[dict[str, Database]]:
    """One database per backend for the whole run, made on first use: a fresh engine per
    test would recompile every statement (SQLAlchemy caches compiled SQL per engine), which
    would dominate the run time."""
    databases: dict[str, Database] = {}
    yield databases
    for database in databases.values():
        database.dispose()


@pytest.fixture
def db(
    request: pytest.FixtureRequest,
    backend: str,
    inventory_databases: dict[str, Database],
    tmp_path_factory: pytest.TempPathFactory,
) -> Database:
    """The backend's database, emptied: every test starts from no rows."""
    if backend not in inventory_databases:
        if backend == "postgres":
            url: str = request.getfixturevalue("pg_database")
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('inventory') / 'inventory.db'}"
        database = Database(url)
        if not database.is_postgres:
            event.listen(database.engine, "connect", _no_fsync)
        load_models()
        Base.metadata.create_all(database.engine)
        inventory_databases[backend] = database
    database = inventory_databases[backend]
    with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return database


@pytest.fixture
def inventory(db: Database) -> InventoryService:
    return InventoryService(db)


@pytest.fixture
def compute(inventory: InventoryService) -> Host:
    """compute-0, reported by its agent, locked."""
    return inventory.report_host(ADMIN, worker_report())


@pytest.fixture
def group0(inventory: InventoryService) -> str:
    """The VLAN data network of the StarlingX procedure; returns its uuid."""
    return inventory.create_datanetwork(
        ADMIN, {"name": "group0-data0", "network_type": "vlan"}
    ).uuid


class StubIdentity:
    """Tokens are role names: "admin", "reader", "member"."""

    TOKENS: ClassVar[dict[str, RequestContext]] = {
        "admin": ADMIN,
        "reader": READER,
        "member": MEMBER,
    }

    def validate_token(self, token: str) -> RequestContext:
        if token not in self.TOKENS:
            raise NotAuthenticated("The request you have made requires authentication.")
        return self.TOKENS[token]


@pytest.fixture
def app(inventory: InventoryService) -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)
    application.include_router(router)
    application.state.cloud = SimpleNamespace(
        inventory=inventory,
        identity=StubIdentity(),
        settings=Settings(database_url=str(inventory.db.engine.url)),
    )
    return application


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, headers={"X-Auth-Token": "admin"})
