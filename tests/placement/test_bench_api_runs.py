"""The API benchmark still runs (a tiny fleet, SQLite): it is a script, so run it as one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARGS = ("--sizes", "3,30", "--boots", "2", "--no-postgres", "--register", "3")


def test_tiny_api_bench_runs_and_reports() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.api", *ARGS],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    rates = r" +[\d.]+" * 3  # boots per second with 1, 2 and 4 workers
    sizes_floor_request = r" +[\d.]+ms" * 4
    assert re.match(rf"SQLite{sizes_floor_request}{rates} +\d+ -> \d+", lines[2])
    for listed in ("servers", "ports", "hosts", "interfaces"):
        assert re.search(rf"SQLite +{listed} +[\d.]+ms +[\d.]+ms +[\d.]+x", done.stdout)
    assert re.search(r"registering 3 hosts \(agent reports, SQLite\): [\d.]+ s", done.stdout)
    assert re.fullmatch(
        r"SQLite: boot p50 30/3 hosts [\d.]+x, boot p50 / floor [\d.]+x", lines[-1]
    ), lines[-1]
