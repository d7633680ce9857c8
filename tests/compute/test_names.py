"""The ``?name=`` filter of server lists: Nova's regular expression search, in linear time."""

from __future__ import annotations

import time

import pytest

from passnic.compute.names import name_matches


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        (None, "vm1", True),
        ("", "vm1", True),
        ("vm1", "vm1", True),
        ("vm", "my-vm1", True),  # a search, not a full match
        ("^vm", "my-vm1", False),
        ("1$", "vm1", True),
        ("v.1", "vm1", True),
        ("VM1", "vm1", False),
        ("[", "a[b", True),  # not a regular expression: a substring
        ("[", "ab", False),
        (r"(x)\1", r"a(x)\1", True),  # backreferences are not RE2: a substring too
        (r"(x)\1", "xx", False),
        ("\ud800", "a\ud800", True),  # a lone surrogate is no pattern, nor breaks the list
        ("a", "a\ud800", True),
    ],
)
def test_nova_semantics(pattern: str | None, name: str, expected: bool) -> None:
    assert name_matches(pattern, name) is expected


def test_a_catastrophic_pattern_takes_no_time() -> None:
    """``(a+)+$`` made Python's backtracking engine take seconds on a 28-character name."""
    started = time.perf_counter()
    for length in range(20, 40):
        assert not name_matches("(a+)+$", "a" * length + "!")
    assert time.perf_counter() - started < 0.5
