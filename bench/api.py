"""Benchmark: boots through the HTTP API as the fleet grows, against the database floor.

    .venv/bin/python -m bench.api            # SQLite and PostgreSQL, 3 / 1,000 / 10,000 hosts
    .venv/bin/python -m bench.api --quick    # a few minutes: 3 / 1,000 hosts, fewer boots
    .venv/bin/python -m bench.api --sizes 3,30 --boots 2 --no-postgres --register 3  # the suite

The controller runs as ``uvicorn passnic.app:create_app`` in its own process (1, 2 or 4 workers,
the conductor on), on the sample cloud plus a fleet of ``bench-NNNNN`` hosts with 4
pci-passthrough NICs each on group0-data0. The first host is configured through the inventory
service as an operator would (report, interface class, data network, unlock); the others are
copied from it row by row (the inventory's own rules ran once; copying 10,000 hosts through
them would take longer than the rest of the run). No host agent runs: a boot is measured from
the ``POST /servers`` to the first ``GET`` that shows the host it was placed on (polled every
10 ms), i.e. the answer, which comes scheduled and claimed (the boot's scheduling step runs in
the request), and that GET; the switch port and the guest's own boot
(bench/lifecycle.py) are left out. The fleet grows in the same database and the same server
(3, then 1,000, then 10,000 hosts), so every size pays the same for everything but the fleet.

Also measured: the floor (one indexed SELECT plus one conditional UPDATE in one transaction on
the same database, bench/lifecycle.py), the smallest authenticated request (one flavor's
``GET``: what the HTTP stack and the token check cost any call), concurrent boots per second at
1,000 hosts with 1, 2 and 4 workers (8 clients), the server's RSS idle and after the boots,
the servers, ports, hosts and interfaces lists at 10 and at 1,000 rows a page (1,000 more
servers on ports are added for them), and registering hosts through agent reports
(``InventoryService.report_host``, SQLite). The
last line gives the two key ratios: ``boot p50 1000/3 hosts`` and ``boot p50 / floor``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("PASSNIC_PASSWORD_HASHING", "cheapest")

import httpx
from sqlalchemy import func, insert, select, update

from bench.lifecycle import _free_port, _postgres, floor
from passnic.agent.host import password_login
from passnic.cloud import Cloud
from passnic.compute.models import Server as ComputeServer
from passnic.compute.service import BootRequest, NicRequest
from passnic.config import Settings
from passnic.context import RequestContext
from passnic.db import Database
from passnic.fabric.sample import SAMPLE_SWITCH
from passnic.inventory.models import (
    EthernetPort,
    Host,
    Interface,
    InterfaceDataNetwork,
    InventoryRevision,
    NumaNode,
)
from passnic.inventory.report import HostReport, PortReport
from passnic.server import prepare

ADMIN = RequestContext("bench", "admin", "", "admin", frozenset({"admin"}))
API = "/compute/v2.1"
NETWORK = "group0-data0"
NICS = 4
STEP_TIMEOUT = timedelta(seconds=2)
#: the API worker counts of the concurrent boots (the machine here has 2 cores)
WORKERS = (1, 2, 4)
#: how often a boot's GET polls: faster polls would take the CPU from the step they wait for
POLL = 0.01


def host_report(i: int) -> HostReport:
    """A worker with a platform port (enp0s2) and 4 NICs, MACs unique per host."""
    ports = [
        PortReport(
            name=f"enp0s{2 + j}",
            pciaddr=f"0000:{0x10 + j:02x}:00.0",
            pclass="Ethernet controller [0200]",
            pvendor="Intel Corporation [8086]",
            pdevice="Ethernet Controller X710 for 10GbE SFP+ [1572]",
            numa_node=j % 2,
            sriov_totalvfs=64,
            mac=f"0a:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:00:{j:02x}",
        )
        for j in range(1 + NICS)
    ]
    return HostReport(
        hostname=f"bench-{i:05d}",
        numa_nodes=[0, 1],
        vcpus=64,
        memory_mb=262144,
        disk_gb=2000,
        ports=ports,
    )


def configure_first(cloud: Cloud) -> None:
    """bench-00000 through the inventory's rules, as the operator's procedure goes."""
    inv = cloud.inventory
    inv.report_host(ADMIN, host_report(0))
    for iface in inv.list_interfaces(ADMIN, "bench-00000"):
        if iface.ifname == "enp0s2":
            inv.modify_interface(ADMIN, iface.uuid, {"ifclass": "platform"})
        else:
            inv.modify_interface(ADMIN, iface.uuid, {"ifclass": "pci-passthrough"})
            inv.assign_datanetwork(ADMIN, iface.uuid, NETWORK)
    inv.unlock_host(ADMIN, "bench-00000")


def copy_hosts(db: Database, first: int, last: int) -> None:
    """bench-<first>..bench-<last - 1> as row copies of bench-00000 (one transaction)."""

    def rows(model: Any, where: Any) -> list[dict[str, Any]]:
        cols = model.__table__.columns
        return [dict(r._mapping) for r in s.execute(select(*cols).where(where))]

    with db.transaction() as s:
        template = s.scalar(select(Host).where(Host.hostname == "bench-00000"))
        assert template is not None
        host = rows(Host, Host.uuid == template.uuid)[0]
        nodes = rows(NumaNode, NumaNode.host_uuid == template.uuid)
        ports = rows(EthernetPort, EthernetPort.host_uuid == template.uuid)
        ifaces = rows(Interface, Interface.host_uuid == template.uuid)
        links = rows(
            InterfaceDataNetwork,
            InterfaceDataNetwork.interface_uuid.in_([i["uuid"] for i in ifaces]),
        )
        next_id = (s.scalar(select(func.max(Host.id))) or 0) + 1
        next_link = (s.scalar(select(func.max(InterfaceDataNetwork.id))) or 0) + 1
        out: dict[Any, list[dict[str, Any]]] = {m: [] for m in (Host, NumaNode, EthernetPort)}
        out[Interface], out[InterfaceDataNetwork] = [], []
        for i in range(first, last):
            h = str(uuid.uuid4())
            out[Host].append(
                {**host, "uuid": h, "id": next_id, "hostname": f"bench-{i:05d}", "mgmt_mac": None}
            )
            next_id += 1
            node_ids = {n["uuid"]: str(uuid.uuid4()) for n in nodes}
            out[NumaNode] += [{**n, "uuid": node_ids[n["uuid"]], "host_uuid": h} for n in nodes]
            iface_ids = {f["uuid"]: str(uuid.uuid4()) for f in ifaces}
            mac = host_report(i).ports
            out[Interface] += [
                {**f, "uuid": iface_ids[f["uuid"]], "host_uuid": h, "imac": None} for f in ifaces
            ]
            for p, reported in zip(sorted(ports, key=lambda p: p["name"]), mac, strict=True):
                out[EthernetPort].append(
                    {
                        **p,
                        "uuid": str(uuid.uuid4()),
                        "host_uuid": h,
                        "node_uuid": node_ids.get(p["node_uuid"]),
                        "interface_uuid": iface_ids.get(p["interface_uuid"]),
                        "mac": reported.mac,
                    }
                )
            for link in links:
                out[InterfaceDataNetwork].append(
                    {
                        **link,
                        "uuid": str(uuid.uuid4()),
                        "id": next_link,
                        "interface_uuid": iface_ids[link["interface_uuid"]],
                    }
                )
                next_link += 1
        for model in (Host, NumaNode, Interface, EthernetPort, InterfaceDataNetwork):
            if out[model]:
                s.execute(insert(model), out[model])
        # an inventory write: the placement copies of the fleet must see it
        s.execute(
            update(InventoryRevision)
            .where(InventoryRevision.id == 1)
            .values(revision=InventoryRevision.revision + 1)
        )


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (the workers), in MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


class Server:
    """``uvicorn passnic.app:create_app`` with ``workers`` processes, on ``settings``."""

    def __init__(self, settings: Settings, workers: int, credentials: Any) -> None:
        self.port = _free_port()
        env = {**os.environ, **settings.export()}
        argv = [sys.executable, "-m", "uvicorn", "passnic.app:create_app", "--factory"]
        argv += ["--port", str(self.port), "--workers", str(workers), "--log-level", "warning"]
        self.log = (settings.home / f"server-{self.port}.log").open("w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=self.log)
        base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=base, timeout=120)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.http.get(API).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit(f"the server did not start: see {self.log.name}") from None
                time.sleep(0.1)
        admin = next(c for c in credentials if c.username == "admin")
        login = password_login(f"{base}/identity", admin.username, admin.password, "admin")
        self.http.headers["X-Auth-Token"] = login(self.http)

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Fleet:
    """The sample cloud plus bench hosts, in one database, grown as the run goes."""

    def __init__(self, database_url: str) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="passnic-bench-api-"))
        url = database_url or f"sqlite:///{self.home}/passnic.db"
        # a boot's spawn step times out soon (no agent runs): the server goes to ERROR and
        # gives its NIC back, instead of being swept again every few seconds for the whole run
        self.settings = Settings(home=self.home, database_url=url, step_timeout=STEP_TIMEOUT)
        self.prepared = prepare(self.settings, "127.0.0.1", _free_port())
        cloud = Cloud(self.settings)
        try:
            cloud.fabric.delete_switch(ADMIN, SAMPLE_SWITCH)  # in-process: one worker only
            configure_first(cloud)
            project = cloud.identity.list_projects(ADMIN, name="project1")[0].id
            # the bench boots more servers than Nova's default quota allows: it measures
            # placement, not quotas
            unlimited = {"instances": -1, "cores": -1, "ram": -1}
            (booting,) = cloud.identity.list_projects(ADMIN, name="admin")  # who boots
            cloud.compute.quotas.update(ADMIN, booting.id, unlimited)
            cloud.network.update_quota(ADMIN, booting.id, {"port": -1})
            (admin,) = cloud.identity.list_users(ADMIN, name="admin")
            #: the admin in their project, as the HTTP client signs in
            self.admin = RequestContext(admin.id, "admin", booting.id, "admin", ADMIN.roles)
            net = cloud.network.create_network(
                ADMIN,
                name="net0",
                project_id=project,
                network_type="vlan",
                physical_network=NETWORK,
                segmentation_id=10,
            )
            cloud.network.create_subnet(ADMIN, network_id=net.id, cidr="10.0.0.0/8", name="s0")
            self.network, self.project = net.id, project
            self.flavor = cloud.compute.flavors.list_flavors(ADMIN)[0].id
            self.image = cloud.image.list(ADMIN).images[0].id
        finally:
            cloud.close()
        self.db = Database(url)
        self.hosts = 1
        self.booted = 0

    def grow(self, hosts: int) -> None:
        if hosts > self.hosts:
            copy_hosts(self.db, self.hosts, hosts)
            self.hosts = hosts

    def ports(self, http: httpx.Client, count: int) -> list[str]:
        body = {
            "port": {
                "network_id": self.network,
                "binding:vnic_type": "direct-physical",
                "project_id": self.project,
            }
        }
        out = []
        for _ in range(count):
            resp = http.post("/networking/v2.0/ports", json=body)
            assert resp.status_code == 201, resp.text
            out.append(resp.json()["port"]["id"])
        return out

    def boot(self, http: httpx.Client, port_id: str) -> float:
        """POST a server, poll until it shows its host: the seconds that took."""
        self.booted += 1
        body = {
            "server": {
                "name": f"b{self.booted}",
                "flavorRef": self.flavor,
                "imageRef": self.image,
                "networks": [{"port": port_id}],
            }
        }
        start = time.perf_counter()
        resp = http.post(f"{API}/servers", json=body)
        assert resp.status_code == 202, resp.text
        sid = resp.json()["server"]["id"]
        while True:
            server = http.get(f"{API}/servers/{sid}").json()["server"]
            if server.get("OS-EXT-SRV-ATTR:host"):
                return time.perf_counter() - start
            if server["status"] == "ERROR":
                raise SystemExit(f"boot failed: {server.get('fault')}")
            time.sleep(POLL)

    def close(self, keep: bool = False) -> None:
        """Remove the home, unless ``keep`` (a failed run: the server logs are in it)."""
        self.db.dispose()
        if keep:
            print(f"kept {self.home} (server logs)", file=sys.stderr)
        else:
            shutil.rmtree(self.home, ignore_errors=True)


def boots(fleet: Fleet, server: Server, count: int) -> list[float]:
    ports = fleet.ports(server.http, count + 1)
    fleet.boot(server.http, ports[0])  # warm-up: the worker's first copy of the fleet
    return [fleet.boot(server.http, p) for p in ports[1:]]


def smallest_request(fleet: Fleet, server: Server, count: int = 100) -> float:
    """p50 of the smallest authenticated request, one flavor's ``GET`` (a token check and one
    read): what any API call costs this stack before it does its own work."""
    path = f"{API}/flavors/{fleet.flavor}"
    server.http.get(path).raise_for_status()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        server.http.get(path).raise_for_status()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


#: (name, path) of the lists timed at 10 rows a page and at as many as the fleet has hosts
LISTS = (
    ("servers", f"{API}/servers/detail"),
    ("ports", "/networking/v2.0/ports"),
    ("hosts", "/inventory/v1/ihosts"),
    ("interfaces", "/inventory/v1/iinterfaces"),
)


def add_servers(fleet: Fleet, count: int) -> None:
    """``count`` more servers of the admin's project, each on a normal port of net0, made
    through the services (a boot each, scheduled and recorded as the API does). No agent runs,
    so they are then marked ACTIVE row-wise, as ``copy_hosts`` copies hosts: the conductor
    leaves them alone."""
    cloud = Cloud(fleet.settings)
    try:
        made = []
        for i in range(count):
            port = cloud.network.create_port(fleet.admin, network_id=fleet.network)
            boot = BootRequest(f"listed-{i}", fleet.flavor, fleet.image, (NicRequest(port.id),))
            made.append(cloud.compute.create_server(fleet.admin, boot))
    finally:
        cloud.close()
    with fleet.db.transaction() as s:
        s.execute(
            update(ComputeServer)
            .where(ComputeServer.id.in_(made))
            .values(status="ACTIVE", vm_state="active", task_state=None, power_state=1)
        )


def lists(server: Server, rows: int) -> dict[str, tuple[float, float]]:
    """p50 of each list at 10 and at ``rows`` rows a page (``limit``)."""
    out = {}
    for name, path in LISTS:
        timed = []
        for limit, rounds in ((10, 20), (rows, 5)):
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                resp = server.http.get(path, params={"limit": limit})
                resp.raise_for_status()
                times.append(time.perf_counter() - start)
            timed.append(statistics.median(times))
        out[name] = (timed[0], timed[1])
    return out


def concurrent(fleet: Fleet, server: Server, clients: int, each: int) -> float:
    """Boots per second with ``clients`` booting at once, ``each`` boots per client."""
    ports = fleet.ports(server.http, clients * each)
    for _ in range(clients):  # every worker makes its copy of the fleet before the clock
        fleet.boot(server.http, fleet.ports(server.http, 1)[0])
    errors: list[BaseException] = []

    def client(mine: list[str]) -> None:
        http = httpx.Client(base_url=server.http.base_url, headers=server.http.headers, timeout=120)
        try:
            for p in mine:
                fleet.boot(http, p)
        except BaseException as exc:  # reported below: a thread cannot raise into main
            errors.append(exc)
        finally:
            http.close()

    threads = [
        threading.Thread(target=client, args=(ports[i * each : (i + 1) * each],))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return clients * each / (time.perf_counter() - start)


def registration(count: int) -> float:
    """Seconds to register ``count`` hosts through agent reports (SQLite, fresh database)."""
    home = Path(tempfile.mkdtemp(prefix="passnic-bench-reg-"))
    settings = Settings(home=home, database_url=f"sqlite:///{home}/passnic.db")
    db = Database(settings.database_url)
    db.migrate()
    db.dispose()
    cloud = Cloud(settings)
    try:
        reports = [host_report(i) for i in range(count)]
        start = time.perf_counter()
        for report in reports:
            cloud.inventory.report_host(ADMIN, report)
        return time.perf_counter() - start
    finally:
        cloud.close()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "PostgreSQL":
        with _postgres() as url:
            yield url
    else:
        yield ""


def run(kind: str, sizes: list[int], count: int, clients: int, each: int) -> dict[str, Any]:
    rate_size = 1000 if 1000 in sizes else max(sizes)
    result: dict[str, Any] = {"db": kind, "p50": {}, "rate_size": rate_size}
    with database(kind) as url:
        fleet = Fleet(url)
        credentials = fleet.prepared.credentials
        server = Server(fleet.settings, 1, credentials)
        try:
            result["rss_idle"] = rss_mib(server.proc.pid)
            for size in sizes:
                fleet.grow(size)
                result["p50"][size] = statistics.median(boots(fleet, server, count))
                if size == rate_size:
                    result["rss_boots"] = rss_mib(server.proc.pid)
                    add_servers(fleet, size)  # as many servers as hosts
                    result["lists"] = lists(server, size)
                    result["rates"] = {1: concurrent(fleet, server, clients, each)}
                    for workers in WORKERS[1:]:
                        server.stop()
                        server = Server(fleet.settings, workers, credentials)
                        result["rates"][workers] = concurrent(fleet, server, clients, each)
                    server.stop()
                    server = Server(fleet.settings, 1, credentials)
            result["request"] = smallest_request(fleet, server)
            result["floor"] = statistics.median(floor(fleet.settings.database_url, 200))
        except BaseException:
            server.stop()
            fleet.close(keep=True)
            raise
        server.stop()
        fleet.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 and 1,000 hosts, fewer boots")
    parser.add_argument("--sizes", help="host counts, e.g. 3,1000,10000")
    parser.add_argument("--boots", type=int, help="timed boots per size")
    parser.add_argument("--register", type=int, help="hosts registered through reports")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    sizes = [
        int(s) for s in (args.sizes or ("3,1000" if args.quick else "3,1000,10000")).split(",")
    ]
    count = args.boots or (8 if args.quick else 11)  # 3 hosts hold 12 NICs
    clients, each = (4, 3) if max(sizes) < 100 else (8, 5) if args.quick else (8, 10)
    register = args.register or (200 if args.quick else 1000)
    kinds = ["SQLite"] + ([] if args.no_postgres else ["PostgreSQL"])
    results = [run(k, sizes, count, clients, each) for k in kinds]
    reg = registration(register)

    small, large = min(sizes), (1000 if 1000 in sizes else max(sizes))
    print(f"boots through the API ({count} per size, 1 worker; host chosen, no agent)")
    head = "".join(f"{f'p50 {n:,}h':>12}" for n in sizes)
    rates = "".join(f"{f'boots/s {w}w':>12}" for w in WORKERS)
    print(f"{'database':<11}{head}{'floor':>9}{'request':>10}{rates}  RSS MiB")
    for r in results:
        cells = "".join(f"{1000 * r['p50'][n]:>10.1f}ms" for n in sizes)
        per_workers = "".join(f"{r['rates'][w]:>12.1f}" for w in WORKERS)
        print(
            f"{r['db']:<11}{cells}{1000 * r['floor']:>7.2f}ms{1000 * r['request']:>8.2f}ms"
            f"{per_workers}  {r['rss_idle']:.0f} -> {r['rss_boots']:.0f}"
        )
    print("request: p50 of the smallest authenticated API call (a flavor's GET)")
    print(f"concurrent boots at {results[0]['rate_size']:,} hosts, {clients} clients x {each}")
    rows = results[0]["rate_size"]
    print(f"lists at {rows:,} hosts and {rows:,}+ servers and ports:")
    print(f"{'database':<11}{'list':<11}{'10 rows':>10}{f'{rows:,} rows':>12}  per row")
    for r in results:
        for name, (ten, many) in r["lists"].items():
            per_row = (many / rows) / (ten / 10)
            print(
                f"{r['db']:<11}{name:<11}{1000 * ten:>8.1f}ms{1000 * many:>10.1f}ms  {per_row:.2f}x"
            )
    print(f"registering {register:,} hosts (agent reports, SQLite): {reg:.1f} s")
    key = "; ".join(
        f"{r['db']}: boot p50 {large}/{small} hosts {r['p50'][large] / r['p50'][small]:.2f}x, "
        f"boot p50 / floor {r['p50'][large] / r['floor']:.1f}x"
        for r in results
    )
    print(key)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
