"""Benchmark: how fast the ``passnic`` CLI starts, and what the token cache saves.

    .venv/bin/python bench/cli_startup.py            # 15 runs of each
    .venv/bin/python bench/cli_startup.py --runs 5

Serves a fresh sample cloud (embedded SQLite, production argon2 parameters) from a thread and
runs, each in a new process: ``python -c pass`` (the interpreter's own floor), ``passnic --help``,
``passnic host-list`` signing in every time (an empty token cache per run) and ``passnic
host-list`` with the cached token. For each: wall time and the client's own CPU time (user + sys
of the child, so the server's share of a request is excluded), min and median. Last line: the
ratios that matter, measured in this run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from passnic.app import create_app
from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.server import prepare

PASSNIC = [sys.executable, "-c", "from passnic.cli.main import main; main()"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[-1]} failed: {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    os.environ.pop("PASSNIC_PASSWORD_HASHING", None)  # what operators get
    with tempfile.TemporaryDirectory(prefix="passnic-cli-bench-") as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home)
        port = _free_port()
        prepared = prepare(settings, "127.0.0.1", port)
        cloud = Cloud(settings)
        server = uvicorn.Server(
            uvicorn.Config(create_app(cloud), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            base = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
            base.update(
                OS_CLIENT_CONFIG_FILE=str(prepared.clouds_yaml),
                OS_CLOUD=next(c.cloud for c in prepared.credentials if c.username == "admin"),
            )
            cached = {**base, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
            _run([*PASSNIC, "host-list"], cached)  # fills the cache
            cases: list[tuple[str, list[str], object]] = [
                ("python -c pass", [sys.executable, "-c", "pass"], lambda i: base),
                ("passnic --help", [*PASSNIC, "--help"], lambda i: base),
                (
                    "passnic host-list (sign-in)",
                    [*PASSNIC, "host-list"],
                    lambda i: {**base, "XDG_CACHE_HOME": str(Path(tmp) / f"empty{i}")},
                ),
                ("passnic host-list (cached token)", [*PASSNIC, "host-list"], lambda i: cached),
            ]
            results: dict[str, tuple[list[float], list[float]]] = {}
            for i in range(args.runs):  # interleaved, so load changes hit every case alike
                for name, argv, env_for in cases:
                    wall, cpu = _run(argv, env_for(i))  # type: ignore[operator]
                    walls, cpus = results.setdefault(name, ([], []))
                    walls.append(wall)
                    cpus.append(cpu)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            cloud.close()
    print(f"{'command':36} {'wall min':>9} {'wall p50':>9} {'cpu min':>9} {'cpu p50':>9}")
    for name, (walls, cpus) in results.items():
        print(
            f"{name:36} {min(walls):9.3f} {statistics.median(walls):9.3f} "
            f"{min(cpus):9.3f} {statistics.median(cpus):9.3f}"
        )
    floor = statistics.median(results["python -c pass"][0])
    helps = statistics.median(results["passnic --help"][0])
    signin = statistics.median(results["passnic host-list (sign-in)"][0])
    cached_p50 = statistics.median(results["passnic host-list (cached token)"][0])
    print(
        f"help p50 / python floor: {helps / floor:.1f}x   "
        f"host-list p50 cached / sign-in: {cached_p50 / signin:.2f}   "
        f"host-list cached p50: {cached_p50:.3f} s"
    )


if __name__ == "__main__":
    main()
