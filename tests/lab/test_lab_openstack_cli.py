"""The lab on real guests driven with the real openstack CLI: a cloud as `passnic up` runs it
on the lab (its agents run the libvirt driver, each server a QEMU guest on its NIC's TAP).
A boot reaches ACTIVE and the guest's own console log shows its NIC's MAC and the port's IP;
two guests on net0 ping each other through the lab switch (from inside the guest); after
``server migrate`` + ``resize confirm`` the console shows a new interface name with the new
MAC and the same IP, and ping works again."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.image.sample import GUEST_NAME
from passnic.lab import guests
from passnic.lab.attach import LAB_ADMIN, attach_lab, start_lab, stop_lab
from passnic.lab.topology import Lab
from passnic.server import ThreadServer, prepare
from passnic.supervisor import AgentSupervisor
from tests.conftest import LiveCloud, free_port

pytestmark = pytest.mark.osc
ADMIN, USER1 = "passnic-admin", "passnic-user1"
BOOT_SECONDS = 120.0  # TCG guests on a loaded 2-core machine; a quiet one boots in ~10 s


@dataclass
class LabCloud:
    live: LiveCloud
    lab: Lab
    consoles: list[guests.GuestConsole] = field(default_factory=list)

    def console(self, server_id: str) -> guests.GuestConsole:
        log = self.lab.lab_dir / "instances" / server_id / "console.log"
        console = guests.GuestConsole(guests.find_domain(self.lab.prefix, server_id), log)
        self.consoles.append(console)
        return console

    def osc(self, cloud: str, *args: str) -> Any:
        return self.live.openstack_json(cloud, *args)


def _passthrough(cloud: Cloud, host: str, ifname: str) -> None:
    """The StarlingX host steps: lock, NIC -> pci-passthrough on group0-data0, unlock."""
    inv = cloud.inventory
    inv.lock_host(LAB_ADMIN, host)
    iface = next(i for i in inv.list_interfaces(LAB_ADMIN, host) if i.ifname == ifname)
    inv.modify_interface(LAB_ADMIN, iface.uuid, {"ifclass": "pci-passthrough"})
    inv.assign_datanetwork(LAB_ADMIN, iface.uuid, "group0-data0")
    inv.unlock_host(LAB_ADMIN, host)


@pytest.fixture
def lab_cloud(lab_prefix: str, tmp_path: Path) -> Iterator[LabCloud]:
    reason = guests.unavailable()
    if reason is not None:
        pytest.skip(reason)
    try:
        guests.ensure_libvirtd()
        from passnic.image.guest import build

        build()
    except Exception as exc:
        pytest.skip(f"no real guests here: {exc}")
    home = tmp_path / "home"
    settings = Settings(home=home, conductor=True)
    port = free_port()
    prepared = prepare(settings, "127.0.0.1", port)
    cloud = Cloud(settings)
    lab = start_lab(home / "lab", "qemu", prefix=lab_prefix)
    server = ThreadServer(cloud, "127.0.0.1", port)
    agents = AgentSupervisor(prepared.agents)
    try:
        attach_lab(cloud, lab, prepared.agents)
        for host in ("compute-0", "compute-1", "compute-2"):
            _passthrough(cloud, host, "enp0s3")
        url = server.start()
        agents.start()
        env = LabCloud(LiveCloud(url, home, prepared.clouds_yaml, cloud), lab)
        yield env
        for console in env.consoles:
            console.close()
    finally:
        agents.stop()
        server.stop()
        cloud.close()
        stop_lab(lab, home / "lab")
    assert guests.remove_domains(lab_prefix) == []


def _wait_for_hosts(url: str, env_cloud: LabCloud) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        services = env_cloud.osc(ADMIN, "compute", "service", "list")
        up = {s["Host"] for s in services if s["State"] == "up"}
        if {"compute-0", "compute-1", "compute-2"} <= up:
            return
        time.sleep(0.5)
    raise AssertionError(f"host agents not up: {services}")


def _interfaces(console_text: str) -> list[tuple[str, str, str]]:
    """(name, MAC, addresses) of the last boot's interfaces, as the guest printed them."""
    last = console_text.rsplit("passnic-guest: interfaces:", 1)[-1]
    return re.findall(r"passnic-guest: (eth\d+) (\S+) ([^\r\n]*)", last)


def _port(env: LabCloud, server: str) -> tuple[str, str]:
    (port,) = env.osc(USER1, "port", "list", "--server", server)
    return port["MAC Address"], port["Fixed IP Addresses"][0]["ip_address"]


def test_boot_console_ping_and_cold_migration_on_real_guests(lab_cloud: LabCloud) -> None:
    env = lab_cloud
    _wait_for_hosts(env.live.url, env)
    env.osc(
        ADMIN,
        *("network", "create", "net0", "--project", "project1"),
        *("--provider-network-type", "vlan", "--provider-physical-network", "group0-data0"),
        *("--provider-segment", "10"),
    )
    env.osc(
        USER1,
        *("subnet", "create", "sub0", "--network", "net0"),
        *("--subnet-range", "10.0.10.0/24", "--gateway", "10.0.10.254"),
    )
    servers = {}
    for name in ("vm1", "vm2"):
        created = env.osc(
            USER1,
            *("server", "create", name, "--image", GUEST_NAME, "--flavor", "small"),
            *("--network", "net0", "--wait"),
        )
        assert created["status"] == "ACTIVE", created
        servers[name] = created["id"]
    addresses = {}
    for name, sid in servers.items():
        env.console(sid).wait_for(r"passnic-guest: ready", BOOT_SECONDS)
        mac, ip = _port(env, name)
        addresses[name] = ip
        shown = env.live.openstack(USER1, "console", "log", "show", name).stdout
        assert ("eth0", mac, f"{ip}/24") in [
            (n, m, a.split()[0]) for n, m, a in _interfaces(shown)
        ], shown

    # two guests on net0 ping each other through the lab switch, from inside the guests
    vm1 = env.console(servers["vm1"])
    status, output = vm1.run(f"ping -c 2 -W 3 {addresses['vm2']}", timeout=30)
    assert status == 0, output
    status, output = env.console(servers["vm2"]).run(
        f"ping -c 1 -W 3 {addresses['vm1']}", timeout=30
    )
    assert status == 0, output

    # cold migration: a new NIC on another host, seen by the guest as a new ethX
    old_mac, old_ip = _port(env, "vm1")
    before = env.osc(ADMIN, "server", "show", "vm1")["OS-EXT-SRV-ATTR:host"]
    env.live.openstack(ADMIN, "server", "migrate", "--wait", "vm1")
    env.live.openstack(USER1, "server", "resize", "confirm", "vm1")
    deadline = time.monotonic() + 60
    while (shown := env.osc(ADMIN, "server", "show", "vm1"))["status"] != "ACTIVE":
        assert time.monotonic() < deadline, shown
        time.sleep(0.5)
    assert shown["OS-EXT-SRV-ATTR:host"] != before
    new_mac, new_ip = _port(env, "vm1")
    assert new_mac != old_mac and new_ip == old_ip
    vm1 = env.console(servers["vm1"])  # its domain on the new host
    vm1.wait_for(r"(?s)passnic-guest: ready.*passnic-guest: ready", BOOT_SECONDS)  # rebooted
    log = env.live.openstack(USER1, "console", "log", "show", "vm1").stdout
    now = {(n, m, a.split()[0]) for n, m, a in _interfaces(log)}
    assert now == {("eth1", new_mac, f"{new_ip}/24")}, log
    status, output = vm1.run(f"ping -c 2 -W 3 {addresses['vm2']}", timeout=30)
    assert status == 0, output
    print(f"\nservers {json.dumps(servers)}; vm1 {old_mac} -> {new_mac}, {new_ip}")
