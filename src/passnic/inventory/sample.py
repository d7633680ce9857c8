"""The sample cloud's inventory: what the StarlingX procedure starts from.

A controller and three compute hosts, each discovered by the host agent's own code from a fake
sysfs tree (the sample cloud has no real NICs). Each host is reported locked, gets its platform
interface (enp0s2) as a real installation would, and is unlocked, so it ends
unlocked/enabled/available; plus the data network ``group0-data0`` the procedure's
prerequisites name. The operator then locks a host, makes a NIC pci-passthrough and assigns
it, as documented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from passnic.agent.discovery import discover_host
from passnic.agent.fakesysfs import build_sample_compute_sysfs
from passnic.context import RequestContext
from passnic.inventory.report import Personality

if TYPE_CHECKING:
    from passnic.cloud import Cloud

#: (hostname, personality, index); the index picks the host's MACs, so compute-N uses N and
#: the controller one far from any compute's.
SAMPLE_HOSTS: tuple[tuple[str, Personality, int], ...] = (
    ("controller-0", "controller", 255),
    ("compute-0", "worker", 0),
    ("compute-1", "worker", 1),
    ("compute-2", "worker", 2),
)
PLATFORM_NIC = "enp0s2"
SAMPLE_DATANETWORK = {"name": "group0-data0", "network_type": "vlan", "mtu": 1500}

#: The bootstrap acts as the cloud's administrator, before any token exists.
BOOTSTRAP = RequestContext(
    user_id="passnic-bootstrap",
    user_name="admin",
    project_id="",
    project_name="admin",
    roles=frozenset({"admin"}),
)


def bootstrap_inventory(cloud: Cloud) -> None:
    """Report the sample hosts (their fake sysfs lives under the cloud's home), give each its
    platform interface, unlock them, and create group0-data0."""
    inventory = cloud.inventory
    for hostname, personality, index in SAMPLE_HOSTS:
        root = build_sample_compute_sysfs(cloud.settings.home / "sysfs" / hostname, index)
        report = discover_host(hostname, root, personality=personality)
        if personality == "controller":
            report = report.model_copy(
                update={"ports": [p for p in report.ports if p.name == PLATFORM_NIC]}
            )
        inventory.report_host(BOOTSTRAP, report)
        platform = inventory.get_interface(BOOTSTRAP, PLATFORM_NIC, host=hostname)
        inventory.modify_interface(BOOTSTRAP, platform.uuid, {"ifclass": "platform"})
        inventory.unlock_host(BOOTSTRAP, hostname)
    inventory.create_datanetwork(BOOTSTRAP, SAMPLE_DATANETWORK)
