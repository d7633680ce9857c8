"""Putting a cloud's data plane on the lab: shared by ``passnic demo`` and ``passnic up``.

`start_lab` starts a `Lab` (every namespace, interface and process named ``pn-``);
`attach_lab` makes each compute host's agent run the lab hypervisor (a VM = a namespace
holding its NIC: `passnic.lab.driver`) by rewriting the agents' config files, and points
switch tor-1 at the lab switch's SSH CLI (netmiko ``cisco_ios``), cabling every lab NIC to its
switch port. `stop_lab` stops the lab and removes what is left. A later start without the lab
(`release_lab_switch`) points tor-1 back at the in-process switch: the lab's address is dead
once the lab is gone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from passnic.context import RequestContext
from passnic.fabric.service import MANUAL, SOFT
from passnic.lab import netns

if TYPE_CHECKING:
    from passnic.cloud import Cloud
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


def lab_agent_options(lab: Lab, hostname: str) -> dict[str, Any]:
    """The lab driver's options for one host's agent (`passnic.lab.driver.LabDriver`)."""
    from passnic.lab.topology import host_netns

    return {
        "host_netns": host_netns(hostname),
        "nics": lab.host_nics(hostname),
        "guest_dir": str(lab.lab_dir / "guests"),
    }


def use_lab_hypervisors(lab: Lab, agent_configs: list[Path]) -> None:
    """Each lab host's agent (its config file) runs the lab driver from now on."""
    from passnic.agent.config import AgentConfig

    for path in agent_configs:
        config = AgentConfig.load(path)
        if config.hostname in lab.spec.hostnames:
            options = lab_agent_options(lab, config.hostname)
            config.model_copy(update={"driver": "lab", "driver_options": options}).write(path)


def point_switch_at_lab(cloud: Cloud, lab: Lab) -> str:
    """Switch tor-1 (the lab's switch name) is driven over the lab switch's SSH CLI; its
    address (``host:port``). The cabling is not typed: the lab switch sends LLDP and the hosts'
    agents report what their NICs hear, so the links are learned (`wait_for_cabling`). The
    sample cloud's typed links of the lab's NICs give way to the learned ones; links learned
    by an earlier run stay (a restart keeps its bound ports as they were). Idempotent."""
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
    cabling = lab.cabling()
    for link in cloud.fabric.list_links(LAB_ADMIN):
        typed = link.source == MANUAL and link.switch_port.switch.name == name
        if typed and cabling.get((link.hostname, link.ifname)) == link.switch_port.name:
            cloud.fabric.delete_link(LAB_ADMIN, link.hostname, link.ifname)
    _lab_mark(cloud).write_text(json.dumps({"switch": name, "address": address}))
    return address


def wait_for_cabling(cloud: Cloud, lab: Lab, timeout: float = 60.0) -> list[str]:
    """Wait until every lab NIC's link is known (learned over LLDP once the agents report);
    the NICs still without one when `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        known = {(lk.hostname, lk.ifname) for lk in cloud.fabric.list_links(LAB_ADMIN)}
        missing = sorted(f"{h} {n}" for h, n in lab.cabling() if (h, n) not in known)
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.5)


def _lab_mark(cloud: Cloud) -> Path:
    """Which switch the lab took over, and at which address (so a start without the lab
    gives it back, and leaves alone a switch an operator has pointed elsewhere since)."""
    return Path(cloud.settings.home) / "lab-switch.json"


def release_lab_switch(cloud: Cloud) -> str | None:
    """The switch a previous lab run pointed at its (now dead) SSH address is the in-process
    test switch again, its ports and cabling kept; its name, or None when there was none."""
    mark = _lab_mark(cloud)
    try:
        taken = json.loads(mark.read_text())
    except (OSError, ValueError):
        return None
    name = str(taken.get("switch") or "")
    switches = {sw.name: sw for sw in cloud.fabric.list_switches(LAB_ADMIN)}
    sw = switches.get(name)
    if sw is not None and sw.address == taken.get("address"):
        cloud.fabric.repoint_switch(LAB_ADMIN, name, driver=SOFT, address="")
    mark.unlink(missing_ok=True)
    return name if sw is not None else None


def attach_lab(cloud: Cloud, lab: Lab, agent_configs: list[Path]) -> str:
    """The cloud's hypervisors and switch tor-1 are the lab's; tor-1's SSH address."""
    use_lab_hypervisors(lab, agent_configs)
    return point_switch_at_lab(cloud, lab)
