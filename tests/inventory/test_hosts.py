"""Agent reports, host lookup, and lock/unlock (research §1.3, §2.5)."""

from __future__ import annotations

import threading

import pytest

from passnic.errors import Conflict, NotFound
from passnic.inventory.models import Host
from passnic.inventory.service import UNLOCKED, InventoryService
from tests.conftest import BOTH_BACKENDS
from tests.inventory.conftest import ADMIN, port, refused, sriov_port, worker_report


@pytest.fixture(params=BOTH_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """These rules also run on PostgreSQL: they lean on the database (locks, joins, keys)."""
    param: str = request.param
    return param


def test_new_host_is_locked_disabled_online_with_its_nodes_ports_and_interfaces(
    inventory: InventoryService, compute: Host
) -> None:
    assert (compute.id, compute.hostname, compute.personality) == (1, "compute-0", "worker")
    assert compute.subfunctions == "worker"
    assert (compute.administrative, compute.operational, compute.availability) == (
        "locked",
        "disabled",
        "online",
    )
    assert (compute.vcpus, compute.memory_mb, compute.disk_gb) == (16, 65536, 500)
    assert [h.numa_nodes for h in inventory.compute_hosts()] == [(0, 1)]

    ports = {p.name: p for p in inventory.list_ports(ADMIN, "compute-0")}
    assert sorted(ports) == ["enp0s3", "enp0s8", "enp0s9", "enp1s0", "enp1s0d1"]
    x710 = ports["enp0s8"]
    assert x710.pciaddr == "0000:00:08.0"
    assert x710.pvendor == "Intel Corporation [8086]"
    assert x710.pdevice == "Ethernet Controller X710 for 10GbE SFP+ [1572]"
    assert x710.pclass == "Ethernet controller [0200]"
    assert (x710.sriov_totalvfs, x710.numa_node, x710.driver, x710.speed) == (16, 1, "i40e", 10000)
    assert x710.node_uuid is not None
    assert ports["enp0s3"].sriov_totalvfs is None

    # every port got an ethernet interface named like it, with no class, owning that port
    ifaces = {i.ifname: i for i in inventory.list_interfaces(ADMIN, "compute-0")}
    assert sorted(ifaces) == sorted(ports)
    eth = ifaces["enp0s3"]
    assert (eth.iftype, eth.ifclass, eth.imtu, eth.imac) == (
        "ethernet",
        None,
        1500,
        ports["enp0s3"].mac,
    )
    assert [p.uuid for p in eth.ports] == [ports["enp0s3"].uuid]
    assert ports["enp0s3"].interface_uuid == eth.uuid


def test_a_second_report_updates_ports_adds_new_ones_and_keeps_configuration(
    inventory: InventoryService, compute: Host
) -> None:
    enp0s3 = inventory.get_interface(ADMIN, "enp0s3", "compute-0")
    inventory.modify_interface(ADMIN, enp0s3.uuid, {"ifclass": "pci-passthrough"})
    report = worker_report(vcpus=32)
    report.ports[0] = port("enp0s3", "0000:00:03.0", mac="52:54:00:aa:bb:cc", speed=None)
    report.ports.append(sriov_port("enp2s0", "0000:02:00.0"))
    again = inventory.report_host(ADMIN, report)

    assert again.uuid == compute.uuid and again.vcpus == 32
    iface = inventory.get_interface(ADMIN, enp0s3.uuid)
    assert (iface.ifclass, iface.imac) == ("pci-passthrough", "52:54:00:aa:bb:cc")
    assert iface.ports[0].speed is None
    assert inventory.get_interface(ADMIN, "enp2s0", "compute-0").iftype == "ethernet"
    assert len(inventory.list_ports(ADMIN, "compute-0")) == 6


def test_a_port_missing_from_a_report_is_kept(inventory: InventoryService, compute: Host) -> None:
    report = worker_report()
    report.ports = report.ports[1:]
    inventory.report_host(ADMIN, report)
    assert "enp0s3" in {p.name for p in inventory.list_ports(ADMIN, "compute-0")}


def test_a_report_cannot_change_a_hosts_personality(
    inventory: InventoryService, compute: Host
) -> None:
    refused(
        "Host compute-0 is a worker; a report cannot make it a storage.",
        inventory.report_host,
        ADMIN,
        worker_report(personality="storage"),
    )


def test_bootstrap_can_create_a_host_unlocked(inventory: InventoryService) -> None:
    host = inventory.report_host(ADMIN, worker_report("compute-1"), initial=UNLOCKED)
    assert (host.administrative, host.operational, host.availability) == (
        "unlocked",
        "enabled",
        "available",
    )
    # the initial state is for new hosts only
    again = inventory.report_host(ADMIN, worker_report("compute-1"))
    assert again.administrative == "unlocked"


def test_concurrent_first_reports_of_many_hosts_all_land(inventory: InventoryService) -> None:
    errors: list[Exception] = []

    def report(n: int) -> None:
        try:
            inventory.report_host(ADMIN, worker_report(f"compute-{n}"))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(n % 8,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    hosts = inventory.list_hosts(ADMIN)
    assert sorted(h.id for h in hosts) == list(range(1, 9))


def test_hosts_are_found_by_id_uuid_or_hostname(inventory: InventoryService, compute: Host) -> None:
    inventory.report_host(ADMIN, worker_report("compute-1"))
    for ident in ("1", compute.uuid, "compute-0"):
        assert inventory.get_host(ADMIN, ident).uuid == compute.uuid
    assert [h.hostname for h in inventory.list_hosts(ADMIN)] == ["compute-0", "compute-1"]
    err = refused("Host compute-9 could not be found.", inventory.get_host, ADMIN, "compute-9")
    assert isinstance(err, NotFound)


def test_lock_and_unlock(inventory: InventoryService, compute: Host) -> None:
    refused(
        "Avoiding lock action on already 'locked' host compute-0",
        inventory.lock_host,
        ADMIN,
        "compute-0",
    )
    host = inventory.unlock_host(ADMIN, "compute-0")
    assert (host.administrative, host.operational, host.availability, host.action) == (
        "unlocked",
        "enabled",
        "available",
        "none",
    )
    refused(
        "Avoiding 'unlock' action on already 'unlocked' host compute-0",
        inventory.unlock_host,
        ADMIN,
        "compute-0",
    )
    host = inventory.lock_host(ADMIN, "compute-0")
    assert (host.administrative, host.operational, host.availability) == (
        "locked",
        "disabled",
        "online",
    )


def test_unlock_needs_an_online_host_unless_forced(
    inventory: InventoryService, compute: Host
) -> None:
    with inventory.db.transaction() as s:
        s.get(Host, compute.uuid).availability = "offline"  # type: ignore[union-attr]
    refused(
        "Host compute-0 is not online. Wait for 'online' availability status and then 'unlock'",
        inventory.unlock_host,
        ADMIN,
        "compute-0",
    )
    assert inventory.unlock_host(ADMIN, "compute-0", force=True).administrative == "unlocked"
    # locking a host that is down does not make it look up
    with inventory.db.transaction() as s:
        s.get(Host, compute.uuid).availability = "offline"  # type: ignore[union-attr]
    assert inventory.lock_host(ADMIN, "compute-0").availability == "offline"


def test_unlock_waits_for_the_agent_to_show_the_requested_vfs(
    inventory: InventoryService, compute: Host
) -> None:
    enp0s8 = inventory.get_interface(ADMIN, "enp0s8", "compute-0")
    inventory.modify_interface(
        ADMIN,
        enp0s8.uuid,
        {"ifclass": "pci-sriov", "sriov_numvfs": 2, "sriov_vf_driver": "netdevice"},
    )
    refused(
        "Expecting number of interface sriov_numvfs=2. Please wait a few minutes for inventory "
        "update and retry host-unlock.",
        inventory.unlock_host,
        ADMIN,
        "compute-0",
    )

    report = worker_report()
    vfs = ["0000:00:08.2", "0000:00:08.3"]
    report.ports[1] = sriov_port("enp0s8", "0000:00:08.0", sriov_vfs_pci_address=vfs)
    inventory.report_host(ADMIN, report)
    refused(
        "Value for SR-IOV VF driver is 'netdevice', but corresponding port has an invalid driver "
        "(interface enp0s8).",
        inventory.unlock_host,
        ADMIN,
        "compute-0",
    )

    report.ports[1] = sriov_port(
        "enp0s8", "0000:00:08.0", sriov_vfs_pci_address=vfs, sriov_vf_driver="iavf"
    )
    inventory.report_host(ADMIN, report)
    assert inventory.unlock_host(ADMIN, "compute-0").administrative == "unlocked"
    port_row = inventory.get_port(ADMIN, enp0s8.ports[0].uuid)
    assert port_row.sriov_vfs_pci_address == "0000:00:08.2,0000:00:08.3"


def test_a_new_ports_name_taken_by_an_interface_is_refused(
    inventory: InventoryService, compute: Host
) -> None:
    enp0s3 = inventory.get_interface(ADMIN, "enp0s3", "compute-0")
    inventory.modify_interface(ADMIN, enp0s3.uuid, {"ifname": "enp7s0"})
    report = worker_report()
    report.ports.append(port("enp7s0", "0000:07:00.0"))
    err = refused(
        "Cannot create an interface for new port enp7s0 of host compute-0: interface name "
        "enp7s0 is already in use.",
        inventory.report_host,
        ADMIN,
        report,
    )
    assert isinstance(err, Conflict)
