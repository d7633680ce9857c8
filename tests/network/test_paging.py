"""Neutron paging of networks and ports: ``limit``/``marker``/``page_reverse`` read in SQL,
``next``/``previous`` links, the configured maximum page, and Neutron's faults."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from passnic.network.models import Network
from passnic.network.service import NetworkService
from tests.network.conftest import ADMIN, AS, USER1

V2 = "/networking/v2.0"


def vlan(net: NetworkService, name: str, vlan_id: int, project: str = "project1") -> Network:
    return net.create_network(
        ADMIN,
        name=name,
        project_id=project,
        network_type="vlan",
        physical_network="group0-data0",
        segmentation_id=vlan_id,
    )


@pytest.fixture
def net0(net: NetworkService) -> Network:
    return vlan(net, "net0", 10)


def networks(net: NetworkService, count: int) -> None:
    start = len(net.list_networks(ADMIN))
    for i in range(start, start + count):
        vlan(net, f"n{i}", 100 + i)


def get(client: TestClient, url: str, who: str = "user1") -> dict[str, Any]:
    resp = client.get(url, headers=AS[who])
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def link(body: dict[str, Any], plural: str, rel: str) -> str | None:
    for found in body.get(f"{plural}_links", []):
        if found["rel"] == rel:
            parts = urlsplit(found["href"])
            return f"{parts.path}?{parts.query}"
    return None


def walk(client: TestClient, url: str, plural: str, rel: str = "next") -> list[list[str]]:
    """Follow ``rel`` links from ``url``: the ids of each page."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        body = get(client, next_url)
        pages.append([item["id"] for item in body[plural]])
        next_url = link(body, plural, rel)
        assert len(pages) < 50, "the links loop"
    return pages


def test_walking_networks_forward_and_back_sees_each_once(
    client: TestClient, net: NetworkService
) -> None:
    networks(net, 7)
    everything = [n["id"] for n in get(client, f"{V2}/networks")["networks"]]
    assert len(everything) == 7
    assert "networks_links" not in get(client, f"{V2}/networks")  # all of it: no more pages
    pages = walk(client, f"{V2}/networks?limit=3", "networks")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == everything
    first = get(client, f"{V2}/networks?limit=3")
    assert link(first, "networks", "previous") is None  # nothing before the first page

    # from the last page back, through the previous links
    last = get(client, f"{V2}/networks?limit=3&marker={pages[1][-1]}")
    assert link(last, "networks", "next") is None
    back = link(last, "networks", "previous")
    assert back is not None
    pages_back = walk(client, back, "networks", rel="previous")
    assert pages_back == [pages[1], pages[0]]


def test_ports_page_with_their_filters(
    client: TestClient, net: NetworkService, net0: Network
) -> None:
    other = vlan(net, "other", 11)
    mine = [net.create_port(USER1, network_id=net0.id, name=f"p{i}").id for i in range(5)]
    net.create_port(USER1, network_id=other.id, name="elsewhere")
    pages = walk(client, f"{V2}/ports?network_id={net0.id}&limit=2&fields=id", "ports")
    assert pages == [mine[0:2], mine[2:4], mine[4:]]
    reverse = get(client, f"{V2}/ports?network_id={net0.id}&limit=2&page_reverse=True")
    assert [p["id"] for p in reverse["ports"]] == mine[3:]  # the last page, in list order


def test_the_maximum_page_caps_a_larger_limit(client: TestClient, net: NetworkService) -> None:
    cloud: Any = client.app.state.cloud  # type: ignore[attr-defined]
    cloud.settings = dataclasses.replace(cloud.settings, max_page=2)
    networks(net, 3)
    for query in ("", "?limit=100", "?limit=0"):
        body = get(client, f"{V2}/networks{query}")
        assert len(body["networks"]) == 2
        assert link(body, "networks", "next") is not None
    assert sum(len(p) for p in walk(client, f"{V2}/networks?limit=100", "networks")) == 3


@pytest.mark.parametrize("limit", ["-1", "abc", "1.5", "", "\uff12"])
def test_a_bad_limit_is_a_neutron_400(client: TestClient, limit: str) -> None:
    resp = client.get(f"{V2}/ports?limit={limit}", headers=AS["user1"])
    assert resp.status_code == 400, resp.text
    fault = resp.json()["NeutronError"]
    assert fault["type"] == "BadRequest"
    assert "Limit must be an integer 0 or greater" in fault["message"]


def test_an_unknown_or_hidden_marker_is_a_404(
    client: TestClient, net: NetworkService, net0: Network
) -> None:
    hidden = vlan(net, "admins", 12, project="admin")
    for marker in ("no-such-network", hidden.id):
        resp = client.get(f"{V2}/networks?limit=1&marker={marker}", headers=AS["user1"])
        assert resp.status_code == 404, resp.text
        assert resp.json()["NeutronError"]["type"] == "NetworkNotFound"
    assert get(client, f"{V2}/networks?limit=1&marker={net0.id}")["networks"] == []


@contextmanager
def counted(net: NetworkService) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(net.db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(net.db.engine, "before_cursor_execute", count)


def test_a_page_costs_the_same_statements_for_more_rows(
    client: TestClient, net: NetworkService, net0: Network
) -> None:
    def costs() -> list[int]:
        out = []
        for path in ("networks", "ports"):
            first = get(client, f"{V2}/{path}?limit=2")
            marker = first[path][0]["id"]
            with counted(net) as statements:
                get(client, f"{V2}/{path}?limit=2&marker={marker}")
            out.append(len(statements))
        return out

    networks(net, 3)
    for i in range(4):
        net.create_port(USER1, network_id=net0.id, name=f"p{i}")
    before = costs()
    networks(net, 9)
    for i in range(4, 16):
        net.create_port(USER1, network_id=net0.id, name=f"p{i}")
    after = costs()
    assert after == before
    assert max(after) <= 10
