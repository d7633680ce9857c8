"""Benchmark: a boot through the API, end to end, against the bare database floor.

    .venv/bin/python bench/lifecycle.py                 # SQLite, 40 boots
    .venv/bin/python bench/lifecycle.py --postgres      # also on PostgreSQL (throwaway db)
    .venv/bin/python bench/lifecycle.py --boots 6       # seconds (what the suite runs)

The sample cloud as ``passnic up`` runs it: the controller (uvicorn, one worker, the conductor
on) and one agent PROCESS per compute host (fake driver), talking HTTP. compute-0..2 have
enp0s3 and enp0s4 pci-passthrough on group0-data0 (6 NICs); each round boots a server with a
direct-physical port, waits for ACTIVE, and deletes it (waiting until it is gone), so every
boot sees the same fleet. Measured per boot:

* ``answer``: the ``POST /servers`` round trip (202, nothing built yet);
* ``active``: from the POST to the first ``GET`` that shows ACTIVE (polled every 5 ms):
  scheduling and claim, the switch port, the agent's long-poll wake-up, its spawn and report.

The floor, measured in the same run on the same database: one indexed SELECT plus one
conditional UPDATE in one transaction (what claiming a NIC cannot go below). Last line: the
two ratios ``answer p50 / floor`` and ``active p50 / floor``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("PASSNIC_PASSWORD_HASHING", "cheapest")

import httpx
import uvicorn
from sqlalchemy import create_engine, text

from passnic.agent.host import password_login
from passnic.app import create_app
from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.context import RequestContext
from passnic.server import prepare
from passnic.supervisor import AgentSupervisor

PG_ADMIN = os.environ.get(
    "PASSNIC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ADMIN = RequestContext("bench", "admin", "", "admin", frozenset({"admin"}))
API = "/compute/v2.1"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _postgres() -> Any:
    name = f"passnic_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def floor(url: str, rounds: int) -> list[float]:
    """One indexed SELECT and one conditional UPDATE in one transaction, on a table like the
    claims table."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, holder TEXT)"))
        conn.execute(
            text("INSERT INTO bench_floor (id, holder) VALUES (:i, NULL)"),
            [{"i": i} for i in range(4000)],
        )
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        with engine.begin() as conn:
            row = conn.execute(
                text("SELECT id FROM bench_floor WHERE id = :i"), {"i": i % 4000}
            ).first()
            assert row is not None
            conn.execute(
                text("UPDATE bench_floor SET holder = :h WHERE id = :i AND holder IS NULL"),
                {"h": f"s{i}", "i": i % 4000},
            )
        times.append(time.perf_counter() - start)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_floor"))
    engine.dispose()
    return times


def run(database_url: str, boots: int, label: str) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="passnic-bench-"))
    port = _free_port()
    settings = Settings(home=home, database_url=database_url or f"sqlite:///{home}/passnic.db")
    prepared = prepare(settings, "127.0.0.1", port)
    cloud = Cloud(settings)
    inv = cloud.inventory
    for host in ("compute-0", "compute-1", "compute-2"):
        inv.lock_host(ADMIN, host)
        for iface in inv.list_interfaces(ADMIN, host):
            if iface.ifname in ("enp0s3", "enp0s4"):
                inv.modify_interface(ADMIN, iface.uuid, {"ifclass": "pci-passthrough"})
                inv.assign_datanetwork(ADMIN, iface.uuid, "group0-data0")
        inv.unlock_host(ADMIN, host)
    project1 = cloud.identity.list_projects(ADMIN, name="project1")[0].id
    net = cloud.network.create_network(
        ADMIN,
        name="net0",
        project_id=project1,
        network_type="vlan",
        physical_network="group0-data0",
        segmentation_id=10,
    )
    cloud.network.create_subnet(ADMIN, network_id=net.id, cidr="10.10.0.0/16", name="s0")
    flavor = cloud.compute.flavors.list_flavors(ADMIN)[0].id
    image = cloud.image.list(ADMIN).images[0].id

    server = uvicorn.Server(
        uvicorn.Config(create_app(cloud), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    agents = AgentSupervisor(prepared.agents)
    agents.start()
    base = f"http://127.0.0.1:{port}"
    answers: list[float] = []
    actives: list[float] = []
    try:
        http = httpx.Client(base_url=base, timeout=60)
        while True:
            try:
                http.get(API).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        admin = next(c for c in prepared.credentials if c.username == "admin")
        login = password_login(f"{base}/identity", admin.username, admin.password, "admin")
        http.headers["X-Auth-Token"] = login(http)
        while not all(
            s["state"] == "up" for s in http.get(f"{API}/os-services").json()["services"]
        ):
            time.sleep(0.1)
        for i in range(boots + 2):  # the first two warm up
            port_id = http.post(
                "/networking/v2.0/ports",
                json={
                    "port": {
                        "network_id": net.id,
                        "binding:vnic_type": "direct-physical",
                        "project_id": project1,
                    }
                },
            ).json()["port"]["id"]
            boot = {
                "server": {
                    "name": f"b{i}",
                    "flavorRef": flavor,
                    "imageRef": image,
                    "networks": [{"port": port_id}],
                }
            }
            start = time.perf_counter()
            resp = http.post(f"{API}/servers", json=boot)
            answered = time.perf_counter()
            assert resp.status_code == 202, resp.text
            sid = resp.json()["server"]["id"]
            while (status := http.get(f"{API}/servers/{sid}").json()["server"]["status"]) not in (
                "ACTIVE",
                "ERROR",
            ):
                time.sleep(0.005)
            done = time.perf_counter()
            assert status == "ACTIVE", http.get(f"{API}/servers/{sid}").text
            if i >= 2:
                answers.append(answered - start)
                actives.append(done - start)
            http.delete(f"{API}/servers/{sid}")
            while http.get(f"{API}/servers/{sid}").status_code != 404:
                time.sleep(0.005)
            http.delete(f"/networking/v2.0/ports/{port_id}")
        floor_times = floor(settings.database_url, 200)
    finally:
        agents.stop()
        server.should_exit = True
        thread.join(timeout=10)
        cloud.close()
    return {
        "label": label,
        "answer": answers,
        "active": actives,
        "floor": floor_times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boots", type=int, default=40)
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    args = parser.parse_args()
    results = [run("", args.boots, "SQLite")]
    if args.postgres:
        with _postgres() as url:
            results.append(run(url, args.boots, "PostgreSQL"))
    print(f"boots through the API, 3 hosts x 2 NICs, {args.boots} boots, 1 worker")
    print(f"{'database':<11} {'':<8} {'p50 ms':>9} {'p95 ms':>9}")
    for r in results:
        for key in ("answer", "active", "floor"):
            values = r[key]
            print(
                f"{r['label']:<11} {key:<8} {1000 * _pct(values, 0.5):>9.2f} "
                f"{1000 * _pct(values, 0.95):>9.2f}"
            )
    for r in results:
        f50 = statistics.median(r["floor"])
        print(
            f"{r['label']}: answer p50 / floor {statistics.median(r['answer']) / f50:.1f}x; "
            f"active p50 / floor {statistics.median(r['active']) / f50:.1f}x"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
