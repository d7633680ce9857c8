"""The sample cloud's host agents, run by ``passnic up`` as separate processes.

Each agent talks to the controller over HTTP exactly as on a real compute host; this only
starts them, restarts one that dies (after a pause, so a crash loop does not spin), and stops
them all when Passnic stops. Their output goes to ``<home>/agents/<host>.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

RESTART_SECONDS = 1.0
STOP_SECONDS = 5.0


class AgentSupervisor:
    def __init__(self, configs: list[Path]) -> None:
        self.configs = configs
        self.processes: dict[Path, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self, config: Path) -> subprocess.Popen[bytes]:
        log = config.with_suffix(".log")
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "passnic.agent", "run", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                # its own session: a Ctrl-C on the terminal is for passnic up alone, and an
                # agent outlives a controller that crashes, as on a real compute host
                start_new_session=True,
            )
        finally:
            os.close(fd)
        _write_pid(config.with_suffix(".pid"), proc.pid)
        return proc

    def start(self) -> None:
        for config in self.configs:
            _stop_leftover(config)
            self.processes[config] = self._spawn(config)
        self._thread = threading.Thread(target=self._watch, name="agents", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(RESTART_SECONDS):
            for config, proc in list(self.processes.items()):
                if proc.poll() is not None and not self._stop.is_set():
                    self.processes[config] = self._spawn(config)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_SECONDS)
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _write_pid(path: Path, pid: int) -> None:
    """A new file renamed over the old one: a reader (a restart, an operator) never sees it
    empty or half written."""
    fresh = path.with_suffix(".pid.new")
    fresh.write_text(str(pid))
    os.replace(fresh, path)


def _stop_leftover(config: Path) -> None:
    """The agent a killed ``passnic up`` left running for this config: stopped, so one host
    never has two agents (its guests live on; the new agent finds them)."""
    pidfile = config.with_suffix(".pid")
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if str(config).encode() not in cmdline:
        return  # the pid was reused by something else
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(int(STOP_SECONDS * 10)):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
