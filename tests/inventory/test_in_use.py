"""What servers and networks use is not pulled from under them: a host whose servers hold
pci-passthrough NICs is not locked unless forced, a held NIC's interface is not changed, and a
data network that networks use is not deleted. The inventory reads what is in use through the
hooks the cloud wires (placement's claims, the networks); here they are stubs."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from passnic.inventory.models import Host
from passnic.inventory.service import InventoryService, NicInUse
from tests.inventory.conftest import ADMIN, refused

#: what the stubbed placement says: vm1 holds enp0s3's NIC of compute-0
HELD = {"compute-0": [NicInUse("compute-0", "0000:00:03.0", "vm1")]}
#: what the stubbed networking says uses each data network
USERS = {"group0-data0": ["network net0", "segment range r1"]}


@pytest.fixture
def in_use(inventory: InventoryService, compute: Host, group0: str) -> InventoryService:
    """compute-0 unlocked with enp0s3 pci-passthrough on group0-data0, held by vm1."""
    enp0s3 = inventory.get_interface(ADMIN, "enp0s3", "compute-0")
    inventory.modify_interface(ADMIN, enp0s3.uuid, {"ifclass": "pci-passthrough"})
    inventory.assign_datanetwork(ADMIN, enp0s3.uuid, group0)
    inventory.unlock_host(ADMIN, "compute-0")
    inventory.consult(lambda host: HELD.get(host, []), lambda name: USERS.get(name, []))
    return inventory


LOCK_REFUSED = (
    "Rejected: Can not lock compute-0: server vm1 holds pci-passthrough NIC 0000:00:03.0 on it, "
    "and a guest with a pci-passthrough NIC cannot be live-migrated. Cold-migrate (openstack "
    "server migrate) or delete the server first, or use host-lock --force."
)


def test_a_host_whose_servers_hold_nics_is_locked_only_by_force(in_use: InventoryService) -> None:
    refused(LOCK_REFUSED, in_use.lock_host, ADMIN, "compute-0")
    assert in_use.get_host(ADMIN, "compute-0").administrative == "unlocked"
    assert in_use.lock_host(ADMIN, "compute-0", force=True).administrative == "locked"


def test_host_lock_over_http(in_use: InventoryService, client: TestClient) -> None:
    def action(value: str) -> httpx.Response:
        patch = [{"op": "replace", "path": "/action", "value": value}]
        return client.patch("/inventory/v1/ihosts/compute-0", json=patch)

    resp = action("lock")
    assert resp.status_code == 400
    assert LOCK_REFUSED in resp.text
    resp = action("force-lock")
    assert resp.status_code == 200, resp.text
    assert resp.json()["administrative"] == "locked"


def test_the_interface_of_a_held_nic_keeps_its_configuration(in_use: InventoryService) -> None:
    in_use.lock_host(ADMIN, "compute-0", force=True)
    enp0s3 = in_use.get_interface(ADMIN, "enp0s3", "compute-0")
    held = "server vm1 holds pci-passthrough NIC 0000:00:03.0. Migrate or delete the server first."
    for changes in ({"ifclass": "none"}, {"imtu": 9000}):
        refused(
            f"Operation Rejected: Interface 'enp0s3' cannot be modified: {held}",
            in_use.modify_interface,
            ADMIN,
            enp0s3.uuid,
            changes,
        )
    refused(
        "Operation Rejected: Interface 'enp0s3' cannot be removed from its data network: " + held,
        in_use.remove_interface_datanetwork,
        ADMIN,
        enp0s3.datanetworks[0].uuid,
    )
    # a NIC nobody holds is configured as before
    enp0s9 = in_use.get_interface(ADMIN, "enp0s9", "compute-0")
    assert in_use.modify_interface(ADMIN, enp0s9.uuid, {"imtu": 9000}).imtu == 9000


def test_a_data_network_networks_use_is_not_deleted(
    inventory: InventoryService, compute: Host, group0: str
) -> None:
    inventory.consult(lambda _host: [], lambda name: USERS.get(name, []))
    refused(
        f"DataNetwork '{group0}' is still used by network net0, segment range r1. Check "
        "openstack network list and openstack network segment range list.",
        inventory.delete_datanetwork,
        ADMIN,
        group0,
    )
    flat = inventory.create_datanetwork(ADMIN, {"name": "flat0", "network_type": "flat"})
    inventory.delete_datanetwork(ADMIN, flat.uuid)  # nothing uses it
