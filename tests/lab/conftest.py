"""Lab fixtures: skip without namespaces; always remove what a test created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from passnic.lab import netns

TEST_PREFIX = "pn-"

_reason = netns.netns_available()


@pytest.fixture
def lab_prefix(tmp_path: Path) -> Iterator[str]:
    """The prefix every lab object of the test carries; all of it is removed afterwards."""
    if _reason is not None:
        pytest.skip(_reason)
    netns.cleanup(TEST_PREFIX, tmp_path)
    try:
        yield TEST_PREFIX
    finally:
        netns.cleanup(TEST_PREFIX, tmp_path)
        assert netns.leftovers(TEST_PREFIX) == []
