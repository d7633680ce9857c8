"""Fixtures for CLI tests: a fresh fake cloud and a runner that drives ``passnic`` against it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from passnic.cli.main import app
from passnic.cli.state import State
from tests.cli.fakecloud import ENV, FakeCloud


@pytest.fixture
def fake() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def run(fake: FakeCloud, tmp_path: Path) -> Callable[..., Result]:
    """Run ``passnic <args>`` against the fake cloud, credentials from OS_* variables only,
    tokens cached in this test's own directory."""
    runner = CliRunner()
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}

    def invoke(*args: str) -> Result:
        state = State(transport=fake.transport, environ={**ENV, **cache})
        return runner.invoke(app, list(args), obj=state)

    return invoke


@pytest.fixture(autouse=True)
def _no_ambient_cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's own OS_* variables and clouds.yaml must not leak into these tests."""
    for var in [v for v in os.environ if v.startswith("OS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
