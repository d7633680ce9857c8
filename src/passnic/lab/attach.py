"""Putting a cloud's data plane on the lab: shared by ``passnic demo`` and ``passnic up``.

`start_lab` starts a `Lab` (every namespace, interface and process named ``pn-``);
`attach_lab` makes each compute host's agent run the lab hypervisor (a VM = a namespace
holding its NIC) and points switch tor-1 at the lab switch's SSH CLI (netmiko ``cisco_ios``),
cabling every lab NIC to its switch port. `stop_lab` stops the lab and removes what is left.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from passnic.context import RequestContext
from passnic.lab import netns

if TYPE_CHECKING:
    from passnic.cloud import Cloud
    from passnic.compute.hypervisor.lab import LabDriver
    from passnic.lab.topology import Lab

LAB_ADMIN = RequestContext(
    user_id="passnic-lab",
    user_name="admin",
    project_id="",
    project_name="admin",
    roles=frozenset({"admin"}),
)
LAB_SWITCH_DRIVER = "cisco_ios"


def start_lab(lab_dir: Path) -> Lab:
    """Start the lab of the sample cloud in `lab_dir`; refuse when a lab is already present."""
    from passnic.lab.topology import Lab, LabSpec

    reason = netns.netns_available()
    if reason is not None:
        raise netns.LabError(f"the lab needs network namespaces: {reason}")
    left = netns.leftovers(netns.PREFIX)
    if left:
        raise netns.LabError(
            f"a lab is already present ({', '.join(left[:3])}...): run passnic lab-clean"
        )
    try:
        return Lab(lab_dir, LabSpec()).start()
    except BaseException:
        netns.cleanup(netns.PREFIX, lab_dir)  # nothing was there before: all of it is ours
        raise


def stop_lab(lab: Lab | None, lab_dir: Path) -> list[str]:
    """Stop `lab` (if started) and remove every ``pn-`` leftover; what cleanup removed."""
    try:
        if lab is not None:
            lab.stop()
    finally:
        removed = netns.cleanup(netns.PREFIX, lab_dir)
    return removed


def register_lab_hypervisors(cloud: Cloud, lab: Lab) -> dict[str, LabDriver]:
    """Each compute host of the lab gets an agent running the lab hypervisor."""
    from passnic.compute.agents import LocalAgent
    from passnic.compute.hypervisor.lab import lab_driver_factory

    factory = lab_driver_factory(lab, lambda sid: cloud.compute.network_data(LAB_ADMIN, sid))
    drivers = {}
    for host in lab.spec.hostnames:
        drivers[host] = factory(host)
        cloud.compute.agents.register(host, LocalAgent(host, drivers[host]))
    return drivers


def point_switch_at_lab(cloud: Cloud, lab: Lab) -> str:
    """Switch tor-1 (the lab's switch name) is driven over the lab switch's SSH CLI, and every
    lab NIC is cabled to its port; its address (``host:port``). Idempotent: a restart only
    updates the address."""
    params = lab.netmiko_params()
    address = f"{params['host']}:{params['port']}"
    name = lab.spec.switch_name
    cloud.fabric.repoint_switch(
        LAB_ADMIN,
        name,
        driver=LAB_SWITCH_DRIVER,
        address=address,
        username=params["username"],
        password=params["password"],
    )
    for (host, nic), sport in sorted(lab.cabling().items()):
        cloud.fabric.set_link(LAB_ADMIN, host, nic, name, sport)
    return address


def attach_lab(cloud: Cloud, lab: Lab) -> str:
    """The cloud's hypervisors and switch tor-1 are the lab's; tor-1's SSH address."""
    register_lab_hypervisors(cloud, lab)
    return point_switch_at_lab(cloud, lab)
