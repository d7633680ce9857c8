"""Listing servers costs a bounded number of SQL statements, whatever the number of servers
(no query per server: issue 13's N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from tests.compute.conftest import ADMIN, API, Scene, add_host


@contextmanager
def counted(scene: Scene) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = scene.cloud.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _list(scene: Scene) -> int:
    with counted(scene) as statements:
        resp = scene.api.get(f"{API}/servers/detail", headers=scene.user1)
    assert resp.status_code == 200
    return len(statements)


def test_server_lists_cost_the_same_for_two_or_six_servers(scene: Scene) -> None:
    for i in range(2):
        scene.boot(f"vm{i}", networks=[{"port": scene.port(f"p{i}", "normal")["id"]}])
    two = _list(scene)
    for i in range(2, 6):
        scene.boot(f"vm{i}", networks=[{"port": scene.port(f"p{i}", "normal")["id"]}])
    six = _list(scene)
    assert len(scene.api.get(f"{API}/servers/detail", headers=scene.user1).json()["servers"]) == 6
    assert six == two, (two, six)
    assert six <= 18  # 5 for the token, then the servers and one read per related kind


LISTS = (
    "/networking/v2.0/ports",
    "/networking/v2.0/networks",
    "/inventory/v1/ihosts",
    "/inventory/v1/iinterfaces",
)


def _statements(scene: Scene) -> list[int]:
    counts = []
    for path in LISTS:
        with counted(scene) as statements:
            resp = scene.api.get(path, headers=scene.admin)
        assert resp.status_code == 200, resp.text
        counts.append(len(statements))
    return counts


def test_port_network_host_and_interface_lists_cost_the_same_for_more_rows(scene: Scene) -> None:
    for i in range(2):
        scene.port(f"p{i}", "normal")
    before = _statements(scene)
    for i in range(2, 8):
        scene.port(f"p{i}", "normal")
    scene.cloud.network.create_network(ADMIN, name="more", project_id="")
    add_host(scene.cloud, scene.cloud.settings.home, 7)  # 6 more interfaces with it
    assert len(scene.api.get(LISTS[0], headers=scene.admin).json()["ports"]) >= 8
    after = _statements(scene)
    assert after == before, dict(zip(LISTS, zip(before, after, strict=True), strict=True))
    assert max(after) <= 11  # 5 for the token, then a bounded read per related kind
