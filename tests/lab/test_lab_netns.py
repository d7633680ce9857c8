from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from passnic.lab import netns


def test_names_are_checked() -> None:
    with pytest.raises(ValueError, match="invalid interface name"):
        netns.check_ifname("pn-this-name-is-too-long")
    with pytest.raises(ValueError, match="invalid MAC"):
        netns.check_mac("52:54:00:00:00")
    with pytest.raises(ValueError, match="prefix"):
        netns.cleanup("")
    with pytest.raises(ValueError, match="not one lab's prefix"):
        netns.cleanup(netns.PREFIX)  # every lab's: never


def test_veth_between_namespaces_with_fixed_macs(lab_prefix: str) -> None:
    a, b = netns.add_netns(f"{lab_prefix}a"), netns.add_netns(f"{lab_prefix}b")
    netns.add_veth(
        f"{lab_prefix}va",
        f"{lab_prefix}vb",
        mac="52:54:00:aa:00:01",
        peer_mac="52:54:00:aa:00:02",
        ns=a,
        peer_ns=b,
    )
    assert [(link.name, link.mac) for link in netns.links(a, lab_prefix)] == [
        (f"{lab_prefix}va", "52:54:00:aa:00:01")
    ]
    netns.rename(f"{lab_prefix}vb", "eth0", ns=b)
    netns.set_up("eth0", ns=b)
    netns.set_up(f"{lab_prefix}va", ns=a)
    netns.add_address(f"{lab_prefix}va", "10.99.0.1/24", ns=a)
    netns.add_address("eth0", "10.99.0.2/24", ns=b)
    netns.add_address("eth0", "10.99.0.2/24", ns=b)  # idempotent
    out = netns.netns_exec(
        a, [sys.executable, "-m", "passnic.lab.ping", "-c", "1", "-W", "2", "10.99.0.2"]
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "time=" in out.stdout
    # back to the root namespace and into the other one
    netns.rename("eth0", f"{lab_prefix}vb", ns=b)
    netns.move(f"{lab_prefix}vb", b, None)
    assert netns.link_exists(f"{lab_prefix}vb")
    netns.move(f"{lab_prefix}vb", None, a)
    assert {link.name for link in netns.links(a, lab_prefix)} == {
        f"{lab_prefix}va",
        f"{lab_prefix}vb",
    }


def test_cleanup_removes_namespaces_links_and_processes(lab_prefix: str, tmp_path: Path) -> None:
    netns.add_netns(f"{lab_prefix}c")
    netns.add_veth(f"{lab_prefix}root", f"{lab_prefix}peer")
    proc = subprocess.Popen(["sleep", "60"])
    netns.write_pid(tmp_path, "sleeper", proc.pid)
    removed = netns.cleanup(lab_prefix, tmp_path)
    assert f"namespace {lab_prefix}c" in removed
    assert f"interface {lab_prefix}root" in removed
    assert "process sleeper" in removed
    proc.wait(timeout=5)  # cleanup reaped it already (it was our child)
    assert not Path(f"/proc/{proc.pid}").exists()
    assert netns.leftovers(lab_prefix) == []


def test_lab_up_then_clean_from_another_process(lab_prefix: str, tmp_path: Path) -> None:
    """`python -m passnic.lab up` in the background, `clean` stops it and removes all."""
    lab_dir = tmp_path / "lab"
    up = subprocess.Popen(
        [
            *(sys.executable, "-m", "passnic.lab", "up", "--dir", str(lab_dir)),
            *("--ssh-port", "0", "--prefix", lab_prefix),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if line.startswith("lab is up"):
                break
        assert f"namespace {lab_prefix}compute-1" in netns.leftovers(lab_prefix)
        clean = subprocess.run(
            [sys.executable, "-m", "passnic.lab", "clean", "--dir", str(lab_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "removed process lab" in clean.stdout
        assert up.wait(timeout=10) == 0  # SIGTERM: the lab tore itself down
        assert netns.leftovers(lab_prefix) == []
    finally:
        if up.poll() is None:
            up.kill()
