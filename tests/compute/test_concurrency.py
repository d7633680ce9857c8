"""Many boots at once never share a NIC: in one process (threads, SQLite and PostgreSQL), and
across two uvicorn worker processes on PostgreSQL (`passnic up --workers 2`)."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from passnic.agent.host import password_login
from passnic.bootstrap import bootstrap_sample_cloud, write_clouds_yaml
from passnic.cloud import Cloud
from passnic.compute.sample import seed_flavors
from passnic.compute.service import BootRequest, NicRequest
from passnic.config import Settings
from passnic.context import RequestContext
from passnic.db import Database
from passnic.fabric.sample import SAMPLE_SWITCH
from passnic.image.sample import seed_cirros
from tests.compute.conftest import ADMIN, add_host, make_passthrough, net0
from tests.conftest import BIN, free_port, stop_leftover_agents, throwaway_pg_database

REASON = "No valid host: {hosts} hosts have a pci-passthrough NIC on group0-data0"


def _fleet(cloud: Cloud, home: Path, hosts: int, ifnames: tuple[str, ...]) -> None:
    """``hosts`` compute hosts, each with ``ifnames`` pci-passthrough on group0-data0."""
    for index in range(2, hosts):
        add_host(cloud, home, index)
    for index in range(hosts):
        for ifname in ifnames:
            make_passthrough(cloud, f"compute-{index}", ifname)


def _ports(cloud: Cloud, user: RequestContext, count: int) -> list[str]:
    network_id = net0(cloud, "192.168.0.0/16", user)
    return [
        cloud.network.create_port(
            user, network_id=network_id, name=f"p{i}", vnic_type="direct-physical"
        ).id
        for i in range(count)
    ]


def _user1(cloud: Cloud) -> RequestContext:
    """user1, whose project may boot more servers than Nova's default quota (these tests are
    about NIC claims, not quotas)."""
    project1 = cloud.identity.list_projects(ADMIN, name="project1")[0]
    user = cloud.identity.list_users(ADMIN, name="user1")[0]
    unlimited = {"instances": -1, "cores": -1, "ram": -1}
    cloud.compute.quotas.update(ADMIN, project1.id, unlimited)
    return RequestContext(user.id, "user1", project1.id, "project1", frozenset({"member"}))


def _check_claims(cloud: Cloud, active: int) -> None:
    claims = cloud.placement.list_claims()
    assert len(claims) == active
    assert len({(c.hostname, c.pci_address) for c in claims}) == active
    assert len({c.consumer_id for c in claims}) == active


def test_concurrent_boots_in_one_process(cloud: Cloud, sample: Any, settings: Settings) -> None:
    seed_flavors(cloud)
    image = seed_cirros(cloud)
    _fleet(cloud, settings.home, 2, ("enp0s3", "enp0s4"))
    user = _user1(cloud)
    ports = _ports(cloud, user, 12)
    flavor = cloud.compute.flavors.list_flavors(user)[0].id

    def boot(i: int) -> str:
        request = BootRequest(f"vm{i}", flavor, image.id, (NicRequest(port_id=ports[i]),))
        return cloud.compute.create_server(user, request)

    with ThreadPoolExecutor(len(ports)) as pool:  # every boot schedules in its own call
        list(pool.map(boot, range(len(ports))))
    statuses = Counter((v.server.status, v.server.task_state) for v in _views(cloud, user))
    assert statuses == {("BUILD", "networking"): 4, ("ERROR", None): 8}
    _check_claims(cloud, 4)


def _views(cloud: Cloud, user: RequestContext) -> list[Any]:
    return cloud.compute.list_servers(user)[0]


# ---- two worker processes --------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_pg_database() as url:
        yield url


def _login(base: str, password: str) -> str:
    with httpx.Client(timeout=30) as http:
        return password_login(f"{base}/identity", "user1", password, "project1")(http)


@pytest.mark.postgres
def test_two_workers_never_share_a_nic(pg_url: str, tmp_path: Path) -> None:
    """40 boots at once for 10 NICs, through two API worker processes."""
    home = tmp_path / "home"
    settings = Settings(home=home, database_url=pg_url)
    db = Database(pg_url)
    db.migrate()
    db.dispose()
    cloud = Cloud(settings)
    try:
        creds = bootstrap_sample_cloud(cloud)
        # The sample's in-process test switch is refused with two workers; this test is about
        # NIC claims, not the fabric.
        cloud.fabric.delete_switch(ADMIN, SAMPLE_SWITCH)
        seed_flavors(cloud)
        image = seed_cirros(cloud)
        _fleet(cloud, home, 5, ("enp0s3", "enp0s4"))
        ports = _ports(cloud, _user1(cloud), 40)
        flavor = cloud.compute.flavors.list_flavors(ADMIN)[0].id
    finally:
        cloud.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    write_clouds_yaml(home, f"{base}/identity", creds)
    env = {**os.environ, **settings.export()}
    log = tmp_path / "passnic-up.log"  # a file: an unread pipe would fill and stall the server
    server = subprocess.Popen(
        [str(BIN / "passnic"), "up", "--port", str(port), "--workers", "2", "--home", str(home)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/compute/v2.1", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(f"passnic up did not start: {log.read_text()}") from None
                time.sleep(0.2)
        password = next(c.password for c in creds if c.username == "user1")
        token = _login(base, password)
        headers = {"X-Auth-Token": token}

        def boot(i: int) -> dict[str, Any]:
            body = {
                "server": {
                    "name": f"vm{i}",
                    "flavorRef": flavor,
                    "imageRef": image.id,
                    "networks": [{"port": ports[i]}],
                }
            }
            with httpx.Client(timeout=120) as client:
                resp = client.post(f"{base}/compute/v2.1/servers", json=body, headers=headers)
            assert resp.status_code == 202, resp.text
            server: dict[str, Any] = resp.json()["server"]
            return server

        with ThreadPoolExecutor(len(ports)) as pool:
            created = list(pool.map(boot, range(len(ports))))
        servers = _until_built(base, headers, [s["id"] for s in created])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            server.kill()
            server.wait()
        stop_leftover_agents(home)

    statuses = Counter(s["status"] for s in servers)
    faults = {s["fault"]["message"] for s in servers if s["status"] == "ERROR"}
    assert statuses == {"ACTIVE": 10, "ERROR": 30}, faults
    for s in servers:
        if s["status"] == "ERROR":
            assert s["fault"]["message"].startswith(REASON.format(hosts=5)), s["fault"]
    check = Cloud(settings)
    try:
        _check_claims(check, 10)
        by_port = {p.id: p for p in check.network.list_ports(ADMIN)}
        claims = check.placement.list_claims()
        macs = {c.port_id: c.mac for c in claims}
        for port_id, mac in macs.items():
            assert by_port[port_id].mac_address == mac
        assert sum(1 for p in by_port.values() if p.binding_host_id) == 10
    finally:
        check.close()


def _until_built(base: str, headers: dict[str, str], ids: list[str]) -> list[dict[str, Any]]:
    """The servers once none is BUILD any more (the agents build them), as the API shows
    them; at most a minute."""
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=30) as client:
        while True:
            servers = [
                client.get(f"{base}/compute/v2.1/servers/{i}", headers=headers).json()["server"]
                for i in ids
            ]
            if all(s["status"] != "BUILD" for s in servers) or time.monotonic() > deadline:
                return servers
            time.sleep(0.5)


def test_a_racing_claim_makes_the_boot_choose_again(
    cloud: Cloud, sample: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the placement lock, another writer claims the chosen NIC between the read and
    the INSERT: the UNIQUE constraint refuses ours, and the retry takes the other NIC."""
    if not cloud.db.is_postgres:
        pytest.skip("SQLite has one writer: a claim cannot slip in mid-transaction")
    from passnic.placement.models import DeviceClaim
    from passnic.placement.service import PlacementService

    seed_flavors(cloud)
    image = seed_cirros(cloud)
    _fleet(cloud, settings.home, 2, ("enp0s3",))
    user = _user1(cloud)
    (port,) = _ports(cloud, user, 1)
    flavor = cloud.compute.flavors.list_flavors(user)[0].id
    monkeypatch.setattr(PlacementService, "serialize", lambda self, s: None)
    original = PlacementService.fleet
    reads: list[int] = []

    def fleet(self: PlacementService, s: Any, inventory: Any, shown: Any = None) -> Any:
        view = original(self, s, inventory, shown)
        if not reads:  # the first read: someone else takes compute-0's NIC right now
            with cloud.db.transaction() as other:
                other.add(
                    DeviceClaim(
                        hostname="compute-0",
                        pci_address="0000:00:03.0",
                        consumer_id="intruder",
                        consumer_name="intruder",
                        vendor_id="8086",
                        product_id="1572",
                    )
                )
        reads.append(1)
        return view

    monkeypatch.setattr(PlacementService, "fleet", fleet)
    request = BootRequest("vm1", flavor, image.id, (NicRequest(port_id=port),))
    server_id = cloud.compute.create_server(user, request)  # scheduled in this call
    server = cloud.compute.get_server(user, server_id).server
    assert (server.status, server.task_state, server.host) == ("BUILD", "networking", "compute-1")
    assert len(reads) == 2
    held = sorted((c.hostname, c.consumer_name) for c in cloud.placement.list_claims())
    assert held == [("compute-0", "intruder"), ("compute-1", "vm1")]
