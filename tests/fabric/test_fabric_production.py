"""Issue 15 on SQLite and PostgreSQL: every vendor of the tables is a driver, the test switch is
refused with several workers, switch I/O happens outside transactions and one switch's sessions
never overlap, the configuration is saved, drift is reconciled on start and repaired by the
periodic audit (resolved alarms), and credentials are encrypted at rest."""

from __future__ import annotations

import re
import stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from passnic.app import create_app
from passnic.cloud import Cloud
from passnic.fabric.drivers.netmiko_driver import VENDORS, Connection, VendorCommands
from passnic.fabric.drivers.soft import SoftSwitchDriver
from passnic.fabric.portconfig import PortConfig
from passnic.fabric.sample import QUARANTINE_VLAN
from tests.compute.conftest import Scene
from tests.conftest import BOTH_BACKENDS, make_database_url
from tests.fabric.fabric_fakes import FakeConnection, cisco_ios

FAB = "/fabric/v1"
SAMPLES = Path(__file__).parent / "samples"
PASSWORD = "s3cret-Pa55"


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request.param, request, tmp_path)


def recorded(vendor: str, command: str) -> str:
    """The recorded output of `command` on `vendor` (tests/fabric/samples)."""
    stem = f"{vendor}_{re.sub(r'[ |]+', '_', command)}"
    (path,) = SAMPLES.glob(f"{stem}.*")
    return path.read_text()


class RecordedSwitch:
    """A session answering `show` commands from the recorded outputs; refuses changes."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.params: list[Mapping[str, Any]] = []

    def __call__(self, table: VendorCommands, params: Mapping[str, Any]) -> Connection:
        self.params.append(params)
        return FakeConnection(self)

    def show(self, command: str) -> str:
        return recorded(self.vendor, command)

    def configure(self, lines: Sequence[str]) -> str:
        raise AssertionError(f"a read-only test sent {lines}")


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_every_vendor_is_creatable_and_reads_its_recorded_output(scene: Scene, vendor: str) -> None:
    switch = RecordedSwitch(vendor)
    scene.cloud.fabric.connect = switch
    table = VENDORS[vendor]
    expected = table.parse("\n".join(recorded(vendor, c) for c in table.show))
    ports = sorted(expected)[:3]
    body = {
        "switch": {
            "name": f"sw-{vendor}",
            "driver": vendor,
            "address": "192.0.2.10:2222",
            "username": "netops",
            "password": PASSWORD,
            "ports": ports,
        }
    }
    resp = scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin)
    assert resp.status_code == 201, resp.text
    assert resp.json()["switch"]["save_config"] is True
    assert PASSWORD not in resp.text
    resp = scene.api.get(f"{FAB}/switches/sw-{vendor}/ports", headers=scene.admin)
    assert resp.status_code == 200, resp.text
    assert {p["name"]: p["actual"] for p in resp.json()["ports"]} == {
        p: expected[p].summary() for p in ports
    }
    # the driver logged in with the decrypted password and the address's port
    assert switch.params == [
        {"host": "192.0.2.10", "port": 2222, "username": "netops", "password": PASSWORD}
    ]


def test_unknown_driver_is_refused(scene: Scene) -> None:
    body = {"switch": {"name": "x", "driver": "nxos"}}
    resp = scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin)
    assert resp.status_code == 400
    assert "sonic" in resp.json()["fabricFault"]["message"]
    assert "dell_os10" in resp.json()["fabricFault"]["message"]


def test_the_test_switch_is_refused_with_several_workers(scene: Scene) -> None:
    fabric = scene.cloud.fabric
    fabric.settings = replace(fabric.settings, workers=2)
    body = {"switch": {"name": "tor-9", "driver": "soft", "ports": ["Ethernet1"]}}
    resp = scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin)
    assert resp.status_code == 400
    assert "real (SSH) switch is required" in resp.json()["fabricFault"]["message"]
    # the sample's tor-1 (made before) is refused when a boot provisions it
    port = scene.port("port0")
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    shown = scene.show(server["id"])
    assert shown["status"] == "ERROR"
    assert "2 API workers cannot share" in shown["fault"]["message"]


class Watched:
    """A driver around the test switch that records open transactions and overlapping
    sessions while it talks to the switch."""

    def __init__(self, inner: SoftSwitchDriver, open_transactions: dict[int, int]) -> None:
        self.inner = inner
        self.open_transactions = open_transactions
        self.seen: list[int] = []
        self.active = 0
        self.overlaps = 0
        self.guard = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[None]:
        with self.guard:
            self.active += 1
            self.overlaps += self.active > 1
            self.seen.append(self.open_transactions.get(threading.get_ident(), 0))
        time.sleep(0.05)
        try:
            yield
        finally:
            with self.guard:
                self.active -= 1

    def apply(self, ports: Mapping[str, PortConfig], *, save: bool = False) -> Any:
        with self.session():
            return self.inner.apply(ports, save=save)

    def read(self, names: Any) -> Any:
        with self.session():
            return self.inner.read(names)

    def save(self) -> None:
        self.inner.save()


def watch(cloud: Cloud, monkeypatch: pytest.MonkeyPatch, inner: SoftSwitchDriver) -> Watched:
    """Count the cloud's open transactions per thread and drive tor-1 through a Watched."""
    open_transactions: dict[int, int] = {}
    real = cloud.db.transaction

    @contextmanager
    def counted() -> Iterator[Session]:
        me = threading.get_ident()
        with real() as s:
            open_transactions[me] = open_transactions.get(me, 0) + 1
            try:
                yield s
            finally:
                open_transactions[me] -= 1

    watched = Watched(inner, open_transactions)
    monkeypatch.setattr(cloud.db, "transaction", counted)
    monkeypatch.setattr(cloud.fabric, "soft_driver", lambda sw: watched)
    return watched


def test_switch_io_outside_transactions_and_never_interleaved(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    tor1 = scene.cloud.fabric.soft("tor-1")
    watched = watch(scene.cloud, monkeypatch, tor1)
    hosts = ["compute-0", "compute-1", "compute-2"]
    threads = [
        threading.Thread(target=scene.cloud.fabric.provision, args=([h],)) for h in hosts * 2
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    scene.api.post(f"{FAB}/audit", json={}, headers=scene.admin)
    scene.api.get(f"{FAB}/switches/tor-1/ports", headers=scene.admin)
    assert len(watched.seen) >= 8
    assert set(watched.seen) == {0}  # no transaction open while the switch is talked to
    assert watched.overlaps == 0


def test_two_controllers_never_interleave_sessions_on_one_switch(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clouds on one database (as two API workers): only the cross-process lock (advisory
    lock on PostgreSQL, file lock beside SQLite) keeps their sessions on tor-1 apart."""
    tor1 = scene.cloud.fabric.soft("tor-1")
    watched = watch(scene.cloud, monkeypatch, tor1)
    other = Cloud(scene.cloud.settings)
    try:
        monkeypatch.setattr(other.fabric, "soft_driver", lambda sw: watched)
        threads = [
            threading.Thread(target=c.fabric.provision, args=(["compute-0", "compute-1"],))
            for c in (scene.cloud, other, scene.cloud, other)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    assert len(watched.seen) == 4
    assert watched.overlaps == 0


def test_config_is_saved_after_a_change_unless_told_not_to(scene: Scene) -> None:
    tor1 = scene.cloud.fabric.soft("tor-1")
    port = scene.port("port0")
    saves = tor1.saves
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    assert scene.show(server["id"])["status"] == "ACTIVE"
    assert tor1.saves > saves
    assert PortConfig.access(10) in tor1.saved.values()
    # nothing to change: no save
    saves = tor1.saves
    scene.cloud.fabric.provision(["compute-0", "compute-1"])
    assert tor1.saves == saves
    with scene.cloud.db.engine.begin() as conn:
        conn.execute(text("UPDATE fabric_switches SET save_config = false"))
    scene.delete(server["id"])
    assert PortConfig.access(10) not in tor1.switch.ports.values()
    assert tor1.saves == saves


def test_netmiko_saves_in_the_change_session(scene: Scene) -> None:
    device = cisco_ios("Gi1/0/1")
    sessions: list[FakeConnection] = []

    def connect(table: VendorCommands, params: Mapping[str, Any]) -> Connection:
        sessions.append(FakeConnection(device))
        return sessions[-1]

    scene.cloud.fabric.connect = connect
    body = {"switch": {"name": "ios", "driver": "cisco_ios", "address": "x", "ports": ["Gi1/0/1"]}}
    assert scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin).status_code == 201
    link = {"host": "compute-2", "nic": "enp0s4", "switch": "ios", "switch_port": "Gi1/0/1"}
    assert scene.api.put(f"{FAB}/links", json=link, headers=scene.admin).status_code == 200
    scene.cloud.fabric.provision(["compute-2"])
    (session,) = sessions
    assert ("command", "write memory") in session.sent
    assert "shutdown" in device.saved


def test_start_reconciles_and_the_periodic_audit_repairs(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    tor1 = scene.cloud.fabric.soft("tor-1")
    drifted = "GigabitEthernet1/0/2"
    tor1.switch.configure(drifted, PortConfig.access(20))
    monkeypatch.setenv("PASSNIC_FABRIC_AUDIT_INTERVAL", "0")
    with TestClient(create_app(scene.cloud)) as client:
        # repaired before serving: zero drift, the repair kept as a resolved alarm
        audit = client.post(f"{FAB}/audit", json={}, headers=scene.admin).json()
        assert [r for r in audit["ports"] if r["drift"]] == []
        alarms = client.get(f"{FAB}/alarms", headers=scene.admin).json()["alarms"]
        assert alarms == []
        kept = client.get(f"{FAB}/alarms?resolved=true", headers=scene.admin).json()["alarms"]
        assert {a["port"] for a in kept} == {drifted}
        assert all(a["resolved_at"] for a in kept)
        assert any("access VLAN 20" in a["message"] for a in kept)
    assert tor1.read([drifted])[drifted] == PortConfig.quarantine(QUARANTINE_VLAN)

    monkeypatch.setenv("PASSNIC_FABRIC_AUDIT_INTERVAL", "0.05")
    with TestClient(create_app(scene.cloud)) as client:
        tor1.switch.configure(drifted, PortConfig.access(30))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if tor1.read([drifted])[drifted] == PortConfig.quarantine(QUARANTINE_VLAN):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the periodic audit did not repair the port")
        time.sleep(0.2)
        kept = client.get(f"{FAB}/alarms?resolved=true", headers=scene.admin).json()["alarms"]
        assert any("access VLAN 30" in a["message"] and a["resolved_at"] for a in kept)


def test_drift_the_audit_cannot_repair_stays_an_active_alarm(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    tor1 = scene.cloud.fabric.soft("tor-1")
    drifted = "GigabitEthernet1/0/2"
    tor1.switch.configure(drifted, PortConfig.access(20))
    tor1.fail_next_apply("% Switch busy")
    monkeypatch.setenv("PASSNIC_FABRIC_AUDIT_INTERVAL", "0")
    with TestClient(create_app(scene.cloud)):
        pass  # the start-up reconcile fails: logged, the API still starts
    scene.cloud.fabric.settings = replace(scene.cloud.fabric.settings, fabric_auto_repair=False)
    scene.cloud.fabric.audit_forever(_stop_after_one(), 0)
    alarms = scene.api.get(f"{FAB}/alarms", headers=scene.admin).json()["alarms"]
    assert [a["port"] for a in alarms] == [drifted, drifted]  # wrong VLAN, port up
    assert all(a["resolved_at"] is None for a in alarms)
    assert tor1.read([drifted])[drifted] == PortConfig.access(20)


def _stop_after_one() -> threading.Event:
    """An event whose first wait returns False (run once), then True (stop)."""

    class Once(threading.Event):
        calls = 0

        def wait(self, timeout: float | None = None) -> bool:
            self.calls += 1
            return self.calls > 1

    return Once()


def test_credentials_are_encrypted_at_rest_and_the_key_rotates(scene: Scene) -> None:
    settings = scene.cloud.settings
    body = {"switch": {"name": "eos", "driver": "arista_eos", "address": "x", "password": PASSWORD}}
    assert scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin).status_code == 201
    key = settings.fabric_key_path
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    def stored() -> str:
        with scene.cloud.db.engine.connect() as conn:
            value = conn.execute(text("SELECT password FROM fabric_switches WHERE name = 'eos'"))
            return str(value.scalar_one())

    before = stored()
    assert PASSWORD not in before and before.startswith("fernet:")
    old_key = key.read_text()
    assert scene.cloud.fabric.rotate_key() >= 1
    assert key.read_text() != old_key and len(key.read_text().split()) == 1
    assert stored() != before
    assert scene.cloud.fabric.credentials.decrypt(stored()) == PASSWORD
    if scene.cloud.db.url.startswith("sqlite"):
        assert PASSWORD.encode() not in Path(scene.cloud.db.url.split("///")[1]).read_bytes()


def test_clear_text_passwords_are_encrypted_on_start(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"switch": {"name": "eos", "driver": "arista_eos", "address": "x"}}
    assert scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin).status_code == 201
    with scene.cloud.db.engine.begin() as conn:  # as an older version stored it
        conn.execute(text(f"UPDATE fabric_switches SET password = '{PASSWORD}'"))
    monkeypatch.setenv("PASSNIC_FABRIC_AUDIT_INTERVAL", "0")
    with TestClient(create_app(scene.cloud)):
        pass
    with scene.cloud.db.engine.connect() as conn:
        value = conn.execute(text("SELECT password FROM fabric_switches WHERE name = 'eos'"))
        stored = str(value.scalar_one())
    assert stored.startswith("fernet:")
    assert scene.cloud.fabric.credentials.decrypt(stored) == PASSWORD


def test_switch_key_rotate_command(scene: Scene) -> None:
    from typer.testing import CliRunner

    from passnic.cli.main import app

    settings = scene.cloud.settings
    body = {"switch": {"name": "eos", "driver": "arista_eos", "address": "x", "password": PASSWORD}}
    assert scene.api.post(f"{FAB}/switches", json=body, headers=scene.admin).status_code == 201
    old_key = settings.fabric_key_path.read_text()
    args = ["switch-key-rotate", "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, "--database-url", settings.database_url])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted the credentials of 2 switch(es)" in result.output
    assert PASSWORD not in result.output
    assert settings.fabric_key_path.read_text() != old_key
    with scene.cloud.db.engine.connect() as conn:
        value = conn.execute(text("SELECT password FROM fabric_switches WHERE name = 'eos'"))
        assert scene.cloud.fabric.credentials.decrypt(str(value.scalar_one())) == PASSWORD
