"""The lab switch: a userspace 802.1Q switch forwarding real frames between veth pairs.

Every forwarding decision is `passnic.fabric.frames.SoftSwitch`'s, so what ``trace`` explains is
what the lab does. Each switch port is the switch-side end of a veth pair (the other end is a
host NIC or an external endpoint), read and written with an AF_PACKET raw socket. On receive the
kernel strips a frame's 802.1Q tag into PACKET_AUXDATA (``tp_vlan_tci`` with
``TP_STATUS_VLAN_VALID``); the tag is put back into the bytes before the SoftSwitch classifies
them, or a tagged frame would look untagged and an access port would wrongly accept it.

One asyncio loop in a thread does everything: socket readers, and the IOS-like SSH CLI
(`passnic.lab.ios_cli`) when asked for. The ports' sockets may live in a namespace of their own
(`netns`): they are opened by a short-lived thread that enters it (``setns`` changes only the
calling thread's namespace), while the SSH server listens on the caller's loopback.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from passnic.agent import lldp
from passnic.fabric.frames import PortCounters, SoftSwitch
from passnic.fabric.portconfig import PortConfig
from passnic.lab.netns import in_netns

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
_AUXDATA = struct.Struct("=IIIHHHH")  # tp_status, tp_len, tp_snaplen, tp_mac, tp_net, tci, tpid
_CMSG_SPACE = socket.CMSG_SPACE(_AUXDATA.size)


@dataclass(frozen=True)
class SwitchPort:
    """One switch port: its CLI name (``GigabitEthernet1/0/1``), the interface it drives (a
    veth end in the switch's namespace) and its configuration at start-up."""

    name: str
    ifname: str
    config: PortConfig


def restore_tag(frame: bytes, ancdata: list[tuple[int, int, bytes]]) -> bytes:
    """Put back the 802.1Q tag the kernel moved into PACKET_AUXDATA (if it did)."""
    for level, kind, data in ancdata:
        if level != SOL_PACKET or kind != PACKET_AUXDATA or len(data) < _AUXDATA.size:
            continue
        status, _, _, _, _, tci, tpid = _AUXDATA.unpack_from(data)
        if status & TP_STATUS_VLAN_VALID:
            tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID and tpid else 0x8100
            return frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]
    return frame


def lldp_frame(switch_name: str, port_name: str, index: int, ttl: int = 120) -> bytes:
    """An LLDPDU out of one port: chassis ID and system name = the switch's name, port ID = the
    port's name, so a host learns which port of which switch its NIC is cabled to."""
    source = bytes.fromhex(f"02706e00{(index >> 8) & 0xFF:02x}{index & 0xFF:02x}")  # "pn" MACs
    return lldp.frame(source, switch_name, port_name, switch_name, ttl)


def open_port_socket(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sock.bind((ifname, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class LabSwitch:
    """The switch process's core: ports, forwarding, counters, and (optionally) the SSH CLI.

    Use as a context manager or call `start`/`stop`. `configure` and `counters` are safe from
    any thread; the SSH CLI configures the same `SoftSwitch`.
    """

    def __init__(
        self,
        hostname: str,
        ports: Sequence[SwitchPort],
        *,
        netns: str | None = None,
        lldp_interval: float | None = None,
    ) -> None:
        self.hostname = hostname
        self.lldp_interval = lldp_interval
        self.lldp_sent = 0
        self.netns = netns
        self.port_specs = {p.name: p for p in ports}
        self.soft = SoftSwitch({p.name: p.config for p in ports})
        self.lock = threading.RLock()
        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._sockets: dict[str, socket.socket] = {}
        self.errors: deque[str] = deque(maxlen=100)  # the last I/O failures, for diagnosis
        self._on_stop: list[Callable[[], Any]] = []

    # ---- life cycle ----

    def start(self) -> LabSwitch:
        def open_all() -> dict[str, socket.socket]:
            opened: dict[str, socket.socket] = {}
            try:
                for spec in self.port_specs.values():
                    opened[spec.name] = open_port_socket(spec.ifname)
            except OSError:
                for sock in opened.values():
                    sock.close()
                raise
            return opened

        self._sockets = in_netns(self.netns, open_all)
        for name, sock in self._sockets.items():
            self.loop.add_reader(sock.fileno(), self._readable, name, sock)
        if self.lldp_interval:
            ttl = max(10, int(4 * self.lldp_interval))  # as LLDP's msgTxHold of 4
            frames = {
                name: lldp_frame(self.hostname, name, i, ttl)
                for i, name in enumerate(self.port_specs)
            }
            self.loop.call_soon(self._lldp, frames)
        self._thread = threading.Thread(
            target=self.loop.run_forever, name=f"lab-switch-{self.hostname}", daemon=True
        )
        self._thread.start()
        return self

    def run_coroutine(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the switch's loop (e.g. to start the SSH server) and wait."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_stop(self, callback: Callable[[], Any]) -> None:
        self._on_stop.append(callback)

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            for callback in reversed(self._on_stop):
                result = callback()
                if asyncio.iscoroutine(result):
                    await result
            for sock in self._sockets.values():
                self.loop.remove_reader(sock.fileno())

        try:
            self.run_coroutine(shutdown(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
            for sock in self._sockets.values():
                sock.close()
            self._sockets = {}
            self.loop.close()

    def __enter__(self) -> LabSwitch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- configuration and counters ----

    def configure(self, name: str, config: PortConfig) -> None:
        with self.lock:
            self.soft.configure(name, config)

    def port_config(self, name: str) -> PortConfig:
        with self.lock:
            return self.soft.ports[name]

    def counters(self, name: str) -> PortCounters:
        """A copy of one port's counters (rx, tx, dropped, drop reasons)."""
        with self.lock:
            c = self.soft.counters[name]
            return PortCounters(c.rx, c.tx, c.dropped, c.drop_reasons.copy())

    # ---- forwarding ----

    def _lldp(self, frames: dict[str, bytes]) -> None:
        """Advertise the switch and port names out of every port, as LLDP does."""
        for name, frame in frames.items():
            sock = self._sockets.get(name)
            if sock is None:
                continue
            try:
                sock.send(frame)
                self.lldp_sent += 1
            except OSError as exc:
                self.errors.append(f"{name}: LLDP send failed: {exc}")
        if self.lldp_interval and self._sockets:
            self.loop.call_later(self.lldp_interval, self._lldp, frames)

    def _readable(self, name: str, sock: socket.socket) -> None:
        for _ in range(64):  # bounded, so one busy port cannot starve the others
            try:
                data, ancdata, _flags, address = sock.recvmsg(65535, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # the link went away; the lab is being torn down
                self.errors.append(f"{name}: receive failed: {exc}")
                self.loop.remove_reader(sock.fileno())
                return
            if address[2] == PACKET_OUTGOING:
                continue  # our own transmissions, seen again by ETH_P_ALL
            frame = restore_tag(data, ancdata)
            with self.lock:
                outputs = self.soft.receive(name, frame)
            for out, payload in outputs:
                try:
                    self._sockets[out].send(payload)
                except OSError as exc:  # a port whose peer is down: like a real switch, drop
                    self.errors.append(f"{out}: send failed: {exc}")
