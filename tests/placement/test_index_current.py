"""Two API workers (two PlacementService instances on one database) each keep their own fleet
index; each must see the other's claims, releases and inventory changes before it chooses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bench.api import ADMIN, configure_first, copy_hosts

from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.inventory.service import InventoryService
from passnic.placement.model import DeviceRequest, NoValidHost, PlacementRequest
from passnic.placement.service import Allocation, DeviceSource, PlacementService

REQUEST = PlacementRequest(devices=(DeviceRequest.port("group0-data0"),))
SOURCE = (DeviceSource(physical_network="group0-data0"),)


@pytest.fixture
def workers(cloud: Cloud, settings: Settings) -> Iterator[tuple[PlacementService, ...]]:
    """bench-00000 and bench-00001 (4 NICs each on group0-data0), and two placement services
    as two workers would have them."""
    cloud.inventory.create_datanetwork(
        ADMIN, {"name": "group0-data0", "network_type": "vlan", "mtu": 1500}
    )
    configure_first(cloud)
    copy_hosts(cloud.db, 1, 2)
    other = Cloud(settings)
    try:
        yield cloud.placement, other.placement
    finally:
        other.close()


def place(service: PlacementService, consumer: str) -> Allocation | NoValidHost:
    return service.run(lambda s: service.place(s, consumer, consumer, REQUEST, SOURCE))


def nics(found: Allocation | NoValidHost) -> set[tuple[str, str]]:
    assert isinstance(found, Allocation), found
    return {(c.hostname, c.pci_address) for c in found.all_claims}


def test_workers_see_each_others_claims_and_releases(workers: tuple[PlacementService, ...]) -> None:
    a, b = workers
    taken: set[tuple[str, str]] = set()
    for i in range(8):  # alternate workers: 8 NICs, never one twice
        got = nics(place((a, b)[i % 2], f"vm{i}"))
        assert not got & taken
        taken |= got
    assert isinstance(place(a, "vm8"), NoValidHost)
    with a.db.transaction() as s:
        a.release(s, "vm3")  # a release by one worker frees the NIC for the other
    assert nics(place(b, "vm9")) <= taken
    with b.db.transaction() as s:
        assert isinstance(b.place(s, "vm10", "vm10", REQUEST, SOURCE), NoValidHost)


def test_inventory_changes_reach_every_worker(
    cloud: Cloud, workers: tuple[PlacementService, ...]
) -> None:
    a, b = workers
    assert nics(place(a, "vm0"))  # both workers have built their index by now
    assert nics(place(b, "vm1"))
    inventory: InventoryService = cloud.inventory
    inventory.lock_host(ADMIN, "bench-00000", force=True)
    inventory.lock_host(ADMIN, "bench-00001", force=True)
    found = place(b, "vm2")
    assert isinstance(found, NoValidHost)
    assert "locked" in found.message
    inventory.unlock_host(ADMIN, "bench-00001")
    assert {h for h, _ in nics(place(a, "vm3"))} == {"bench-00001"}
