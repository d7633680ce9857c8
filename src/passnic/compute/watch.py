"""Wake agents that wait for work, whichever API worker they wait on.

An agent's sync request waits (long-poll) until its host's generation moves past the one it
has. The worker that changes a host's desired guests wakes its own waiters at commit; the
other workers learn of it through PostgreSQL ``LISTEN/NOTIFY`` (the NOTIFY is sent in the
same transaction), or on SQLite by one cheap indexed query per process every half second
(generations are drawn from one growing counter there, so ``generation > last`` finds what
changed). A waiter re-reads the database after it wakes: a wake-up is only a hint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator

from sqlalchemy import func, select, text

from passnic.compute.models import ComputeNode
from passnic.db import Database

log = logging.getLogger(__name__)

CHANNEL = "passnic_compute_nodes"
SQLITE_POLL_SECONDS = 0.5


class HostWatch:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(set)
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- waking ----

    def wake(self, hostnames: Iterable[str]) -> None:
        with self._lock:
            waiters = [w for h in set(hostnames) for w in self._waiters.get(h, ())]
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    @contextlib.contextmanager
    def subscription(self, hostname: str) -> Iterator[asyncio.Event]:
        """An event set when ``hostname`` may have new work, while the block runs."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters[hostname].add(entry)
        try:
            yield event
        finally:
            with self._lock:
                self._waiters[hostname].discard(entry)
                if not self._waiters[hostname]:
                    del self._waiters[hostname]

    # ---- the cross-process listener ----

    def start(self) -> None:
        if self._thread is None:
            target = self._listen if self.db.is_postgres else self._poll
            self._thread = threading.Thread(target=target, name="host-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _poll(self) -> None:
        last: int | None = None
        while not self._stop.wait(SQLITE_POLL_SECONDS):
            try:
                with self.db.transaction() as s:
                    if last is None:
                        last = s.scalar(select(func.max(ComputeNode.generation))) or 0
                        continue
                    rows = s.execute(
                        select(ComputeNode.hostname, ComputeNode.generation).where(
                            ComputeNode.generation > last
                        )
                    ).all()
                if rows:
                    last = max(g for _h, g in rows)
                    self.wake(h for h, _g in rows)
            except Exception:  # a busy or restarting database: try again next round
                log.debug("host watch poll failed", exc_info=True)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with self.db.engine.connect() as conn:
                    conn.execute(text(f"LISTEN {CHANNEL}"))
                    conn.commit()
                    raw = conn.connection.driver_connection
                    while not self._stop.is_set():
                        for note in raw.notifies(timeout=1.0):  # type: ignore[union-attr]
                            self.wake([note.payload])
            except Exception:
                log.debug("host watch listener failed; reconnecting", exc_info=True)
                self._stop.wait(1.0)
