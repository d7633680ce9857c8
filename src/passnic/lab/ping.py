"""A minimal ``ping`` (ICMP echo over a raw socket): the lab machine has no ping binary.

Run inside a namespace as ``python -m passnic.lab.ping -c 1 -W 1 10.0.10.5``; prints lines in
ping's format (``64 bytes from ...: icmp_seq=1 ttl=64 time=0.210 ms``) and exits 0 when at least
one reply came back, 1 otherwise. :func:`ping_from` runs it in a namespace and returns the RTTs.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import socket
import struct
import sys
import time


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def echo(address: str, seq: int, timeout: float, ident: int) -> tuple[float, int] | None:
    """One echo request; (RTT in ms, TTL) of the reply, or None after `timeout` seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        payload = b"passnic-lab-ping" + bytes(40)
        header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
        start = time.perf_counter()
        sock.sendto(packet, (address, 0))
        deadline = start + timeout
        while (left := deadline - time.perf_counter()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                break
            data, (source, _) = sock.recvfrom(65535)
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, r_ident, r_seq = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if kind == 0 and r_ident == ident and r_seq == seq and source == address:
                return (time.perf_counter() - start) * 1000.0, data[8]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="passnic-lab-ping")
    parser.add_argument("-c", type=int, default=1, dest="count")
    parser.add_argument("-W", type=float, default=1.0, dest="timeout")
    parser.add_argument("address")
    args = parser.parse_args(argv)
    ident = os.getpid() & 0xFFFF
    received = 0
    for seq in range(1, args.count + 1):
        try:
            reply = echo(args.address, seq, args.timeout, ident)
        except OSError as exc:
            print(f"ping: {args.address}: {exc}", file=sys.stderr)
            return 2
        if reply is not None:
            received += 1
            rtt, ttl = reply
            print(f"64 bytes from {args.address}: icmp_seq={seq} ttl={ttl} time={rtt:.3f} ms")
    print(f"{args.count} packets transmitted, {received} received")
    return 0 if received else 1


def ping_from(ns: str, address: str, count: int = 1, timeout: float = 1.0) -> list[float]:
    """Ping `address` from inside namespace `ns`: the RTTs (ms) of the replies received."""
    from passnic.lab.netns import netns_exec

    argv = [sys.executable, "-m", "passnic.lab.ping", "-c", str(count), "-W", str(timeout)]
    proc = netns_exec(ns, [*argv, address], timeout=count * timeout + 10)
    return [float(m) for m in re.findall(r"time=([0-9.]+) ms", proc.stdout)]


if __name__ == "__main__":
    sys.exit(main())
