"""The controller-host boundary: agents with credentials of their own, heartbeats, a lifecycle
that only agents carry out, and steps that resume after the controller is replaced."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from passnic.agent.config import AgentConfig
from passnic.agent.drivers.fake import FakeDriver
from passnic.agent.host import AgentError, ControllerClient, HostAgent, password_login
from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.inventory.report import HostReport
from tests.compute.conftest import API, Scene, lock

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _boot_body(scene: Scene, port_id: str) -> dict[str, Any]:
    """vm1 on ``port_id``, posted without the scene's settling (these tests take the steps)."""
    return {
        "server": {
            "name": "vm1",
            "flavorRef": scene.flavor_id("small"),
            "imageRef": scene.image_id,
            "networks": [{"port": port_id}],
        }
    }


def _credential(scene: Scene, host: str) -> dict[str, Any]:
    resp = scene.api.post(f"/agent/v1/hosts/{host}/credential", headers=scene.admin)
    assert resp.status_code == 200, resp.text
    cred: dict[str, Any] = resp.json()
    return cred


def _agent_token(scene: Scene, cred: dict[str, Any]) -> str:
    login = password_login("/identity", cred["username"], cred["password"], cred["project_name"])
    return login(scene.api)


def test_an_agent_acts_for_its_own_host_only(scene: Scene) -> None:
    cred = _credential(scene, "compute-0")
    assert cred["username"] == "agent-compute-0" and cred["auth_url"].endswith("/identity")
    headers = {"X-Auth-Token": _agent_token(scene, cred)}
    own = scene.api.post("/agent/v1/hosts/compute-0/sync", json={}, headers=headers)
    assert own.status_code == 200, own.text
    beat = scene.api.post("/agent/v1/hosts/compute-0/heartbeat", json={}, headers=headers)
    assert beat.status_code == 200 and beat.json()["heartbeat_timeout"] > 0
    other_beat = scene.api.post("/agent/v1/hosts/compute-1/heartbeat", json={}, headers=headers)
    assert other_beat.status_code == 403
    other = scene.api.post("/agent/v1/hosts/compute-1/sync", json={}, headers=headers)
    assert other.status_code == 403
    assert "may not act as the agent of host compute-1" in other.text
    # the agent's role grants nothing else: no servers, no credentials of its own making
    body = {"server": {"name": "x", "flavorRef": scene.flavor_id("small")}}
    assert scene.api.post(f"{API}/servers", json=body, headers=headers).status_code == 403
    again = scene.api.post("/agent/v1/hosts/compute-1/credential", headers=headers)
    assert again.status_code == 403
    # a new credential for the host replaces the old one
    _credential(scene, "compute-0")
    with pytest.raises(AgentError, match="refused the agent's credential"):
        _agent_token(scene, cred)


def test_an_agent_signs_in_with_an_application_credential(scene: Scene, tmp_path: Any) -> None:
    """The host's user makes itself an application credential; the agent's config then holds
    that instead of the password, and the agent acts for its host as before."""
    cred = _credential(scene, "compute-0")
    token = _agent_token(scene, cred)
    whoami = scene.api.get(
        "/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    user_id = whoami.json()["token"]["user"]["id"]
    made = scene.api.post(
        f"/identity/v3/users/{user_id}/application_credentials",
        json={"application_credential": {"name": "agent"}},
        headers={"X-Auth-Token": token},
    )
    assert made.status_code == 201, made.text
    app = made.json()["application_credential"]
    config = AgentConfig(
        hostname="compute-0",
        auth_url="/identity",
        application_credential_id=app["id"],
        application_credential_secret=app["secret"],
        state_dir=tmp_path,
    )
    assert "password" not in config.dump()
    headers = {"X-Auth-Token": config.login()(scene.api)}
    own = scene.api.post("/agent/v1/hosts/compute-0/sync", json={}, headers=headers)
    assert own.status_code == 200, own.text
    other = scene.api.post("/agent/v1/hosts/compute-1/sync", json={}, headers=headers)
    assert other.status_code == 403
    with pytest.raises(ValueError, match="application credential"):
        AgentConfig(hostname="compute-0", auth_url="/identity", state_dir=tmp_path)


def test_a_member_is_no_agent(scene: Scene) -> None:
    resp = scene.api.post("/agent/v1/hosts/compute-0/sync", json={}, headers=scene.user1)
    assert resp.status_code == 403


def test_an_agent_reports_its_inventory_under_its_own_name_only(scene: Scene) -> None:
    cred = _credential(scene, "compute-0")
    agent = HostAgent(
        "compute-0",
        FakeDriver("compute-0"),
        ControllerClient(scene.api, "", lambda _http: _agent_token(scene, cred)),
        inventory=lambda: HostReport(hostname="compute-1"),
    )
    with pytest.raises(AgentError, match="not compute-0"):
        agent.sync_once()


def test_no_driver_runs_in_the_controller() -> None:
    """Building the whole controller imports no hypervisor driver."""
    code = (
        "import sys, tempfile, pathlib\n"
        "from passnic.app import create_app\n"
        "from passnic.cloud import Cloud\n"
        "from passnic.config import Settings\n"
        "home = pathlib.Path(tempfile.mkdtemp())\n"
        "create_app(Cloud(Settings(home=home)))\n"
        "bad = [m for m in sys.modules if m.startswith('passnic.agent.drivers')"
        " or m in ('passnic.lab.driver', 'passnic.agent.host')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_its_agent_a_boot_waits_in_spawning(scene: Scene) -> None:
    """Only an agent starts a guest: with none answering, the boot goes as far as the
    controller can take it, and finishes when the agent comes."""
    lock(scene.cloud, "compute-1")
    port = scene.port()
    body = _boot_body(scene, port["id"])
    created = scene.api.post(f"{API}/servers", json=body, headers=scene.user1)
    assert created.status_code == 202
    assert set(created.json()["server"]) == {
        "id",
        "links",
        "OS-DCF:diskConfig",
        "security_groups",
        "adminPass",
    }
    sid = created.json()["server"]["id"]
    scene.cloud.conductor.drain()
    shown = scene.show(sid)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("BUILD", "spawning")
    assert scene.hosts.driver("compute-0").calls == []
    scene.hosts.settle()
    assert scene.show(sid)["status"] == "ACTIVE"
    assert scene.hosts.driver("compute-0").calls == [("spawn", sid)]


def test_a_silent_host_goes_offline_and_comes_back(scene: Scene) -> None:
    lock(scene.cloud, "compute-1")
    port = scene.port()
    vm1 = scene.boot("vm1", networks=[{"port": port["id"]}])
    scene.hosts.down.add("compute-0")
    scene.cloud.hosts.heartbeat_timeout = timedelta(0)
    scene.cloud.conductor.sweep()
    hosts = scene.api.get("/inventory/v1/ihosts", headers=scene.admin).json()["ihosts"]
    assert {h["hostname"]: h["availability"] for h in hosts}["compute-0"] == "offline"
    services = scene.api.get(f"{API}/os-services", headers=scene.admin).json()["services"]
    assert {s["host"]: s["state"] for s in services}["compute-0"] == "down"
    shown = scene.show(vm1["id"])
    assert (shown["status"], shown["host_status"]) == ("ACTIVE", "DOWN")
    # an offline host is not scheduled, and the scheduler says so
    port2 = scene.port("port2")
    vm2 = scene.boot("vm2", networks=[{"port": port2["id"]}])
    assert vm2["status"] == "ERROR" and "compute-0 is offline" in vm2["fault"]["message"]

    scene.cloud.hosts.heartbeat_timeout = timedelta(seconds=30)
    scene.hosts.down.clear()
    scene.hosts.sync()
    hosts = scene.api.get("/inventory/v1/ihosts", headers=scene.admin).json()["ihosts"]
    assert {h["hostname"]: h["availability"] for h in hosts}["compute-0"] == "available"
    assert scene.show(vm1["id"])["host_status"] == "UP"
    assert scene.hosts.driver("compute-0").guests() == {vm1["id"]: "running"}


def test_an_unexpected_error_in_a_step_ends_in_error(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_hostnames: Any) -> list[str]:
        raise RuntimeError("switch driver bug")

    lock(scene.cloud, "compute-1")
    monkeypatch.setattr(scene.cloud.fabric, "provision", broken)
    port = scene.port()
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    assert server["status"] == "ERROR"
    assert server["fault"]["message"] == "Unexpected error during networking: RuntimeError"
    assert scene.claims() == []
    assert scene.get_port(port["id"])["binding:host_id"] == ""


def test_console_output_and_events(scene: Scene) -> None:
    lock(scene.cloud, "compute-1")
    port = scene.port()
    vm1 = scene.boot("vm1", networks=[{"port": port["id"]}])
    sid = vm1["id"]
    resp = scene.action(sid, {"os-getConsoleOutput": {"length": None}}, scene.user1)
    assert resp.status_code == 200
    output = resp.json()["output"]
    mac, ip = vm1["addresses"]["net0"][0]["OS-EXT-IPS-MAC:mac_addr"], port["fixed_ips"][0]
    assert f"eth0: {mac} {ip['ip_address']}" in output
    last = scene.action(sid, {"os-getConsoleOutput": {"length": 1}}, scene.user1).json()
    assert last["output"].count("\n") == 1
    bad = scene.action(sid, {"os-getConsoleOutput": {"length": "x"}}, scene.user1)
    assert bad.status_code == 400

    actions = scene.api.get(f"{API}/servers/{sid}/os-instance-actions", headers=scene.user1)
    (create,) = actions.json()["instanceActions"]
    assert create["action"] == "create" and create["message"] is None
    shown = scene.api.get(
        f"{API}/servers/{sid}/os-instance-actions/{create['request_id']}", headers=scene.user1
    ).json()["instanceAction"]
    assert [(e["event"], e["result"]) for e in shown["events"]] == [
        ("schedule", "Success"),
        ("switch_port", "Success"),
        ("spawn", "Success"),
    ]
    assert "host" not in shown["events"][0]  # a member does not see host names
    other = scene.api.get(f"{API}/servers/{sid}/os-instance-actions", headers=scene.user2)
    assert other.status_code == 404


def test_steps_resume_in_a_new_controller(scene: Scene, settings: Settings) -> None:
    """A controller that stops between any two steps leaves each server in a recorded state;
    another one (a restart, or another worker) finishes the work from the database."""
    lock(scene.cloud, "compute-1")
    port = scene.port()
    body = _boot_body(scene, port["id"])
    # the answer comes scheduled and claimed; then the controller "dies"
    sid = scene.api.post(f"{API}/servers", json=body, headers=scene.user1).json()["server"]["id"]
    assert scene.show(sid)["OS-EXT-STS:task_state"] == "networking"

    fresh = Cloud(settings)
    try:
        with TestClient(_app(fresh)) as api:
            hosts = type(scene.hosts)(api, fresh, scene.hosts.token)
            hosts.agents = scene.hosts.agents  # the same compute hosts, same guests
            for agent in hosts.agents.values():
                agent.client = ControllerClient(api, "", lambda _http: scene.hosts.token)
            hosts.settle()
            assert (
                api.get(f"{API}/servers/{sid}", headers=scene.admin).json()["server"]["status"]
                == "ACTIVE"
            )
    finally:
        fresh.close()


def test_a_boot_whose_scheduling_fails_in_its_request_is_scheduled_later(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails under the scheduling step the boot's request takes: the server is
    recorded, so the answer is still a 202, and the conductor schedules it later."""
    from sqlalchemy.exc import OperationalError

    from passnic.compute.service import ComputeService

    lock(scene.cloud, "compute-1")
    body = _boot_body(scene, scene.port()["id"])

    def failing(_self: ComputeService, _server_id: str) -> None:
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    with monkeypatch.context() as patched:
        patched.setattr(ComputeService, "advance", failing)
        resp = scene.api.post(f"{API}/servers", json=body, headers=scene.user1)
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    assert scene.show(sid)["OS-EXT-STS:task_state"] == "scheduling"
    scene.hosts.settle()
    assert scene.show(sid)["status"] == "ACTIVE"


def _app(cloud: Cloud) -> Any:
    from passnic.app import create_app

    return create_app(cloud)


def test_the_long_poll_returns_when_work_arrives(scene: Scene) -> None:
    """An agent that has the newest generation waits in the controller; new work for its host
    answers it at once, from another thread (here: the API call of a boot)."""
    import threading
    import time

    lock(scene.cloud, "compute-1")
    agent = scene.hosts.agent("compute-0")
    agent.sync_once()
    scene.cloud.hosts.watch.start()
    try:
        generation = scene.cloud.hosts.generation("compute-0")
        answers: list[tuple[float, dict[str, Any]]] = []

        def wait() -> None:
            start = time.monotonic()
            with httpx.Client(transport=scene.api._transport, base_url="http://testserver") as c:
                resp = c.post(
                    "/agent/v1/hosts/compute-0/sync",
                    json={"generation": generation, "guests": [], "wait": 20},
                    headers=scene.admin,
                )
            answers.append((time.monotonic() - start, resp.json()))

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.5)
        port = scene.port()
        body = _boot_body(scene, port["id"])
        scene.api.post(f"{API}/servers", json=body, headers=scene.user1)
        scene.cloud.conductor.drain()
        waiter.join(timeout=25)
        (elapsed, answer), *_ = answers
        assert elapsed < 10
        assert answer["generation"] > generation
        assert [g["power"] for g in answer["guests"]] == ["running"]
    finally:
        scene.cloud.hosts.watch.stop()


@pytest.mark.parametrize(("action", "who"), [("os-stop", "user1"), ("migrate", "admin")])
def test_an_action_racing_a_delete_is_a_404(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, action: str, who: str
) -> None:
    """The server goes away between the caller's read and the conditional UPDATE: a 404, not
    the 500 of a refresh of a deleted row ('Could not refresh instance')."""
    from sqlalchemy import delete as sql_delete

    from passnic.compute.models import Server
    from passnic.compute.service import ComputeService

    lock(scene.cloud, "compute-1")
    vm1 = scene.boot("vm1", networks=[{"port": scene.port()["id"]}])
    original = ComputeService._take

    def racing(self: ComputeService, s: Any, server_id: str, *args: Any) -> Any:
        with scene.cloud.db.transaction() as other:
            other.execute(sql_delete(Server).where(Server.id == server_id))
        return original(self, s, server_id, *args)

    monkeypatch.setattr(ComputeService, "_take", racing)
    resp = scene.api.post(
        f"{API}/servers/{vm1['id']}/action", json={action: None}, headers=getattr(scene, who)
    )
    assert resp.status_code == 404, resp.text
    assert "could not be found" in resp.json()["itemNotFound"]["message"]
