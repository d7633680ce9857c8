"""The scheduler benchmark still runs (tiny, without Nova): it is a script, so run it as one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scheduler.py"


def test_tiny_bench_runs_and_reports() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--skip-nova", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "fleet 20 hosts x 4 NICs (seed 4)" in out
    assert "fleet 200 hosts x 4 NICs (seed 4)" in out
    assert out.count("nova: skipped") == 2
    summaries = re.findall(r"placed ([\d,]+) failed ([\d,]+)  p50 [\d.,]+ ms  p99 [\d.,]+ ms", out)
    assert len(summaries) == 4
    assert any(failed != "0" for _, failed in summaries)  # the stream outruns group0-data1
    assert re.search(r"passnic 200 vs 20 hosts, p50 per request: [\d.]+x", out)
