"""Interface add/modify/delete: every rule of research §2.1 that Passnic keeps, and Passnic's
own refusals for pci-passthrough (VLAN over it, LAG over it, QoS and monitoring on it)."""

from __future__ import annotations

from typing import Any

import pytest

from passnic.errors import BadRequest, Conflict, PassnicError
from passnic.inventory.models import Host, Interface
from passnic.inventory.service import InventoryService
from tests.inventory.conftest import ADMIN, port, refused, sriov_port, worker_report


def get(inv: InventoryService, name: str) -> Interface:
    return inv.get_interface(ADMIN, name, "compute-0")


def modify(inv: InventoryService, name: str, **changes: Any) -> Interface:
    return inv.modify_interface(ADMIN, get(inv, name).uuid, changes)


def add(inv: InventoryService, **values: Any) -> Interface:
    return inv.create_interface(ADMIN, {"ihost_uuid": "compute-0", **values})


pytestmark = pytest.mark.usefixtures("compute")


# -- the documented workflow --


def test_the_procedure_makes_a_nic_pci_passthrough_with_a_new_mtu(
    inventory: InventoryService,
) -> None:
    iface = modify(inventory, "enp0s3", ifclass="pci-passthrough", imtu=9000)
    assert (iface.ifclass, iface.imtu, iface.ifname) == ("pci-passthrough", 9000, "enp0s3")
    assert iface.updated_at is not None


def test_class_none_resets_an_interface_and_gives_it_its_port_name_back(
    inventory: InventoryService, group0: str
) -> None:
    modify(inventory, "enp0s8", ifclass="pci-sriov", sriov_numvfs=4, sriov_vf_driver="vfio")
    modify(inventory, "enp0s8", ifname="sriov0")
    inventory.assign_datanetwork(ADMIN, get(inventory, "sriov0").uuid, group0)
    iface = modify(inventory, "sriov0", ifclass="none")
    assert (iface.ifname, iface.ifclass, iface.sriov_numvfs, iface.sriov_vf_driver) == (
        "enp0s8",
        None,
        0,
        None,
    )
    assert iface.datanetworks == []
    assert inventory.list_interface_datanetworks(ADMIN) == []


def test_leaving_pci_sriov_resets_the_vfs_unless_the_change_sets_them(
    inventory: InventoryService,
) -> None:
    modify(inventory, "enp0s8", ifclass="pci-sriov", sriov_numvfs=4, sriov_vf_driver="vfio")
    iface = modify(inventory, "enp0s8", ifclass="pci-passthrough")
    assert (iface.sriov_numvfs, iface.sriov_vf_driver) == (0, None)
    modify(inventory, "enp0s8", ifclass="pci-sriov", sriov_numvfs=4)
    refused(
        "Number of SR-IOV VFs is specified but interface class is not pci-sriov.",
        modify,
        inventory,
        "enp0s8",
        ifclass="data",
        sriov_numvfs=4,
    )


# -- rule 1: the host must be locked --


def test_interfaces_change_only_on_a_locked_host(inventory: InventoryService) -> None:
    vlan = add(inventory, ifname="vlan10", iftype="vlan", uses=["enp0s9"], vlan_id=10)
    inventory.unlock_host(ADMIN, "compute-0")
    refused("Host must be locked.", modify, inventory, "enp0s3", ifclass="pci-passthrough")
    refused("Host must be locked.", add, inventory, ifname="vlan11", iftype="vlan", uses=["enp0s9"])
    refused("Host must be locked.", inventory.delete_interface, ADMIN, vlan.uuid)


# -- values --


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ifclass": "gold"}, "Invalid interface class gold"),
        ({"imtu": "big"}, "MTU is an integer value."),
        ({"imtu": True}, "MTU is an integer value."),
        ({"imtu": 575}, "MTU must be between 576 and 9216 bytes."),
        ({"imtu": 9217}, "MTU must be between 576 and 9216 bytes."),
        ({"monitoring": "maybe"}, "Value for monitoring must be true or false."),
        ({"sriov_vf_driver": "igbvf"}, "Value for SR-IOV VF driver must be one of vfio, netdevice"),
        ({"ptp_role": "boss"}, "Invalid ptp_role 'boss'; must be one of master, slave, none"),
        ({"ipv4_mode": "static"}, "Interface attribute(s) 'ipv4_mode' may not be set"),
        ({"iftype": "vlan"}, "Interface attribute(s) 'iftype' may not be set"),
        ({"uses": 7}, "Value for uses must be a list of names."),
        ({"ifname": ""}, "Value for ifname must be a string of 1 to 255 characters."),
        ({"max_tx_rate": 2**31}, "Value 2147483648 is out of range."),
        ({"imtu": "99999999999999999999"}, "MTU is an integer value."),
    ],
)
def test_bad_values_are_refused(
    inventory: InventoryService, changes: dict[str, Any], message: str
) -> None:
    refused(message, modify, inventory, "enp0s3", **changes)


def test_text_values_from_the_cli_are_accepted(inventory: InventoryService) -> None:
    iface = modify(inventory, "enp0s3", imtu="9000", monitoring="true")
    assert (iface.imtu, iface.monitoring) == (9000, True)


# -- rule 15: names --


@pytest.mark.parametrize(
    ("ifname", "message", "kind"),
    [
        ("Data0", "Interface name must be in lower case.", BadRequest),
        (
            "data0!",
            "Interface name data0! may only contain lower case letters, numbers, '-', '_' and '.'.",
            BadRequest,
        ),
        (
            "a-very-long-name0",
            "Interface a-very-long-name0 has name length greater than 15.",
            BadRequest,
        ),
        ("enp0s9", "Interface Name enp0s9 must be unique.", Conflict),
    ],
)
def test_interface_names(
    inventory: InventoryService, ifname: str, message: str, kind: type[PassnicError]
) -> None:
    assert isinstance(refused(message, modify, inventory, "enp0s3", ifname=ifname), kind)


# -- rules 2-4: classes by type and host --


def test_pci_classes_only_on_ethernet_and_vf(inventory: InventoryService) -> None:
    refused(
        "The pci-passthrough, pci-sriov interface class is only valid on Ethernet and VF "
        "interfaces",
        add,
        inventory,
        ifname="vlan10",
        iftype="vlan",
        uses=["enp0s9"],
        vlan_id=10,
        ifclass="pci-passthrough",
    )


def test_data_class_needs_a_worker(inventory: InventoryService) -> None:
    inventory.report_host(
        ADMIN,
        worker_report("storage-0", personality="storage", ports=[port("eno1", "0000:00:01.0")]),
    )
    eno1 = inventory.get_interface(ADMIN, "eno1", "storage-0")
    refused(
        "The data interface class is only supported on nodes supporting worker functions",
        inventory.modify_interface,
        ADMIN,
        eno1.uuid,
        {"ifclass": "data"},
    )
    # pci classes are not data: allowed
    assert inventory.modify_interface(ADMIN, eno1.uuid, {"ifclass": "pci-passthrough"}).ifclass


# -- rules 5 and 9: VLANs and the classes of their lower interface --


def test_vlan_classes_must_match_their_lower(inventory: InventoryService) -> None:
    modify(inventory, "enp0s9", ifclass="data")
    refused(
        "Platform VLAN interface cannot be created over a data interface",
        add,
        inventory,
        ifname="vlan10",
        iftype="vlan",
        uses=["enp0s9"],
        vlan_id=10,
        ifclass="platform",
    )
    modify(inventory, "enp0s3", ifclass="platform")
    refused(
        "Data VLAN interface cannot be created over a platform interface",
        add,
        inventory,
        ifname="vlan10",
        iftype="vlan",
        uses=["enp0s3"],
        vlan_id=10,
        ifclass="data",
    )


def test_class_transitions_of_an_interface_with_vlans(inventory: InventoryService) -> None:
    modify(inventory, "enp0s3", ifclass="platform")
    add(inventory, ifname="mgmt0", iftype="vlan", uses=["enp0s3"], vlan_id=100, ifclass="platform")
    refused(
        "The class of an interface with platform networks cannot be changed to data since it "
        "is being used by ['mgmt0']",
        modify,
        inventory,
        "enp0s3",
        ifclass="data",
    )
    # platform -> pci-sriov is always allowed
    modify(inventory, "enp0s8", ifclass="platform")
    add(inventory, ifname="pxe0", iftype="vlan", uses=["enp0s8"], vlan_id=200, ifclass="platform")
    assert modify(inventory, "enp0s8", ifclass="pci-sriov", sriov_numvfs=2).ifclass == "pci-sriov"

    modify(inventory, "enp0s9", ifclass="data")
    add(inventory, ifname="data10", iftype="vlan", uses=["enp0s9"], vlan_id=10, ifclass="data")
    refused(
        "The class of a non-platform interface cannot be changed to platform since it is being "
        "used by ['data10']",
        modify,
        inventory,
        "enp0s9",
        ifclass="platform",
    )


def test_vlan_ids(inventory: InventoryService) -> None:
    refused(
        "VLAN id must be specified.", add, inventory, ifname="v", iftype="vlan", uses=["enp0s9"]
    )
    refused(
        "VLAN id must be between 1 and 4094.",
        add,
        inventory,
        ifname="v",
        iftype="vlan",
        uses=["enp0s9"],
        vlan_id=4095,
    )
    add(inventory, ifname="vlan10", iftype="vlan", uses=["enp0s9"], vlan_id=10)
    refused(
        "VLAN id 10 already in use on interface enp0s9",
        add,
        inventory,
        ifname="vlan10b",
        iftype="vlan",
        uses=["enp0s9"],
        vlan_id=10,
    )
    refused("VLAN id is only valid for VLAN interfaces.", modify, inventory, "enp0s3", vlan_id=5)
    refused(
        "VLAN interfaces cannot be created over existing VLAN or VF interfaces",
        add,
        inventory,
        ifname="qinq",
        iftype="vlan",
        uses=["vlan10"],
        vlan_id=20,
    )
    refused(
        "An interface of type 'vlan' must use exactly 1 interface(s).",
        add,
        inventory,
        ifname="v",
        iftype="vlan",
        uses=["enp0s3", "enp0s9"],
        vlan_id=20,
    )
    refused(
        "Interface nope does not exist on host compute-0.",
        add,
        inventory,
        ifname="v",
        iftype="vlan",
        uses=["nope"],
        vlan_id=20,
    )


def test_no_vlan_over_pci_passthrough(inventory: InventoryService) -> None:
    modify(inventory, "enp0s3", ifclass="pci-passthrough")
    refused(
        "VLAN interface cannot be created over pci-passthrough interface enp0s3: the NIC "
        "belongs to the virtual machine, so VLANs must be managed by the guest.",
        add,
        inventory,
        ifname="vlan10",
        iftype="vlan",
        uses=["enp0s3"],
        vlan_id=10,
    )
    add(inventory, ifname="vlan10", iftype="vlan", uses=["enp0s9"], vlan_id=10)
    refused(
        "The class of interface enp0s9 cannot be changed to pci-passthrough since it is being "
        "used by ['vlan10']: a passthrough NIC belongs to the virtual machine.",
        modify,
        inventory,
        "enp0s9",
        ifclass="pci-passthrough",
    )


# -- rules 6-8: aggregated ethernet (LAG) --


def test_ae_class_must_be_platform_or_data(inventory: InventoryService) -> None:
    refused(
        "Device interface class with interface type 'aggregated ethernet' must be 'platform' "
        "or 'data'",
        add,
        inventory,
        ifname="bond0",
        iftype="ae",
        uses=["enp0s3", "enp0s9"],
        ifclass="pci-passthrough",
    )


def test_no_lag_over_pci_passthrough(inventory: InventoryService) -> None:
    modify(inventory, "enp0s3", ifclass="pci-passthrough")
    lag = (
        "Interface 'enp0s3' has interface class 'pci-passthrough': LAG is not supported on PCI "
        "passthrough interfaces, so it cannot be a member of an 'aggregated ethernet' interface."
    )
    refused(
        lag, add, inventory, ifname="bond0", iftype="ae", uses=["enp0s3", "enp0s9"], ifclass="data"
    )
    modify(inventory, "enp0s3", ifclass="none")
    add(inventory, ifname="bond0", iftype="ae", uses=["enp0s3", "enp0s9"], ifclass="data")
    refused(lag, modify, inventory, "enp0s3", ifclass="pci-passthrough")


def test_ae_members(inventory: InventoryService) -> None:
    modify(inventory, "enp0s3", ifclass="data")
    refused(
        "All interfaces being used in an 'aggregated ethernet' interface must have the interface "
        "class set to 'none' or 'pci-sriov'.",
        add,
        inventory,
        ifname="bond0",
        iftype="ae",
        uses=["enp0s3", "enp0s9"],
        ifclass="data",
    )
    modify(inventory, "enp0s3", ifclass="none")
    bond = add(
        inventory, ifname="bond0", iftype="ae", uses=["enp0s3", "enp0s9"], ifclass="data", imtu=9000
    )
    assert (bond.aemode, bond.uses[0].ifname, bond.imac) == (
        "active_standby",
        "enp0s3",
        get(inventory, "enp0s3").imac,
    )
    assert get(inventory, "enp0s3").imtu == 9000  # members follow their AE's MTU
    refused(
        "Interface 'enp0s3' is being used by interface 'bond0' as an 'aggregated ethernet' "
        "interface and therefore the interface class cannot be changed from 'none' or "
        "'pci-sriov'.",
        modify,
        inventory,
        "enp0s3",
        ifclass="platform",
    )
    refused(
        "Interface 'enp0s9' is already used by another 'aggregated ethernet' interface 'bond0'",
        add,
        inventory,
        ifname="bond1",
        iftype="ae",
        uses=["enp0s9"],
        ifclass="data",
    )
    refused(
        "Interface 'enp0s9' is already used by another 'aggregated ethernet' interface 'bond0'",
        add,
        inventory,
        ifname="vlan10",
        iftype="vlan",
        uses=["enp0s9"],
        vlan_id=10,
    )
    refused(
        "Interface MTU (1500) cannot be smaller than the interface MTU (9000) using this interface",
        modify,
        inventory,
        "enp0s3",
        imtu=1500,
    )


def test_ae_member_types_roles_and_modes(inventory: InventoryService) -> None:
    add(inventory, ifname="vlan10", iftype="vlan", uses=["enp0s9"], vlan_id=10)
    refused(
        "Interface 'enp0s9' is already used by another VLAN interface 'vlan10'",
        add,
        inventory,
        ifname="bond0",
        iftype="ae",
        uses=["enp0s9"],
        ifclass="data",
    )
    refused(
        "An 'aggregated ethernet' interface can only use ethernet interfaces",
        add,
        inventory,
        ifname="bond0",
        iftype="ae",
        uses=["vlan10"],
        ifclass="data",
    )
    modify(inventory, "enp0s8", ifclass="pci-sriov", sriov_numvfs=2, ptp_role="slave")
    refused(
        "All interfaces being used in an 'aggregated ethernet' interface must have the ptp_role "
        "set to 'none'.",
        add,
        inventory,
        ifname="bond0",
        iftype="ae",
        uses=["enp0s8"],
        ifclass="data",
    )
    refused(
        "Device interface with interface type 'aggregated ethernet' in 'balanced' or '802.3ad' "
        "mode require a valid Tx Hash Policy.",
        add,
        inventory,
        ifname="bond0",
        iftype="ae",
        uses=["enp1s0"],
        ifclass="data",
        aemode="802.3ad",
    )
    bond = add(
        inventory,
        ifname="bond0",
        iftype="ae",
        uses=["enp1s0"],
        ifclass="data",
        aemode="balanced",
        txhashpolicy="layer3+4",
    )
    assert (bond.aemode, bond.txhashpolicy) == ("balanced", "layer3+4")
    refused(
        "aemode and txhashpolicy are only valid for 'aggregated ethernet' interfaces.",
        modify,
        inventory,
        "enp0s9",
        aemode="balanced",
    )


# -- rule 11: PTP --


def test_no_ptp_role_on_pci_passthrough(inventory: InventoryService) -> None:
    refused(
        "Invalid interface class for ptp_role: pci-passthrough. Device interface class must be "
        "one of platform, pci-sriov, vf",
        modify,
        inventory,
        "enp0s3",
        ifclass="pci-passthrough",
        ptp_role="master",
    )
    assert modify(inventory, "enp0s3", ifclass="platform", ptp_role="master").ptp_role == "master"


# -- rule 12: MTU of uppers and lowers --


def test_vlan_mtu_fits_its_lower(inventory: InventoryService) -> None:
    refused(
        "Interface MTU (9000) cannot be larger than MTU of underlying interface (1500)",
        add,
        inventory,
        ifname="vlan10",
        iftype="vlan",
        uses=["enp0s9"],
        vlan_id=10,
        imtu=9000,
    )
    modify(inventory, "enp0s9", imtu=9000)
    add(inventory, ifname="vlan10", iftype="vlan", uses=["enp0s9"], vlan_id=10, imtu=9000)
    refused(
        "Interface MTU (1500) cannot be smaller than the interface MTU (9000) using this interface",
        modify,
        inventory,
        "enp0s9",
        imtu=1500,
    )


# -- rule 13: ports --


def test_ethernet_interfaces_need_one_free_port(inventory: InventoryService) -> None:
    refused("A port must be selected.", add, inventory, ifname="eth9", iftype="ethernet")
    refused(
        "For Ethernet, select a single port.",
        add,
        inventory,
        ifname="eth9",
        ports=["enp0s3", "enp0s9"],
    )
    refused("Port enp9s9 does not exist.", add, inventory, ifname="eth9", ports=["enp9s9"])
    err = refused(
        "Another interface enp0s3 is already using this port",
        add,
        inventory,
        ifname="eth9",
        ports=["enp0s3"],
    )
    assert isinstance(err, Conflict)
    refused(
        "Ports can only be selected for ethernet interfaces.",
        add,
        inventory,
        ifname="vlan10",
        iftype="vlan",
        uses=["enp0s9"],
        vlan_id=10,
        ports=["enp0s3"],
    )
    refused(
        "Ethernet interfaces sit on a port, not on other interfaces.",
        modify,
        inventory,
        "enp0s3",
        uses=["enp0s9"],
    )


def test_restricted_nics_can_be_passthrough_but_not_sriov(inventory: InventoryService) -> None:
    cavium = sriov_port(
        "enp5s0", "0000:05:00.0", pvendor="Cavium, Inc. [177d]", pdevice="Device [ba00]"
    )
    inventory.report_host(ADMIN, worker_report(ports=[*worker_report().ports, cavium]))
    refused(
        "Cannot use port. PCI vendor 'Cavium, Inc. [177d]' and device 'Device [ba00]' is not "
        "allowed.",
        modify,
        inventory,
        "enp5s0",
        ifclass="pci-sriov",
        sriov_numvfs=2,
    )
    assert modify(inventory, "enp5s0", ifclass="pci-passthrough").ifclass == "pci-passthrough"


# -- rule 14: one PCI function, one class --


def test_ports_of_a_shared_device_take_one_class(inventory: InventoryService) -> None:
    modify(inventory, "enp1s0", ifclass="pci-passthrough")
    refused(
        "Shared device 0000:01:00.0 cannot be shared with different interface classes",
        modify,
        inventory,
        "enp1s0d1",
        ifclass="data",
    )
    assert modify(inventory, "enp1s0d1", ifclass="pci-passthrough").ifclass == "pci-passthrough"


# -- rule 16 and delete --


def test_delete(inventory: InventoryService) -> None:
    refused(
        "Cannot delete a system created ethernet interface",
        inventory.delete_interface,
        ADMIN,
        get(inventory, "enp0s3").uuid,
    )
    bond = add(inventory, ifname="bond0", iftype="ae", uses=["enp0s9"], ifclass="data")
    vlan = add(
        inventory, ifname="vlan10", iftype="vlan", uses=["bond0"], vlan_id=10, ifclass="data"
    )
    refused(
        "Cannot delete interface bond0: it is still used by ['vlan10']",
        inventory.delete_interface,
        ADMIN,
        bond.uuid,
    )
    flat0 = inventory.create_datanetwork(ADMIN, {"name": "flat0", "network_type": "flat"})
    inventory.assign_datanetwork(ADMIN, vlan.uuid, flat0.uuid)
    inventory.delete_interface(ADMIN, vlan.uuid)
    assert inventory.list_interface_datanetworks(ADMIN) == []
    refused(f"Interface {vlan.uuid} could not be found.", inventory.get_interface, ADMIN, vlan.uuid)
    inventory.delete_interface(ADMIN, bond.uuid)
    assert get(inventory, "enp0s9").used_by == []


# -- SR-IOV --


def test_pci_sriov_needs_a_vf_count(inventory: InventoryService) -> None:
    refused(
        "Value for number of SR-IOV VFs must be > 0.",
        modify,
        inventory,
        "enp0s8",
        ifclass="pci-sriov",
    )
    refused(
        "Value for number of SR-IOV VFs must be > 0.",
        modify,
        inventory,
        "enp0s8",
        ifclass="pci-sriov",
        sriov_numvfs=-1,
    )
    refused(
        "SR-IOV VF driver is specified but interface class is not pci-sriov.",
        modify,
        inventory,
        "enp0s8",
        sriov_vf_driver="vfio",
    )


def test_pci_sriov_needs_a_capable_port(inventory: InventoryService) -> None:
    refused(
        "SR-IOV can't be configured on this interface",
        modify,
        inventory,
        "enp0s3",
        ifclass="pci-sriov",
        sriov_numvfs=1,
    )
    refused(
        "The interface support a maximum of 16 VFs",
        modify,
        inventory,
        "enp0s8",
        ifclass="pci-sriov",
        sriov_numvfs=17,
    )
    no_driver = sriov_port("enp6s0", "0000:06:00.0", driver=None)
    inventory.report_host(ADMIN, worker_report(ports=[*worker_report().ports, no_driver]))
    refused(
        "Corresponding port has invalid driver",
        modify,
        inventory,
        "enp6s0",
        ifclass="pci-sriov",
        sriov_numvfs=1,
    )


def test_vf_interfaces(inventory: InventoryService) -> None:
    refused(
        "VF interfaces can only be created over an interface of class pci-sriov",
        add,
        inventory,
        ifname="vf0",
        iftype="vf",
        uses=["enp0s8"],
        ifclass="pci-sriov",
        sriov_numvfs=1,
    )
    modify(inventory, "enp0s8", ifclass="pci-sriov", sriov_numvfs=4)
    refused(
        "VF interfaces must have the interface class 'pci-sriov'.",
        add,
        inventory,
        ifname="vf0",
        iftype="vf",
        uses=["enp0s8"],
        ifclass="data",
    )
    refused(
        "A network type of pci-sriov must specify a number for SR-IOV VFs.",
        add,
        inventory,
        ifname="vf0",
        iftype="vf",
        uses=["enp0s8"],
        ifclass="pci-sriov",
    )
    vf0 = add(
        inventory, ifname="vf0", iftype="vf", uses=["enp0s8"], ifclass="pci-sriov", sriov_numvfs=2
    )
    assert vf0.uses[0].ifname == "enp0s8"
    refused(
        "The number of virtual functions (2) must be less than or equal to the available VFs (1) "
        "available on the underlying interface (enp0s8)",
        add,
        inventory,
        ifname="vf1",
        iftype="vf",
        uses=["enp0s8"],
        ifclass="pci-sriov",
        sriov_numvfs=2,
    )
    refused(
        "Interface 'enp0s8' is used by VF interface(s) ['vf0'] and therefore the interface class "
        "cannot be changed from 'pci-sriov'.",
        modify,
        inventory,
        "enp0s8",
        ifclass="pci-passthrough",
        sriov_numvfs=0,
    )
    refused(
        "Interface 'enp0s8' must keep more SR-IOV VFs (2) than its VF interfaces ['vf0'] use (2).",
        modify,
        inventory,
        "enp0s8",
        sriov_numvfs=2,
    )
    add(inventory, ifname="vlan10", iftype="vlan", uses=["enp0s9"], vlan_id=10)
    refused(
        "VF interfaces can only be created over an ethernet or VF",
        add,
        inventory,
        ifname="vf9",
        iftype="vf",
        uses=["vlan10"],
        ifclass="pci-sriov",
        sriov_numvfs=1,
    )


def test_vf_rate_limits_share_90_percent_of_the_link(inventory: InventoryService) -> None:
    modify(inventory, "enp0s8", ifclass="pci-sriov", sriov_numvfs=8)
    add(
        inventory,
        ifname="vf0",
        iftype="vf",
        uses=["enp0s8"],
        ifclass="pci-sriov",
        sriov_numvfs=2,
        max_tx_rate=4000,
    )
    refused(
        "Configured (max_tx_rate*numvfs) as 10000, range is (0, 9000].",
        add,
        inventory,
        ifname="vf1",
        iftype="vf",
        uses=["enp0s8"],
        ifclass="pci-sriov",
        sriov_numvfs=2,
        max_tx_rate=1000,
    )


def test_no_qos_on_pci_passthrough(inventory: InventoryService) -> None:
    refused(
        "Interface enp0s3 cannot have a max_tx_rate: rate limiting (QoS) is only supported on "
        "VF and platform interfaces, not on class 'pci-passthrough'.",
        modify,
        inventory,
        "enp0s3",
        ifclass="pci-passthrough",
        max_tx_rate=100,
    )
    assert modify(inventory, "enp0s9", ifclass="platform", max_tx_rate=100).max_tx_rate == 100
    refused("Value for max_tx_rate must be >= 0.", modify, inventory, "enp0s9", max_tx_rate=-1)


# -- host interface monitoring --


def test_no_host_interface_monitoring_of_pci_passthrough(inventory: InventoryService) -> None:
    modify(inventory, "enp0s3", ifclass="pci-passthrough")
    refused(
        "Host interface monitoring is not supported on pci-passthrough interface enp0s3: the "
        "host does not see the link of a NIC that belongs to a virtual machine.",
        modify,
        inventory,
        "enp0s3",
        monitoring=True,
    )


def test_class_pci_passthrough_is_refused_while_monitoring_is_on(
    inventory: InventoryService,
) -> None:
    modify(inventory, "enp0s3", monitoring=True)
    refused(
        "Interface enp0s3 has host interface monitoring enabled; disable monitoring "
        "(monitoring=false) to change its class to pci-passthrough: host interface monitoring "
        "is not supported on PCI passthrough interfaces.",
        modify,
        inventory,
        "enp0s3",
        ifclass="pci-passthrough",
    )
    assert get(inventory, "enp0s3").ifclass is None  # nothing changed
    iface = modify(inventory, "enp0s3", ifclass="pci-passthrough", monitoring=False)
    assert (iface.ifclass, iface.monitoring) == ("pci-passthrough", False)


def test_interfaces_are_listed_and_found(inventory: InventoryService, compute: Host) -> None:
    other = inventory.report_host(ADMIN, worker_report("compute-1"))
    everything = inventory.list_interfaces(ADMIN)
    assert len(everything) == 10
    assert [i.host_uuid for i in everything[:5]] == [compute.uuid] * 5
    assert {i.host_uuid for i in everything[5:]} == {other.uuid}
    enp0s3 = get(inventory, "enp0s3")
    assert inventory.get_interface(ADMIN, enp0s3.uuid, "compute-0").ifname == "enp0s3"
    assert [p.name for p in inventory.list_interface_ports(ADMIN, enp0s3.uuid)] == ["enp0s3"]
    refused(
        "Interface eth7 could not be found on host compute-0.",
        inventory.get_interface,
        ADMIN,
        "eth7",
        "compute-0",
    )
    refused("Interface enp0s3 could not be found.", inventory.get_interface, ADMIN, "enp0s3")


def test_an_unknown_port_is_not_found(inventory: InventoryService) -> None:
    nil = "00000000-0000-0000-0000-000000000000"
    refused(f"Port {nil} could not be found.", inventory.get_port, ADMIN, nil)


def test_create_requires_host_and_name(inventory: InventoryService) -> None:
    refused(
        "Interface attribute ihost_uuid is required.",
        inventory.create_interface,
        ADMIN,
        {"ifname": "x"},
    )
    refused(
        "Invalid interface type 'virtual'; must be one of ethernet, ae, vlan, vf",
        add,
        inventory,
        ifname="lo1",
        iftype="virtual",
    )


def test_a_refused_change_leaves_nothing_behind(inventory: InventoryService) -> None:
    before = get(inventory, "enp0s9")
    with pytest.raises(BadRequest):
        add(inventory, ifname="bond0", iftype="ae", uses=["enp0s9"], ifclass="pci-sriov")
    after = get(inventory, "enp0s9")
    assert (after.used_by, after.imtu) == ([], before.imtu)
    assert "bond0" not in {i.ifname for i in inventory.list_interfaces(ADMIN, "compute-0")}
