"""``passnic demo``: the StarlingX PCI-passthrough procedure, end to end, on the lab.

A fresh cloud runs as ``passnic up`` runs it (a temporary PASSNIC_HOME, SQLite, the sample
cloud): the controller serves HTTP on a free loopback port (in a thread of this process, its
conductor on) and each compute host's agent is a process of its own. Its servers are real
guests where QEMU and libvirt are installed: the agents run the libvirt driver and each VM is
a QEMU (TCG) guest whose NIC, with the lab NIC's MAC, is on that NIC's switch port; the checks
then run inside the guests, typed on their serial consoles, and what a guest sees is what its
console (``os-getConsoleOutput``) says. Elsewhere a VM is a namespace holding its NIC
(`passnic.lab.driver`), and the demo says so. The demo is a client of the API
over HTTP: the admin makes NICs pci-passthrough, points switch tor-1's driver at the lab
switch's SSH CLI (netmiko ``cisco_ios``), the projects create VLAN networks and boot servers,
and the demo polls each asynchronous operation to its end, as `openstack --wait` does. Real
frames then prove five things:

1. vm1 and vm3 (project1, VLAN 10) reach each other and their external endpoint; vm2
   (project2, VLAN 20) reaches neither and only its own endpoint;
2. a frame vm1's guest tags for VLAN 20 is dropped at its access port (that very frame is
   seen arriving at the port and nowhere past it: other traffic cannot sway the check);
3. with an admin's trunk exception on vm1's port the same frame reaches VLAN 20; the access
   port is restored afterwards;
4. cold migration gives vm1 a new NIC (new MAC) with the same IP, ping works again, and the
   old switch port is quarantined;
5. live migration is refused with Passnic's message.

`run_demo` returns the checks; everything it started (agents, server, namespaces, switch, temp
home) is gone when it returns, however it ends.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from passnic.config import default_home
from passnic.context import RequestContext
from passnic.image.sample import CIRROS_NAME, GUEST_NAME
from passnic.lab import netns

DATANET = "group0-data0"
COMPUTE = "/compute/v2.1"
NETWORKING = "/networking/v2.0"
FABRIC = "/fabric/v1"
#: longest an asynchronous operation (boot, migrate, confirm) may take before the demo gives up
OPERATION_SECONDS = 60.0
#: longest the controller may take to quarantine a freed NIC's switch port after an operation
QUARANTINE_SECONDS = 10.0
#: longest the controller and the hosts' agents may take to come up
START_SECONDS = 30.0
#: longest a QEMU guest may take from start to its init's "ready" (TCG, a loaded machine)
BOOT_SECONDS = 120.0
ETH_P_DEMO = 0x88B5  # IEEE "local experimental" EtherType: no stack on the way reacts to it
DEMO_ADMIN = RequestContext(
    user_id="passnic-demo",
    user_name="admin",
    project_id="",
    project_name="admin",
    roles=frozenset({"admin"}),
)


def default_lab_dir() -> Path:
    return default_home() / "lab"


class DemoError(RuntimeError):
    """A step of the demo failed (not a check: the procedure itself could not go on)."""


@dataclass
class Check:
    number: int
    title: str
    ok: bool
    details: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    checks: list[Check] = field(default_factory=list)
    elapsed: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and len(self.checks) == 5 and all(c.ok for c in self.checks)


# ---- raw frames -----------------------------------------------------------------------------


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def tagged_frame(src_mac: str, vlan: int, marker: bytes) -> bytes:
    """A broadcast frame tagged 802.1Q `vlan`, carrying `marker` (EtherType 0x88B5)."""
    payload = marker.ljust(46, b"\0")
    return (
        b"\xff" * 6
        + _mac_bytes(src_mac)
        + b"\x81\x00"
        + vlan.to_bytes(2, "big")
        + ETH_P_DEMO.to_bytes(2, "big")
        + payload
    )


def send_frame(ns: str, ifname: str, frame: bytes) -> None:
    """Send raw bytes out of `ifname` of namespace `ns` (what a guest's raw socket does)."""

    def send() -> None:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
            sock.bind((ifname, 0))
            sock.send(frame)

    netns.in_netns(ns, send)


@contextlib.contextmanager
def sniffer(ns: str | None, ifname: str = "eth0") -> Iterator[Callable[[bytes, float], bool]]:
    """A capture on `ifname` of `ns` (None: this one), opened before the frame is sent; yields
    ``seen(marker, timeout)``: whether a frame holding `marker` arrived."""

    def open_sock() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        sock.bind((ifname, 0))
        return sock

    sock: socket.socket = netns.in_netns(ns, open_sock)

    def seen(marker: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65535)
            except TimeoutError:
                return False
            if marker in data:
                return True
        return False

    try:
        yield seen
    finally:
        sock.close()


# ---- the demo -------------------------------------------------------------------------------


def _message(resp: Any) -> str:
    """The error message of an API answer (Nova, Neutron or Passnic fault formats)."""
    try:
        body = resp.json()
    except ValueError:
        return str(resp.text)

    def find(obj: Any) -> str | None:
        if isinstance(obj, dict):
            for key in ("message", "detail"):
                if isinstance(obj.get(key), str):
                    return str(obj[key])
            for value in obj.values():
                found = find(value)
                if found:
                    return found
        return None

    return find(body) or str(resp.text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Demo:
    def __init__(self, console: Console, home: Path) -> None:
        self.console = console
        self.home = home
        self.lab_dir = home / "lab"
        self.kind: Any = "netns"
        self.why = ""
        self.result = DemoResult()
        self.lab: Any = None
        self.cloud: Any = None
        self.server: Any = None  # passnic.server.ThreadServer
        self.agents: Any = None  # AgentSupervisor
        self.api: Any = None  # httpx.Client
        self.url = ""
        self.headers: dict[str, dict[str, str]] = {}
        self.markers = 0
        #: server id -> how many times its guest has booted (a QEMU lab)
        self.boots: dict[str, int] = {}
        #: (server id, domain) -> its console, kept open between commands
        self.consoles: dict[tuple[str, str], Any] = {}

    # -- output --

    def step(self, text: str) -> None:
        self.console.print(f"[bold cyan]▶[/bold cyan] {text}")

    def note(self, text: str) -> None:
        self.console.print(f"    {text}", highlight=False)

    def check(self, number: int, title: str, results: list[tuple[bool, str]]) -> None:
        ok = all(good for good, _ in results)
        self.result.checks.append(Check(number, title, ok, [t for _, t in results]))
        for good, text in results:
            mark = "[green]✓[/green]" if good else "[red]✗[/red]"
            self.console.print(f"    {mark} {text}", highlight=False)
        if ok:
            self.console.print(f"[bold green]✔ Check {number}: {title}[/bold green]")
        else:
            self.console.print(f"[bold red]✘ Check {number}: {title}[/bold red]")

    # -- API helpers --

    def call(
        self, method: str, path: str, who: str, body: Any = None, expect: int | None = None
    ) -> Any:
        resp = self.api.request(method, path, json=body, headers=self.headers[who])
        if expect is not None and resp.status_code != expect:
            raise DemoError(f"{method} {path} answered {resp.status_code}: {_message(resp)}")
        return resp

    def server_show(self, server_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.call(
            "GET", f"{COMPUTE}/servers/{server_id}", "admin", None, 200
        ).json()
        return dict(body["server"])

    def wait_for(self, server_id: str, status: str) -> dict[str, Any]:
        """Poll the server until its operation is over (no task) in `status`; an ERROR, or
        no end within `OPERATION_SECONDS`, stops the demo."""
        deadline = time.monotonic() + OPERATION_SECONDS
        while True:
            server = self.server_show(server_id)
            done = server.get("OS-EXT-STS:task_state") is None
            if server["status"] == "ERROR":
                fault = (server.get("fault") or {}).get("message", "no fault recorded")
                raise DemoError(f"{server['name']} went to ERROR: {fault}")
            if done and server["status"] == status:
                return server
            if time.monotonic() > deadline:
                raise DemoError(
                    f"{server['name']} is still {server['status']} "
                    f"({server.get('OS-EXT-STS:task_state')}) after {OPERATION_SECONDS:.0f}s, "
                    f"expected {status}"
                )
            time.sleep(0.1)

    def port(self, port_id: str) -> dict[str, Any]:
        body = self.call("GET", f"{NETWORKING}/ports/{port_id}", "admin", None, 200).json()
        return dict(body["port"])

    def server_port(self, server_id: str) -> dict[str, Any]:
        body = self.call("GET", f"{NETWORKING}/ports?device_id={server_id}", "admin", None, 200)
        ports = body.json()["ports"]
        if len(ports) != 1:
            raise DemoError(f"server {server_id} has {len(ports)} ports, expected 1")
        return dict(ports[0])

    def boot(self, name: str, who: str, network: dict[str, str]) -> dict[str, Any]:
        body = {
            "server": {
                "name": name,
                "imageRef": self.image_id,
                "flavorRef": self.flavor_id,
                "networks": [network],
            }
        }
        created = self.call("POST", f"{COMPUTE}/servers", who, body, 202).json()["server"]
        server = self.wait_for(created["id"], "ACTIVE")
        self.boots[server["id"]] = 1
        return server

    def action(self, server_id: str, who: str, body: dict[str, Any], expect: int) -> None:
        self.call("POST", f"{COMPUTE}/servers/{server_id}/action", who, body, expect)

    # -- lab helpers --

    def vm_ns(self, server_id: str) -> str:
        from passnic.lab.driver import vm_netns

        return vm_netns(self.lab.vm_prefix(), server_id)

    @property
    def qemu(self) -> bool:
        return bool(self.lab.spec.guests == "qemu")

    def console_output(self, server_id: str) -> str:
        """The guest's console, as ``openstack console log show`` reads it."""
        body = {"os-getConsoleOutput": {"length": -1}}
        resp = self.call("POST", f"{COMPUTE}/servers/{server_id}/action", "admin", body, 200)
        return str(resp.json()["output"])

    def guest_ready(self, server_id: str) -> None:
        """Until the guest's init said ``ready`` once for each of its boots."""
        deadline = time.monotonic() + BOOT_SECONDS
        while self.console_output(server_id).count("passnic-guest: ready") < self.boots[server_id]:
            if time.monotonic() > deadline:
                raise DemoError(f"guest {server_id} not ready after {BOOT_SECONDS:.0f}s")
            time.sleep(0.5)

    def guest_console(self, server_id: str) -> Any:
        from passnic.lab.guests import GuestConsole, find_domain

        domain = find_domain(self.lab.prefix, server_id)
        if (server_id, domain) not in self.consoles:
            log = self.lab.lab_dir / "instances" / server_id / "console.log"
            self.consoles[server_id, domain] = GuestConsole(domain, log)
        return self.consoles[server_id, domain]

    def guest_ifs(self, server: dict[str, Any]) -> dict[str, str]:
        """MAC -> ethX inside the guest, as the guest itself sees it (its console's last
        boot on QEMU)."""
        if self.qemu:
            self.guest_ready(server["id"])
            last = self.console_output(server["id"]).rsplit("passnic-guest: interfaces:", 1)[-1]
            found = re.findall(r"passnic-guest: (eth\d+) (\S+) ", last)
            return {mac: name for name, mac in found}
        from passnic.lab.driver import guest_interfaces

        return guest_interfaces(self.lab.vm_prefix(), server["id"])

    def ping(self, server_id: str, address: str, timeout: float = 1.0) -> bool:
        if self.qemu:
            command = f"ping -c 1 -W {max(1, round(timeout))} {address} >/dev/null"
            status, _ = self.guest_console(server_id).run(command, timeout=timeout + 20)
            return bool(status == 0)
        from passnic.lab.ping import ping_from

        return bool(ping_from(self.vm_ns(server_id), address, count=1, timeout=timeout))

    def tag_from_guest(self, server: dict[str, Any], vlan: int) -> bytes:
        """The guest sends one frame tagged `vlan`; the bytes that tell it apart. On QEMU, an
        802.1Q interface in the guest (IPv6 off: nothing else leaves it) sends one ARP request
        (``arping -c 1``), told apart by its sender MAC and a fresh sender address; in a
        namespace, a raw socket sends a marked frame."""
        (mac, ifname), *_ = self.guest_ifs(server).items()
        if not self.qemu:
            mark = self.marker()
            send_frame(self.vm_ns(server["id"]), ifname, tagged_frame(mac, vlan, mark))
            return mark
        self.markers += 1
        source = ipaddress.ip_address(f"10.0.{vlan}.{100 + self.markers}")
        sub = f"{ifname}.{vlan}"
        command = "; ".join(
            [
                f"ip link add link {ifname} name {sub} type vlan id {vlan}",
                f"echo 1 > /proc/sys/net/ipv6/conf/{sub}/disable_ipv6",
                f"ip addr add {source}/24 dev {sub}",
                f"ip link set {sub} up",
                f"arping -c 1 -w 1 -I {sub} 10.0.{vlan}.254 >/dev/null",
                f"ip link del {sub}",
            ]
        )
        self.guest_console(server["id"]).run(command, timeout=30)
        return _mac_bytes(mac) + source.packed

    def ssh(self, command: str) -> str:
        from passnic.fabric.drivers.netmiko_driver import open_netmiko, vendor_commands

        conn = open_netmiko(vendor_commands("cisco_ios"), self.lab.netmiko_params())
        try:
            return conn.send_command(command)
        finally:
            conn.disconnect()

    def counters(self) -> dict[str, tuple[int, int, int]]:
        """``show interfaces counters`` over SSH: short port name -> (in, out, dropped)."""
        rows = {}
        for line in self.ssh("show interfaces counters").splitlines():
            words = line.split()
            if len(words) == 4 and words[1].isdigit():
                rows[words[0]] = (int(words[1]), int(words[2]), int(words[3]))
        return rows

    def read_port(self, port: str) -> Any:
        """A switch port's configuration, read back over SSH by Passnic's netmiko driver."""
        from passnic.fabric.drivers.netmiko_driver import NetmikoSwitch

        switch = NetmikoSwitch("cisco_ios", self.lab.netmiko_params(), name="tor-1")
        return switch.read([port]).get(port)

    def marker(self) -> bytes:
        self.markers += 1
        return f"passnic-demo-{self.markers}-{time.monotonic_ns()}".encode()

    def send_tagged(self, server: dict[str, Any], vlan: int) -> bool:
        """vm sends a frame tagged `vlan`; True when VLAN 20's endpoint received it."""
        with sniffer(self.lab.endpoints[20].netns) as seen:
            return seen(self.tag_from_guest(server, vlan), 1.0)

    # -- the procedure --

    def run(self) -> None:
        self.setup_cloud()
        self.admin_hosts()
        vm1, vm3, vm2 = self.projects()
        self.check1(vm1, vm3, vm2)
        self.check2(vm1)
        self.check3(vm1)
        self.check4(vm1, vm3)
        self.check5(vm1)

    def setup_cloud(self) -> None:
        import httpx

        from passnic.cloud import Cloud
        from passnic.config import Settings
        from passnic.lab.attach import attach_lab, start_lab, wait_for_cabling
        from passnic.server import prepare
        from passnic.supervisor import AgentSupervisor

        self.step(f"Fresh cloud in {self.home} (SQLite, the sample cloud, as passnic up makes it)")
        settings = Settings(
            home=self.home,
            database_url=f"sqlite:///{self.home / 'passnic.db'}",
            conductor=True,
        )
        port = _free_port()
        prepared = prepare(settings, "127.0.0.1", port)

        from passnic.lab.attach import choose_guests

        self.step("Lab: switch tor-1 (IOS-like SSH CLI), hosts compute-0..2, endpoints")
        self.kind, self.why = choose_guests()
        self.lab = start_lab(self.lab_dir, self.kind)
        self.note(f"servers are {self.why}")
        for ep in self.lab.endpoints.values():
            self.note(f"VLAN {ep.vlan} endpoint {ep.address} in {ep.netns} on {ep.switch_port}")
        self.cloud = Cloud(settings)
        address = attach_lab(self.cloud, self.lab, prepared.agents)

        self.url = self.start_server(port)
        self.note(f"controller at {self.url} (its conductor runs the operations)")
        self.agents = AgentSupervisor(prepared.agents)
        self.agents.start()
        self.note(
            f"{len(prepared.agents)} host agents, one process each, run the lab driver "
            f"({'libvirt: a VM = a QEMU guest' if self.qemu else 'a VM = a namespace'}); "
            f"logs in {self.home / 'agents'}"
        )
        self.api = httpx.Client(base_url=self.url, timeout=30)
        for cred in prepared.credentials:
            self.headers[cred.username] = {"X-Auth-Token": self.login(cred)}
        self.wait_for_hosts()
        missing = wait_for_cabling(self.cloud, self.lab)
        if missing:
            raise DemoError(f"no LLDP heard on {', '.join(missing)}: their cabling is unknown")

        self.step("Fabric: tor-1 driven by netmiko cisco_ios over SSH (was the in-process lab)")
        self.note(
            f"tor-1 = cisco_ios at {address}; {len(self.lab.cabling())} host ports cabled "
            "(learned over LLDP)"
        )
        flavors = self.call("GET", f"{COMPUTE}/flavors/detail?is_public=None", "admin", None, 200)
        self.flavor_id = next(f["id"] for f in flavors.json()["flavors"] if f["name"] == "small")
        images = self.call("GET", "/image/v2/images", "admin", None, 200).json()["images"]
        # the sample image: the guest built here when there is one, else the empty cirros
        self.image_id = next(i["id"] for i in images if i["name"] in (GUEST_NAME, CIRROS_NAME))

    def start_server(self, port: int) -> str:
        """The controller's HTTP server in a thread, as ``passnic up`` serves it; its URL."""
        from passnic.server import ThreadServer

        server = ThreadServer(self.cloud, "127.0.0.1", port, name="demo-controller")
        self.server = server
        try:
            return server.start(START_SECONDS)
        except RuntimeError as exc:
            raise DemoError(str(exc)) from None

    def login(self, cred: Any) -> str:
        """A token for one of the sample users (Keystone password authentication, as the
        hosts' agents log in)."""
        from passnic.agent.host import AgentError, password_login

        login = password_login(f"{self.url}/identity", cred.username, cred.password, cred.project)
        try:
            return login(self.api)
        except AgentError as exc:
            raise DemoError(f"login of {cred.username} failed: {exc}") from exc

    def wait_for_hosts(self) -> None:
        """Until every lab host's agent has reported in (its nova-compute service is up)."""
        wanted = set(self.lab.spec.hostnames)
        deadline = time.monotonic() + START_SECONDS
        while True:
            body = self.call("GET", f"{COMPUTE}/os-services", "admin", None, 200).json()
            up = {s["host"] for s in body["services"] if s["state"] == "up"}
            if wanted <= up:
                self.note(f"agents reported in: {', '.join(sorted(wanted))} up")
                return
            if time.monotonic() > deadline:
                raise DemoError(
                    f"host agents not up after {START_SECONDS:.0f}s: {sorted(wanted - up)} "
                    f"(see {self.home / 'agents'}/*.log)"
                )
            time.sleep(0.2)

    def make_passthrough(self, host: str, ifname: str) -> str:
        inv = self.cloud.inventory
        if inv.get_host(DEMO_ADMIN, host).administrative == "unlocked":
            inv.lock_host(DEMO_ADMIN, host)
        iface = next(i for i in inv.list_interfaces(DEMO_ADMIN, host) if i.ifname == ifname)
        inv.modify_interface(DEMO_ADMIN, iface.uuid, {"ifclass": "pci-passthrough"})
        inv.assign_datanetwork(DEMO_ADMIN, iface.uuid, DATANET)
        inv.unlock_host(DEMO_ADMIN, host)
        return str(iface.ports[0].pciaddr)

    def admin_hosts(self) -> None:
        self.step("Admin: lock, enp0s3 → pci-passthrough, assign group0-data0, unlock")
        for host in ("compute-0", "compute-1"):
            pci = self.make_passthrough(host, "enp0s3")
            self.note(f"{host} enp0s3 ({pci}) pci-passthrough on {DATANET}, unlocked")

    def network(self, name: str, project: str, vlan: int, cidr: str, gw: str, who: str) -> str:
        projects = self.call("GET", f"/identity/v3/projects?name={project}", "admin", None, 200)
        project_id = projects.json()["projects"][0]["id"]
        net = {
            "network": {
                "name": name,
                "project_id": project_id,
                "provider:network_type": "vlan",
                "provider:physical_network": DATANET,
                "provider:segmentation_id": vlan,
            }
        }
        net_id = str(
            self.call("POST", f"{NETWORKING}/networks", "admin", net, 201).json()["network"]["id"]
        )
        subnet = {
            "subnet": {
                "name": f"sub-{name}",
                "network_id": net_id,
                "cidr": cidr,
                "ip_version": 4,
                "gateway_ip": gw,
            }
        }
        self.call("POST", f"{NETWORKING}/subnets", who, subnet, 201)
        self.note(f"{name}: VLAN {vlan} of {project}, subnet {cidr} (gateway {gw}, the endpoint)")
        return net_id

    def projects(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        self.step("project1: net0 (VLAN 10), port0 direct-physical, vm1 and vm3")
        self.net0 = self.network("net0", "project1", 10, "10.0.10.0/24", "10.0.10.254", "user1")
        body = {
            "port": {
                "name": "port0",
                "network_id": self.net0,
                "binding:vnic_type": "direct-physical",
            }
        }
        port0 = self.call("POST", f"{NETWORKING}/ports", "user1", body, 201).json()["port"]
        vm1 = self.boot("vm1", "user1", {"port": port0["id"]})
        vm3 = self.boot("vm3", "user1", {"uuid": self.net0})
        for vm in (vm1, vm3):
            p = self.server_port(vm["id"])
            self.note(
                f"{vm['name']} ACTIVE on {vm['OS-EXT-SRV-ATTR:host']}: "
                f"{p['fixed_ips'][0]['ip_address']} MAC {p['mac_address']}"
            )

        self.step("Admin: compute-2 enp0s3 and enp0s4 → pci-passthrough (vm2, migration room)")
        for ifname in ("enp0s3", "enp0s4"):
            self.make_passthrough("compute-2", ifname)
        self.step("project2: net1 (VLAN 20), vm2")
        self.net1 = self.network("net1", "project2", 20, "10.0.20.0/24", "10.0.20.254", "user2")
        vm2 = self.boot("vm2", "user2", {"uuid": self.net1})
        p = self.server_port(vm2["id"])
        self.note(f"vm2 ACTIVE on {vm2['OS-EXT-SRV-ATTR:host']}: {p['fixed_ips'][0]['ip_address']}")
        if self.qemu:
            for vm in (vm1, vm3, vm2):
                ifs = self.guest_ifs(vm)  # waits for the guest's init to be done
                self.note(
                    f"{vm['name']}'s console: " + ", ".join(f"{n} {m}" for m, n in ifs.items())
                )
        return vm1, vm3, vm2

    def ip(self, server: dict[str, Any]) -> str:
        return str(self.server_port(server["id"])["fixed_ips"][0]["ip_address"])

    def check1(self, vm1: dict[str, Any], vm3: dict[str, Any], vm2: dict[str, Any]) -> None:
        self.step("Check 1: who reaches whom (ICMP from inside each guest)")
        ip1, ip3, ip2 = self.ip(vm1), self.ip(vm3), self.ip(vm2)
        ep10, ep20 = (self.lab.endpoints[v].address.split("/")[0] for v in (10, 20))
        results = [
            (self.ping(vm1["id"], ip3), f"vm1 → vm3 {ip3}: replies (same VLAN 10)"),
            (self.ping(vm3["id"], ip1), f"vm3 → vm1 {ip1}: replies"),
            (not self.ping(vm2["id"], ip1, 0.5), f"vm2 → vm1 {ip1}: no reply (VLAN 20 ≠ 10)"),
            (not self.ping(vm2["id"], ip3, 0.5), f"vm2 → vm3 {ip3}: no reply"),
            (not self.ping(vm1["id"], ip2, 0.5), f"vm1 → vm2 {ip2}: no reply"),
            (self.ping(vm1["id"], ep10), f"vm1 → VLAN 10 endpoint {ep10}: replies"),
            (self.ping(vm3["id"], ep10), f"vm3 → VLAN 10 endpoint {ep10}: replies"),
            (self.ping(vm2["id"], ep20), f"vm2 → VLAN 20 endpoint {ep20}: replies"),
            (not self.ping(vm1["id"], ep20, 0.5), f"vm1 → VLAN 20 endpoint {ep20}: no reply"),
        ]
        self.check(1, "project1's VMs talk on VLAN 10; project2's vm2 is isolated", results)

    def vm_switch_port(self, server: dict[str, Any]) -> str:
        body = self.call("GET", f"{FABRIC}/servers/{server['id']}", "admin", None, 200).json()
        return str(body["server"]["ports"][0]["port"])

    def check2(self, vm1: dict[str, Any]) -> None:
        """Only the demo's own frame counts (found by its marker): whatever else crosses the
        switch meanwhile (vm2's traffic on VLAN 20, say) cannot sway the check."""
        from passnic.lab.ios_cli import short_name

        vm1 = self.server_show(vm1["id"])
        sport = self.vm_switch_port(vm1)
        switch = self.lab.switch
        how = "an 802.1Q interface in the guest" if self.qemu else "raw socket"
        self.step(f"Check 2: vm1's guest tags a frame for VLAN 20 ({how}), port {sport}")
        spec = switch.port_specs[sport]
        before = self.counters()
        reasons_before = switch.counters(sport).drop_reasons
        with (
            sniffer(switch.netns, spec.ifname) as at_port,
            sniffer(self.lab.endpoints[20].netns) as at_endpoint,
            sniffer(self.lab.uplink_ns) as on_uplink,
        ):
            mark = self.tag_from_guest(vm1, 20)
            arrived = at_port(mark, 1.0)
            reached = at_endpoint(mark, 0.5)
            carried = on_uplink(mark, 0.1)  # after the endpoint's wait: time enough
        after = self.counters()
        reasons = switch.counters(sport).drop_reasons - reasons_before
        ours = {r: n for r, n in reasons.items() if r.startswith("tagged VLAN 20 ")}
        s = short_name(sport)
        dropped = after[s][2] - before[s][2]
        self.check(
            2,
            "a VLAN-20 tagged frame from vm1 is dropped at its access port",
            [
                (arrived, f"the frame (marked {mark.hex()}) arrived at {sport}"),
                (not reached, "VLAN 20 endpoint did not receive it"),
                (not carried, "the uplink trunk (every VLAN) did not carry it"),
                (
                    sum(ours.values()) == 1,
                    "dropped once, reason: "
                    + ("; ".join(f"{r} (x{n})" for r, n in ours.items()) or "none"),
                ),
                (dropped >= 1, f"show interfaces counters: {s} Dropped +{dropped} (over SSH)"),
            ],
        )

    def check3(self, vm1: dict[str, Any]) -> None:
        from passnic.lab.ios_cli import short_name

        vm1 = self.server_show(vm1["id"])
        sport = self.vm_switch_port(vm1)
        ep_port = self.lab.endpoints[20].switch_port
        self.step("Check 3: an admin-allowed trunk on vm1's port (VLANs 10, 20)")
        path = f"{FABRIC}/servers/{vm1['id']}/trunk"
        refused = self.call("PUT", path, "admin", {"allowed_vlans": [10, 20]})
        self.note(f"refused first ({refused.status_code}): {_message(refused)}")
        shared = {"network": {"shared": True}}
        self.call("PUT", f"{NETWORKING}/networks/{self.net1}", "admin", shared, 200)
        self.note("admin makes net1 (VLAN 20) shared, so project1 may use VLAN 20")
        resp = self.call("PUT", path, "admin", {"allowed_vlans": [10, 20]}, 200).json()
        warning = str(resp["server"].get("warning", ""))
        self.note(f"[yellow]warning:[/yellow] {warning}")
        trunk = self.read_port(sport)
        before = self.counters()
        reached = self.send_tagged(vm1, 20)
        time.sleep(0.1)
        after = self.counters()
        e = short_name(ep_port)
        out20 = after[e][1] - before[e][1]
        self.call("DELETE", path, "admin", None, 200)
        restored = self.read_port(sport)
        again = self.send_tagged(vm1, 20)
        self.check(
            3,
            "with the trunk exception the tagged frame reaches net1; access restored after",
            [
                (refused.status_code == 400, "trunk refused while VLAN 20 is not project1's"),
                (bool(warning), "the API warned about the trunk"),
                (
                    trunk is not None and trunk.mode == "trunk",
                    f"{sport} read over SSH: {trunk.summary() if trunk else 'missing'}",
                ),
                (reached, "VLAN 20 endpoint captured vm1's tagged frame"),
                (out20 >= 1, f"{e} (VLAN 20 endpoint) OutPkts +{out20} (over SSH)"),
                (
                    restored is not None
                    and restored.mode == "access"
                    and restored.access_vlan == 10
                    and restored.admin_up,
                    f"trunk removed: {sport} read over SSH: "
                    f"{restored.summary() if restored else 'missing'}",
                ),
                (not again, "the tagged frame is dropped again"),
            ],
        )

    def check4(self, vm1: dict[str, Any], vm3: dict[str, Any]) -> None:
        vm1 = self.server_show(vm1["id"])
        src_host = vm1["OS-EXT-SRV-ATTR:host"]
        old_port = self.vm_switch_port(vm1)
        before = self.server_port(vm1["id"])
        old_ifs = self.guest_ifs(vm1)
        self.step(f"Check 4: cold migration of vm1 (from {src_host}) and confirm")
        self.action(vm1["id"], "admin", {"migrate": None}, 202)
        moved = self.wait_for(vm1["id"], "VERIFY_RESIZE")
        self.note(f"vm1 {moved['status']} on {moved['OS-EXT-SRV-ATTR:host']}")
        self.action(vm1["id"], "user1", {"confirmResize": None}, 204)
        vm1 = self.wait_for(vm1["id"], "ACTIVE")
        self.boots[vm1["id"]] += 1  # the guest boots again on its new host
        after = self.server_port(vm1["id"])
        new_ifs = self.guest_ifs(vm1)
        ip = after["fixed_ips"][0]["ip_address"]
        old_ip = before["fixed_ips"][0]["ip_address"]
        self.note(f"guest interfaces before {old_ifs}, after {new_ifs}")
        quarantined = self.wait_for_quarantine(old_port)
        new_port = self.vm_switch_port(vm1)
        seen: list[tuple[bool, str]] = []
        if self.qemu:  # the guest's own word: its new interface holds the same address
            line = f"{new_ifs.get(after['mac_address'])} {after['mac_address']} {ip}/"
            last = self.console_output(vm1["id"]).rsplit("passnic-guest: interfaces:", 1)[-1]
            seen.append((line in last, f"vm1's console after the move: {line.rstrip('/')}/.."))
        self.check(
            4,
            "cold migration: new NIC and MAC, same IP, ping again, old port quarantined",
            [
                *seen,
                (moved["status"] == "VERIFY_RESIZE", "migrate → VERIFY_RESIZE, then confirmed"),
                (
                    vm1["status"] == "ACTIVE" and vm1["OS-EXT-SRV-ATTR:host"] != src_host,
                    f"vm1 ACTIVE on {vm1['OS-EXT-SRV-ATTR:host']} (was {src_host})",
                ),
                (
                    after["mac_address"] != before["mac_address"],
                    f"port0 MAC {before['mac_address']} → {after['mac_address']}",
                ),
                (
                    after["mac_address"] in new_ifs and before["mac_address"] not in new_ifs,
                    f"the guest sees a new NIC: {new_ifs.get(after['mac_address'])} "
                    f"with MAC {after['mac_address']}",
                ),
                (
                    new_ifs.get(after["mac_address"]) not in old_ifs.values(),
                    f"a new ethX in the guest: {sorted(old_ifs.values())} → "
                    f"{sorted(new_ifs.values())}",
                ),
                (ip == old_ip, f"same IP {ip}"),
                (self.ping(vm1["id"], self.ip(vm3)), "vm1 → vm3 replies again"),
                (
                    self.ping(vm1["id"], self.lab.endpoints[10].address.split("/")[0]),
                    "vm1 → VLAN 10 endpoint replies again",
                ),
                (
                    quarantined is not None and not quarantined.admin_up,
                    f"old port {old_port} read over SSH: "
                    f"{quarantined.summary() if quarantined else 'missing'}",
                ),
                (new_port != old_port, f"vm1 now on {new_port}"),
            ],
        )

    def wait_for_quarantine(self, port: str) -> Any:
        """The freed port, read over SSH until it is shut down (or `QUARANTINE_SECONDS` have
        passed): the controller quarantines a freed NIC's port just after the operation
        ends, so a client that saw ACTIVE may still find it as it was."""
        deadline = time.monotonic() + QUARANTINE_SECONDS
        while True:
            config = self.read_port(port)
            if config is None or not config.admin_up or time.monotonic() > deadline:
                return config
            time.sleep(0.2)

    def check5(self, vm1: dict[str, Any]) -> None:
        self.step("Check 5: live migration of vm1")
        body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
        resp = self.call("POST", f"{COMPUTE}/servers/{vm1['id']}/action", "admin", body)
        message = _message(resp)
        self.check(
            5,
            "live migration is refused for a passthrough NIC",
            [
                (resp.status_code == 400, f"HTTP {resp.status_code}: {message}"),
                ("not possible" in message, "Passnic explains why and suggests cold migration"),
            ],
        )

    def close(self) -> None:
        """Stop all that was started, each step whatever the others did: the agents first
        (nothing then acts on the lab), the controller, then the lab."""
        with contextlib.ExitStack() as stack:
            if self.lab is not None:  # what it leaves behind, run_demo's cleanup reports
                stack.callback(self.lab.stop)
            for console in self.consoles.values():
                stack.callback(console.close)
            if self.cloud is not None:
                stack.callback(self.cloud.close)
            if self.server is not None:
                stack.callback(self.server.stop)
            if self.api is not None:
                stack.callback(self.api.close)
            if self.agents is not None:
                stack.callback(self.agents.stop)


def run_demo(console: Console | None = None, keep_home: bool = False) -> DemoResult:
    """Run the whole procedure on a fresh cloud and lab; remove all of it afterwards."""
    console = console or Console()
    started = time.perf_counter()
    result = DemoResult()
    reason = netns.netns_available()
    if reason is not None:
        result.error = f"the lab needs network namespaces: {reason}"
        console.print(f"[red]{result.error}[/red]")
        return result
    home = Path(tempfile.mkdtemp(prefix="passnic-demo-"))
    demo = Demo(console, home)
    try:
        demo.run()
    except Exception as exc:
        demo.result.error = f"{type(exc).__name__}: {exc}"
        console.print(f"[bold red]The demo stopped: {demo.result.error}[/bold red]")
    finally:
        with contextlib.suppress(Exception):
            demo.close()
        from passnic.lab.attach import lab_clean

        removed = lab_clean(demo.lab_dir)
        if removed:
            console.print(f"cleanup removed: {', '.join(removed)}")
        if not keep_home:
            shutil.rmtree(home, ignore_errors=True)
    result = demo.result
    result.elapsed = time.perf_counter() - started
    prefix = demo.lab.prefix if demo.lab is not None else None
    passed = sum(c.ok for c in result.checks)
    colour = "green" if result.ok else "red"
    console.print(
        f"[bold {colour}]{passed}/5 checks passed[/bold {colour}] in {result.elapsed:.1f}s; "
        f"lab leftovers: {len(netns.leftovers(prefix)) if prefix else 0}"
    )
    return result
