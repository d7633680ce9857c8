"""The sample cloud's inventory, as `passnic up` creates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from passnic.config import Settings
from passnic.inventory.sample import bootstrap_inventory
from passnic.inventory.service import InventoryService
from tests.conftest import BOTH_BACKENDS
from tests.inventory.conftest import ADMIN


@pytest.fixture(params=BOTH_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """These rules also run on PostgreSQL: they lean on the database (locks, joins, keys)."""
    param: str = request.param
    return param


def test_a_controller_three_computes_and_group0_data0(
    inventory: InventoryService, tmp_path: Path
) -> None:
    cloud: Any = type("SampleCloud", (), {})()
    cloud.inventory, cloud.settings = inventory, Settings(home=tmp_path, database_url="x")
    bootstrap_inventory(cloud)

    hosts = inventory.list_hosts(ADMIN)
    assert [
        (h.hostname, h.personality, h.administrative, h.operational, h.availability) for h in hosts
    ] == [
        ("controller-0", "controller", "unlocked", "enabled", "available"),
        ("compute-0", "worker", "unlocked", "enabled", "available"),
        ("compute-1", "worker", "unlocked", "enabled", "available"),
        ("compute-2", "worker", "unlocked", "enabled", "available"),
    ]

    # The controller has only its platform NIC.
    assert [p.name for p in inventory.list_ports(ADMIN, "controller-0")] == ["enp0s2"]
    (platform,) = inventory.list_interfaces(ADMIN, "controller-0")
    assert (platform.ifname, platform.ifclass) == ("enp0s2", "platform")

    macs: dict[str, str] = {
        p.mac: "controller-0" for p in inventory.list_ports(ADMIN, "controller-0")
    }
    for host in ("compute-0", "compute-1", "compute-2"):
        ports = {p.name: p for p in inventory.list_ports(ADMIN, host)}
        assert sorted(ports) == ["enp0s2", "enp0s3", "enp0s4"], host
        assert ports["enp0s3"].sriov_totalvfs == 64  # X710: the direct-physical port path
        assert ports["enp0s3"].pdevice.endswith("[1572]")
        assert ports["enp0s3"].numa_node == 0
        assert ports["enp0s4"].sriov_totalvfs is None  # 82574L: the PCI alias path
        assert ports["enp0s4"].pvendor.endswith("[8086]")
        assert ports["enp0s4"].pdevice.endswith("[10d3]")
        assert ports["enp0s4"].numa_node == 1
        for port in ports.values():  # each host its own MACs (its fake-sysfs index)
            assert macs.setdefault(port.mac, host) == host, port.mac
        # Only the platform NIC has a class; the operator configures the others.
        ifaces = {i.ifname: i.ifclass for i in inventory.list_interfaces(ADMIN, host)}
        assert ifaces == {"enp0s2": "platform", "enp0s3": None, "enp0s4": None}, host
    assert len(macs) == 1 + 3 * 3
    assert inventory.get_datanetwork("group0-data0").network_type == "vlan"
