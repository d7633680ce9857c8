"""Local fixtures for the networking tests: the service on one database per backend (emptied
before each test), data networks to put networks on, callers, and a helper that checks a
refusal's message word for word."""

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
from passnic.inventory.service import InventoryService
from passnic.network.routes import router
from passnic.network.service import NetworkService
from passnic.web import install_error_handlers
from tests.conftest import BOTH_BACKENDS


def ctx(project: str, *roles: str) -> RequestContext:
    return RequestContext(
        user_id="u-" + project,
        user_name=project,
        project_id=project,
        project_name=project,
        roles=frozenset(roles),
    )


ADMIN = ctx("admin", "admin")
USER1 = ctx("project1", "member")
USER2 = ctx("project2", "member")

DATANETWORKS = (
    {"name": "group0-data0", "network_type": "vlan", "mtu": 1500},
    {"name": "group0-data1", "network_type": "vlan", "mtu": 9000},
    {"name": "flat0", "network_type": "flat", "mtu": 1500},
    {
        "name": "vx0",
        "network_type": "vxlan",
        "mtu": 1500,
        "mode": "static",
        "port_num": 4789,
        "ttl": 10,
    },
)


def refused(message: str, call: Any, *args: Any, **kwargs: Any) -> PassnicError:
    """Run ``call``; return its refusal after checking the message word for word and that it
    is the caller's fault (4xx)."""
    with pytest.raises(PassnicError) as info:
        call(*args, **kwargs)
    assert info.value.message == message
    assert 400 <= info.value.status < 500
    return info.value


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture(scope="session", params=BOTH_BACKENDS)
def session_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One database per backend for the run (a fresh engine per test recompiles every
    statement); each test empties it."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('network') / 'network.db'}"
    database = Database(url)
    if not database.is_postgres:
        event.listen(database.engine, "connect", _no_fsync)
    load_models()
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def db(session_db: Database) -> Database:
    with session_db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return session_db


@pytest.fixture
def net(db: Database) -> NetworkService:
    """The networking service with four data networks: group0-data0 (vlan, MTU 1500),
    group0-data1 (vlan, MTU 9000), flat0 (flat) and vx0 (vxlan)."""
    inventory = InventoryService(db)
    for values in DATANETWORKS:
        inventory.create_datanetwork(ADMIN, values)
    return NetworkService(db, inventory)


class StubIdentity:
    """Tokens are caller names: "admin", "user1" (project1), "user2" (project2)."""

    TOKENS: ClassVar[dict[str, RequestContext]] = {
        "admin": ADMIN,
        "user1": USER1,
        "user2": USER2,
    }

    def validate_token(self, token: str) -> RequestContext:
        if token not in self.TOKENS:
            raise NotAuthenticated("The request you have made requires authentication.")
        return self.TOKENS[token]


@pytest.fixture
def client(net: NetworkService) -> TestClient:
    """The Neutron API on a tiny app (no token service): pass ``headers=AS["user1"]``."""
    application = FastAPI()
    install_error_handlers(application)
    application.include_router(router)
    application.state.cloud = SimpleNamespace(
        network=net, identity=StubIdentity(), settings=Settings(database_url=str(net.db.engine.url))
    )
    return TestClient(application)


AS = {name: {"X-Auth-Token": name} for name in StubIdentity.TOKENS}
