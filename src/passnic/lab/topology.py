"""The whole lab: compute hosts whose passthrough NICs are cabled to the lab switch, and one
external endpoint per VLAN. Every name carries the lab's prefix ``pn-<id>-`` (written ``P``
here; `passnic.lab.netns.instance_prefix`), so labs side by side never touch each other.

- ``Pswitch``: the switch-side veth ends (``pn-s0p1``...), driven by `LabSwitch`, whose
  IOS-like SSH CLI listens on 127.0.0.1 (root namespace) for Passnic's netmiko driver.
- Host N's NICs, named and addressed as in the sample cloud's fake sysfs (``enp0s3``,
  ``enp0s4``, MAC `sample_mac(N, slot)`), whose sysfs-like tree is written with
  `build_sample_compute_sysfs` under the lab directory so the agent's discovery reports them.
  Each NIC is a veth end with the NIC's MAC, link-up without addresses, whose peer is its
  switch port. With ``guests="qemu"`` it lives in the root namespace (``Ph0p1``...), where the
  host's libvirt hands it to a guest whole (a macvtap in passthrough mode, the guest's NIC an
  emulated e1000 with the NIC's MAC); while no guest has it the host hears the switch's LLDP
  on it, as on a real host. With ``guests="netns"`` (no QEMU) it is ``enp0sN`` in namespace
  ``Pcompute-N``, which the lab driver moves into a guest's namespace.
- ``Pext-vV``: an external endpoint (a router, say) on VLAN V with an address of the
  project subnet, on its own uplink switch port in access mode for its VLAN.

NIC ports start quarantined (shut down, VLAN 1), as a switch a cloud has not yet touched.
`Lab` writes ``lab.json`` (its prefix first, then switch address and cabling) in the lab
directory for other processes and for ``passnic lab-clean``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from passnic.agent.fakesysfs import (
    SAMPLE_PASSTHROUGH_IF,
    SAMPLE_SRIOV_IF,
    build_sample_compute_sysfs,
    sample_compute_nics,
)
from passnic.fabric.portconfig import ALL_VLANS, PortConfig
from passnic.lab import netns
from passnic.lab.ios_cli import SshCli, start_ssh_cli
from passnic.lab.switch import LabSwitch, SwitchPort

GuestKind = Literal["qemu", "netns"]


@dataclass(frozen=True)
class LabSpec:
    #: the sample cloud's compute hosts; compute-N's NICs go on ports 2N+1, 2N+2 (as the
    #: sample fabric's cabling, `passnic.fabric.sample`)
    hostnames: Sequence[str] = ("compute-0", "compute-1", "compute-2")
    #: the NICs of each host cabled to the switch (the sample's passthrough-capable ones)
    nic_names: Sequence[str] = (SAMPLE_SRIOV_IF, SAMPLE_PASSTHROUGH_IF)
    #: VLAN -> the external endpoint's address on it
    endpoints: Mapping[int, str] = field(
        default_factory=lambda: {10: "10.0.10.254/24", 20: "10.0.20.254/24"}
    )
    switch_name: str = "tor-1"
    users: Mapping[str, str] = field(default_factory=lambda: {"netops": "lab-password"})
    ssh_host: str = "127.0.0.1"
    ssh_port: int = 0  # 0: any free port
    first_uplink: int = 40  # endpoint ports: GigabitEthernet1/0/40, /41...
    #: a trunk carrying every VLAN tagged to namespace ``pn-uplink`` (its eth0 sees the tagged
    #: frames, e.g. for capture), as the sample fabric's uplink
    uplink_port: str | None = "GigabitEthernet1/0/48"
    #: seconds between LLDP advertisements out of every port (on by default: the hosts learn
    #: their cabling from it); None: off
    lldp_interval: float | None = 5.0
    #: what a server is: a QEMU guest (libvirt driver) or a namespace (lab driver)
    guests: GuestKind = "netns"


@dataclass(frozen=True)
class LabNic:
    hostname: str
    ifname: str
    mac: str
    pci_address: str
    netns: str | None  # the host's namespace (None: the root namespace)
    switch_port: str  # e.g. GigabitEthernet1/0/1
    switch_ifname: str  # the switch port's interface: a veth end in the switch namespace
    host_ifname: str  # the NIC's interface on its host (`ifname` in the host's namespace)


@dataclass(frozen=True)
class LabEndpoint:
    vlan: int
    address: str
    netns: str
    switch_port: str


def read_prefix(lab_dir: Path) -> str | None:
    """The prefix of the lab whose directory is `lab_dir` (from its ``lab.json``), if any."""
    try:
        prefix = json.loads((Path(lab_dir) / "lab.json").read_text())["prefix"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return prefix if isinstance(prefix, str) else None


class Lab:
    """Build with `start` (or ``with Lab(dir) as lab``); `stop` removes all it created.
    `prefix` (default: a new instance's) names everything it creates."""

    def __init__(
        self, lab_dir: Path, spec: LabSpec | None = None, prefix: str | None = None
    ) -> None:
        self.lab_dir = Path(lab_dir)
        self.spec = spec or LabSpec()
        self.prefix = prefix or netns.instance_prefix(netns.new_instance())
        self.switch_ns = netns.check_netns(f"{self.prefix}switch")
        self.uplink_ns = netns.check_netns(f"{self.prefix}uplink")
        self.nics: list[LabNic] = []
        self.endpoints: dict[int, LabEndpoint] = {}
        self.switch: LabSwitch | None = None
        self.ssh: SshCli | None = None
        self._namespaces: list[str] = []
        self._plan()

    def host_netns(self, hostname: str) -> str:
        return netns.check_netns(f"{self.prefix}{hostname}")

    def vm_prefix(self) -> str:
        """The prefix of the lab driver's guest namespaces."""
        return f"{self.prefix}vm-"

    def _plan(self) -> None:
        port = 1
        qemu = self.spec.guests == "qemu"
        for index, hostname in enumerate(self.spec.hostnames):
            by_name = {n.ifname: n for n in sample_compute_nics(index)}
            for j, ifname in enumerate(self.spec.nic_names):
                nic = by_name[ifname]
                self.nics.append(
                    LabNic(
                        hostname,
                        ifname,
                        nic.mac,
                        nic.pciaddr,
                        None if qemu else self.host_netns(hostname),
                        f"GigabitEthernet1/0/{port}",
                        f"pn-s{index}p{j}",
                        netns.check_ifname(f"{self.prefix}h{index}p{j}") if qemu else ifname,
                    )
                )
                port += 1
        for k, (vlan, address) in enumerate(sorted(self.spec.endpoints.items())):
            ipaddress.ip_interface(address)  # validate early
            self.endpoints[vlan] = LabEndpoint(
                vlan,
                address,
                netns.check_netns(f"{self.prefix}ext-v{vlan}"),
                f"GigabitEthernet1/0/{self.spec.first_uplink + k}",
            )

    # ---- queries ----

    def nic(self, hostname: str, ifname: str) -> LabNic:
        for nic in self.nics:
            if nic.hostname == hostname and nic.ifname == ifname:
                return nic
        raise KeyError(f"no lab NIC {ifname} on {hostname}")

    def host_nics(self, hostname: str) -> dict[str, str]:
        """PCI address -> interface name of a host's lab NICs (for the lab hypervisor)."""
        return {n.pci_address: n.ifname for n in self.nics if n.hostname == hostname}

    def host_interfaces(self, hostname: str) -> dict[str, str]:
        """PCI address -> the interface of a host's lab NICs in the root namespace (the
        libvirt driver's ``lab_nics``)."""
        return {n.pci_address: n.host_ifname for n in self.nics if n.hostname == hostname}

    def sysfs_root(self, hostname: str) -> Path:
        return self.lab_dir / "sysfs" / hostname

    def cabling(self) -> dict[tuple[str, str], str]:
        """(hostname, NIC) -> switch port: what the fabric's port map records."""
        return {(n.hostname, n.ifname): n.switch_port for n in self.nics}

    def netmiko_params(self, **overrides: Any) -> dict[str, Any]:
        """netmiko's ``cisco_ios`` parameters for the lab switch, with fast timeouts."""
        if self.ssh is None:
            raise RuntimeError("the lab is not started")
        user, password = next(iter(self.spec.users.items()))
        params: dict[str, Any] = {
            "host": self.ssh.host,
            "port": self.ssh.port,
            "username": user,
            "password": password,
            "fast_cli": True,
            "conn_timeout": 5,
            "auth_timeout": 5,
            "banner_timeout": 5,
            "global_delay_factor": 0.1,
        }
        return {**params, **overrides}

    # ---- life cycle ----

    def _netns(self, name: str) -> str:
        self._namespaces.append(name)  # first: a half-made one is removed too
        netns.add_netns(name)
        return name

    def start(self) -> Lab:
        try:
            self._build()
        except BaseException:
            self.stop()
            raise
        return self

    def _build(self) -> None:
        self.lab_dir.mkdir(parents=True, exist_ok=True)
        # the prefix is on disk before anything is made: lab-clean finds what a crash left
        self._write_state()
        netns.write_pid(self.lab_dir, "lab", os.getpid())
        switch_ns = self._netns(self.switch_ns)
        ports: list[SwitchPort] = []
        for index, hostname in enumerate(self.spec.hostnames):
            build_sample_compute_sysfs(self.sysfs_root(hostname), index)
            host_ns = None if self.spec.guests == "qemu" else self._netns(self.host_netns(hostname))
            for nic in (n for n in self.nics if n.hostname == hostname):
                netns.add_veth(
                    nic.switch_ifname,
                    nic.host_ifname,
                    ns=switch_ns,
                    peer_ns=host_ns,
                    peer_mac=nic.mac,
                )
                netns.set_up(nic.host_ifname, ns=host_ns)
                netns.set_up(nic.switch_ifname, ns=switch_ns)
                ports.append(
                    SwitchPort(nic.switch_port, nic.switch_ifname, PortConfig.quarantine(1))
                )
        for k, ep in enumerate(self.endpoints.values()):
            ns = self._netns(ep.netns)
            switch_if = f"pn-su{k}"
            netns.add_veth(switch_if, "eth0", ns=switch_ns, peer_ns=ns)
            netns.set_up("eth0", ns=ns)
            netns.add_address("eth0", ep.address, ns=ns)
            netns.set_up(switch_if, ns=switch_ns)
            ports.append(
                SwitchPort(
                    ep.switch_port,
                    switch_if,
                    PortConfig.access(ep.vlan, f"external VLAN {ep.vlan}"),
                )
            )
        if self.spec.uplink_port is not None:
            ns = self._netns(self.uplink_ns)
            netns.add_veth("pn-sup", "eth0", ns=switch_ns, peer_ns=ns)
            netns.set_up("eth0", ns=ns)
            netns.set_up("pn-sup", ns=switch_ns)
            uplink = PortConfig.trunk(None, ALL_VLANS, "uplink")
            ports.append(SwitchPort(self.spec.uplink_port, "pn-sup", uplink))
        self.switch = LabSwitch(
            self.spec.switch_name, ports, netns=switch_ns, lldp_interval=self.spec.lldp_interval
        ).start()
        self.ssh = start_ssh_cli(
            self.switch,
            self.lab_dir,
            self.spec.users,
            host=self.spec.ssh_host,
            port=self.spec.ssh_port,
            vlan_names={v: f"external-{v}" for v in self.endpoints},
        )
        self._write_state()

    def _write_state(self) -> None:
        state: dict[str, Any] = {"prefix": self.prefix, "guests": self.spec.guests}
        if self.ssh is not None:
            state["switch"] = {
                "name": self.spec.switch_name,
                "vendor": "cisco_ios",
                "host": self.ssh.host,
                "port": self.ssh.port,
            }
        state |= {
            "nics": [asdict(n) for n in self.nics],
            "endpoints": [asdict(e) for e in self.endpoints.values()],
            "namespaces": self._namespaces,
        }
        (self.lab_dir / "lab.json").write_text(json.dumps(state, indent=2), encoding="utf-8")

    def stop(self) -> None:
        if self.switch is not None:
            with contextlib.suppress(Exception):
                self.switch.stop()
            self.switch, self.ssh = None, None
        # VMs of the lab hypervisor hold NICs in their own namespaces: remove those too
        for ns in netns.namespaces(self.vm_prefix()):
            netns.del_netns(ns)
        for ns in reversed(self._namespaces):
            netns.del_netns(ns)
        self._namespaces = []
        for nic in self.nics:
            if nic.netns is None:  # gone with the switch's namespace, unless that failed
                netns.del_link(nic.host_ifname)
        (self.lab_dir / "lab.pid").unlink(missing_ok=True)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
