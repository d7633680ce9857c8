from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from passnic.fabric.drivers.netmiko_driver import NetmikoSwitch
from passnic.fabric.drivers.parsers import parse_cisco_ios
from passnic.fabric.portconfig import PortConfig
from passnic.lab import netns
from passnic.lab.ios_cli import IosCli, IosState, start_ssh_cli
from passnic.lab.switch import LabSwitch, SwitchPort

PORTS = ("GigabitEthernet1/0/1", "GigabitEthernet1/0/2", "GigabitEthernet1/0/48")


class _StubSwitch(LabSwitch):
    """A LabSwitch with no sockets: enough for the interpreter."""

    def __init__(self) -> None:
        super().__init__(
            "tor-1",
            [
                SwitchPort(PORTS[0], "x1", PortConfig.quarantine(999)),
                SwitchPort(PORTS[1], "x2", PortConfig.access(10, "compute-1 enp0s4")),
                SwitchPort(PORTS[2], "x3", PortConfig.trunk(99, [10, 20])),
            ],
        )


def test_running_config_round_trips_through_the_cisco_ios_parser() -> None:
    switch = _StubSwitch()
    cli = IosCli(IosState(switch))
    assert cli.prompt() == "tor-1#"
    parsed = parse_cisco_ios(cli.handle("show running-config"))
    assert parsed == dict(switch.soft.ports)
    assert cli.handle("conf t").startswith("Enter configuration commands")
    for line in [
        "int Gi1/0/1",
        "switchport mode trunk",
        "switchport trunk native vlan 30",
        "switchport trunk allowed vlan 10,30",
        "switchport trunk allowed vlan add 40",
        "no shut",
    ]:
        assert cli.handle(line) == "", line
    assert cli.prompt() == "tor-1(config-if)#"
    assert switch.port_config(PORTS[0]) == PortConfig.trunk(30, [10, 30, 40])
    assert cli.handle("switchport access vlan 5000").endswith(
        "% Invalid input detected at '^' marker."
    )
    assert cli.handle("bogus").endswith("marker.")
    cli.handle("end")
    assert cli.prompt() == "tor-1#"
    assert parse_cisco_ios(cli.handle("sh run")) == dict(switch.soft.ports)
    assert "Gi1/0/2" in cli.handle("show vlan brief")
    assert "disabled" not in cli.handle("show interfaces status").splitlines()[1]
    assert "InPkts" in cli.handle("show interfaces counters")
    assert "Mac Address" in cli.handle("show mac address-table")
    assert cli.handle("write memory").endswith("[OK]")
    assert parse_cisco_ios(cli.handle("show startup-config")) == dict(switch.soft.ports)


def test_unprivileged_login_needs_enable() -> None:
    cli = IosCli(IosState(_StubSwitch()), privileged=False, enable_secret="s3cret")
    assert cli.prompt() == "tor-1>"
    assert "Invalid" in cli.handle("configure terminal")
    cli.handle("enable")
    assert cli.prompt() == "Password: "
    cli.handle("s3cret")
    assert cli.prompt() == "tor-1#"


@pytest.fixture
def ssh_switch(lab_prefix: str, tmp_path: Path) -> Iterator[tuple[LabSwitch, int]]:
    netns.add_netns(f"{lab_prefix}sw")
    ports = []
    for i, name in enumerate(PORTS):
        netns.add_veth(
            f"{lab_prefix}sp{i}",
            f"{lab_prefix}hp{i}",
            ns=f"{lab_prefix}sw",
            peer_ns=f"{lab_prefix}sw",
        )
        netns.set_up(f"{lab_prefix}sp{i}", ns=f"{lab_prefix}sw")
        ports.append(SwitchPort(name, f"{lab_prefix}sp{i}", PortConfig.quarantine(999)))
    with LabSwitch("tor-1", ports, netns=f"{lab_prefix}sw") as switch:
        cli = start_ssh_cli(switch, tmp_path, {"netops": "lab-password"})
        yield switch, cli.port


def _netmiko(port: int) -> NetmikoSwitch:
    params = {
        "host": "127.0.0.1",
        "port": port,
        "username": "netops",
        "password": "lab-password",
        "fast_cli": True,
        "conn_timeout": 5,
        "auth_timeout": 5,
        "banner_timeout": 5,
        "global_delay_factor": 0.1,
    }
    return NetmikoSwitch("cisco_ios", params, name="tor-1")


def test_netmiko_cisco_ios_driver_configures_and_audits_the_lab_switch(
    ssh_switch: tuple[LabSwitch, int],
) -> None:
    switch, port = ssh_switch
    driver = _netmiko(port)
    desired = {
        PORTS[0]: PortConfig.access(10, "compute-0 enp0s4 (passnic)"),
        PORTS[2]: PortConfig.trunk(99, [10, 20]),
    }
    start = time.perf_counter()
    driver.apply(desired)
    elapsed = time.perf_counter() - start
    assert switch.port_config(PORTS[0]) == desired[PORTS[0]]
    assert switch.port_config(PORTS[2]) == desired[PORTS[2]]
    assert driver.read(PORTS) == {**dict(switch.soft.ports)}
    driver.save()
    print(f"netmiko apply (read, configure, read back) took {elapsed:.2f}s")
    # a change made behind Passnic's back is what the audit reads
    switch.configure(PORTS[0], PortConfig.access(20))
    assert driver.read([PORTS[0]])[PORTS[0]].access_vlan == 20
