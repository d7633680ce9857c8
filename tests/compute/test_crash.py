"""``kill -9`` of the controller (every API worker at once) in the middle of a boot, of a
migration before and after the guest moved, and of a delete; ``kill -9`` of one agent. After
each restart everything settles within a minute, nothing leaks, and every free NIC can be
booted again. PostgreSQL, two workers, real agent processes (fake driver, slowed down so the
kill lands mid-step)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from passnic.agent.host import password_login
from passnic.bootstrap import bootstrap_sample_cloud, ensure_sample_agents, write_clouds_yaml
from passnic.cloud import Cloud
from passnic.compute.models import Migration, Server
from passnic.compute.sample import seed_flavors
from passnic.config import Settings
from passnic.db import Database
from passnic.image.sample import seed_cirros
from passnic.placement.models import DeviceClaim
from tests.compute.conftest import ADMIN, make_passthrough, net0
from tests.conftest import BIN, free_port, stop_leftover_agents, throwaway_pg_database

pytestmark = pytest.mark.postgres

API = "/compute/v2.1"
SETTLED = {"ACTIVE", "VERIFY_RESIZE", "ERROR", "SHUTOFF"}
TRANSIENT_MIGRATIONS = {"pre-migrating", "migrating", "confirming", "reverting"}


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_pg_database() as url:
        yield url


class Controller:
    """``passnic up --workers 2`` in a session of its own, so kill -9 takes every worker;
    its agents run in sessions of their own and survive it, as on real compute hosts."""

    def __init__(self, home: Path, settings: Settings, port: int) -> None:
        self.home, self.port = home, port
        self.base = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **settings.export(), "PASSNIC_HEARTBEAT_TIMEOUT_SECONDS": "10"}
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                BIN / "passnic",
                "up",
                "--port",
                str(self.port),
                "--workers",
                "2",
                "--home",
                str(self.home),
                "--no-lab",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}{API}", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                assert time.monotonic() < deadline and self.proc.poll() is None
                time.sleep(0.2)

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.kill9()
        stop_leftover_agents(self.home)


def _login(base: str, user: str, password: str, project: str) -> dict[str, str]:
    with httpx.Client(timeout=30) as http:
        return {"X-Auth-Token": password_login(f"{base}/identity", user, password, project)(http)}


def _until(what: Callable[[], bool], seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_kill_9_anywhere_then_everything_settles(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, database_url=pg_url)
    db = Database(pg_url)
    db.migrate()
    db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cloud = Cloud(settings)
    try:
        creds = {c.username: c for c in bootstrap_sample_cloud(cloud)}
        seed_flavors(cloud)
        image = seed_cirros(cloud)
        for host in ("compute-0", "compute-1", "compute-2"):
            for ifname in ("enp0s3", "enp0s4"):
                make_passthrough(cloud, host, ifname)
        network_id = net0(cloud, "192.168.0.0/24")
        flavor = cloud.compute.flavors.list_flavors(ADMIN)[0].id
        # two workers need a real (SSH) switch; this test is about the lifecycle, not switches
        cloud.fabric.delete_switch(ADMIN, "tor-1")
        for config in ensure_sample_agents(cloud, f"{base}/identity"):
            data = yaml.safe_load(config.read_text())
            data["driver_options"] = {"delay": 1.5}  # each hypervisor call takes 1.5 s
            config.write_text(yaml.safe_dump(data))
    finally:
        cloud.close()
    write_clouds_yaml(home, f"{base}/identity", list(creds.values()))

    ctl = Controller(home, settings, port)
    # phases are read from the database: a GET through a busy controller may take longer than a
    # step (one 1.5 s hypervisor call) lasts, and the kill must land inside it
    states = Database(pg_url)
    try:
        ctl.start()
        admin = _login(base, "admin", creds["admin"].password, "admin")
        user = _login(base, "user1", creds["user1"].password, "project1")
        http = httpx.Client(base_url=base, timeout=30)

        def boot(name: str) -> str:
            body = {
                "server": {
                    "name": name,
                    "flavorRef": flavor,
                    "imageRef": image.id,
                    "networks": [{"uuid": network_id}],
                }
            }
            resp = http.post(f"{API}/servers", json=body, headers=user)
            assert resp.status_code == 202, resp.text
            return str(resp.json()["server"]["id"])

        def show(sid: str) -> dict[str, Any]:
            resp = http.get(f"{API}/servers/{sid}", headers=admin)
            return dict(resp.json()["server"]) if resp.status_code == 200 else {}

        def reaches(sid: str, task: str | None, status: str | None = None) -> Callable[[], bool]:
            def check() -> bool:
                with states.transaction() as s:
                    row = s.execute(
                        select(Server.status, Server.task_state).where(Server.id == sid)
                    ).one_or_none()
                if row is None:
                    return False
                return row.task_state == task if status is None else tuple(row) == (status, task)

            return check

        def restart() -> None:
            ctl.kill9()
            ctl.start()

        vm1, vm2 = boot("vm1"), boot("vm2")
        _until(reaches(vm1, None, "ACTIVE"), 60, "vm1 never became ACTIVE")
        _until(reaches(vm2, None, "ACTIVE"), 60, "vm2 never became ACTIVE")

        # 1. during a boot: the agent is spawning the guest
        vm3 = boot("vm3")
        _until(reaches(vm3, "spawning"), 30, "vm3 never reached spawning")
        restart()
        # 2. during a migration, before the guest moved (the source is parking it)
        assert http.post(f"{API}/servers/{vm1}/action", json={"migrate": None}, headers=admin)
        _until(reaches(vm1, "resize_migrated"), 30, "vm1 never reached resize_migrated")
        restart()
        _until(reaches(vm1, None, "VERIFY_RESIZE"), 60, "vm1's migration did not finish")
        # 3. during a migration, after the guest moved (the destination is starting it)
        assert http.post(f"{API}/servers/{vm2}/action", json={"migrate": None}, headers=admin)
        _until(reaches(vm2, "resize_finish"), 30, "vm2 never reached resize_finish")
        restart()
        # 4. during a delete
        _until(reaches(vm3, None, "ACTIVE"), 60, "vm3 never became ACTIVE")
        assert http.delete(f"{API}/servers/{vm3}", headers=user).status_code == 204
        _until(reaches(vm3, "deleting"), 10, "vm3 never showed deleting")
        restart()

        def settled() -> bool:
            with states.transaction() as s:
                servers = list(s.scalars(select(Server)))
                migrations = list(s.scalars(select(Migration)))
            return all(sv.status in SETTLED and sv.task_state is None for sv in servers) and all(
                m.status not in TRANSIENT_MIGRATIONS for m in migrations
            )

        _until(settled, 60, "servers or migrations were still under way a minute later")
        assert show(vm3) == {}
        assert (show(vm1)["status"], show(vm2)["status"]) == ("VERIFY_RESIZE", "VERIFY_RESIZE")
        for sid in (vm1, vm2):
            http.post(f"{API}/servers/{sid}/action", json={"confirmResize": None}, headers=admin)

        # 5. kill -9 of one agent: its guests live on, its host goes offline and comes back
        host = show(vm1)["OS-EXT-SRV-ATTR:host"]
        pidfile = home / "agents" / f"{host}.pid"
        old_pid = int(pidfile.read_text())
        os.kill(old_pid, signal.SIGKILL)
        _until(lambda: int(pidfile.read_text()) != old_pid, 10, "the agent was not restarted")
        _until(
            lambda: all(
                s["state"] == "up"
                for s in http.get(f"{API}/os-services", headers=admin).json()["services"]
            ),
            20,
            "the host did not come back up",
        )
        guests = yaml.safe_load((home / "agents" / host / "fake-guests.json").read_text())
        assert vm1 in guests and guests[vm1]["state"] == "running"

        # nothing leaks: every claim belongs to a live server that is not in ERROR
        _until(settled, 60, "the confirms did not finish")
        with states.transaction() as s:
            live = {sv.id: sv.status for sv in s.scalars(select(Server))}
            claims = list(s.scalars(select(DeviceClaim)))
        assert all(live.get(c.consumer_id) not in (None, "ERROR") for c in claims), claims

        # and, once every host's agent is heard again, a new boot takes every NIC that is free
        def all_available() -> bool:
            hosts = http.get("/inventory/v1/ihosts", headers=admin).json()["ihosts"]
            return all(h["availability"] == "available" for h in hosts)

        _until(all_available, 60, "the hosts did not all come back online")
        free = 6 - len(claims)
        extra = [boot(f"extra{i}") for i in range(free)]
        for sid in extra:
            _until(reaches(sid, None, "ACTIVE"), 60, f"{sid} did not become ACTIVE: {show(sid)}")
    finally:
        ctl.stop()
        states.dispose()
