"""Data networks (research §2.4) and interface-data-network assignments (§2.2), with Passnic's
flat/vlan-only rule for PCI interfaces."""

from __future__ import annotations

from typing import Any

import pytest

from passnic.errors import Conflict, NotFound
from passnic.inventory.models import Interface
from passnic.inventory.service import InventoryService
from tests.conftest import BOTH_BACKENDS
from tests.inventory.conftest import ADMIN, port, refused, worker_report


@pytest.fixture(params=BOTH_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """These rules also run on PostgreSQL: they lean on the database (locks, joins, keys)."""
    param: str = request.param
    return param


def get(inv: InventoryService, name: str, host: str = "compute-0") -> Interface:
    return inv.get_interface(ADMIN, name, host)


def modify(inv: InventoryService, name: str, **changes: Any) -> Interface:
    return inv.modify_interface(ADMIN, get(inv, name).uuid, changes)


def create(inv: InventoryService, **values: Any) -> str:
    return inv.create_datanetwork(ADMIN, values).uuid


pytestmark = pytest.mark.usefixtures("compute")

VXLAN = {
    "name": "vx0",
    "network_type": "vxlan",
    "multicast_group": "239.0.0.1",
    "port_num": 4789,
    "ttl": 10,
}

# -- data networks --


def test_create_list_show_modify_delete(inventory: InventoryService) -> None:
    dn = inventory.create_datanetwork(
        ADMIN, {"name": "group0-data0", "network_type": "vlan", "description": "tenant VLANs"}
    )
    assert (dn.id, dn.name, dn.network_type, dn.mtu, dn.description) == (
        1,
        "group0-data0",
        "vlan",
        1500,
        "tenant VLANs",
    )
    assert dn.mode is None and dn.port_num is None
    create(inventory, name="a-flat", network_type="flat", mtu=9000)
    assert [d.name for d in inventory.list_datanetworks(ADMIN)] == ["a-flat", "group0-data0"]
    for ident in (dn.uuid, "1", "group0-data0"):
        assert inventory.show_datanetwork(ADMIN, ident).uuid == dn.uuid
    changed = inventory.modify_datanetwork(ADMIN, dn.uuid, {"mtu": 9000, "description": None})
    assert (changed.mtu, changed.description) == (9000, None)
    inventory.delete_datanetwork(ADMIN, "group0-data0")
    err = refused(
        "DataNetwork group0-data0 could not be found.",
        inventory.show_datanetwork,
        ADMIN,
        "group0-data0",
    )
    assert isinstance(err, NotFound)


def test_vxlan_data_networks(inventory: InventoryService) -> None:
    dn = inventory.create_datanetwork(ADMIN, VXLAN)
    assert (dn.mode, dn.multicast_group, dn.port_num, dn.ttl) == ("dynamic", "239.0.0.1", 4789, 10)
    static = inventory.create_datanetwork(
        ADMIN,
        {"name": "vx1", "network_type": "vxlan", "mode": "static", "port_num": 8472, "ttl": 1},
    )
    assert (static.mode, static.multicast_group) == ("static", None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "x", "network_type": "gre"}, "DataNetwork type gre is not supported"),
        ({"name": "x"}, "DataNetwork name and network_type are required."),
        ({"name": "none", "network_type": "flat"}, "DataNetwork name 'none' is not allowed."),
        (
            {"name": "bad name", "network_type": "flat"},
            "DataNetwork name 'bad name' is not allowed: name may only contain letters, numbers, "
            "underscores, periods and hyphens.",
        ),
        (
            {"name": "x", "network_type": "flat", "mtu": 100},
            "MTU must be between 576 and 9216 bytes.",
        ),
        ({"name": "x", "network_type": "flat", "mtu": "x"}, "MTU is an integer value."),
        (
            {"name": "x", "network_type": "flat", "description": "d" * 256},
            "Value for description must be a string of 1 to 255 characters.",
        ),
        (
            {"name": "x", "network_type": "flat", "ttl": 3},
            "Attribute(s) ttl are only valid for vxlan data networks.",
        ),
        (
            {"name": "x", "network_type": "flat", "segmentation": 3},
            "DataNetwork attribute(s) 'segmentation' may not be set",
        ),
        (
            {**VXLAN, "multicast_group": None},
            "A vxlan data network in dynamic mode must specify multicast_group, port_num and ttl.",
        ),
        (
            {**VXLAN, "multicast_group": "10.0.0.1"},
            "multicast_group 10.0.0.1 is not a valid multicast address.",
        ),
        (
            {**VXLAN, "multicast_group": "nonsense"},
            "multicast_group nonsense is not a valid multicast address.",
        ),
        (
            {**VXLAN, "mode": "static"},
            "A vxlan data network in static mode cannot have a multicast_group.",
        ),
        (
            {"name": "x", "network_type": "vxlan", "mode": "static", "ttl": 1},
            "A vxlan data network in static mode must specify port_num and ttl.",
        ),
        (
            {**VXLAN, "mode": "multicast"},
            "Invalid vxlan mode 'multicast'; must be one of dynamic, static",
        ),
        ({**VXLAN, "port_num": 70000}, "Value for port_num must be between 1 and 65535."),
        ({**VXLAN, "ttl": 0}, "Value for ttl must be between 1 and 255."),
    ],
)
def test_data_network_values_are_checked(
    inventory: InventoryService, values: dict[str, Any], message: str
) -> None:
    refused(message, inventory.create_datanetwork, ADMIN, values)


def test_names_are_unique(inventory: InventoryService, group0: str) -> None:
    err = refused(
        "DataNetwork with name group0-data0 already exists.",
        inventory.create_datanetwork,
        ADMIN,
        {"name": "group0-data0", "network_type": "flat"},
    )
    assert isinstance(err, Conflict)


def test_only_mtu_and_description_may_change(inventory: InventoryService, group0: str) -> None:
    refused(
        f"DataNetwork '{group0}' attributes 'name, network_type' may not be modified",
        inventory.modify_datanetwork,
        ADMIN,
        group0,
        {"name": "x", "network_type": "flat", "mtu": 1500},
    )
    refused("MTU is an integer value.", inventory.modify_datanetwork, ADMIN, group0, {"mtu": None})
    refused(
        "MTU must be between 576 and 9216 bytes.",
        inventory.modify_datanetwork,
        ADMIN,
        group0,
        {"mtu": 9300},
    )


def test_mtu_cannot_outgrow_an_assigned_interface(inventory: InventoryService, group0: str) -> None:
    inventory.assign_datanetwork(ADMIN, get(inventory, "enp0s3").uuid, group0)
    refused(
        "The datanetwork MTU '9000' must be smaller than assigned interface MTU '1500'.",
        inventory.modify_datanetwork,
        ADMIN,
        group0,
        {"mtu": 9000},
    )
    assert inventory.show_datanetwork(ADMIN, group0).mtu == 1500


def test_an_assigned_data_network_cannot_be_deleted(
    inventory: InventoryService, group0: str
) -> None:
    inventory.assign_datanetwork(ADMIN, get(inventory, "enp0s3").uuid, group0)
    refused(
        f"DataNetwork '{group0}' is still assigned to interfaces. Check interface-datanetwork.",
        inventory.delete_datanetwork,
        ADMIN,
        group0,
    )


# -- assignments --


def test_the_procedure_assigns_a_passthrough_nic_to_group0_data0(
    inventory: InventoryService, group0: str
) -> None:
    enp0s3 = modify(inventory, "enp0s3", ifclass="pci-passthrough")
    assignment = inventory.assign_datanetwork(ADMIN, enp0s3.uuid, "group0-data0")
    assert (assignment.id, assignment.interface.ifname, assignment.datanetwork.name) == (
        1,
        "enp0s3",
        "group0-data0",
    )
    assert assignment.interface.host.id == 1
    for rows in (
        inventory.list_interface_datanetworks(ADMIN),
        inventory.list_interface_datanetworks(ADMIN, host="compute-0"),
        inventory.list_interface_datanetworks(ADMIN, interface=enp0s3.uuid),
    ):
        assert [a.uuid for a in rows] == [assignment.uuid]
    assert inventory.get_interface_datanetwork(ADMIN, assignment.uuid).datanetwork_uuid == group0
    # several passthrough NICs of one host may share a data network (D6 is data-class only)
    enp0s9 = modify(inventory, "enp0s9", ifclass="pci-passthrough")
    inventory.assign_datanetwork(ADMIN, enp0s9.uuid, group0)
    # and a passthrough NIC may carry several data networks
    inventory.assign_datanetwork(
        ADMIN, enp0s3.uuid, create(inventory, name="flat0", network_type="flat")
    )
    assert len(get(inventory, "enp0s3").datanetworks) == 2

    inventory.remove_interface_datanetwork(ADMIN, assignment.uuid)
    err = refused(
        f"Interface DataNetwork {assignment.uuid} could not be found.",
        inventory.get_interface_datanetwork,
        ADMIN,
        assignment.uuid,
    )
    assert isinstance(err, NotFound)


def test_assignments_change_only_on_a_locked_host(inventory: InventoryService, group0: str) -> None:
    enp0s3 = modify(inventory, "enp0s3", ifclass="pci-passthrough")
    assignment = inventory.assign_datanetwork(ADMIN, enp0s3.uuid, group0)
    inventory.unlock_host(ADMIN, "compute-0")
    message = "Operation Rejected: Host 'compute-0' is adminstrative 'unlocked'"
    flat = create(inventory, name="flat0", network_type="flat")
    refused(message, inventory.assign_datanetwork, ADMIN, enp0s3.uuid, flat)
    refused(message, inventory.remove_interface_datanetwork, ADMIN, assignment.uuid)


def test_an_interface_without_class_becomes_data(inventory: InventoryService, group0: str) -> None:
    inventory.assign_datanetwork(ADMIN, get(inventory, "enp0s9").uuid, group0)
    assert get(inventory, "enp0s9").ifclass == "data"


def test_a_class_none_interface_on_a_storage_host_cannot_become_data(
    inventory: InventoryService, group0: str
) -> None:
    inventory.report_host(
        ADMIN,
        worker_report("storage-0", personality="storage", ports=[port("eno1", "0000:00:01.0")]),
    )
    refused(
        "The data interface class is only supported on nodes supporting worker functions",
        inventory.assign_datanetwork,
        ADMIN,
        get(inventory, "eno1", "storage-0").uuid,
        group0,
    )
    assert get(inventory, "eno1", "storage-0").ifclass is None


def test_platform_interfaces_take_no_data_networks(
    inventory: InventoryService, group0: str
) -> None:
    refused(
        "An interface with interface class 'platform' cannot assign datanetworks.",
        inventory.assign_datanetwork,
        ADMIN,
        modify(inventory, "enp0s3", ifclass="platform").uuid,
        group0,
    )


def test_interface_mtu_must_cover_the_data_network(inventory: InventoryService) -> None:
    jumbo = create(inventory, name="jumbo", network_type="vlan", mtu=9000)
    vx = inventory.create_datanetwork(ADMIN, {**VXLAN, "mtu": 1500}).uuid
    enp0s9 = modify(inventory, "enp0s9", ifclass="data")
    refused(
        "The interface MTU 1500 must be larger than the 'jumbo' datanetwork MTU requirement.",
        inventory.assign_datanetwork,
        ADMIN,
        enp0s9.uuid,
        jumbo,
    )
    # vxlan needs 74 more bytes; equal is enough
    refused(
        "The interface MTU 1500 must be larger than the 'vx0' datanetwork MTU requirement.",
        inventory.assign_datanetwork,
        ADMIN,
        enp0s9.uuid,
        vx,
    )
    modify(inventory, "enp0s9", imtu=1574)
    inventory.assign_datanetwork(ADMIN, enp0s9.uuid, vx)
    # and it keeps covering it
    refused(
        "The interface MTU 1500 must be larger than the 'vx0' datanetwork MTU requirement.",
        modify,
        inventory,
        "enp0s9",
        imtu=1500,
    )


def test_an_assignment_exists_once(inventory: InventoryService, group0: str) -> None:
    enp0s3 = modify(inventory, "enp0s3", ifclass="pci-passthrough")
    inventory.assign_datanetwork(ADMIN, enp0s3.uuid, group0)
    err = refused(
        "Interface 'enp0s3' assignment with Data Network 'group0-data0' already exists.",
        inventory.assign_datanetwork,
        ADMIN,
        enp0s3.uuid,
        group0,
    )
    assert isinstance(err, Conflict)


def test_no_vlan_data_network_on_a_vlan_interface(inventory: InventoryService, group0: str) -> None:
    vlan = inventory.create_interface(
        ADMIN,
        {
            "ihost_uuid": "compute-0",
            "ifname": "vlan10",
            "iftype": "vlan",
            "uses": ["enp0s9"],
            "vlan_id": 10,
        },
    )
    refused(
        "VLAN based data network 'group0-data0' cannot be assigned to a VLAN interface",
        inventory.assign_datanetwork,
        ADMIN,
        vlan.uuid,
        group0,
    )


def test_one_data_interface_per_host_and_data_network(
    inventory: InventoryService, group0: str
) -> None:
    inventory.assign_datanetwork(ADMIN, modify(inventory, "enp0s3", ifclass="data").uuid, group0)
    refused(
        "Data interface enp0s3 is already attached to this Data Network: group0-data0.",
        inventory.assign_datanetwork,
        ADMIN,
        modify(inventory, "enp0s9", ifclass="data").uuid,
        group0,
    )
    # another host's data interface is fine
    inventory.report_host(ADMIN, worker_report("compute-1"))
    inventory.assign_datanetwork(ADMIN, get(inventory, "enp0s9", "compute-1").uuid, group0)


def test_a_passthrough_nic_takes_no_vxlan(inventory: InventoryService) -> None:
    vx = inventory.create_datanetwork(ADMIN, VXLAN).uuid
    message = (
        "Data network 'vx0' of type 'vxlan' cannot be assigned to an interface with interface "
        "class 'pci-passthrough': PCI interfaces only support flat and vlan data networks."
    )
    enp0s3 = modify(inventory, "enp0s3", ifclass="pci-passthrough", imtu=9000)
    refused(message, inventory.assign_datanetwork, ADMIN, enp0s3.uuid, vx)
    # nor can a data interface on vxlan become pci-passthrough
    inventory.assign_datanetwork(
        ADMIN, modify(inventory, "enp0s9", ifclass="data", imtu=9000).uuid, vx
    )
    refused(
        message.replace("enp0s3", "enp0s9"),
        modify,
        inventory,
        "enp0s9",
        ifclass="pci-passthrough",
    )


def test_becoming_data_rechecks_the_one_data_interface_rule(
    inventory: InventoryService, group0: str
) -> None:
    inventory.assign_datanetwork(ADMIN, modify(inventory, "enp0s3", ifclass="data").uuid, group0)
    enp0s9 = modify(inventory, "enp0s9", ifclass="pci-passthrough")
    inventory.assign_datanetwork(ADMIN, enp0s9.uuid, group0)
    refused(
        "Data interface enp0s3 is already attached to this Data Network: group0-data0.",
        modify,
        inventory,
        "enp0s9",
        ifclass="data",
    )


def test_platform_class_drops_the_assignments(inventory: InventoryService, group0: str) -> None:
    enp0s3 = modify(inventory, "enp0s3", ifclass="pci-passthrough")
    inventory.assign_datanetwork(ADMIN, enp0s3.uuid, group0)
    assert modify(inventory, "enp0s3", ifclass="platform").datanetworks == []
    assert inventory.list_interface_datanetworks(ADMIN) == []


def test_unknown_references_are_not_found(inventory: InventoryService, group0: str) -> None:
    enp0s3 = get(inventory, "enp0s3").uuid
    for message, call, args in (
        ("DataNetwork nope could not be found.", inventory.assign_datanetwork, (enp0s3, "nope")),
        ("Interface nope could not be found.", inventory.assign_datanetwork, ("nope", group0)),
    ):
        assert isinstance(refused(message, call, ADMIN, *args), NotFound)
    err = refused("DataNetwork nope could not be found.", inventory.get_datanetwork, "nope")
    assert isinstance(err, NotFound)
