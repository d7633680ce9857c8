"""``python -m passnic.lab up|clean``: run the lab in the foreground, or remove every trace.

``up`` builds the lab (`passnic.lab.topology.Lab`), prints where the switch's SSH CLI listens
and serves until interrupted (SIGINT/SIGTERM), then removes everything. ``clean`` is the
``passnic lab-clean`` of a crashed lab: it stops the lab process recorded in the lab directory
and deletes the namespaces and interfaces named with the prefix it recorded.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from passnic.lab import netns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m passnic.lab")
    parser.add_argument("command", choices=["up", "clean"])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/passnic-lab"))
    parser.add_argument("--ssh-port", type=int, default=2222)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--prefix", help="the lab's name prefix pn-<4 hex>- (default: new)")
    args = parser.parse_args(argv)
    if args.command == "clean":
        from passnic.lab.attach import lab_clean

        for line in lab_clean(args.dir):
            print(f"removed {line}")
        return 0
    reason = netns.netns_available()
    if reason:
        print(f"passnic lab: {reason}", file=sys.stderr)
        return 1
    from passnic.lab.topology import Lab, LabSpec

    spec = LabSpec(
        hostnames=tuple(f"compute-{i}" for i in range(args.hosts)), ssh_port=args.ssh_port
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Lab(args.dir, spec, prefix=args.prefix) as lab:
        print(json.dumps(json.loads((lab.lab_dir / "lab.json").read_text()), indent=2))
        print("lab is up; Ctrl-C to tear it down", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
