"""`passnic demo` end to end: the StarlingX procedure on a fresh cloud and the lab, five
checks proven with real frames, nothing left behind; and `passnic lab-clean`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from passnic.lab import netns

PASSNIC = Path(sys.executable).parent / "passnic"
CHECKS = (
    "Check 1: project1's VMs talk on VLAN 10; project2's vm2 is isolated",
    "Check 2: a VLAN-20 tagged frame from vm1 is dropped at its access port",
    "Check 3: with the trunk exception the tagged frame reaches net1; access restored after",
    "Check 4: cold migration: new NIC and MAC, same IP, ping again, old port quarantined",
    "Check 5: live migration is refused for a passthrough NIC",
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PASSNIC_"))}
    env.update(PASSNIC_HOME=str(home), COLUMNS="200", NO_COLOR="1")
    return env


def test_passnic_demo_proves_the_five_checks_and_leaves_nothing(
    lab_prefix: str, tmp_path: Path
) -> None:
    # another lab's namespace (a `passnic up` beside the demo): the demo leaves it alone
    other = netns.add_netns(f"{lab_prefix}compute-0")
    started = time.perf_counter()
    proc = subprocess.run(
        [str(PASSNIC), "demo"],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=480,  # QEMU guests under TCG on a loaded machine
    )
    elapsed = time.perf_counter() - started
    out = proc.stdout
    assert proc.returncode == 0, f"{out}\n{proc.stderr}"
    for check in CHECKS:
        assert f"✔ {check}" in out, out
    assert "✘" not in out and "✗" not in out
    assert re.search(r"5/5 checks passed in [0-9.]+s; lab leftovers: 0", out), out
    assert "Live migration of server vm1 is not possible" in out
    assert "bypassing the access-port isolation" in out  # the trunk warning, printed
    assert netns.leftovers(lab_prefix) == [f"namespace {other}"]
    print(f"\npassnic demo: {elapsed:.1f}s")


def test_lab_clean_removes_a_crashed_lab_and_no_other(lab_prefix: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # the crashed lab recorded its prefix; a second lab (another instance) runs beside it
    crashed = lab_prefix
    other = f"{lab_prefix[:-1]}x"  # a prefix of its own, sharing none of crashed's names
    (home / "lab").mkdir(parents=True)
    (home / "lab" / "lab.json").write_text(json.dumps({"prefix": crashed}))
    netns.add_netns(f"{crashed}compute-9")
    netns.add_veth(f"{crashed}stray0", f"{crashed}stray1")
    netns.add_netns(f"{other}compute-9")
    try:
        proc = subprocess.run(
            [str(PASSNIC), "lab-clean"], env=_env(home), capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert f"removed namespace {crashed}compute-9" in proc.stdout
        assert f"removed interface {crashed}stray0" in proc.stdout
        assert netns.leftovers(crashed) == []
        assert netns.namespaces(other) == [f"{other}compute-9"]  # untouched
    finally:
        netns.del_netns(f"{other}compute-9")
    proc = subprocess.run(
        [str(PASSNIC), "lab-clean"], env=_env(home), capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip() == "nothing to remove"
