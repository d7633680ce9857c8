"""The conductor: takes the steps of every operation under way, in each API worker.

A step is due when the API recorded an operation, when a step before it committed, or when a
host's agent reported a change (``enqueue``: at once, in this process); and, as the safety
net, when a server has had an operation under way for a while with nobody moving it (``sweep``,
every few seconds: after a crash of any worker, or while waiting on an agent, whose time-outs
are checked there). A boot's first step, the scheduling, is taken by its own request
(``ComputeService.create_server``); the sweep takes it only if that request failed. Several
workers may look at one server at once: each step takes the server with a conditional
UPDATE, so only one of them acts.

The sweep also turns hosts whose agent went quiet offline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from passnic.compute.hosts import HostService
from passnic.compute.service import ComputeService

log = logging.getLogger(__name__)


class Conductor:
    def __init__(
        self,
        compute: ComputeService,
        hosts: HostService,
        *,
        sweep_interval: float = 2.0,
        grace: timedelta = timedelta(seconds=5),
        workers: int = 4,
    ) -> None:
        self.compute = compute
        self.hosts = hosts
        self.sweep_interval = sweep_interval
        self.grace = grace
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- running in the background (an API worker) ----

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="conductor")
        self.compute.enqueue = self.enqueue
        self.hosts.on_report = self.enqueue
        self._thread = threading.Thread(target=self._sweep_forever, name="sweep", daemon=True)
        self._thread.start()
        self.hosts.watch.start()

    def stop(self) -> None:
        self._stop.set()
        self.hosts.watch.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def enqueue(self, server_ids: Iterable[str]) -> None:
        pool = self._pool
        for server_id in server_ids:
            with self._lock:
                if server_id in self._busy:  # running now: once more when it is done
                    self._again.add(server_id)
                    continue
                self._busy.add(server_id)
            if pool is None:
                self._run(server_id)
            else:
                try:
                    pool.submit(self._run, server_id)
                except RuntimeError:  # shutting down
                    with self._lock:
                        self._busy.discard(server_id)

    def _run(self, server_id: str) -> None:
        while True:
            try:
                self.compute.advance(server_id)
            except Exception:  # a step must never kill the conductor
                log.exception("conductor: server %s", server_id)
            with self._lock:
                if server_id not in self._again:
                    self._busy.discard(server_id)
                    return
                self._again.discard(server_id)

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self.sweep_interval):
            try:
                self.sweep()
            except Exception:  # a busy or restarting database: next round
                log.exception("conductor sweep failed")

    def sweep(self) -> None:
        self.hosts.sweep_heartbeats()
        self.enqueue(self.compute.stuck(self.grace))

    # ---- running in the foreground (tests, benchmarks) ----

    def drain(self, rounds: int = 50) -> None:
        """Take every step that can be taken now, in this thread, until none is left."""
        for _ in range(rounds):
            before = self._signature()
            for server_id in self.compute.stuck(timedelta(0)):
                self.compute.advance(server_id)
            if self._signature() == before:
                return

    def _signature(self) -> list[tuple[str, str, str]]:
        return self.compute.task_states()
