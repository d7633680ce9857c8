"""``network_data.json``: what a guest reads (config drive or metadata service) to configure its
network, in OpenStack's format.

A passthrough NIC is a physical function in the guest, so each one is a ``phy`` link whose
``ethernet_mac_address`` is the NIC's own MAC: after a cold migration the guest sees a new NIC
(a new ethX) with a new MAC, looks it up here by MAC and gives it the address the port kept.

* ``links``: one per direct-physical port (its bound NIC's MAC), then one per NIC of the
  flavor's PCI aliases (no port, so no addresses: the guest configures those itself).
* ``networks``: one per fixed IP of those ports: ``ipv4``/``ipv6`` static, with the subnet's
  netmask, default route (the gateway) and host routes, and ``network_id`` (Neutron's).
* ``services``: the subnets' DNS servers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from passnic.network.models import Subnet
from passnic.network.ports import DIRECT_PHYSICAL

if TYPE_CHECKING:
    from passnic.compute.service import ServerView


def _route(destination: str, gateway: str) -> dict[str, str]:
    net = ipaddress.ip_network(destination, strict=False)
    return {"network": str(net.network_address), "netmask": str(net.netmask), "gateway": gateway}


def network_data(view: ServerView, subnets: Mapping[str, Subnet]) -> dict[str, Any]:
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    dns: list[str] = []
    for nic in view.nics:
        if nic.vnic_type != DIRECT_PHYSICAL:
            continue  # no NIC in the guest: nothing there to configure
        link_id = f"tap{nic.port_id[:11]}"
        links.append(
            {
                "id": link_id,
                "vif_id": nic.port_id,
                "type": "phy",
                "mtu": nic.mtu,
                "ethernet_mac_address": nic.mac,
            }
        )
        for ip, subnet_id in nic.fixed_ips:
            subnet = subnets.get(subnet_id)
            if subnet is None:
                continue
            cidr = ipaddress.ip_network(subnet.cidr, strict=False)
            routes = [
                _route(route["destination"], route["nexthop"]) for route in subnet.host_routes
            ]
            if subnet.gateway_ip:
                default = "0.0.0.0/0" if cidr.version == 4 else "::/0"
                routes.append(_route(default, subnet.gateway_ip))
            services = [{"type": "dns", "address": a} for a in subnet.dns_nameservers]
            dns.extend(a for a in subnet.dns_nameservers if a not in dns)
            networks.append(
                {
                    "id": f"network{len(networks)}",
                    "type": f"ipv{cidr.version}",
                    "link": link_id,
                    "ip_address": ip,
                    "netmask": str(cidr.netmask),
                    "routes": routes,
                    "network_id": nic.network_id,
                    "services": services,
                }
            )
    for device in view.devices:
        if device.port_id is None:
            links.append(
                {
                    "id": f"pci-{device.pci_address}",
                    "vif_id": None,
                    "type": "phy",
                    "mtu": None,
                    "ethernet_mac_address": device.mac,
                }
            )
    return {
        "links": links,
        "networks": networks,
        "services": [{"type": "dns", "address": a} for a in dns],
    }
