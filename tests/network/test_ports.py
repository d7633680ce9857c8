"""Subnets, IPAM, ports, the restrictions of PCI passthrough ports, and the binding calls that
compute makes. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from passnic.db import Database
from passnic.errors import Forbidden, NotFound
from passnic.network.models import Network, Port, Subnet
from passnic.network.ports import (
    NO_ADDRESS_PAIRS,
    NO_PORT_SECURITY,
    NO_QOS,
    NO_SECURITY_GROUPS,
    NO_TRUNK_PARENT,
    NO_TRUNK_SUBPORT,
    AddressPair,
    FixedIp,
)
from passnic.network.service import NetworkService
from passnic.network.trunks import SubPortSpec
from tests.network.conftest import ADMIN, USER1, USER2, refused


@pytest.fixture
def net0(net: NetworkService) -> Network:
    return net.create_network(
        ADMIN,
        name="net0",
        project_id="project1",
        network_type="vlan",
        physical_network="group0-data0",
        segmentation_id=10,
    )


@pytest.fixture
def subnet0(net: NetworkService, net0: Network) -> Subnet:
    return net.create_subnet(USER1, network_id=net0.id, cidr="192.168.10.0/24", name="subnet0")


def passthrough_port(net: NetworkService, network: Network, **kw: object) -> Port:
    return net.create_port(USER1, network_id=network.id, vnic_type="direct-physical", **kw)  # type: ignore[arg-type]


# ---- subnets -----------------------------------------------------------------------------


def test_subnet_defaults(net: NetworkService, net0: Network, subnet0: Subnet) -> None:
    assert (subnet0.ip_version, subnet0.cidr, subnet0.gateway_ip) == (
        4,
        "192.168.10.0/24",
        "192.168.10.1",
    )
    assert subnet0.allocation_pools == [{"start": "192.168.10.2", "end": "192.168.10.254"}]
    assert (subnet0.enable_dhcp, subnet0.dns_nameservers, subnet0.host_routes) == (True, [], [])
    assert subnet0.project_id == "project1"
    assert [s.id for s in net.get_network(USER1, net0.id).subnets] == [subnet0.id]
    v6 = net.create_subnet(USER1, network_id=net0.id, cidr="fd00:10::/64", gateway_ip=None)
    assert v6.gateway_ip is None
    assert v6.allocation_pools == [{"start": "fd00:10::1", "end": "fd00:10::ffff:ffff:ffff:ffff"}]


def test_subnet_options(net: NetworkService, net0: Network) -> None:
    sn = net.create_subnet(
        USER1,
        network_id=net0.id,
        cidr="10.1.0.0/24",
        gateway_ip="10.1.0.254",
        allocation_pools=[("10.1.0.10", "10.1.0.20")],
        dns_nameservers=["8.8.8.8"],
        host_routes=[("0.0.0.0/0", "10.1.0.1")],
        enable_dhcp=False,
    )
    assert sn.allocation_pools == [{"start": "10.1.0.10", "end": "10.1.0.20"}]
    assert sn.host_routes == [{"destination": "0.0.0.0/0", "nexthop": "10.1.0.1"}]
    updated = net.update_subnet(
        USER1, sn.id, {"gateway_ip": None, "name": "x", "dns_nameservers": []}
    )
    assert (updated.gateway_ip, updated.name, updated.dns_nameservers) == (None, "x", [])


def test_overlapping_subnets_are_refused(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    refused(
        f"Invalid input for operation: Requested subnet with cidr: 192.168.0.0/16 for network: "
        f"{net0.id} overlaps with another subnet ({subnet0.id}, 192.168.10.0/24)",
        net.create_subnet,
        USER1,
        network_id=net0.id,
        cidr="192.168.0.0/16",
    )


def test_subnet_pool_and_gateway_validation(net: NetworkService, net0: Network) -> None:
    refused(
        "Gateway ip 192.168.10.1 conflicts with allocation pool 192.168.10.1-192.168.10.50",
        net.create_subnet,
        USER1,
        network_id=net0.id,
        cidr="192.168.10.0/24",
        allocation_pools=[("192.168.10.1", "192.168.10.50")],
    )
    refused(
        "Gateway IP 10.0.0.1 is not inside subnet 192.168.10.0/24",
        net.create_subnet,
        USER1,
        network_id=net0.id,
        cidr="192.168.10.0/24",
        gateway_ip="10.0.0.1",
    )


def test_subnets_only_on_own_networks(net: NetworkService, net0: Network) -> None:
    refused(
        f"Network {net0.id} could not be found.",
        net.create_subnet,
        USER2,
        network_id=net0.id,
        cidr="10.0.0.0/24",
    )
    shared = net.create_network(
        ADMIN, network_type="vlan", physical_network="group0-data0", segmentation_id=99, shared=True
    )
    with pytest.raises(Forbidden):
        net.create_subnet(USER2, network_id=shared.id, cidr="10.0.0.0/24")


def test_subnet_in_use_is_not_deleted(net: NetworkService, net0: Network, subnet0: Subnet) -> None:
    port = net.create_port(USER1, network_id=net0.id)
    error = refused(
        f"Unable to complete operation on subnet {subnet0.id}: One or more ports have an IP "
        f"allocation from this subnet ({port.id})",
        net.delete_subnet,
        USER1,
        subnet0.id,
    )
    assert error.status == 409
    net.delete_port(USER1, port.id)
    net.delete_subnet(USER1, subnet0.id)


# ---- IPAM ----------------------------------------------------------------------------------


def test_ports_get_the_lowest_free_address_of_each_subnet(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    v6 = net.create_subnet(USER1, network_id=net0.id, cidr="fd00:10::/64")
    first = net.create_port(USER1, network_id=net0.id)
    second = net.create_port(USER1, network_id=net0.id)
    assert {(a.subnet_id, a.ip_address) for a in first.fixed_ips} == {
        (subnet0.id, "192.168.10.2"),
        (v6.id, "fd00:10::2"),
    }
    assert {a.ip_address for a in second.fixed_ips} == {"192.168.10.3", "fd00:10::3"}
    net.delete_port(USER1, first.id)
    third = net.create_port(USER1, network_id=net0.id, fixed_ips=[FixedIp(subnet_id=subnet0.id)])
    assert [a.ip_address for a in third.fixed_ips] == ["192.168.10.2"]


def test_requested_fixed_ips(net: NetworkService, net0: Network, subnet0: Subnet) -> None:
    port = net.create_port(
        USER1, network_id=net0.id, fixed_ips=[FixedIp(ip_address="192.168.10.5")]
    )
    assert [(a.subnet_id, a.ip_address) for a in port.fixed_ips] == [(subnet0.id, "192.168.10.5")]
    error = refused(
        f"IP address 192.168.10.5 already allocated in subnet {subnet0.id}",
        net.create_port,
        USER1,
        network_id=net0.id,
        fixed_ips=[FixedIp(subnet_id=subnet0.id, ip_address="192.168.10.5")],
    )
    assert (error.status, error.kind) == (409, "IpAddressAlreadyAllocated")
    refused(
        f"IP address 10.9.9.9 is not a valid IP for subnet {subnet0.id} (192.168.10.0/24)",
        net.create_port,
        USER1,
        network_id=net0.id,
        fixed_ips=[FixedIp(subnet_id=subnet0.id, ip_address="10.9.9.9")],
    )
    refused(
        f"IP address 10.9.9.9 is not a valid IP for any subnet on network {net0.id}",
        net.create_port,
        USER1,
        network_id=net0.id,
        fixed_ips=[FixedIp(ip_address="10.9.9.9")],
    )
    refused(
        f"IP address 192.168.10.255 is the broadcast address of subnet {subnet0.id} "
        "(192.168.10.0/24)",
        net.create_port,
        USER1,
        network_id=net0.id,
        fixed_ips=[FixedIp(ip_address="192.168.10.255")],
    )
    refused(
        f"IP address 192.168.10.1 is the gateway of subnet {subnet0.id}",
        net.create_port,
        USER1,
        network_id=net0.id,
        fixed_ips=[FixedIp(ip_address="192.168.10.1")],
    )
    refused(
        "'banana' is not a valid IP address",
        net.create_port,
        USER1,
        network_id=net0.id,
        fixed_ips=[FixedIp(ip_address="banana")],
    )
    # no address at all
    assert net.create_port(USER1, network_id=net0.id, fixed_ips=[]).fixed_ips == []


def test_pool_exhaustion(net: NetworkService, net0: Network) -> None:
    sn = net.create_subnet(
        USER1, network_id=net0.id, cidr="10.0.0.0/29", allocation_pools=[("10.0.0.2", "10.0.0.2")]
    )
    net.create_port(USER1, network_id=net0.id)
    error = refused(
        f"No more IP addresses available for subnet {sn.id} (10.0.0.0/29)",
        net.create_port,
        USER1,
        network_id=net0.id,
    )
    assert error.status == 409


def test_fixed_ips_update_keeps_named_addresses(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    port = net.create_port(USER1, network_id=net0.id)
    assert [a.ip_address for a in port.fixed_ips] == ["192.168.10.2"]
    port = net.update_port(
        USER1,
        port.id,
        {"fixed_ips": [FixedIp(ip_address="192.168.10.2"), FixedIp(ip_address="192.168.10.9")]},
    )
    assert [a.ip_address for a in port.fixed_ips] == ["192.168.10.2", "192.168.10.9"]
    port = net.update_port(USER1, port.id, {"fixed_ips": [FixedIp(ip_address="192.168.10.9")]})
    assert [a.ip_address for a in port.fixed_ips] == ["192.168.10.9"]
    other = net.create_port(USER1, network_id=net0.id)
    assert [a.ip_address for a in other.fixed_ips] == ["192.168.10.2"]  # released and reused


# ---- ports -------------------------------------------------------------------------------


def test_a_normal_port(net: NetworkService, net0: Network, subnet0: Subnet) -> None:
    port = net.create_port(USER1, network_id=net0.id, name="p")
    assert port.mac_address.startswith("fa:16:3e:")
    assert (port.status, port.vnic_type, port.port_security_enabled) == ("DOWN", "normal", True)
    assert (port.binding_host_id, port.binding_profile, port.binding_vif_type) == (
        "",
        {},
        "unbound",
    )
    assert port.binding_vif_details == {}
    (group,) = port.security_groups
    assert group.name == "default" and group.project_id == "project1"


def test_a_passthrough_port_has_no_filtering(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    port = passthrough_port(net, net0, name="port0")
    assert (port.vnic_type, port.security_groups, port.port_security_enabled) == (
        "direct-physical",
        [],
        False,
    )
    assert port.qos_policy_id is None and port.allowed_address_pairs == []
    assert [a.ip_address for a in port.fixed_ips] == ["192.168.10.2"]


def test_passthrough_restrictions_on_create(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    qos = net.create_qos_policy(ADMIN, name="qos1", shared=True)
    group = net.create_security_group(USER1, name="sg1")
    for kwargs, message in (
        ({"qos_policy_id": qos.id}, NO_QOS),
        ({"security_groups": [group.id]}, NO_SECURITY_GROUPS),
        ({"port_security_enabled": True}, NO_PORT_SECURITY),
        ({"allowed_address_pairs": [AddressPair("192.168.10.99")]}, NO_ADDRESS_PAIRS),
    ):
        error = refused(message, passthrough_port, net, net0, **kwargs)
        assert error.kind == "PassthroughPortRestriction"


def test_passthrough_restrictions_on_update(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    port = passthrough_port(net, net0)
    qos = net.create_qos_policy(ADMIN, name="qos1", shared=True)
    group = net.create_security_group(USER1, name="sg1")
    for changes, message in (
        ({"qos_policy_id": qos.id}, NO_QOS),
        ({"security_groups": [group.id]}, NO_SECURITY_GROUPS),
        ({"port_security_enabled": True}, NO_PORT_SECURITY),
        ({"allowed_address_pairs": [AddressPair("192.168.10.99")]}, NO_ADDRESS_PAIRS),
    ):
        refused(message, net.update_port, USER1, port.id, changes)
    # harmless updates still work
    assert net.update_port(USER1, port.id, {"security_groups": [], "name": "x"}).name == "x"
    refused(
        f"binding:vnic_type of port {port.id} cannot be changed (direct-physical -> normal): "
        "create a port of the new type",
        net.update_port,
        USER1,
        port.id,
        {"vnic_type": "normal"},
    )


def test_passthrough_ports_stay_out_of_trunks(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    pt = passthrough_port(net, net0)
    normal = net.create_port(USER1, network_id=net0.id)
    refused(NO_TRUNK_PARENT, net.create_trunk, USER1, port_id=pt.id)
    trunk = net.create_trunk(USER1, port_id=normal.id, name="t")
    refused(NO_TRUNK_SUBPORT, net.add_subports, USER1, trunk.id, [SubPortSpec(pt.id, 100)])
    refused(
        NO_TRUNK_SUBPORT,
        net.create_trunk,
        USER1,
        port_id=net.create_port(USER1, network_id=net0.id).id,
        sub_ports=[SubPortSpec(pt.id, 100)],
    )


def test_normal_ports_take_qos_security_groups_and_trunks(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    qos = net.create_qos_policy(ADMIN, name="qos1", shared=True)
    group = net.create_security_group(USER1, name="sg1")
    port = net.create_port(USER1, network_id=net0.id)
    port = net.update_port(
        USER1,
        port.id,
        {
            "qos_policy_id": qos.id,
            "security_groups": [port.security_groups[0].id, group.id, group.id],
            "allowed_address_pairs": [AddressPair("192.168.10.0/28")],
        },
    )
    assert port.qos_policy_id == qos.id
    assert sorted(g.name for g in port.security_groups) == ["default", "sg1"]
    assert port.allowed_address_pairs == [
        {"ip_address": "192.168.10.0/28", "mac_address": port.mac_address}
    ]
    refused(
        "Port has security groups but port security disabled: security groups need port "
        "security; remove them (--no-security-group) or enable port security",
        net.update_port,
        USER1,
        port.id,
        {"port_security_enabled": False},
    )
    sub = net.create_port(USER1, network_id=net0.id)
    trunk = net.create_trunk(USER1, port_id=port.id, sub_ports=[SubPortSpec(sub.id, 100)])
    assert [(s.port_id, s.segmentation_id) for s in trunk.sub_ports] == [(sub.id, 100)]
    assert net.get_port(USER1, port.id).trunk is not None
    refused(
        f"Port {port.id} is in use by trunk {trunk.id} as its parent: delete the trunk first",
        net.delete_port,
        USER1,
        port.id,
    )
    trunk = net.remove_subports(USER1, trunk.id, [sub.id])
    assert trunk.sub_ports == []
    net.delete_trunk(USER1, trunk.id)
    refused(f"QoS Policy {qos.id} is used by port {port.id}.", net.delete_qos_policy, ADMIN, qos.id)
    refused(
        f"Security Group {group.id} in use: ports {port.id} have it",
        net.delete_security_group,
        USER1,
        group.id,
    )
    net.delete_port(USER1, port.id)
    net.delete_qos_policy(ADMIN, qos.id)
    net.delete_security_group(USER1, group.id)


def test_bad_vnic_type(net: NetworkService, net0: Network) -> None:
    refused(
        "binding:vnic_type vdpa is not supported: Passnic ports are normal, direct, "
        "direct-physical, macvtap, baremetal",
        net.create_port,
        USER1,
        network_id=net0.id,
        vnic_type="vdpa",
    )
    for vnic in ("normal", "direct", "direct-physical", "macvtap", "baremetal"):
        assert net.create_port(USER1, network_id=net0.id, vnic_type=vnic).vnic_type == vnic


def test_users_cannot_bind_ports(net: NetworkService, net0: Network) -> None:
    refused(
        "Policy does not allow network:create_port:binding to be performed.",
        net.create_port,
        USER1,
        network_id=net0.id,
        binding_host_id="compute-0",
    )
    port = net.create_port(USER1, network_id=net0.id)
    refused(
        "Policy does not allow network:update_port:binding to be performed.",
        net.update_port,
        USER1,
        port.id,
        {"binding_profile": {"pci_slot": "0000:00:03.0"}},
    )


def test_ports_on_other_projects_networks(net: NetworkService, net0: Network) -> None:
    refused(
        f"Network {net0.id} could not be found.",
        net.create_port,
        USER2,
        network_id=net0.id,
    )
    port = net.create_port(USER1, network_id=net0.id)
    for call, args in (
        (net.get_port, (USER2, port.id)),
        (net.update_port, (USER2, port.id, {"name": "x"})),
        (net.delete_port, (USER2, port.id)),
    ):
        error = refused(f"Port {port.id} could not be found.", call, *args)
        assert error.kind == "PortNotFound"
    assert net.list_ports(USER2) == []
    assert [p.id for p in net.list_ports(USER1, {"network_id": [net0.id]})] == [port.id]
    assert len(net.list_ports(ADMIN)) == 1


def test_ports_on_a_shared_network(net: NetworkService) -> None:
    shared = net.create_network(
        ADMIN, network_type="vlan", physical_network="group0-data0", segmentation_id=50, shared=True
    )
    net.create_subnet(ADMIN, network_id=shared.id, cidr="10.50.0.0/24")
    port = net.create_port(USER2, network_id=shared.id)
    assert port.project_id == "project2"
    assert [a.ip_address for a in port.fixed_ips] == ["10.50.0.2"]
    # only the network's owner chooses addresses on it
    with pytest.raises(Forbidden):
        net.create_port(USER2, network_id=shared.id, fixed_ips=[FixedIp(ip_address="10.50.0.9")])
    refused(
        f"Unable to reconfigure sharing settings for network {shared.id}: other projects have "
        "ports on it",
        net.update_network,
        ADMIN,
        shared.id,
        {"shared": False},
    )


def test_macs(net: NetworkService, net0: Network) -> None:
    refused(
        "Policy does not allow network:create_port:mac_address to be performed.",
        net.create_port,
        USER2,
        network_id=net.create_network(
            ADMIN,
            network_type="vlan",
            physical_network="group0-data0",
            segmentation_id=51,
            shared=True,
        ).id,
        mac_address="fa:16:3e:00:00:01",
    )
    port = net.create_port(USER1, network_id=net0.id, mac_address="FA:16:3E:00:00:01")
    assert port.mac_address == "fa:16:3e:00:00:01"
    refused(
        f"Unable to complete operation for network {net0.id}. The mac address "
        "fa:16:3e:00:00:01 is in use.",
        net.create_port,
        USER1,
        network_id=net0.id,
        mac_address="fa:16:3e:00:00:01",
    )
    refused(
        "'01:00:00:00:00:01' is not a valid unicast MAC address",
        net.create_port,
        USER1,
        network_id=net0.id,
        mac_address="01:00:00:00:00:01",
    )


# ---- binding (what compute calls, inside its own transaction) -----------------------------


def test_bind_and_unbind_a_passthrough_port(
    net: NetworkService, db: Database, net0: Network, subnet0: Subnet
) -> None:
    port = passthrough_port(net, net0)
    segment = net.port_with_segment(USER1, port.id)
    assert (segment.network_type, segment.physical_network, segment.segmentation_id) == (
        "vlan",
        "group0-data0",
        10,
    )
    with db.transaction() as s:
        net.bind_port(
            s,
            port.id,
            "compute-0",
            "0000:00:03.0",
            "8086:1572",
            "group0-data0",
            "3C:FD:FE:00:00:01",
            10,
        )
        net.set_device(s, port.id, "vm1", "compute:nova")
    bound = net.get_port(USER1, port.id)
    assert (bound.status, bound.mac_address, bound.binding_host_id) == (
        "ACTIVE",
        "3c:fd:fe:00:00:01",
        "compute-0",
    )
    assert bound.binding_profile == {
        "pci_slot": "0000:00:03.0",
        "pci_vendor_info": "8086:1572",
        "physical_network": "group0-data0",
    }
    assert (bound.binding_vif_type, bound.binding_vif_details) == (
        "hostdev_physical",
        {"vlan": "10"},
    )
    assert (bound.device_id, bound.device_owner) == ("vm1", "compute:nova")
    refused(
        f"Port {port.id} cannot be deleted directly via the port API: it is in use by server "
        "vm1 on host compute-0; delete the server first",
        net.delete_port,
        USER1,
        port.id,
    )
    with db.transaction() as s:
        net.unbind_port(s, port.id)
        net.set_device(s, port.id, "", "")
    unbound = net.get_port(USER1, port.id)
    assert unbound.status == "DOWN" and unbound.binding_vif_type == "unbound"
    assert unbound.mac_address.startswith("fa:16:3e:")
    assert (unbound.binding_host_id, unbound.binding_profile, unbound.binding_vif_details) == (
        "",
        {},
        {},
    )
    assert [a.ip_address for a in unbound.fixed_ips] == ["192.168.10.2"]  # the address is kept


def test_a_bind_rolls_back_with_the_callers_transaction(
    net: NetworkService, db: Database, net0: Network
) -> None:
    port = passthrough_port(net, net0)
    with pytest.raises(RuntimeError), db.transaction() as s:
        net.bind_port(
            s,
            port.id,
            "compute-0",
            "0000:00:03.0",
            "8086:1572",
            "group0-data0",
            "3c:fd:fe:00:00:01",
            10,
        )
        raise RuntimeError("the claim failed")
    assert net.get_port(USER1, port.id).status == "DOWN"


def test_bind_checks(net: NetworkService, db: Database, net0: Network) -> None:
    port = passthrough_port(net, net0)
    normal = net.create_port(USER1, network_id=net0.id)
    with db.transaction() as s:
        refused(
            f"Port {port.id} is on VLAN 10 of group0-data0, not VLAN 11 of group0-data0",
            net.bind_port,
            s,
            port.id,
            "h",
            "0000:00:03.0",
            "8086:1572",
            "group0-data0",
            "3c:fd:fe:00:00:01",
            11,
        )
        refused(
            f"Port {normal.id} is a normal port: only direct-physical ports bind to a whole NIC",
            net.bind_port,
            s,
            normal.id,
            "h",
            "0000:00:03.0",
            "8086:1572",
            "group0-data0",
            "3c:fd:fe:00:00:01",
            10,
        )
        refused(
            f"MAC address {normal.mac_address} of the NIC at 0000:00:03.0 on h is already the "
            f"address of port {normal.id}",
            net.bind_port,
            s,
            port.id,
            "h",
            "0000:00:03.0",
            "8086:1572",
            "group0-data0",
            normal.mac_address,
            10,
        )
    with pytest.raises(NotFound), db.transaction() as s:
        net.port_segment(s, "nosuch")


# ---- ports that servers hold ------------------------------------------------------------


def reserve(net: NetworkService, db: Database, port_id: str, server: str) -> None:
    """What compute does when a boot names the port: before any NIC is bound to it."""
    with db.transaction() as s:
        net.set_device(s, port_id, server, "compute:nova")


@pytest.mark.parametrize("caller", [USER1, ADMIN], ids=["member", "admin"])
def test_a_port_a_server_holds_cannot_be_deleted(
    net: NetworkService, db: Database, net0: Network, caller: object
) -> None:
    """Not even while the server is in BUILD (reserved, not bound yet)."""
    port = passthrough_port(net, net0)
    reserve(net, db, port.id, "vm1")
    error = refused(
        f"Port {port.id} cannot be deleted directly via the port API: it is in use by server "
        "vm1; delete the server first",
        net.delete_port,
        caller,
        port.id,
    )
    assert (error.status, error.kind) == (409, "PortInUse")
    assert net.get_port(USER1, port.id).device_id == "vm1"


def test_a_member_cannot_take_a_port_away_from_its_server(
    net: NetworkService, db: Database, net0: Network
) -> None:
    """The old way round the refusal: clear device_owner, then delete."""
    port = passthrough_port(net, net0)
    reserve(net, db, port.id, "vm1")
    for changes, what in (
        ({"device_owner": ""}, "device_owner"),
        ({"device_id": "vm2"}, "device_id"),
        ({"device_id": "", "device_owner": ""}, "device_id and device_owner"),
    ):
        error = refused(
            f"Port {port.id} is in use by server vm1: its {what} cannot be changed; delete the "
            "server to free the port",
            net.update_port,
            USER1,
            port.id,
            changes,
        )
        assert error.status == 409
    # the same values, or other attributes, are fine
    renamed = net.update_port(
        USER1, port.id, {"name": "renamed", "device_id": "vm1", "device_owner": "compute:nova"}
    )
    assert (renamed.name, renamed.device_id, renamed.device_owner) == (
        "renamed",
        "vm1",
        "compute:nova",
    )
    # an admin may repair a port whose server is gone; then it may be deleted
    net.update_port(ADMIN, port.id, {"device_id": "", "device_owner": ""})
    net.delete_port(USER1, port.id)


def test_a_port_another_server_took_is_not_reserved_again(
    net: NetworkService, db: Database, net0: Network
) -> None:
    port = passthrough_port(net, net0)
    reserve(net, db, port.id, "vm1")
    error = refused(
        f"Port {port.id} is still in use by compute:nova vm1.", reserve, net, db, port.id, "vm2"
    )
    assert error.status == 409
    reserve(net, db, port.id, "vm1")  # the same server again: nothing changes


def test_reserving_a_port_deleted_meanwhile_is_a_404(
    net: NetworkService, db: Database, net0: Network
) -> None:
    """A boot read the port, a delete committed, then the boot reserved it: the reservation
    used to UPDATE a vanished row (StaleDataError, a 500)."""
    port = passthrough_port(net, net0)
    with pytest.raises(NotFound) as info, db.transaction() as s:
        checked = net.port_segment(s, port.id).port  # the boot's check, kept in its session
        net.delete_port(USER1, port.id)  # another request, committed
        net.set_device(s, checked.id, "vm1", "compute:nova")
    assert info.value.message == f"Port {port.id} could not be found."


def test_a_delete_waiting_for_a_reservation_sees_it(
    net: NetworkService, db: Database, net0: Network
) -> None:
    """The other order: the delete starts while a boot's reservation is not committed yet;
    it waits for it, then refuses (it used to delete the port from under the server)."""
    port = passthrough_port(net, net0)
    outcome: list[BaseException | None] = []

    def delete() -> None:
        try:
            net.delete_port(USER1, port.id)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with db.transaction() as s:
        net.set_device(s, port.id, "vm1", "compute:nova")
        thread = threading.Thread(target=delete)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # the delete waits for the reservation's transaction
    thread.join()
    assert len(outcome) == 1 and getattr(outcome[0], "kind", None) == "PortInUse"
    assert net.get_port(USER1, port.id).device_id == "vm1"


def _concurrently(
    count: int, work: Callable[[int], object]
) -> tuple[list[object], list[Exception]]:
    results: list[object] = []
    errors: list[Exception] = []

    def run(i: int) -> None:
        try:
            results.append(work(i))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_ports_get_distinct_addresses_and_macs(
    net: NetworkService, net0: Network, subnet0: Subnet
) -> None:
    ports, errors = _concurrently(8, lambda _i: net.create_port(USER1, network_id=net0.id))
    assert errors == []
    addresses = sorted(p.fixed_ips[0].ip_address for p in ports)  # type: ignore[attr-defined]
    assert addresses == [f"192.168.10.{n}" for n in range(2, 10)]
    assert len({p.mac_address for p in ports}) == 8  # type: ignore[attr-defined]


def test_concurrent_overlapping_subnets_one_wins(net: NetworkService, net0: Network) -> None:
    cidrs = ["10.0.0.0/16", "10.0.0.0/24", "10.0.0.0/8", "10.0.0.0/20"]  # all share 10.0.0.1
    subnets, errors = _concurrently(
        len(cidrs), lambda i: net.create_subnet(USER1, network_id=net0.id, cidr=cidrs[i])
    )
    assert len(subnets) == 1
    assert all("overlaps with another subnet" in str(e) for e in errors), errors
