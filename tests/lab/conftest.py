"""Lab fixtures: skip without namespaces, or while another lab runs on this machine (lab names
are machine-wide: a `passnic up` lab, another test run); remove what the test created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from passnic.lab import netns

TEST_PREFIX = "pn-"

_reason = netns.netns_available()


@pytest.fixture
def lab_prefix(tmp_path: Path) -> Iterator[str]:
    """The prefix every lab object of the test carries. The test starts only on a machine
    with no lab object (one present is someone else's: it is left alone), so all of them are
    the test's own when it ends, and all are removed."""
    if _reason is not None:
        pytest.skip(_reason)
    present = netns.leftovers(TEST_PREFIX)
    if present:
        pytest.skip(
            f"another lab is present ({', '.join(present[:3])}...): "
            "stop it, or run passnic lab-clean if it is a crashed one"
        )
    try:
        yield TEST_PREFIX
    finally:
        netns.cleanup(TEST_PREFIX, tmp_path)
        assert netns.leftovers(TEST_PREFIX) == []
