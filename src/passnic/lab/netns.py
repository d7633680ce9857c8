"""Network namespace and interface helpers for the lab, each lab's names under its own prefix.

They run the ``ip`` command rather than pyroute2: ``ip netns add`` makes the /run/netns bind
mounts that ``ip netns exec`` (how the lab runs commands "inside" a host or VM) relies on, its
command line is stable across versions, and every call is one readable line to replay by hand
when the lab misbehaves. The cost, a process per call, is a few milliseconds.

Every lab is an instance with a short random id, and everything it creates is named with
``pn-<id>-`` (`instance_prefix`), which the lab records in its state file: :func:`cleanup` then
removes one lab's namespaces (which takes their interfaces with them), stray interfaces of the
root namespace and the processes whose pid files sit in its directory, after a crash too, while
another lab (a `passnic up` beside a test run) keeps all of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: what every lab's names start with; one lab's are ``pn-<id>-`` (`instance_prefix`)
PREFIX = "pn-"
IFNAMSIZ = 15  # Linux interface names are at most 15 characters
CLONE_NEWNET = 0x40000000
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_INSTANCE = re.compile(r"[0-9a-f]{4}")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


class LabError(RuntimeError):
    """An ``ip`` command failed; the message holds the command and what it printed."""


@dataclass(frozen=True)
class Link:
    name: str
    mac: str
    up: bool
    kind: str | None  # "veth", "tun", None for physical


def check_ifname(name: str) -> str:
    if len(name) > IFNAMSIZ or not _NAME.fullmatch(name):
        raise ValueError(f"invalid interface name {name!r} (at most {IFNAMSIZ} of [A-Za-z0-9_.-])")
    return name


def check_netns(name: str) -> str:
    """Namespace names are file names under /run/netns (not limited to 15 characters)."""
    if len(name) > 64 or not _NAME.fullmatch(name):
        raise ValueError(f"invalid namespace name {name!r} (at most 64 of [A-Za-z0-9_.-])")
    return name


def new_instance() -> str:
    """A lab instance's id: 4 hex digits, short enough to leave 7 characters of a 15-character
    interface name after its prefix ``pn-<id>-``."""
    return secrets.token_hex(2)


def instance_prefix(instance: str) -> str:
    """The prefix of everything lab `instance` creates."""
    if not _INSTANCE.fullmatch(instance):
        raise ValueError(f"invalid lab instance id {instance!r} (4 hex digits)")
    return f"{PREFIX}{instance}-"


def check_mac(mac: str) -> str:
    mac = mac.lower()
    if not _MAC.fullmatch(mac):
        raise ValueError(f"invalid MAC address {mac!r}")
    return mac


def ip(*args: str, ns: str | None = None, check: bool = True) -> str:
    """Run ``ip [-n NS] ARGS``; raise `LabError` with its stderr when it fails."""
    argv = ["ip", *(["-n", ns] if ns else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def netns_exec(
    ns: str, argv: Sequence[str], timeout: float = 30.0, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command inside namespace `ns` (``ip netns exec``)."""
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise LabError(f"in {ns}: {' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def in_netns(netns: str | None, func: Callable[[], Any]) -> Any:
    """Run `func` in a thread that entered namespace `netns` (the caller's when None).

    ``setns`` changes only the calling thread's network namespace, and sockets keep the
    namespace they were created in: this is how the lab switch opens its ports' sockets in
    ``pn-switch`` while serving SSH on the root namespace's loopback.
    """
    if netns is None:
        return func()
    result: Future[Any] = Future()

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.set_result(func())
        except BaseException as exc:
            result.set_exception(exc)

    thread = threading.Thread(target=run, name=f"setns-{netns}")
    thread.start()
    thread.join()
    return result.result()


def disable_tx_checksum(name: str, ns: str | None = None) -> None:
    """Turn off TX checksum offload (``ethtool -K NAME tx off``; no ethtool binary needed).

    A veth hands the peer packets whose TCP/UDP checksum is left for "hardware" to fill in;
    the lab switch reads them with AF_PACKET and writes them out as new packets, so the
    checksum would never be filled in and the receiver would drop every TCP/UDP segment.
    Without TX checksum offload the stack also stops handing over TSO super-packets.
    """

    def run() -> None:
        value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0), 8)
        request = struct.pack("16sP16x", name.encode(), ctypes.addressof(value))  # struct ifreq
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)

    try:
        in_netns(ns, run)
    except OSError as exc:
        raise LabError(f"could not disable TX checksum offload on {name}: {exc}") from exc


# ---- namespaces ------------------------------------------------------------------------------


def namespaces(prefix: str = PREFIX) -> list[str]:
    out = ip("netns", "list", check=False)
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def add_netns(name: str) -> str:
    """Create namespace `name` with its loopback up (idempotent)."""
    check_netns(name)
    if name not in namespaces(name):
        ip("netns", "add", name)
    ip("link", "set", "dev", "lo", "up", ns=name)
    return name


def del_netns(name: str) -> None:
    """Delete a namespace and every interface in it (veth peers elsewhere go too). Idempotent."""
    if name in namespaces(name):
        ip("netns", "del", name)


def netns_available() -> str | None:
    """None when the lab can run here, else why not (for test skips and ``passnic lab``)."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces)"
    probe = f"{PREFIX}probe-{os.getpid()}-{new_instance()}"
    try:
        ip("netns", "add", probe)
    except (LabError, OSError) as exc:
        return f"network namespaces are unavailable: {exc}"
    ip("netns", "del", probe, check=False)
    return None


# ---- interfaces ------------------------------------------------------------------------------


def links(ns: str | None = None, prefix: str = "") -> list[Link]:
    out = ip("-j", "-d", "link", "show", ns=ns)
    found = []
    for row in json.loads(out or "[]"):
        name = row["ifname"]
        if not name.startswith(prefix):
            continue
        kind = row.get("linkinfo", {}).get("info_kind")
        found.append(Link(name, row.get("address", ""), "UP" in row.get("flags", []), kind))
    return found


def link_exists(name: str, ns: str | None = None) -> bool:
    return any(link.name == name for link in links(ns, name))


def _quiet(name: str, ns: str | None) -> None:
    """No IPv6 link-local address, so no router or neighbour solicitations on lab links."""
    ip("link", "set", "dev", name, "addrgenmode", "none", ns=ns, check=False)


def add_veth(
    name: str,
    peer: str,
    *,
    mac: str | None = None,
    peer_mac: str | None = None,
    ns: str | None = None,
    peer_ns: str | None = None,
) -> None:
    """A veth pair `name`/`peer`, each end with an optional fixed MAC, moved into its namespace."""
    check_ifname(name)
    check_ifname(peer)
    args = ["link", "add", name]
    if mac:
        args += ["address", check_mac(mac)]
    args += ["type", "veth", "peer", "name", peer]
    if peer_mac:
        args += ["address", check_mac(peer_mac)]
    # Each end is created directly in its namespace, so a peer may be named like a root
    # interface (eth0) without clashing.
    args += ["netns", peer_ns if peer_ns is not None else str(os.getpid())]
    ip(*args, ns=ns)
    try:
        for end, end_ns in ((name, ns), (peer, peer_ns)):
            _quiet(end, end_ns)
            disable_tx_checksum(end, end_ns)
    except LabError:
        ip("link", "del", "dev", name, ns=ns, check=False)
        raise


def move(name: str, from_ns: str | None, to_ns: str | None) -> None:
    """Move interface `name` between namespaces (None is the root namespace). It comes down."""
    target = to_ns if to_ns is not None else str(os.getpid())
    ip("link", "set", "dev", name, "netns", target, ns=from_ns)


def rename(old: str, new: str, ns: str | None = None) -> None:
    """Rename an interface; the kernel wants it down for that."""
    check_ifname(new)
    ip("link", "set", "dev", old, "down", ns=ns)
    ip("link", "set", "dev", old, "name", new, ns=ns)


def set_up(name: str, ns: str | None = None, up: bool = True) -> None:
    ip("link", "set", "dev", name, "up" if up else "down", ns=ns)


def set_mac(name: str, mac: str, ns: str | None = None) -> None:
    ip("link", "set", "dev", name, "address", check_mac(mac), ns=ns)


def add_address(name: str, cidr: str, ns: str | None = None) -> None:
    """Add an IPv4 address such as ``10.0.10.5/24`` (already present is fine)."""
    proc_out = ip("-j", "addr", "show", "dev", name, ns=ns)
    present = {
        f"{a['local']}/{a['prefixlen']}"
        for row in json.loads(proc_out or "[]")
        for a in row.get("addr_info", [])
    }
    if cidr not in present:
        ip("addr", "add", cidr, "dev", name, ns=ns)


def flush_addresses(name: str, ns: str | None = None) -> None:
    ip("addr", "flush", "dev", name, ns=ns)


def add_default_route(gateway: str, ns: str) -> None:
    ip("route", "replace", "default", "via", gateway, ns=ns)


def del_link(name: str, ns: str | None = None) -> None:
    ip("link", "del", "dev", name, ns=ns, check=False)


# ---- pid files and cleanup -------------------------------------------------------------------


def write_pid(lab_dir: Path, name: str, pid: int) -> Path:
    path = Path(lab_dir) / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n", encoding="utf-8")
    return path


def _stop_pid(pid: int, wait: float = 3.0) -> None:
    if pid <= 1 or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
                    return
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def cleanup(prefix: str, lab_dir: Path | None = None) -> list[str]:
    """Remove one lab's processes (pid files in `lab_dir`), namespaces and root interfaces
    (names starting with its `prefix`, ``pn-<id>-``). Returns what was removed, for
    ``passnic lab-clean`` to print. Refuses a prefix shared by every lab."""
    if not prefix.startswith(PREFIX) or len(prefix) <= len(PREFIX):
        raise ValueError(f"refusing to clean up by {prefix!r}: not one lab's prefix")
    removed: list[str] = []
    if lab_dir is not None and Path(lab_dir).is_dir():
        for pid_file in sorted(Path(lab_dir).glob("*.pid")):
            with contextlib.suppress(ValueError, OSError):
                _stop_pid(int(pid_file.read_text().strip()))
                removed.append(f"process {pid_file.stem}")
            pid_file.unlink(missing_ok=True)
    for ns in namespaces(prefix):
        ip("netns", "del", ns, check=False)
        removed.append(f"namespace {ns}")
    for link in links(None, prefix):
        del_link(link.name)
        removed.append(f"interface {link.name}")
    return removed


def leftovers(prefix: str) -> list[str]:
    """What `cleanup` would remove (tests assert this is empty)."""
    return [f"namespace {n}" for n in namespaces(prefix)] + [
        f"interface {link.name}" for link in links(None, prefix)
    ]
