"""The ``?name=`` filter of server lists: Nova searches the name with a regular expression.

A Python regular expression backtracks: ``(a+)+$`` against a 28-character name takes seconds
and stalls the worker for everyone. RE2 matches in time linear in the name, whatever the
pattern, so any member may send any pattern. A pattern RE2 cannot compile (invalid, or Perl
features such as backreferences) is matched as plain text, as invalid patterns always were.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is the caller's input, not a server error
    return options


_OPTIONS = _options()


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any | None:
    try:
        return re2.compile(pattern, _OPTIONS)
    except (re2.error, UnicodeEncodeError):  # a lone surrogate is no UTF-8 pattern either
        return None


def name_matches(pattern: str | None, name: str) -> bool:
    """Whether ``name`` passes the filter: a regular expression search (RE2 syntax), or a
    substring test for a pattern that is not one."""
    if not pattern:
        return True
    compiled = _compiled(pattern)
    if compiled is None:
        return pattern in name
    # RE2 reads UTF-8: a lone surrogate in a stored name reads as "?"
    return compiled.search(name.encode("utf-8", "replace").decode()) is not None
