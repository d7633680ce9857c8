"""sysinv paging of hosts and interfaces: ``limit``/``marker``/``sort_key``/``sort_dir`` read in
SQL, the ``next`` address, the configured maximum page, and sysinv's faults."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from passnic.inventory.service import InventoryService
from tests.conftest import BOTH_BACKENDS
from tests.inventory.conftest import ADMIN, worker_report


@pytest.fixture(params=BOTH_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def hosts(inventory: InventoryService, count: int) -> None:
    start = len(inventory.list_hosts(ADMIN))
    for i in range(start, start + count):
        inventory.report_host(ADMIN, worker_report(f"compute-{i}"))


def get(client: TestClient, url: str) -> dict[str, Any]:
    resp = client.get(url)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def walk(client: TestClient, url: str, key: str) -> list[list[str]]:
    """Follow the ``next`` addresses from ``url``: the uuids of each page."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        body = get(client, next_url)
        pages.append([item["uuid"] for item in body[key]])
        parts = urlsplit(body["next"]) if "next" in body else None
        next_url = f"{parts.path}?{parts.query}" if parts else None
        assert len(pages) < 50, "the next addresses loop"
    return pages


def test_walking_hosts_and_interfaces_sees_each_once(
    client: TestClient, inventory: InventoryService
) -> None:
    hosts(inventory, 3)
    for path, key in (("ihosts", "ihosts"), ("iinterfaces", "iinterfaces")):
        everything = [i["uuid"] for i in get(client, f"/inventory/v1/{path}")[key]]
        assert "next" not in get(client, f"/inventory/v1/{path}")
        pages = walk(client, f"/inventory/v1/{path}?limit=2", key)
        assert all(len(p) == 2 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 2
        assert [i for p in pages for i in p] == everything, path
        for sort_key in ("hostname" if path == "ihosts" else "ifname", "uuid", "created_at"):
            url = f"/inventory/v1/{path}?limit=2&sort_key={sort_key}&sort_dir=desc"
            seen = [i for p in walk(client, url, key) for i in p]
            assert sorted(seen) == sorted(everything), (path, sort_key)


def test_a_hosts_interfaces_page_within_the_host(
    client: TestClient, inventory: InventoryService
) -> None:
    hosts(inventory, 2)
    host = inventory.get_host(ADMIN, "compute-1")
    own = [i.uuid for i in inventory.list_interfaces(ADMIN, host.uuid)]
    pages = walk(client, f"/inventory/v1/iinterfaces?ihost={host.uuid}&limit=2", "iinterfaces")
    assert [i for p in pages for i in p] == own


def test_the_maximum_page_caps_a_larger_limit(
    client: TestClient, inventory: InventoryService
) -> None:
    cloud: Any = client.app.state.cloud  # type: ignore[attr-defined]
    cloud.settings = dataclasses.replace(cloud.settings, max_page=2)
    hosts(inventory, 3)
    for query in ("", "?limit=100", "?limit=0"):
        body = get(client, f"/inventory/v1/ihosts{query}")
        assert len(body["ihosts"]) == 2
        assert "limit=2" in body["next"]
    assert sum(len(p) for p in walk(client, "/inventory/v1/ihosts?limit=50", "ihosts")) == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=-1", "Limit must be positive"),
        ("limit=abc", "Invalid input for field/attribute limit. Value: 'abc'."),
        ("limit=1.5", "Invalid input for field/attribute limit. Value: '1.5'."),
        ("sort_dir=up", "Invalid sort direction: up."),
        ("sort_key=pciaddr", "Invalid sort_key pciaddr"),
    ],
)
def test_bad_paging_is_a_sysinv_400(client: TestClient, query: str, message: str) -> None:
    for path in ("ihosts", "iinterfaces"):
        resp = client.get(f"/inventory/v1/{path}?{query}")
        assert resp.status_code == 400, resp.text
        fault = json.loads(resp.json()["error_message"])
        assert fault["faultstring"].startswith(message), fault
        assert fault["faultcode"] == "Client"


def test_an_unknown_marker_is_a_404(client: TestClient, inventory: InventoryService) -> None:
    hosts(inventory, 1)
    for marker in ("not-a-uuid", "7d1b6bbc-0d0e-4b8e-9e0e-4c6f6a3f0c11"):
        for path in ("ihosts", "iinterfaces"):
            resp = client.get(f"/inventory/v1/{path}?marker={marker}")
            assert resp.status_code == 404, resp.text


@contextmanager
def counted(inventory: InventoryService) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(inventory.db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(inventory.db.engine, "before_cursor_execute", count)


def test_a_page_costs_the_same_statements_for_more_rows(
    client: TestClient, inventory: InventoryService
) -> None:
    def costs() -> list[int]:
        out = []
        for path in ("ihosts", "iinterfaces"):
            marker = get(client, f"/inventory/v1/{path}?limit=2")[path][0]["uuid"]
            with counted(inventory) as statements:
                get(client, f"/inventory/v1/{path}?limit=2&marker={marker}")
            out.append(len(statements))
        return out

    hosts(inventory, 2)
    before = costs()
    hosts(inventory, 4)
    after = costs()
    assert after == before
    assert max(after) <= 10
