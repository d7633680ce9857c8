"""The sample cloud's host agents, run by ``passnic up`` as separate processes.

Each agent talks to the controller over HTTP exactly as on a real compute host; this only
starts them, restarts one that dies (after a pause, so a crash loop does not spin), and stops
them all when Passnic stops. Their output goes to ``<home>/agents/<host>.log``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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
            return subprocess.Popen(
                [sys.executable, "-m", "passnic.agent", "run", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C on the terminal is for passnic up alone
            )
        finally:
            os.close(fd)

    def start(self) -> None:
        for config in self.configs:
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
