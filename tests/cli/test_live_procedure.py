"""The StarlingX host steps with the `passnic` CLI against a running Passnic (issue 2's
acceptance), plus the PCI alias commands."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LiveCloud

pytestmark = pytest.mark.osc
ADMIN = "passnic-admin"


def test_starlingx_host_procedure(live: LiveCloud) -> None:
    modify = ("host-if-modify", "-m", "1500", "-c", "pci-passthrough", "compute-0", "enp0s3")
    refused = live.passnic(ADMIN, *modify, check=False)
    assert refused.returncode != 0
    assert "Host must be locked." in refused.stderr

    live.passnic(ADMIN, "host-lock", "compute-0")
    live.passnic(ADMIN, *modify)
    live.passnic(ADMIN, "interface-datanetwork-assign", "compute-0", "enp0s3", "group0-data0")
    listed = live.passnic(ADMIN, "host-if-list", "compute-0").stdout
    rows = [line for line in listed.splitlines() if "pci-passthrough" in line]
    assert len(rows) == 1 and "enp0s3" in rows[0] and "MTU=1500" in rows[0]
    shown = live.passnic(ADMIN, "host-port-show", "compute-0", "enp0s3").stdout
    totalvfs = [line for line in shown.splitlines() if "sriov_totalvfs" in line]
    assert len(totalvfs) == 1 and "64" in totalvfs[0]
    no_sriov = live.passnic(ADMIN, "host-port-show", "compute-0", "enp0s4").stdout
    row = next(line for line in no_sriov.splitlines() if "sriov_totalvfs" in line)
    assert row.split("|")[2].strip() == "None"
    live.passnic(ADMIN, "host-unlock", "compute-0")
    host = json.loads(live.passnic(ADMIN, "host-show", "compute-0", "-f", "json").stdout)
    assert (host["administrative"], host["operational"], host["availability"]) == (
        "unlocked",
        "enabled",
        "available",
    )
    members = live.passnic("passnic-user1", "host-lock", "compute-1", check=False)
    assert members.returncode != 0 and "Policy does not allow" in members.stderr


def test_pci_alias_commands(live: LiveCloud) -> None:
    live.passnic(
        ADMIN, "pci-alias-create", "nic-82574", "--vendor-id", "8086", "--product-id", "10d3"
    )
    listed = json.loads(live.passnic(ADMIN, "pci-alias-list", "-f", "json").stdout)
    assert {"name": "nic-82574", "vendor_id": "8086", "product_id": "10d3"}.items() <= listed[
        0
    ].items()
    shown = live.passnic(
        ADMIN, "pci-alias-show", "nic-82574", "-f", "value", "--column", "device_type"
    )
    assert shown.stdout.strip() == "type-PCI"
    live.passnic(ADMIN, "pci-alias-delete", "nic-82574")
    gone = live.passnic(ADMIN, "pci-alias-show", "nic-82574", check=False)
    assert gone.returncode == 1 and "nic-82574" in gone.stderr
