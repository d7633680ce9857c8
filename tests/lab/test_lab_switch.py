from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from passnic.fabric.portconfig import PortConfig
from passnic.lab import netns
from passnic.lab.ping import ping_from
from passnic.lab.switch import LabSwitch, SwitchPort


@pytest.fixture
def three_hosts(lab_prefix: str) -> Iterator[LabSwitch]:
    """Hosts h1, h2 (VLAN 10) and h3 (VLAN 20), each on a switch port."""
    netns.add_netns(f"{lab_prefix}sw")
    ports = []
    for i, vlan in ((1, 10), (2, 10), (3, 20)):
        host = netns.add_netns(f"{lab_prefix}h{i}")
        netns.add_veth(
            f"{lab_prefix}sp{i}",
            "eth0",
            ns=f"{lab_prefix}sw",
            peer_ns=host,
            peer_mac=f"52:54:00:00:01:0{i}",
        )
        netns.set_up(f"{lab_prefix}sp{i}", ns=f"{lab_prefix}sw")
        netns.set_up("eth0", ns=host)
        netns.add_address("eth0", f"10.0.0.{i}/24", ns=host)
        ports.append(
            SwitchPort(f"GigabitEthernet1/0/{i}", f"{lab_prefix}sp{i}", PortConfig.access(vlan))
        )
    with LabSwitch("tor-1", ports, netns=f"{lab_prefix}sw") as switch:
        yield switch


def test_same_vlan_pings_other_vlan_is_isolated(three_hosts: LabSwitch, lab_prefix: str) -> None:
    rtts = ping_from(f"{lab_prefix}h1", "10.0.0.2", count=3, timeout=1)
    assert len(rtts) == 3
    assert ping_from(f"{lab_prefix}h1", "10.0.0.3", count=1, timeout=0.5) == []
    counters = three_hosts.counters("GigabitEthernet1/0/1")
    assert counters.rx >= 4 and counters.tx >= 3
    assert three_hosts.counters("GigabitEthernet1/0/3").tx == 0
    entries = three_hosts.soft.mac_table.entries()
    assert (10, "52:54:00:00:01:01", "GigabitEthernet1/0/1") in entries


def test_reconfiguring_a_port_moves_it_to_the_other_vlan(
    three_hosts: LabSwitch, lab_prefix: str
) -> None:
    three_hosts.configure("GigabitEthernet1/0/3", PortConfig.access(10))
    assert ping_from(f"{lab_prefix}h1", "10.0.0.3", count=1, timeout=1)
    three_hosts.configure("GigabitEthernet1/0/3", PortConfig.quarantine(10))
    assert ping_from(f"{lab_prefix}h1", "10.0.0.3", count=1, timeout=0.5) == []


SEND_TAGGED = """
import subprocess
import sys
from scapy.all import ARP, Dot1Q, Ether, conf
sock = conf.L2socket(iface="eth0")
frame = Ether(src="52:54:00:00:01:01", dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=int(sys.argv[1]))
sock.send(frame / ARP(psrc="10.0.0.1", pdst="10.0.0.3"))
sock.close()
"""


def test_tagged_frame_is_dropped_at_an_access_port(three_hosts: LabSwitch, lab_prefix: str) -> None:
    port = "GigabitEthernet1/0/1"
    before = three_hosts.counters(port)
    proc = netns.netns_exec(f"{lab_prefix}h1", [sys.executable, "-c", SEND_TAGGED, "20"])
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 3
    while three_hosts.counters(port).dropped == before.dropped and time.monotonic() < deadline:
        time.sleep(0.02)
    after = three_hosts.counters(port)
    assert after.dropped == before.dropped + 1
    assert after.drop_reasons["tagged VLAN 20 on an access port for VLAN 10"] == 1
    assert three_hosts.counters("GigabitEthernet1/0/3").tx == 0


def test_lldp_names_the_switch_and_port(lab_prefix: str) -> None:
    from scapy.contrib.lldp import LLDPDUChassisID, LLDPDUPortID
    from scapy.layers.l2 import Ether

    from passnic.lab.switch import open_port_socket

    netns.add_netns(f"{lab_prefix}sw")
    netns.add_veth(
        f"{lab_prefix}sp1", f"{lab_prefix}hp1", ns=f"{lab_prefix}sw", peer_ns=f"{lab_prefix}sw"
    )
    netns.set_up(f"{lab_prefix}sp1", ns=f"{lab_prefix}sw")
    netns.set_up(f"{lab_prefix}hp1", ns=f"{lab_prefix}sw")
    from passnic.lab.switch import in_netns

    sock = in_netns(f"{lab_prefix}sw", lambda: open_port_socket(f"{lab_prefix}hp1"))
    port = SwitchPort("GigabitEthernet1/0/7", f"{lab_prefix}sp1", PortConfig.access(10))
    try:
        with LabSwitch("tor-1", [port], netns=f"{lab_prefix}sw", lldp_interval=0.2) as switch:
            sock.settimeout(3)
            while True:
                frame = Ether(sock.recv(2048))
                if frame.type == 0x88CC:
                    break
            assert frame[LLDPDUChassisID].id == b"tor-1"
            assert frame[LLDPDUPortID].id == b"GigabitEthernet1/0/7"
        assert switch.lldp_sent >= 1  # counted by the switch thread, read after stop
    finally:
        sock.close()


def test_a_host_hears_its_switch_port_over_lldp(lab_prefix: str) -> None:
    """The agent's raw-socket listener, on a NIC cabled to the lab switch, hears which port of
    which switch it is cabled to."""
    from passnic.agent.lldp import Listener, Neighbour, open_sockets
    from passnic.lab.switch import in_netns

    sw = netns.add_netns(f"{lab_prefix}sw")
    netns.add_veth(f"{lab_prefix}sp2", f"{lab_prefix}hp2", ns=sw, peer_ns=sw)
    netns.set_up(f"{lab_prefix}sp2", ns=sw)
    netns.set_up(f"{lab_prefix}hp2", ns=sw)
    listener = Listener(
        in_netns(sw, lambda: open_sockets({f"{lab_prefix}hp2": f"{lab_prefix}hp2"}))
    ).start()
    port = SwitchPort("GigabitEthernet1/0/9", f"{lab_prefix}sp2", PortConfig.quarantine(1))
    try:
        with LabSwitch("tor-1", [port], netns=sw, lldp_interval=0.2):
            deadline = time.monotonic() + 5
            while not listener.neighbours() and time.monotonic() < deadline:
                time.sleep(0.05)
        heard = listener.neighbours()[f"{lab_prefix}hp2"]
        assert heard == Neighbour("tor-1", "GigabitEthernet1/0/9", "tor-1", ttl=10)
    finally:
        listener.stop()


TCP_SERVER = """
import socket
s = socket.socket()
s.bind(("10.0.0.2", 8000))
s.listen()
print("listening", flush=True)
c, _ = s.accept()
n = 0
while data := c.recv(65536):
    n += len(data)
c.sendall(str(n).encode())
"""
TCP_CLIENT = """
import socket
c = socket.create_connection(("10.0.0.2", 8000), timeout=5)
c.sendall(b"x" * 2_000_000)
c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode())
"""


def test_tcp_crosses_the_switch(three_hosts: LabSwitch, lab_prefix: str) -> None:
    """TCP needs real checksums: the veths' TX checksum offload is off (see netns)."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", f"{lab_prefix}h2", sys.executable, "-c", TCP_SERVER],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "listening"
        client = netns.netns_exec(f"{lab_prefix}h1", [sys.executable, "-c", TCP_CLIENT], timeout=20)
        assert client.stdout.strip() == "2000000", client.stderr
    finally:
        server.kill()
        server.wait()
    assert not three_hosts.errors
