"""What the other domains ask the inventory, and who may ask what (policy)."""

from __future__ import annotations

import dataclasses

import pytest

from passnic.errors import Forbidden
from passnic.inventory.models import Host
from passnic.inventory.service import InventoryService, PassthroughDevice, pci_id
from tests.conftest import BOTH_BACKENDS
from tests.inventory.conftest import ADMIN, MEMBER, READER, port, worker_report


@pytest.fixture(params=BOTH_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """These rules also run on PostgreSQL: they lean on the database (locks, joins, keys)."""
    param: str = request.param
    return param


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("Intel Corporation [8086]", "8086"),
        ("Ethernet Controller X710 for 10GbE SFP+ [1572]", "1572"),
        ("Device [BA00]", "ba00"),
        ("Intel Corporation", None),
        ("[8086] trailing words", None),
    ],
)
def test_pci_id_reads_the_bracketed_hex(field: str, expected: str | None) -> None:
    assert pci_id(field) == expected


def test_passthrough_devices(inventory: InventoryService, compute: Host, group0: str) -> None:
    assert inventory.passthrough_devices() == []
    for name in ("enp0s8", "enp0s3"):
        iface = inventory.get_interface(ADMIN, name, "compute-0")
        inventory.modify_interface(ADMIN, iface.uuid, {"ifclass": "pci-passthrough"})
        inventory.assign_datanetwork(ADMIN, iface.uuid, group0)
    flat = inventory.create_datanetwork(ADMIN, {"name": "ext0", "network_type": "flat"})
    enp0s3 = inventory.get_interface(ADMIN, "enp0s3", "compute-0")
    inventory.assign_datanetwork(ADMIN, enp0s3.uuid, flat.uuid)
    inventory.report_host(ADMIN, worker_report("compute-1", ports=[port("eno1", "0000:00:01.0")]))
    inventory.unlock_host(ADMIN, "compute-0")

    devices = inventory.passthrough_devices()
    assert devices == [
        PassthroughDevice(
            hostname="compute-0",
            host_uuid=compute.uuid,
            administrative="unlocked",
            operational="enabled",
            availability="available",
            interface_uuid=enp0s3.uuid,
            ifname="enp0s3",
            pciaddr="0000:00:03.0",
            pvendor="Intel Corporation [8086]",
            pdevice="82540EM Gigabit Ethernet Controller [100e]",
            vendor_id="8086",
            product_id="100e",
            numa_node=0,
            sriov_totalvfs=None,
            mac=enp0s3.ports[0].mac,
            imtu=1500,
            datanetworks=("ext0", "group0-data0"),
        ),
        dataclasses.replace(
            devices[1],
            ifname="enp0s8",
            pciaddr="0000:00:08.0",
            product_id="1572",
            numa_node=1,
            sriov_totalvfs=16,
            datanetworks=("group0-data0",),
        ),
    ]
    assert [d.sriov_capable for d in devices] == [False, True]
    assert inventory.passthrough_devices("compute-1") == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        devices[0].ifname = "x"  # type: ignore[misc]


def test_get_datanetwork_and_compute_hosts(
    inventory: InventoryService, compute: Host, group0: str
) -> None:
    assert inventory.get_datanetwork("group0-data0").uuid == group0
    inventory.report_host(ADMIN, worker_report("storage-0", personality="storage", numa_nodes=[0]))
    hosts = inventory.compute_hosts()
    assert [(h.hostname, h.vcpus, h.memory_mb, h.numa_nodes) for h in hosts] == [
        ("compute-0", 16, 65536, (0, 1))
    ]
    assert (hosts[0].administrative, hosts[0].operational) == ("locked", "disabled")


def test_readers_read_and_only_admins_write(inventory: InventoryService, compute: Host) -> None:
    assert [h.hostname for h in inventory.list_hosts(READER)] == ["compute-0"]
    assert inventory.list_interfaces(READER, "compute-0")
    enp0s3 = inventory.get_interface(READER, "enp0s3", "compute-0")
    for call in (
        lambda: inventory.modify_interface(READER, enp0s3.uuid, {"ifclass": "pci-passthrough"}),
        lambda: inventory.unlock_host(READER, "compute-0"),
        lambda: inventory.create_datanetwork(READER, {"name": "x", "network_type": "flat"}),
        lambda: inventory.report_host(READER, worker_report()),
    ):
        with pytest.raises(Forbidden, match="Policy does not allow inventory:"):
            call()
    with pytest.raises(Forbidden, match="Policy does not allow inventory:read"):
        inventory.list_hosts(MEMBER)
