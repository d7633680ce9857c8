"""What a real compute host needs from the controller, end to end through the agent API: the
libvirt driver (on libvirt's ``test:///default``) boots a private UEC image it fetched through
Glance with the agent's own token, with user_data and the key pair on its config drive, and
its console file reaches ``os-getConsoleOutput``; a start libvirt refuses is the server's
ERROR with libvirt's words and a released NIC; a cold migration carries the guest's disk
from the source host's agent to the destination's through the controller; a host whose
agent reports missing passthrough prerequisites shows why and gets no server."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from passnic.agent.discovery import discover_host
from passnic.agent.drivers.fake import FakeDriver
from passnic.agent.fakesysfs import build_sample_compute_sysfs
from passnic.agent.host import ControllerClient, HostAgent, password_login
from tests.compute.conftest import ADMIN, API, Scene, lock

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KERNEL, RAMDISK, MACHINE = b"a kernel", b"a ramdisk", b"\0" * 65536


def _agent_client(scene: Scene, host: str) -> ControllerClient:
    """The controller as ``host``'s agent reaches it: with the host's own credential."""
    resp = scene.api.post(f"/agent/v1/hosts/{host}/credential", headers=scene.admin)
    assert resp.status_code == 200, resp.text
    cred = resp.json()
    login = password_login("/identity", cred["username"], cred["password"], cred["project_name"])
    return ControllerClient(scene.api, "", login)


def _image(scene: Scene, name: str, data: bytes, **props: str) -> str:
    """A private image of project1, uploaded by user1."""
    body = {"name": name, "visibility": "private", **props}
    resp = scene.api.post("/image/v2/images", json=body, headers=scene.user1)
    assert resp.status_code == 201, resp.text
    image_id: str = resp.json()["id"]
    resp = scene.api.put(
        f"/image/v2/images/{image_id}/file",
        content=data,
        headers={**scene.user1, "Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 204, resp.text
    return image_id


def _uec(scene: Scene) -> str:
    kernel = _image(scene, "k", KERNEL, disk_format="aki", container_format="aki")
    ramdisk = _image(scene, "r", RAMDISK, disk_format="ari", container_format="ari")
    return _image(
        scene,
        "machine",
        MACHINE,
        disk_format="ami",
        container_format="ami",
        kernel_id=kernel,
        ramdisk_id=ramdisk,
        os_command_line="console=ttyS0 quiet",
    )


@pytest.fixture
def libvirt_host(scene: Scene, tmp_path: Path) -> Any:
    """compute-0's agent runs the libvirt driver on libvirt's test driver, with its own
    credential and its images from Glance; compute-1 is locked."""
    libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed")
    if shutil.which("qemu-img") is None or shutil.which("isoinfo") is None:
        pytest.skip("qemu-img and isoinfo are needed (qemu-utils, genisoimage)")
    from passnic.agent.drivers.libvirt import LibvirtDriver

    lock(scene.cloud, "compute-1")
    client = _agent_client(scene, "compute-0")
    state = tmp_path / "compute-0"
    options = {"uri": "test:///default", "virt_type": "qemu", "shutdown_timeout": 1}
    driver = LibvirtDriver("compute-0", state, options, client.images())
    scene.hosts.agents["compute-0"] = HostAgent("compute-0", driver, client, state_dir=state)
    yield driver
    for sid in list(driver.guests()):  # the test driver's domains live as long as the process
        driver.destroy(sid)
    del libvirt


def _iso(iso: Path, name: str) -> bytes:
    return subprocess.check_output(["isoinfo", "-R", "-x", name, "-i", str(iso)])


def test_a_guest_boots_from_a_private_uec_image_fetched_with_the_agents_token(
    scene: Scene, libvirt_host: Any, tmp_path: Path
) -> None:
    image_id = _uec(scene)
    public = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    keypair = {"keypair": {"name": "mykey", "public_key": public}}
    resp = scene.api.post(f"{API}/os-keypairs", json=keypair, headers=scene.user1)
    assert resp.status_code == 201, resp.text
    script = b"#!/bin/sh\necho hello\n"
    port = scene.port()
    body = {
        "server": {
            "name": "vm1",
            "imageRef": image_id,
            "flavorRef": scene.flavor_id("small"),
            "networks": [{"port": port["id"]}],
            "key_name": "mykey",
            "user_data": base64.b64encode(script).decode(),
        }
    }
    resp = scene.api.post(f"{API}/servers", json=body, headers=scene.user1)
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    scene.hosts.settle()
    shown = scene.show(sid)
    assert shown["status"] == "ACTIVE", shown.get("fault")
    assert shown["OS-EXT-SRV-ATTR:user_data"] == body["server"]["user_data"]

    # the images came through Glance, verified, into compute-0's cache; UEC: direct boot
    cache = tmp_path / "compute-0" / "images"
    records = {r["id"]: r for r in (json.loads(p.read_text()) for p in cache.glob("*.json"))}
    assert len(records) == 3
    assert records[image_id]["os_hash_value"] == hashlib.sha512(MACHINE).hexdigest()
    xml = libvirt_host.conn.lookupByName(f"passnic-{sid}").XMLDesc()
    kernel_id = records[image_id]["kernel_id"]
    assert f"<kernel>{cache / kernel_id}</kernel>" in xml
    assert (cache / kernel_id).read_bytes() == KERNEL
    assert "<cmdline>console=ttyS0 quiet</cmdline>" in xml

    # the config drive as Nova writes it
    iso = tmp_path / "compute-0" / "instances" / sid / "disk.config"
    assert _iso(iso, "/openstack/latest/user_data") == script
    meta = json.loads(_iso(iso, "/openstack/latest/meta_data.json"))
    assert meta["public_keys"] == {"mykey": public}
    network = json.loads(_iso(iso, "/openstack/latest/network_data.json"))
    assert network["links"][0]["ethernet_mac_address"] == scene.nics["compute-0"]["mac"]

    # what the guest prints on its serial console reaches os-getConsoleOutput
    lines = "".join(f"line {i}\n" for i in range(5))
    libvirt_host.console_file(sid).write_text(lines + "eth0 fa:16:3e:00:00:01 192.168.10.5\n")
    scene.hosts.settle()
    out = scene.action(sid, {"os-getConsoleOutput": {}}, scene.user1).json()["output"]
    assert out.startswith("line 0\n") and "eth0 fa:16:3e:00:00:01 192.168.10.5" in out
    last = scene.action(sid, {"os-getConsoleOutput": {"length": 2}}, scene.user1).json()
    assert last["output"] == "line 4\neth0 fa:16:3e:00:00:01 192.168.10.5\n"

    assert scene.delete(sid, scene.user1).status_code == 204
    assert sid not in libvirt_host.guests()
    assert not (tmp_path / "compute-0" / "instances" / sid).exists()


def test_a_start_libvirt_refuses_is_an_error_with_its_words_and_frees_the_nic(
    scene: Scene, libvirt_host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import libvirt

    words = "unsupported configuration: host doesn't support passthrough of host PCI devices"

    def refuse(self: object) -> int:
        raise libvirt.libvirtError(words)

    monkeypatch.setattr(libvirt.virDomain, "create", refuse)
    port = scene.port()
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    assert server["status"] == "ERROR"
    assert server["fault"]["message"] == (
        f"Build of server vm1 on compute-0 failed: libvirt refused to start the guest: {words}"
    )
    assert scene.claims() == []
    assert scene.get_port(port["id"])["binding:host_id"] == ""
    assert libvirt_host.guests() == {}


# ---- cold migration carries the disk ----------------------------------------------------


def _disk(tmp_path: Path, host: str, sid: str) -> Path:
    return tmp_path / "hosts" / host / "disks" / sid


def _migrating_scene(scene: Scene, tmp_path: Path) -> tuple[str, Path]:
    """Agents whose fake guests have disk files; vm1 on compute-0 with a line of its own."""
    scene.hosts.state_dir = tmp_path / "hosts"
    scene.hosts.agents.clear()  # no guest yet: new agents with a state directory
    port = scene.port()
    lock(scene.cloud, "compute-1")
    sid = scene.boot("vm1", networks=[{"port": port["id"]}])["id"]
    scene.cloud.inventory.unlock_host(ADMIN, "compute-1")
    with open(_disk(tmp_path, "compute-0", sid), "a") as disk:
        disk.write("written by the guest\n")
    return sid, scene.cloud.settings.home / "disks" / sid


def test_a_cold_migration_carries_the_disk_and_confirm_removes_the_source(
    scene: Scene, tmp_path: Path
) -> None:
    sid, transit = _migrating_scene(scene, tmp_path)
    assert scene.action(sid, {"migrate": None}).status_code == 202
    assert scene.show(sid)["status"] == "VERIFY_RESIZE"
    assert _disk(tmp_path, "compute-1", sid).read_text() == (
        "defined on compute-0\nwritten by the guest\ndefined on compute-1\n"
    )
    assert not transit.exists()  # the controller's copy was dropped once it arrived
    assert _disk(tmp_path, "compute-0", sid).exists()  # kept for a revert
    assert scene.action(sid, {"confirmResize": None}, scene.user1).status_code == 204
    assert not _disk(tmp_path, "compute-0", sid).exists()
    assert _disk(tmp_path, "compute-1", sid).exists()


def test_a_revert_keeps_the_source_disk_and_removes_the_copy(scene: Scene, tmp_path: Path) -> None:
    sid, transit = _migrating_scene(scene, tmp_path)
    assert scene.action(sid, {"migrate": None}).status_code == 202
    assert scene.action(sid, {"revertResize": None}, scene.user1).status_code == 202
    assert scene.show(sid)["OS-EXT-SRV-ATTR:host"] == "compute-0"
    assert not _disk(tmp_path, "compute-1", sid).exists()
    assert "written by the guest" in _disk(tmp_path, "compute-0", sid).read_text()
    assert not transit.exists()


def test_a_source_agent_killed_before_its_upload_sends_the_disk_when_it_is_back(
    scene: Scene, tmp_path: Path
) -> None:
    """The source reports the guest parked only once the controller has its disk, so the
    destination never starts without it."""
    sid, transit = _migrating_scene(scene, tmp_path)
    source = scene.hosts.agent("compute-0")
    failures: list[str] = []

    def crash(path: str, file: Path) -> None:
        failures.append(path)
        raise SystemExit("killed")  # the agent process dies mid-upload

    source.client.put_file = crash  # type: ignore[method-assign]
    assert (
        scene.api.post(
            f"{API}/servers/{sid}/action", json={"migrate": None}, headers=scene.admin
        ).status_code
        == 202
    )
    with pytest.raises(SystemExit):
        scene.hosts.settle()
    assert failures and not transit.exists()
    assert sid not in scene.hosts.driver("compute-1").guests()
    # a new agent process for compute-0: what it remembers is on disk
    del scene.hosts.agents["compute-0"]
    scene.hosts.settle()
    assert scene.show(sid)["status"] == "VERIFY_RESIZE"
    assert "written by the guest" in _disk(tmp_path, "compute-1", sid).read_text()


def test_only_the_hosts_of_a_move_see_its_disk(scene: Scene, tmp_path: Path) -> None:
    sid, _transit = _migrating_scene(scene, tmp_path)
    other = _agent_client(scene, "compute-1")
    stranger = tmp_path / "stolen"
    # compute-1 is not (yet) the destination of a move of vm1
    with pytest.raises(Exception, match="409"):
        other.get_file(f"/agent/v1/hosts/compute-1/disks/{sid}", stranger)
    own = _disk(tmp_path, "compute-0", sid)
    with pytest.raises(Exception, match="409"):  # nor may a running guest's disk be sent
        _agent_client(scene, "compute-0").put_file(f"/agent/v1/hosts/compute-0/disks/{sid}", own)
    with pytest.raises(Exception, match="403"):  # nor may an agent speak for another host
        other.get_file(f"/agent/v1/hosts/compute-0/disks/{sid}", stranger)
    assert not stranger.exists()


# ---- prerequisites ------------------------------------------------------------------------


def test_a_host_lacking_passthrough_says_why_and_gets_no_server(
    scene: Scene, tmp_path: Path
) -> None:
    lock(scene.cloud, "compute-1")
    root = build_sample_compute_sysfs(tmp_path / "sys", 0)
    lacks = ["no IOMMU groups: the IOMMU is off or absent (intel_iommu=on / AMD-Vi)"]

    def start_agent(options: dict[str, Any]) -> None:
        scene.hosts.agents["compute-0"] = HostAgent(
            "compute-0",
            FakeDriver("compute-0", options=options),
            _agent_client(scene, "compute-0"),
            inventory=lambda: discover_host("compute-0", root),
        )
        scene.hosts.sync()

    start_agent({"prerequisites": lacks})
    host = scene.api.get("/inventory/v1/ihosts/compute-0", headers=scene.admin).json()
    assert host["passthrough"] == "lacking: " + lacks[0]
    server = scene.boot("vm1", networks=[{"port": scene.port()["id"]}])
    assert server["status"] == "ERROR"
    assert "lacking passthrough prerequisites (no IOMMU groups" in server["fault"]["message"]

    start_agent({})  # the operator turned the IOMMU on; the agent restarts and reports
    host = scene.api.get("/inventory/v1/ihosts/compute-0", headers=scene.admin).json()
    assert host["passthrough"] == "ok"
    assert scene.boot("vm2", networks=[{"port": scene.port("p2")["id"]}])["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("user_data", "words"),
    [("not base64!", "it is not base64"), ("QUFB" * 16384, "longer than 65535"), (7, "string")],
)
def test_user_data_must_be_base64_of_nova_size(scene: Scene, user_data: Any, words: str) -> None:
    body = {
        "server": {
            "name": "vm1",
            "imageRef": scene.image_id,
            "flavorRef": scene.flavor_id("small"),
            "networks": [{"port": scene.port()["id"]}],
            "user_data": user_data,
        }
    }
    resp = scene.api.post(f"{API}/servers", json=body, headers=scene.user1)
    assert resp.status_code == 400 and words in resp.json()["badRequest"]["message"]
