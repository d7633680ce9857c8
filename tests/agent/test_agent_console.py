"""A guest's console reaches the controller soon after it prints: the agent follows a
changing console with short long-polls (which new work still answers at once), then goes back
to long ones."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from passnic.agent import host
from passnic.agent.drivers.fake import FakeDriver
from passnic.agent.host import HostAgent
from passnic.compute.protocol import DesiredGuest, GuestSpec

SPEC = GuestSpec(server_id="s1", name="vm1", vcpus=1, ram_mb=64, disk_gb=0)


class Controller:
    """Answers every sync with the one guest; records each sync's wait and console."""

    def __init__(self, driver: FakeDriver, stop: threading.Event, rounds: int) -> None:
        self.driver, self.stop, self.rounds = driver, stop, rounds
        self.syncs: list[tuple[float, str | None]] = []

    def post(self, path: str, body: Any) -> Any:
        if path.endswith("/sync"):
            guests = body["guests"]
            self.syncs.append((body["wait"], guests[0]["console"] if guests else None))
            self.driver._guests["s1"]["console"] += f"line {len(self.syncs)}\n"  # it prints
            if len(self.syncs) >= self.rounds:
                self.stop.set()
        want = DesiredGuest(power="running", version=1, spec=SPEC)
        return {"generation": 1, "guests": [want.model_dump()], "heartbeat_timeout": 30.0}


def _run(monkeypatch: pytest.MonkeyPatch, follow: float) -> list[tuple[float, str | None]]:
    monkeypatch.setattr(host, "CONSOLE_POLL_SECONDS", 0.5)
    monkeypatch.setattr(host, "CONSOLE_FOLLOW_SECONDS", follow)
    driver = FakeDriver("compute-0")
    driver.spawn(SPEC)
    stop = threading.Event()
    controller = Controller(driver, stop, rounds=4)
    HostAgent("compute-0", driver, controller).run(stop)  # type: ignore[arg-type]
    return controller.syncs


def test_a_printing_guest_is_followed_with_short_long_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    syncs = _run(monkeypatch, follow=60.0)
    assert [wait for wait, _console in syncs] == [0.0, 0.5, 0.5, 0.5]
    assert [c.splitlines()[-1] for _w, c in syncs[1:] if c] == ["line 1", "line 2", "line 3"]


def test_without_following_the_agent_long_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    syncs = _run(monkeypatch, follow=0.0)
    assert [wait for wait, _console in syncs][1:] == [10.0, 10.0, 10.0]
