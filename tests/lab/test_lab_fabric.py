"""The switch side on the lab, through `passnic up` as an operator runs it: the cabling is
learned over LLDP (the lab switch advertises, each host's agent reports what its NICs hear), a
fresh start audits clean, a boot puts its NIC's port on the network's VLAN, so does an alias
flavor booted with ``--nic net-id``, and after a restart with the servers still there their
ports are still on that VLAN and the audit is clean."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from passnic.image.sample import CIRROS_NAME, GUEST_NAME
from passnic.lab.topology import LabSpec
from tests.conftest import BIN
from tests.lab.test_up_lab import LAB_LINE, _admin_token, run_up

CABLED = {(h, n) for h in ("compute-0", "compute-1", "compute-2") for n in LabSpec().nic_names}


class Operator:
    """The operator's two CLIs against one `passnic up` home, and its fabric API."""

    def __init__(self, home: Path, base: str) -> None:
        self.home, self.base = home, base
        self.headers = {"X-Auth-Token": _admin_token(base, home)}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env |= {
            "OS_CLIENT_CONFIG_FILE": str(home / "clouds.yaml"),
            "XDG_CACHE_HOME": str(home / "cache"),
        }

    def run(self, cli: str, *args: str, cloud: str = "passnic-admin") -> str:
        argv = [str(BIN / cli), "--os-cloud", cloud, *args]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    def get(self, path: str) -> Any:
        resp = httpx.get(f"{self.base}/fabric/v1{path}", headers=self.headers, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def audit(self) -> list[dict[str, Any]]:
        resp = httpx.post(f"{self.base}/fabric/v1/audit", headers=self.headers, timeout=60)
        assert resp.status_code == 200, resp.text
        assert resp.json()["errors"] == []
        rows: list[dict[str, Any]] = resp.json()["ports"]
        return rows

    def learned_links(self) -> dict[tuple[str, str], str]:
        """Wait (60 s at most) until every cabled NIC's link is learned over LLDP."""
        deadline = time.monotonic() + 60
        while True:
            links = {(lk["host"], lk["nic"]): lk for lk in self.get("/links")["links"]}
            lldp = {k: lk["switch_port"] for k, lk in links.items() if lk["source"] == "lldp"}
            if set(lldp) >= CABLED or time.monotonic() > deadline:
                assert set(lldp) >= CABLED, links
                return lldp
            time.sleep(0.5)

    def port_of(self, server: str) -> dict[str, Any]:
        row = [r for r in self.audit() if r["server_id"] == server]
        assert len(row) == 1, row
        return row[0]


def _image(op: Operator) -> str:
    names = {i["Name"] for i in _json(op.run("openstack", "image", "list", "-f", "json"))}
    return GUEST_NAME if GUEST_NAME in names else CIRROS_NAME


def _json(text: str) -> Any:
    import json

    return json.loads(text)


def test_cabling_learned_audit_clean_and_vlan_kept_across_a_restart(
    lab_prefix: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    servers: dict[str, str] = {}
    first_links: dict[tuple[str, str], str] = {}

    def first(base: str) -> None:
        op = Operator(home, base)
        first_links.update(op.learned_links())
        assert [r for r in op.audit() if r["drift"]] == []  # a fresh start: no drift
        for host, nic in (("compute-0", "enp0s3"), ("compute-2", "enp0s4")):
            op.run("passnic", "host-lock", host)
            op.run("passnic", "host-if-modify", "-c", "pci-passthrough", host, nic)
            op.run("passnic", "interface-datanetwork-assign", host, nic, "group0-data0")
            op.run("passnic", "host-unlock", host)
        op.run(
            "openstack",
            *("network", "create", "--project", "project1", "--provider-network-type", "vlan"),
            *("--provider-physical-network", "group0-data0", "--provider-segment", "10", "net0"),
        )
        op.run(
            "openstack",
            *("subnet", "create", "--network", "net0"),
            "--subnet-range",
            "10.0.10.0/24",
            "sub0",
        )
        image = _image(op)
        op.run(
            "openstack",
            *("port", "create", "--network", "net0", "--vnic-type", "direct-physical", "port0"),
            cloud="passnic-user1",
        )
        port = _json(
            op.run("openstack", "port", "show", "port0", "-f", "json", cloud="passnic-user1")
        )
        vm1 = op.run(
            "openstack",
            *("server", "create", "--flavor", "small", "--image", image, "--wait"),
            *("--nic", f"port-id={port['id']}", "-f", "value", "-c", "id", "vm1"),
            cloud="passnic-user1",
        )
        op.run(
            "passnic",
            "pci-alias-create",
            "nic-82574",
            "--vendor-id",
            "8086",
            "--product-id",
            "10d3",
        )
        op.run(
            "openstack",
            *("flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1"),
            *("--property", "pci_passthrough:alias=nic-82574:1", "small-82574"),
        )
        vm2 = op.run(
            "openstack",
            *("server", "create", "--flavor", "small-82574", "--image", image, "--wait"),
            *("--nic", "net-id=net0", "-f", "value", "-c", "id", "vm2"),
            cloud="passnic-user1",
        )
        servers.update(vm1=vm1.strip(), vm2=vm2.strip())
        for name, sid in servers.items():
            row = op.port_of(sid)
            assert (row["actual"], row["drift"]) == ("access VLAN 10", []), (name, row)
        assert (op.port_of(servers["vm2"])["host"], op.port_of(servers["vm2"])["nic"]) == (
            "compute-2",
            "enp0s4",
        )

    def second(base: str) -> None:
        op = Operator(home, base)
        assert op.learned_links() == first_links
        for name, sid in servers.items():
            row = op.port_of(sid)
            assert (row["actual"], row["drift"]) == ("access VLAN 10", []), (name, row)
        assert [r for r in op.audit() if r["drift"]] == []

    for during in (first, second):
        stopped = run_up(home, "--lab", during=during)
        assert stopped.returncode == 0, stopped.output
        found = LAB_LINE.search(stopped.output)
        assert found, stopped.output
    assert servers, "the first run did not boot"


pytestmark = pytest.mark.osc
