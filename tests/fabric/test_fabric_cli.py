"""Issue 5's acceptance against a running Passnic with the sample cloud, driven by the real
`passnic` and `openstack` CLIs. The switch is tor-1's in-process SoftSwitch, read back through
its driver (never the database)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from passnic.compute.sample import seed_flavors
from passnic.fabric.drivers.soft import SoftSwitchDriver
from passnic.fabric.portconfig import PortConfig
from passnic.fabric.sample import QUARANTINE_VLAN
from passnic.image.sample import seed_cirros
from tests.conftest import LiveCloud

pytestmark = pytest.mark.osc
ADMIN, USER1 = "passnic-admin", "passnic-user1"
PORT_OF = {"compute-0": "GigabitEthernet1/0/1", "compute-1": "GigabitEthernet1/0/3"}


def _host(live: LiveCloud, server: str) -> str:
    shown: dict[str, Any] = live.openstack_json(ADMIN, "server", "show", vm_id(live, server))
    host: str = shown["OS-EXT-SRV-ATTR:host"]
    return host


def vm_id(live: LiveCloud, name: str) -> str:
    server: dict[str, Any] = live.openstack_json(USER1, "server", "show", name)
    return str(server["id"])


def _port(tor1: SoftSwitchDriver, host: str) -> PortConfig:
    return tor1.read([PORT_OF[host]])[PORT_OF[host]]


def test_fabric_follows_the_procedure(live: LiveCloud) -> None:
    seed_flavors(live.cloud)
    seed_cirros(live.cloud)
    tor1 = live.cloud.fabric.soft("tor-1")

    listed = json.loads(live.passnic(ADMIN, "switch-list", "-f", "json").stdout)
    assert [s["name"] for s in listed] == ["tor-1"]
    shown = live.passnic(ADMIN, "switch-show", "tor-1").stdout
    assert "password_set" in shown and "soft" in shown
    links = json.loads(live.passnic(ADMIN, "link-list", "-f", "json").stdout)
    assert {(lk["host"], lk["nic"], lk["switch_port"]) for lk in links} >= {
        ("compute-0", "enp0s3", PORT_OF["compute-0"]),
        ("compute-1", "enp0s3", PORT_OF["compute-1"]),
    }
    denied = live.passnic(USER1, "switch-list", check=False)
    assert denied.returncode == 1 and "Policy does not allow" in denied.stderr

    for host in ("compute-0", "compute-1"):
        live.passnic(ADMIN, "host-lock", host)
        live.passnic(ADMIN, "host-if-modify", "-c", "pci-passthrough", host, "enp0s3")
        live.passnic(ADMIN, "interface-datanetwork-assign", host, "enp0s3", "group0-data0")
        live.passnic(ADMIN, "host-unlock", host)
    live.openstack(
        ADMIN, "network", "create", "--project", "project1", "--provider-network-type", "vlan",
        "--provider-physical-network", "group0-data0", "--provider-segment", "10", "net0",
    )  # fmt: skip
    live.openstack(
        ADMIN, "network", "create", "--project", "project1", "--provider-network-type", "vlan",
        "--provider-physical-network", "group0-data0", "--provider-segment", "20", "net1",
    )  # fmt: skip
    live.openstack(USER1, "subnet", "create", "--network", "net0", "--subnet-range",
                   "192.168.10.0/24", "subnet0")  # fmt: skip
    port0 = live.openstack_json(
        USER1, "port", "create", "--network", "net0", "--vnic-type", "direct-physical", "port0"
    )

    # A refusing switch: the boot ends ERROR with the switch's words, nothing kept.
    tor1.fail_next_apply("% Access VLAN does not exist")
    failed = live.openstack(
        USER1, "server", "create", "--flavor", "small", "--image", "cirros",
        "--nic", f"port-id={port0['id']}", "--wait", "vm0", check=False,
    )  # fmt: skip
    assert failed.returncode != 0
    fault = live.openstack_json(USER1, "server", "show", "vm0")
    assert fault["status"] == "ERROR"
    assert "% Access VLAN does not exist" in json.dumps(fault["fault"])
    assert live.cloud.placement.list_claims() == []
    unbound = live.openstack_json(USER1, "port", "show", "port0")
    assert unbound["binding_host_id"] in ("", None) and unbound["device_id"] == ""
    assert not any(c.admin_up for c in tor1.switch.ports.values() if c.mode == "access")
    live.openstack(USER1, "server", "delete", "--wait", "vm0")

    # Recovered: the same boot succeeds and the port is access VLAN 10.
    vm1 = live.openstack_json(
        USER1, "server", "create", "--flavor", "small", "--image", "cirros",
        "--nic", f"port-id={port0['id']}", "--wait", "vm1",
    )  # fmt: skip
    assert vm1["status"] == "ACTIVE"
    first = _host(live, "vm1")
    assert _port(tor1, first) == PortConfig.access(10)
    ports = json.loads(live.passnic(ADMIN, "switch-port-list", "tor-1", "-f", "json").stdout)
    row = next(p for p in ports if p["name"] == PORT_OF[first])
    assert row["actual"] == "access VLAN 10" and row["status"] == "bound"

    # trace on the access port
    out = live.passnic(ADMIN, "trace", "vm1").stdout
    assert f"untagged frame enters tor-1 {PORT_OF[first]} (access VLAN 10)" in out
    assert "→ VLAN 10 → net0 (project1)" in out
    assert "→ VLAN 10 → net0" in live.passnic(ADMIN, "trace", "vm1", "--tag", "10").stdout
    assert "dropped" in live.passnic(ADMIN, "trace", "vm1", "--tag", "20").stdout

    # drift behind Passnic's back: reported, alarmed, fixed
    tor1.switch.configure(PORT_OF[first], PortConfig.access(20))
    audit = live.passnic(ADMIN, "fabric-audit", check=False)
    assert audit.returncode == 2 and "wrong VLAN: access VLAN 20, expected 10" in audit.stdout
    alarms = json.loads(live.passnic(ADMIN, "alarm-list", "-f", "json").stdout)
    assert [a["port"] for a in alarms] == [PORT_OF[first]]
    live.passnic(ADMIN, "fabric-audit", "--fix")
    assert _port(tor1, first) == PortConfig.access(10)
    tor1.switch.configure(PORT_OF[first], PortConfig.trunk(10, [10, 20]))
    audit = live.passnic(ADMIN, "fabric-audit", "--fix", check=False)
    assert "trunk where access was expected" in audit.stdout
    assert _port(tor1, first) == PortConfig.access(10)
    assert live.passnic(ADMIN, "fabric-audit").returncode == 0
    assert json.loads(live.passnic(ADMIN, "alarm-list", "-f", "json").stdout) == []

    # trace on a trunk (changed on the switch directly): tagged 20 crosses into net1
    tor1.switch.configure(PORT_OF[first], PortConfig.trunk(10, [10, 20]))
    assert "→ VLAN 10 → net0" in live.passnic(ADMIN, "trace", "vm1").stdout
    crossing = live.passnic(ADMIN, "trace", "vm1", "--tag", "20").stdout
    assert "→ VLAN 20 → net1 (project1)" in crossing and "crosses" in crossing
    report = json.loads(live.passnic(ADMIN, "fabric-report", "-f", "json").stdout)
    assert {s["vlan"] for s in report["segments"]} == {10, 20}
    live.passnic(ADMIN, "fabric-audit", "--fix", check=False)

    # cold migration: the new port access VLAN 10, the old one quarantined after confirm
    live.openstack(ADMIN, "server", "migrate", "--wait", vm1["id"])
    second = _host(live, "vm1")
    assert second != first
    assert _port(tor1, second) == PortConfig.access(10)
    live.openstack(USER1, "server", "resize", "confirm", "vm1")
    assert _port(tor1, second) == PortConfig.access(10)
    # the confirm is answered at once and finished by the conductor: the source's NIC stays
    # bound (a revert would need it) until its claim goes, then its port is quarantined
    quarantined = PortConfig.quarantine(QUARANTINE_VLAN)
    deadline = time.monotonic() + 30
    while _port(tor1, first) != quarantined and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _port(tor1, first) == quarantined

    # delete: quarantined
    live.openstack(USER1, "server", "delete", "--wait", "vm1")
    assert _port(tor1, second) == PortConfig.quarantine(QUARANTINE_VLAN)
    assert live.passnic(ADMIN, "fabric-audit").returncode == 0


def test_switch_and_link_commands(live: LiveCloud) -> None:
    live.passnic(
        ADMIN, "switch-add", "tor-2", "--driver", "cisco_ios", "--address", "192.0.2.2",
        "--username", "admin", "--password", "hunter2", "--port", "GigabitEthernet1/0/1",
    )  # fmt: skip
    shown = live.passnic(ADMIN, "switch-show", "tor-2", "-f", "json").stdout
    assert "hunter2" not in shown and json.loads(shown)["password_set"] is True
    live.passnic(ADMIN, "link-set", "compute-2", "enp0s3", "tor-1", "GigabitEthernet1/0/6")
    links = json.loads(live.passnic(ADMIN, "link-list", "-f", "json").stdout)
    row = next(lk for lk in links if (lk["host"], lk["nic"]) == ("compute-2", "enp0s3"))
    assert row["switch_port"] == "GigabitEthernet1/0/6" and row["source"] == "manual"
    live.passnic(ADMIN, "switch-delete", "tor-2")
    gone = live.passnic(ADMIN, "switch-show", "tor-2", check=False)
    assert gone.returncode == 1 and "tor-2" in gone.stderr
