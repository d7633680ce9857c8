"""Putting a cloud's data plane on the lab: shared by ``passnic demo`` and ``passnic up``.

`start_lab` starts a `Lab` (every namespace, interface, process and domain named with its own
prefix ``pn-<id>-``, so it leaves any other lab alone); `attach_lab` makes each compute host's
agent run the lab's hypervisor by rewriting the agents' config files, and points switch tor-1
at the lab switch's SSH CLI (netmiko ``cisco_ios``), cabling every lab NIC to its switch port.
`stop_lab` stops the lab and removes what is left of it; `lab_clean` does that for a lab that
crashed, found by the prefix its directory records.

The hypervisor is the production libvirt driver starting QEMU guests (`passnic.lab.guests`)
when QEMU, libvirt and the guest image are there, else the namespace driver
(`passnic.lab.driver`, a VM = a namespace holding its NIC), and the lab says which and why.
A later start without the lab (`release_lab_switch`) points tor-1 back at the in-process
switch: the lab's address is dead once the lab is gone.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from passnic.config import Settings
from passnic.context import RequestContext
from passnic.errors import PassnicError
from passnic.fabric.service import MANUAL, SOFT
from passnic.lab import guests, netns

if TYPE_CHECKING:
    from passnic.cloud import Cloud
    from passnic.lab.topology import GuestKind, Lab

LAB_ADMIN = RequestContext(
    user_id="passnic-lab",
    user_name="admin",
    project_id="",
    project_name="admin",
    roles=frozenset({"admin"}),
)
LAB_SWITCH_DRIVER = "cisco_ios"
NAMESPACE_DRIVER = "passnic.lab.driver:LabDriver"
LAB_LINE = "Data plane: lab {prefix}* ({kind}), switch tor-1 over SSH at {address}"


def choose_guests() -> tuple[GuestKind, str]:
    """QEMU guests when they can run here, else namespaces; and why, for the operator."""
    reason = guests.unavailable()
    if reason is None:
        try:
            guests.ensure_libvirtd()
            guest_image()
        except Exception as exc:  # any reason not to boot guests is a reason to fall back
            reason = str(exc)
    if reason is None:
        return "qemu", "QEMU guests (TCG) started by the libvirt driver"
    return "netns", f"namespace guests: no real guests here ({reason})"


def guest_image() -> Any:
    """The guest image `make guest` built from Debian packages, in the guest cache (setting
    ``PASSNIC_GUEST_CACHE``, default ``.cache/guest``). Not built here: that downloads the
    kernel package and takes minutes, which starting a lab should not do unasked."""
    from passnic.image.guest import build, default_cache

    cache = default_cache()
    if not any(cache.glob("*/vmlinux")) or not any(cache.glob("initrd-*.gz")):
        raise RuntimeError(
            f"no guest image in {cache.resolve()} (make guest, or set PASSNIC_GUEST_CACHE)"
        )
    return build(cache)


def start_lab(lab_dir: Path, kind: GuestKind | None = None, prefix: str | None = None) -> Lab:
    """Start the lab of the sample cloud in `lab_dir` with servers of `kind` (default: QEMU
    guests when possible), its names under `prefix` (default: a new instance's). A lab
    already running elsewhere is left alone."""
    from passnic.lab.topology import Lab, LabSpec

    reason = netns.netns_available()
    if reason is not None:
        raise netns.LabError(f"the lab needs network namespaces: {reason}")
    if kind is None:
        kind, _ = choose_guests()
    lab = Lab(lab_dir, LabSpec(guests=kind), prefix=prefix)
    try:
        return lab.start()
    except BaseException:
        stop_lab(lab, lab_dir)
        raise


def stop_lab(lab: Lab | None, lab_dir: Path) -> list[str]:
    """Stop `lab` (if started) and remove what is left of it; what cleanup removed."""
    from passnic.lab.topology import read_prefix

    prefix = lab.prefix if lab is not None else read_prefix(lab_dir)
    if prefix is None:
        return []
    try:
        removed = guests.remove_domains(prefix) if guests.unavailable() is None else []
    finally:
        try:
            if lab is not None:
                lab.stop()
        finally:
            removed += netns.cleanup(prefix, lab_dir)
    return removed


def lab_clean(lab_dir: Path) -> list[str]:
    """``passnic lab-clean``: remove the lab whose directory is `lab_dir` (a crashed one)."""
    return stop_lab(None, lab_dir)


def lab_agent_options(lab: Lab, hostname: str) -> dict[str, Any]:
    """The hypervisor driver options for one lab host's agent."""
    if lab.spec.guests == "qemu":
        return {
            "uri": guests.URI,
            "virt_type": "qemu",
            "lab_nics": lab.host_interfaces(hostname),
            # shared instance storage (as Nova's): a cold-migrated guest keeps its disk, and
            # with it the NIC names its udev-like init remembers
            "instances_dir": str(lab.lab_dir / "instances"),
            "name_prefix": guests.domain_prefix(lab.prefix, hostname),
            "shutdown_timeout": 5,
        }
    return {
        "host_netns": lab.host_netns(hostname),
        "nics": lab.host_nics(hostname),
        "vm_prefix": lab.vm_prefix(),
        "guest_dir": str(lab.lab_dir / "guests"),
    }


def lab_driver(lab: Lab) -> str:
    return "libvirt" if lab.spec.guests == "qemu" else NAMESPACE_DRIVER


def use_lab_hypervisors(lab: Lab, agent_configs: list[Path]) -> None:
    """Each lab host's agent (its config file) runs the lab's hypervisor from now on; its
    QEMU guests boot the images it fetches from Glance (the sample cloud's ``passnic-guest``)."""
    from passnic.agent.config import AgentConfig

    for path in agent_configs:
        config = AgentConfig.load(path)
        if config.hostname in lab.spec.hostnames:
            options = lab_agent_options(lab, config.hostname)
            update = {"driver": lab_driver(lab), "driver_options": options}
            config.model_copy(update=update).write(path)


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


def give_back_lab_switch(settings: Settings) -> str | None:
    """For a start without the lab: `release_lab_switch` on the cloud at `settings`; the line
    to tell the operator, or None when no lab run had taken a switch."""
    from passnic.cloud import Cloud

    cloud = Cloud(settings)
    try:
        name = release_lab_switch(cloud)
    except PassnicError as exc:  # e.g. the test switch with several workers
        return f"Switch left as the lab set it (its SSH address is gone): {exc.message}"
    finally:
        cloud.close()
    if name is None:
        return None
    return f"Switch {name}: back on the in-process switch (the lab that drove it is gone)"


def attach_lab(cloud: Cloud, lab: Lab, agent_configs: list[Path]) -> str:
    """The cloud's hypervisors and switch tor-1 are the lab's; tor-1's SSH address."""
    use_lab_hypervisors(lab, agent_configs)
    return point_switch_at_lab(cloud, lab)


def lab_possible() -> str | None:
    """Why the lab cannot run here (None: it can): it needs root and network namespaces."""
    return netns.netns_available()


def lab_data_plane(lab_dir: Path, agent_configs: list[Path]) -> Any:
    """``passnic up``'s data plane (`passnic.server.DataPlane`): the lab, attached to the
    cloud while serving, removed afterwards however serving ends."""

    @contextlib.contextmanager
    def plane(cloud: Cloud) -> Iterator[str]:
        kind, why = choose_guests()
        lab = start_lab(lab_dir, kind)  # removes what it made when it fails
        try:
            address = attach_lab(cloud, lab, agent_configs)
            yield LAB_LINE.format(prefix=lab.prefix, kind=why, address=address)
        finally:
            stop_lab(lab, lab_dir)

    return plane
