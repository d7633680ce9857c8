"""Networking rules: one service for networks, segment ranges, subnets, ports, security groups,
QoS policies and trunks. Each resource's rules live in its own module; this class puts them
together and owns the policy table.

What other domains call (compute, for placing a server; all without a caller, inside the
compute transaction, so a device claim and the port binding commit together):

* ``port_with_segment(ctx, port_id)`` / ``port_segment(session, port_id)``: the port and its
  network's ``network_type``, ``physical_network`` and ``segmentation_id``;
  ``existing_port_segments(session, port_ids)``: those of the ports that exist (for views).
* ``bind_port(session, port_id, host, pci_slot, pci_vendor_info, physical_network, mac, vlan)``
* ``unbind_port(session, port_id)``
* ``set_device(session, port_id, device_id, device_owner)``: 409 if another device took the
  port, 404 if it was deleted meanwhile (a port a server holds cannot be deleted or given away
  through the API)
* ``delete_port_in(session, port_id)``

What the fabric reads (``bindings``): ``nic_bindings(hostnames, server_id)``, the ports bound to
passthrough NICs with their networks' VLANs, and ``network_records()``.
"""

from __future__ import annotations

from passnic import policy
from passnic.db import Database
from passnic.inventory.service import InventoryService
from passnic.network.bindings import BindingRules
from passnic.network.networks import NetworkRules
from passnic.network.ports import PortRules
from passnic.network.qos import QosRules
from passnic.network.quotas import QuotaRules
from passnic.network.security import SecurityGroupRules
from passnic.network.subnets import SubnetRules
from passnic.network.trunks import TrunkRules

policy.register(
    {
        # Seeing every project's resources (everyone sees their own and shared ones).
        "network:read_all_projects": "admin",
        "network:create_network": "member",
        "network:create_network:project_id": "admin",
        "network:create_network:shared": "admin",
        "network:create_network:provider": "admin",
        "network:update_network": "owner",
        "network:update_network:shared": "admin",
        "network:delete_network": "owner",
        "network:network_segment_range": "admin",
        "network:create_subnet": "owner",
        "network:update_subnet": "owner",
        "network:delete_subnet": "owner",
        "network:create_port": "member",
        "network:create_port:project_id": "admin",
        "network:create_port:binding": "admin",
        # the owner here is the network's project: choosing a MAC or an address on a network
        # is for its owner (shared networks hand out addresses themselves)
        "network:create_port:mac_address": "owner",
        "network:create_port:fixed_ips:ip_address": "owner",
        "network:update_port": "owner",
        "network:update_port:binding": "admin",
        "network:update_port:mac_address": "admin",
        # device_id/device_owner of a port a server holds: compute sets them; an admin may
        # repair them
        "network:update_port:device_of_server": "admin",
        "network:delete_port": "owner",
        "network:create_security_group": "member",
        "network:create_security_group:project_id": "admin",
        "network:update_security_group": "owner",
        "network:delete_security_group": "owner",
        "network:delete_default_security_group": "admin",
        "network:create_security_group_rule": "owner",
        "network:delete_security_group_rule": "owner",
        "network:create_qos_policy": "admin",
        "network:update_qos_policy": "admin",
        "network:delete_qos_policy": "admin",
        "network:create_trunk": "member",
        "network:update_trunk": "owner",
        "network:delete_trunk": "owner",
        "network:get_quota": "owner",
        "network:update_quota": "admin",
    }
)


class NetworkService(
    NetworkRules,
    SubnetRules,
    PortRules,
    SecurityGroupRules,
    QosRules,
    TrunkRules,
    BindingRules,
    QuotaRules,
):
    def __init__(self, db: Database, inventory: InventoryService) -> None:
        self.db = db
        self.inventory = inventory
