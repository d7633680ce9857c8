"""The decisions an operator looks for are logged as structured lines: where placement put a
server (or why nowhere) and what was pushed to the access switch."""

from __future__ import annotations

import logging

import pytest

from tests.compute.conftest import Scene


def lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_placement_and_switch_pushes_are_logged(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="passnic")
    port = scene.port("port0")
    server = scene.boot("vm1", networks=[{"port": port["id"]}])
    nic = scene.nics["compute-0"]
    (chosen,) = lines(caplog, "passnic.placement")
    assert chosen.startswith(
        f"host_chosen server=vm1 server_id={server['id']} host=compute-0 numa_node=0 "
        f"nics={nic['pciaddr']} request_id=req-"
    ), chosen
    pushes = [line for line in lines(caplog, "passnic.fabric.service") if "switch_push " in line]
    assert any(
        "switch=tor-1 port=GigabitEthernet1/0/1 host=compute-0 nic=enp0s3 status=bound vlan=10 "
        f"server_id={server['id']}" in line
        for line in pushes
    ), pushes

    caplog.clear()
    scene.boot("vm2", networks=[{"port": scene.port("port1")["id"]}])
    scene.boot("vm3", networks=[{"port": scene.port("port2")["id"]}])
    (refused,) = [
        r for r in caplog.records if r.name == "passnic.placement" and "vm3" in r.getMessage()
    ]
    assert refused.levelno == logging.WARNING
    said = refused.getMessage()
    assert said.startswith("no_valid_host server=vm3 server_id="), said
    assert 'reason="No valid host: 2 hosts have a pci-passthrough NIC' in said
