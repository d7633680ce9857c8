"""The lab's real guests: QEMU (TCG) started by the libvirt driver in each lab host's agent.

Where a real compute host passes its NIC through (``<hostdev>``), the lab host's libvirt gives
the guest the NIC's interface whole (a macvtap in passthrough mode under an emulated e1000 with
the NIC's MAC; the driver's ``lab_nics`` form); everything else is the production driver's
path.

What this module adds around it:

- `ensure_libvirtd`: the machine's libvirtd, started by hand when it is not running (no systemd
  here; see the project's notes on real guests): the directories, the ``libvirt-qemu`` user and
  group libvirt looks up, and a ``qemu.conf`` for root without cgroups, namespaces or virtlogd
  (written only when there is none). It stays running afterwards, as a system service would.
- `remove_domains`: one lab's domains (named with its prefix), for its cleanup.
- `GuestConsole`: commands typed on a guest's serial console (a pty, as ``virsh console``),
  their output read back from the console log, so that checks run inside the guest itself.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import secrets
import select
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

#: libvirt's compiled-in names, looked up even when qemu.conf says root
QEMU_USER = "libvirt-qemu"
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
QEMU_CONF_TEXT = """# written by Passnic's lab: QEMU as root, no cgroups, namespaces or virtlogd
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
namespaces = []
cgroup_controllers = []
stdio_handler = "file"
"""
URI = "qemu:///system"


def domain_prefix(lab_prefix: str, hostname: str = "") -> str:
    """The libvirt driver's domain-name prefix on a lab host: ``passnic-<lab id>-<host>-``
    (all of the lab's hosts share one libvirtd, and each agent must see only its own guests);
    without `hostname`, the whole lab's."""
    return "passnic-" + lab_prefix.removeprefix("pn-") + (f"{hostname}-" if hostname else "")


def find_domain(lab_prefix: str, server_id: str) -> str:
    """The name of the lab's domain of server `server_id`, on whichever host it is."""
    import libvirt

    conn = libvirt.open(URI)
    try:
        names = [str(d.name()) for d in conn.listAllDomains()]
    finally:
        conn.close()
    prefix = domain_prefix(lab_prefix)
    found = [n for n in names if n.startswith(prefix) and n.endswith(server_id)]
    if len(found) != 1:
        raise LookupError(f"{len(found)} domains of server {server_id} in lab {lab_prefix}")
    return found[0]


def unavailable() -> str | None:
    """Why the lab cannot run QEMU guests here (None: it can)."""
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed"
    if shutil.which("libvirtd") is None:
        return "libvirtd is not installed (libvirt-daemon, libvirt-daemon-driver-qemu)"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed"
    return None


def _reachable() -> bool:
    import libvirt

    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError:
        return False
    return True


def ensure_libvirtd(timeout: float = 30.0) -> None:
    """libvirtd answering on ``qemu:///system``, started here when it does not; RuntimeError
    with the reason when it cannot be."""
    import libvirt

    libvirt.registerErrorHandler(lambda *_: None, None)  # no stderr noise from failed opens
    if _reachable():
        return
    for path in ("/var/log/libvirt", "/var/lib/libvirt/qemu", "/run/libvirt"):
        Path(path).mkdir(parents=True, exist_ok=True)
    try:
        grp.getgrnam(QEMU_USER)
    except KeyError:
        subprocess.run(["groupadd", "--system", QEMU_USER], check=False, capture_output=True)
    try:
        pwd.getpwnam(QEMU_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-g", QEMU_USER, QEMU_USER],
            check=False,
            capture_output=True,
        )
    if not QEMU_CONF.exists():
        QEMU_CONF.parent.mkdir(parents=True, exist_ok=True)
        QEMU_CONF.write_text(QEMU_CONF_TEXT)
    done = subprocess.run(["libvirtd", "-d"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"libvirtd -d failed: {(done.stderr or done.stdout).strip()[-300:]}")
    deadline = time.monotonic() + timeout
    while not _reachable():
        if time.monotonic() > deadline:
            raise RuntimeError(f"libvirtd started but {URI} does not answer (/var/log/libvirt)")
        time.sleep(0.3)


def remove_domains(lab_prefix: str) -> list[str]:
    """Power off and undefine the lab's domains; what was removed."""
    import libvirt

    prefix = domain_prefix(lab_prefix)
    removed = []
    with contextlib.suppress(libvirt.libvirtError):
        conn = libvirt.open(URI)
        try:
            for domain in conn.listAllDomains():
                if not domain.name().startswith(prefix):
                    continue
                with contextlib.suppress(libvirt.libvirtError):
                    if domain.isActive():
                        domain.destroy()
                with contextlib.suppress(libvirt.libvirtError):
                    domain.undefine()
                removed.append(f"domain {domain.name()}")
        finally:
            conn.close()
    return removed


class GuestConsole:
    """A guest's serial console: its pty (from the live domain XML) to type on, and its log
    (`log`) to read. The guest runs a shell on it once its init printed ``ready``. The pty is
    opened by the first command and kept until `close`: QEMU notices a client only by polling
    (each second) and drops what a client wrote before that."""

    def __init__(self, domain_name: str, log: Path) -> None:
        self.domain_name = domain_name
        self.log = log
        self._fd: int | None = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def text(self) -> str:
        try:
            return self.log.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        """The first match of `pattern` in the log past `start`; TimeoutError after
        `timeout` seconds, with the log's end."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.text(), start)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.domain_name}: no {pattern!r} on the console after {timeout:.0f}s; "
                    f"it ends with: {self.text()[-400:]!r}"
                )
            time.sleep(0.2)

    def _pty(self) -> str:
        import libvirt

        conn = libvirt.open(URI)
        try:
            xml = conn.lookupByName(self.domain_name).XMLDesc()
        finally:
            conn.close()
        source = ET.fromstring(xml).find("./devices/serial/source")
        if source is None or not source.get("path"):
            raise RuntimeError(f"{self.domain_name} has no serial pty")
        return str(source.get("path"))

    def run(self, command: str, timeout: float = 20.0) -> tuple[int, str]:
        """Type `command` on the console; its exit status and what it printed. What the guest
        prints is drained from the pty here (the log has it all)."""
        marker = f"pn{secrets.token_hex(4)}"
        start = len(self.text())
        if self._fd is None:
            self._fd = os.open(self._pty(), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            self._drain(self._fd, 1.5)
        fd = self._fd
        try:
            self._drain(fd, 0.0)
            os.write(fd, f"{command}; echo {marker}=$?\r".encode())
            deadline = time.monotonic() + timeout
            while True:
                self._drain(fd, 0.2)
                found = re.compile(rf"{marker}=(\d+)").search(self.text(), start)
                if found is not None:
                    return int(found.group(1)), self.text()[start : found.start()]
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.domain_name}: {command!r} did not finish in {timeout:.0f}s; "
                        f"the console ends with: {self.text()[-400:]!r}"
                    )
        except BaseException:
            self.close()  # the next command starts afresh
            raise

    @staticmethod
    def _drain(fd: int, seconds: float) -> None:
        """Read what is there for `seconds` (at least one look; 0: only what is there now)."""
        deadline = time.monotonic() + seconds
        while True:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.read(fd, 65536)
            if left == 0.0:
                return
