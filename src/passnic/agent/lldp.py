"""LLDP as a host hears it: which switch port each NIC is cabled to.

A switch advertises itself out of every port (IEEE 802.1AB): chassis ID, port ID, time to
live, and usually its system name. The host agent reports what each NIC last heard (within the
TTL) and the controller turns it into the NIC's link. Two ways to hear it:

* lldpd's ``lldpcli -f json show neighbors``, when lldpd runs on the host (it owns the
  interfaces' LLDP then, and answers at once);
* else `Listener`: one raw ``AF_PACKET`` socket per interface for EtherType 0x88CC, read by one
  thread that keeps the last frame heard on each.

`frame` builds the LLDPDU the lab switch sends; `parse_frame` reads one.
"""

from __future__ import annotations

import json
import logging
import selectors
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from passnic.inventory.report import HostReport, LldpNeighbourReport

log = logging.getLogger(__name__)

ETH_P_LLDP = 0x88CC
LLDP_MULTICAST = bytes.fromhex("0180c200000e")  # nearest bridge
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_MULTICAST = 0

TLV_END, TLV_CHASSIS, TLV_PORT, TLV_TTL = 0, 1, 2, 3
TLV_PORT_DESCRIPTION, TLV_SYSTEM_NAME, TLV_SYSTEM_DESCRIPTION = 4, 5, 6
#: chassis ID subtype 4 / port ID subtype 3: a MAC address (shown as aa:bb:..)
CHASSIS_MAC, PORT_MAC = 4, 3
#: chassis ID subtype 7 (locally assigned), port ID subtype 5 (interface name)
CHASSIS_LOCAL, PORT_IFNAME = 7, 5


@dataclass(frozen=True)
class Neighbour:
    """What one NIC hears: the switch (chassis ID, system name) and its port (port ID)."""

    chassis_id: str
    port_id: str
    system_name: str = ""
    system_description: str = ""
    port_description: str = ""
    ttl: int = 120


def _tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!H", (kind << 9) | len(value)) + value


def frame(
    source_mac: bytes, chassis_id: str, port_id: str, system_name: str = "", ttl: int = 120
) -> bytes:
    """An LLDPDU: chassis ID locally assigned, port ID an interface name, the system name."""
    tlvs = (
        _tlv(TLV_CHASSIS, bytes([CHASSIS_LOCAL]) + chassis_id.encode())
        + _tlv(TLV_PORT, bytes([PORT_IFNAME]) + port_id.encode())
        + _tlv(TLV_TTL, struct.pack("!H", ttl))
        + (_tlv(TLV_SYSTEM_NAME, system_name.encode()) if system_name else b"")
        + _tlv(TLV_END, b"")
    )
    data = LLDP_MULTICAST + source_mac + struct.pack("!H", ETH_P_LLDP) + tlvs
    return data.ljust(60, b"\0")  # the Ethernet minimum


def _mac(value: bytes) -> str:
    return ":".join(f"{b:02x}" for b in value)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace").strip("\0").strip()


def _ident(value: bytes, mac_subtype: int) -> str:
    if not value:
        return ""
    subtype, body = value[0], value[1:]
    return _mac(body) if subtype == mac_subtype and len(body) == 6 else _text(body)


def parse_frame(data: bytes) -> Neighbour | None:
    """The neighbour an Ethernet frame announces; None when it is no valid LLDPDU."""
    if len(data) < 14:
        return None
    offset, ethertype = 14, struct.unpack_from("!H", data, 12)[0]
    if ethertype == 0x8100 and len(data) >= 18:  # a tagged LLDPDU (unusual, but legal)
        offset, ethertype = 18, struct.unpack_from("!H", data, 16)[0]
    if ethertype != ETH_P_LLDP:
        return None
    fields: dict[int, bytes] = {}
    while offset + 2 <= len(data):
        header = struct.unpack_from("!H", data, offset)[0]
        kind, length = header >> 9, header & 0x1FF
        value = data[offset + 2 : offset + 2 + length]
        if len(value) < length:
            return None  # truncated
        if kind == TLV_END:
            break
        fields.setdefault(kind, value)
        offset += 2 + length
    if not {TLV_CHASSIS, TLV_PORT, TLV_TTL} <= fields.keys() or len(fields[TLV_TTL]) < 2:
        return None
    return Neighbour(
        chassis_id=_ident(fields[TLV_CHASSIS], CHASSIS_MAC),
        port_id=_ident(fields[TLV_PORT], PORT_MAC),
        system_name=_text(fields.get(TLV_SYSTEM_NAME, b"")),
        system_description=_text(fields.get(TLV_SYSTEM_DESCRIPTION, b"")),
        port_description=_text(fields.get(TLV_PORT_DESCRIPTION, b"")),
        ttl=struct.unpack("!H", fields[TLV_TTL][:2])[0],
    )


# ---- lldpd ----------------------------------------------------------------------------------


def _value(node: Any) -> str:
    """lldpd's JSON gives a value as a string, ``{"value": ...}`` or a list of either."""
    if isinstance(node, list):
        node = node[0] if node else ""
    if isinstance(node, dict):
        node = node.get("value", "")
    return str(node or "")


def from_lldpcli(text: str) -> dict[str, Neighbour]:
    """The neighbours in ``lldpcli -f json show neighbors`` output, by interface name.

    lldpd writes one interface as an object and several as a list of one-key objects; a
    chassis with a system name is keyed by that name."""
    interfaces = (json.loads(text or "{}").get("lldp") or {}).get("interface") or {}
    items: list[tuple[str, Any]] = []
    for entry in interfaces if isinstance(interfaces, list) else [interfaces]:
        items.extend(entry.items())
    heard = {}
    for ifname, info in items:
        chassis = info.get("chassis") or {}
        name = ""
        if "id" not in chassis and len(chassis) == 1:
            name, chassis = next(iter(chassis.items()))
        port = info.get("port") or {}
        chassis_id, port_id = _value(chassis.get("id")), _value(port.get("id"))
        if not chassis_id or not port_id:
            continue
        ttl = _value(port.get("ttl") or info.get("ttl")) or "120"
        heard[ifname] = Neighbour(
            chassis_id=chassis_id,
            port_id=port_id,
            system_name=name or _value(chassis.get("name")),
            system_description=_value(chassis.get("descr")),
            port_description=_value(port.get("descr")),
            ttl=int(ttl) if ttl.isdigit() else 120,
        )
    return heard


def lldpcli_neighbours(run: Callable[[list[str]], str] | None = None) -> dict[str, Neighbour]:
    """What lldpd heard (empty when it cannot say)."""
    try:
        out = (run or _run)(["lldpcli", "-f", "json", "show", "neighbors"])
        return from_lldpcli(out)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.warning("lldpcli: %s", exc)
        return {}


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10).stdout


# ---- raw sockets ------------------------------------------------------------------------------


def open_socket(ifname: str) -> socket.socket:
    """A raw socket receiving the LLDPDUs that reach `ifname` (the interface also accepts the
    LLDP multicast address, which a NIC may filter otherwise)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_LLDP))
    try:
        sock.bind((ifname, ETH_P_LLDP))
        index = socket.if_nametoindex(ifname)
        mreq = struct.pack("iHH8s", index, PACKET_MR_MULTICAST, 6, LLDP_MULTICAST)
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def open_sockets(interfaces: Mapping[str, str]) -> dict[str, socket.socket]:
    """A socket per NIC (`interfaces`: NIC name -> the interface of this namespace it is heard
    on); those that cannot be opened (a NIC given to a guest, no privilege) are skipped and
    logged."""
    sockets = {}
    for name, interface in interfaces.items():
        try:
            sockets[name] = open_socket(interface)
        except OSError as exc:
            log.info("LLDP: not listening on %s (%s): %s", name, interface, exc)
    return sockets


class Listener:
    """The last LLDPDU heard on each of some interfaces, kept while its TTL lasts."""

    def __init__(self, sockets: Mapping[str, socket.socket]) -> None:
        self._sockets = dict(sockets)
        self._heard: dict[str, tuple[Neighbour, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lldp", daemon=True)

    @classmethod
    def on(cls, interfaces: Mapping[str, str]) -> Listener:
        """Listen for these NICs (name -> interface of this namespace)."""
        return cls(open_sockets(interfaces)).start()

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self._sockets.values():
            sock.close()

    def neighbours(self) -> dict[str, Neighbour]:
        now = time.monotonic()
        with self._lock:
            return {n: nb for n, (nb, at) in self._heard.items() if now - at <= nb.ttl}

    def _run(self) -> None:
        with selectors.DefaultSelector() as sel:
            for name, sock in self._sockets.items():
                sel.register(sock, selectors.EVENT_READ, name)
            while not self._stop.is_set():
                if not self._sockets:
                    self._stop.wait(1)
                    continue
                for key, _ in sel.select(timeout=0.5):
                    sock = self._sockets[key.data]
                    if not self._receive(key.data, sock):
                        sel.unregister(sock)

    def _receive(self, name: str, sock: socket.socket) -> bool:
        """Read what is queued; False once the socket is dead."""
        while True:
            try:
                data = sock.recv(9000)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError as exc:  # the interface went away (given to a guest)
                log.info("LLDP: %s: %s", name, exc)
                return False
            found = parse_frame(data)
            if found is not None:
                with self._lock:
                    self._heard[name] = (found, time.monotonic())


def host_neighbours(interfaces: Mapping[str, str]) -> Callable[[], dict[str, Neighbour]]:
    """How a real host hears its NICs' neighbours (`interfaces`: NIC name -> the interface it
    is heard on): lldpd when it runs, else raw sockets."""
    if shutil.which("lldpcli"):
        nic = {interface: name for name, interface in interfaces.items()}
        return lambda: {nic.get(i, i): n for i, n in lldpcli_neighbours().items()}
    return Listener.on(interfaces).neighbours


def with_neighbours(report: HostReport, heard: Mapping[str, Neighbour]) -> HostReport:
    """The inventory report with what each port hears (None for a port that hears nothing)."""

    def neighbour(name: str) -> LldpNeighbourReport | None:
        n = heard.get(name)
        if n is None:
            return None
        return LldpNeighbourReport(
            chassis_id=n.chassis_id[:255],
            port_identifier=n.port_id[:255],
            system_name=n.system_name[:255],
            system_description=n.system_description[:255],
            port_description=n.port_description[:255],
            ttl=n.ttl,
        )

    ports = [p.model_copy(update={"lldp_neighbour": neighbour(p.name)}) for p in report.ports]
    return report.model_copy(update={"ports": ports})
