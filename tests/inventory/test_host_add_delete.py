"""host-add, host-update and host-delete with sysinv's rules: an added host is locked and
offline until its agent reports; hostname and personality change only before that report;
a host is deleted only when locked and holding no servers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from passnic.inventory.models import EthernetPort, Interface
from passnic.inventory.service import InventoryService
from tests.inventory.conftest import ADMIN, MEMBER, refused, worker_report
from tests.inventory.test_routes import V1, fault, replace


def test_an_added_host_waits_for_its_agent(inventory: InventoryService) -> None:
    added = inventory.add_host(
        ADMIN, {"hostname": "compute-3", "personality": "worker", "mgmt_mac": "08:00:27:AA:BB:CC"}
    )
    assert (added.administrative, added.operational, added.availability) == (
        "locked",
        "disabled",
        "offline",
    )
    assert added.mgmt_mac == "08:00:27:aa:bb:cc"
    refused(
        "Host compute-3 is not online. Wait for 'online' availability status and then 'unlock'",
        inventory.unlock_host,
        ADMIN,
        "compute-3",
    )
    reported = inventory.report_host(ADMIN, worker_report("compute-3"))
    assert (reported.id, reported.availability) == (added.id, "online")
    assert len(inventory.list_ports(ADMIN, "compute-3")) == 5
    assert inventory.unlock_host(ADMIN, "compute-3").availability == "available"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"personality": "worker"}, "Invalid hostname None: lowercase letters, digits and '-', "
         "at most 63, not starting or ending with '-'."),
        ({"hostname": "Compute_3", "personality": "worker"}, "Invalid hostname 'Compute_3': "
         "lowercase letters, digits and '-', at most 63, not starting or ending with '-'."),
        ({"hostname": "compute-3"}, "Invalid personality None: one of controller, worker, "
         "storage."),
        ({"hostname": "compute-3", "personality": "worker", "mgmt_mac": "08:00:27"},
         "Invalid mgmt_mac '08:00:27': six hex pairs, e.g. 08:00:27:aa:bb:cc."),
        ({"hostname": "compute-3", "personality": "worker", "location": "rack 2"},
         "Host attribute(s) 'location' are not supported."),
        ({"hostname": "compute-0", "personality": "worker"},
         "Host-add Rejected: Hostname compute-0 already exists"),
        ({"hostname": "compute-3", "personality": "worker", "mgmt_mac": "08:00:27:00:00:01"},
         "mgmt_mac 08:00:27:00:00:01 is already that of host compute-9"),
    ],
)  # fmt: skip
def test_host_add_refusals(
    inventory: InventoryService, compute: Any, values: dict[str, Any], message: str
) -> None:
    inventory.add_host(
        ADMIN, {"hostname": "compute-9", "personality": "worker", "mgmt_mac": "08:00:27:00:00:01"}
    )
    refused(message, inventory.add_host, ADMIN, values)
    refused(
        "Policy does not allow inventory:write to be performed.",
        inventory.add_host,
        MEMBER,
        {"hostname": "compute-4", "personality": "worker"},
    )


def test_host_update_rules(inventory: InventoryService, compute: Any) -> None:
    inventory.add_host(ADMIN, {"hostname": "compute-3", "personality": "worker"})
    renamed = inventory.update_host(
        ADMIN, "compute-3", {"hostname": "storage-0", "personality": "storage"}
    )
    assert (renamed.hostname, renamed.personality, renamed.subfunctions) == (
        "storage-0",
        "storage",
        "storage",
    )
    refused(
        "The hostname of host compute-0 cannot change: its agent has reported it (delete the "
        "host and add it again).",
        inventory.update_host,
        ADMIN,
        "compute-0",
        {"hostname": "compute-7"},
    )
    assert inventory.update_host(ADMIN, "compute-0", {"mgmt_mac": "08:00:27:00:00:02"}).mgmt_mac
    refused(
        "Hostname compute-0 already exists",
        inventory.update_host,
        ADMIN,
        "storage-0",
        {"hostname": "compute-0"},
    )
    refused(
        "mgmt_mac 08:00:27:00:00:02 is already that of host compute-0",
        inventory.update_host,
        ADMIN,
        "storage-0",
        {"mgmt_mac": "08:00:27:00:00:02"},
    )
    refused(
        "Host attribute(s) 'vcpus' may not be modified; host-update changes hostname, "
        "personality, mgmt_mac (lock and unlock are host actions).",
        inventory.update_host,
        ADMIN,
        "compute-0",
        {"vcpus": 4},
    )
    inventory.unlock_host(ADMIN, "compute-0")
    refused(
        "Host compute-0 must be locked to be updated.",
        inventory.update_host,
        ADMIN,
        "compute-0",
        {"mgmt_mac": None},
    )


def test_host_delete_needs_a_locked_host_without_servers(
    inventory: InventoryService, compute: Any, group0: str
) -> None:
    enp0s3 = next(i for i in inventory.list_interfaces(ADMIN, "compute-0") if i.ifname == "enp0s3")
    inventory.modify_interface(ADMIN, enp0s3.uuid, {"ifclass": "pci-passthrough"})
    inventory.assign_datanetwork(ADMIN, enp0s3.uuid, group0)
    inventory.unlock_host(ADMIN, "compute-0")
    refused(
        "Host compute-0 must be locked before it is deleted.",
        inventory.delete_host,
        ADMIN,
        "compute-0",
    )
    inventory.lock_host(ADMIN, "compute-0")
    asked: list[str] = []

    def servers_on(hostname: str) -> list[str]:
        asked.append(hostname)
        return ["vm1-id"] if len(asked) == 1 else []

    inventory.servers_on = servers_on
    refused(
        "Host compute-0 cannot be deleted: it holds server(s) vm1-id; migrate or delete them "
        "first.",
        inventory.delete_host,
        ADMIN,
        "compute-0",
    )
    inventory.delete_host(ADMIN, "compute-0")
    assert asked == ["compute-0", "compute-0"]
    assert [h.hostname for h in inventory.list_hosts(ADMIN)] == []
    with inventory.db.transaction() as s:
        assert s.query(EthernetPort).count() == s.query(Interface).count() == 0
    assert inventory.list_datanetworks(ADMIN)[0].name == "group0-data0"


def test_host_routes(client: TestClient) -> None:
    body = {"hostname": "compute-3", "personality": "worker", "mgmt_mac": "08:00:27:aa:bb:cc"}
    created = client.post(f"{V1}/ihosts", json=body)
    assert created.status_code == 200, created.text
    host = created.json()
    assert (host["hostname"], host["availability"], host["mgmt_mac"]) == (
        "compute-3",
        "offline",
        "08:00:27:aa:bb:cc",
    )
    updated = client.patch(f"{V1}/ihosts/{host['uuid']}", json=replace(hostname="compute-4"))
    assert updated.status_code == 200, updated.text
    assert updated.json()["hostname"] == "compute-4"
    twice = client.post(f"{V1}/ihosts", json={**body, "hostname": "compute-4"})
    assert twice.status_code == 409
    assert fault(twice) == "Host-add Rejected: Hostname compute-4 already exists"
    assert client.delete(f"{V1}/ihosts/compute-4").status_code == 204
    gone = client.delete(f"{V1}/ihosts/compute-4")
    assert gone.status_code == 404 and fault(gone) == "Host compute-4 could not be found."
