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


def test_two_unlocked_compute_hosts_and_group0_data0(
    inventory: InventoryService, tmp_path: Path
) -> None:
    cloud: Any = type("SampleCloud", (), {})()
    cloud.inventory, cloud.settings = inventory, Settings(home=tmp_path, database_url="x")
    bootstrap_inventory(cloud)

    hosts = inventory.list_hosts(ADMIN)
    assert [(h.hostname, h.administrative, h.operational, h.availability) for h in hosts] == [
        ("compute-0", "unlocked", "enabled", "available"),
        ("compute-1", "unlocked", "enabled", "available"),
    ]
    ports = {p.name: p for p in inventory.list_ports(ADMIN, "compute-0")}
    assert ports["enp0s3"].sriov_totalvfs == 64  # X710: the direct-physical port path
    assert ports["enp0s4"].sriov_totalvfs is None  # 82574L: the PCI alias path
    assert ports["enp0s4"].pvendor.endswith("[8086]")
    assert ports["enp0s4"].pdevice.endswith("[10d3]")
    ifaces = inventory.list_interfaces(ADMIN, "compute-1")
    assert sorted(i.ifname for i in ifaces) == ["enp0s2", "enp0s3", "enp0s4"]
    assert {i.ifclass for i in ifaces} == {None}
    assert inventory.get_datanetwork("group0-data0").network_type == "vlan"
