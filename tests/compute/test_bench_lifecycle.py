"""The lifecycle benchmark still runs (two boots): it is a script, so run it as one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "lifecycle.py"


def test_tiny_lifecycle_bench_runs_and_reports() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--boots", "2"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for key in ("answer", "active", "floor"):
        assert re.search(rf"SQLite\s+{key}\s+[\d.]+\s+[\d.]+", done.stdout), done.stdout
    assert re.search(r"SQLite: answer p50 / floor [\d.]+x; active p50 / floor [\d.]+x", done.stdout)
