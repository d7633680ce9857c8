"""Lab fixtures: skip without namespaces; each test's lab objects carry a prefix of their own
(``pn-<id>-``), so a lab running beside the tests (`passnic up`, another run) is left intact,
and only the test's own are removed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from passnic.lab import netns

_reason = netns.netns_available()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The lab's tests run one after another on one xdist worker (``--dist loadgroup``)
    while the others take the rest of the suite: QEMU guests booting under TCG would fight
    each other for the two cores."""
    lab = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(lab):
            item.add_marker(pytest.mark.xdist_group("lab"))


@pytest.fixture
def lab_prefix(tmp_path: Path) -> Iterator[str]:
    """The prefix every lab object of the test carries; all of them are removed at the end."""
    if _reason is not None:
        pytest.skip(_reason)
    prefix = netns.instance_prefix(netns.new_instance())
    while netns.leftovers(prefix):  # an id already taken by another lab
        prefix = netns.instance_prefix(netns.new_instance())
    try:
        yield prefix
    finally:
        netns.cleanup(prefix, tmp_path)
        assert netns.leftovers(prefix) == []
