"""Parsers on recorded outputs, and the round trip: commands -> switch config -> parse."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from passnic.fabric.drivers.netmiko_driver import VENDORS, commands_for, show_commands
from passnic.fabric.drivers.parsers import (
    parse_arista_eos,
    parse_cisco_ios,
    parse_dell_os10,
    parse_juniper_junos,
    parse_sonic,
)
from passnic.fabric.portconfig import ALL_VLANS, PortConfig, diff
from tests.fabric.fabric_fakes import make_device

SAMPLES = Path(__file__).parent / "samples"
NIC0 = "compute-0 enp0s3 (passnic)"
NIC1 = "compute-1 enp0s3 (passnic)"
ROUTED = PortConfig("access", True, None, None, frozenset())


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_cisco_ios_sample() -> None:
    ports = parse_cisco_ios(sample("cisco_ios_show_running-config.txt"))
    assert ports["GigabitEthernet1/0/1"] == PortConfig.access(10, NIC0)
    assert ports["GigabitEthernet1/0/2"] == PortConfig.quarantine(999, NIC1)
    assert ports["GigabitEthernet1/0/3"] == PortConfig.trunk(99, [10, 20])
    # What IOS leaves unprinted is its default: access VLAN 1, trunk native 1 allowing all.
    assert ports["GigabitEthernet1/0/4"] == PortConfig.access(1)
    assert ports["GigabitEthernet1/0/5"] == PortConfig.trunk(1, ALL_VLANS)
    # A native VLAN the allowed list leaves out carries nothing.
    assert ports["GigabitEthernet1/0/6"] == PortConfig.trunk(None, [10, 20])
    # Long allowed lists continue on "switchport trunk allowed vlan add" lines.
    uplink = ports["GigabitEthernet1/0/48"]
    assert uplink.allowed_vlans == set(range(1, 11)) | set(range(20, 171, 10)) | {999}
    assert ports["TenGigabitEthernet1/1/1"] == ROUTED


def test_arista_eos_sample() -> None:
    ports = parse_arista_eos(sample("arista_eos_show_running-config.txt"))
    assert ports["Ethernet1"] == PortConfig.access(10, NIC0)  # EOS hides the default mode
    assert ports["Ethernet2"] == PortConfig.quarantine(999, NIC1)
    assert ports["Ethernet3"] == PortConfig.trunk(99, [10, 20])
    assert ports["Ethernet4"] == PortConfig.access(1)
    assert ports["Ethernet49/1"] == PortConfig("access", True, None, None, frozenset(), "uplink")


def test_dell_os10_sample() -> None:
    ports = parse_dell_os10(sample("dell_os10_show_running-configuration.txt"))
    assert ports["ethernet1/1/1"] == PortConfig.access(10, NIC0)  # quotes stripped
    assert ports["ethernet1/1/2"] == PortConfig.quarantine(999, NIC1)
    # In trunk mode OS10's access VLAN is the native one; its allowed list is the tagged ones.
    assert ports["ethernet1/1/3"] == PortConfig.trunk(99, [10, 20])
    assert ports["ethernet1/1/4"] == PortConfig.access(1)
    assert ports["ethernet1/1/5"] == PortConfig.trunk(None, [10])
    assert ports["ethernet1/1/54"].access_vlan is None


def test_juniper_junos_sample() -> None:
    ports = parse_juniper_junos(
        sample("juniper_junos_show_configuration_interfaces_display_set.txt")
        + "\n"
        + sample("juniper_junos_show_configuration_vlans_display_set.txt")
    )
    assert ports["ge-0/0/1"] == PortConfig.access(10, NIC0)
    assert ports["ge-0/0/2"] == PortConfig.quarantine(999, NIC1)  # member named "quarantine"
    assert ports["ge-0/0/3"] == PortConfig.trunk(99, [10, 20])  # ids and names mixed
    assert ports["ge-0/0/4"] == ROUTED  # switching, but in no VLAN
    assert ports["ge-0/0/5"] == PortConfig.trunk(None, [100, 101, 102])
    assert ports["xe-0/1/0"] == PortConfig("access", True, None, None, frozenset(), "uplink")


def test_junos_member_names_without_a_vlan_id_are_left_out() -> None:
    text = (
        "set interfaces ge-0/0/1 unit 0 family ethernet-switching interface-mode trunk\n"
        "set interfaces ge-0/0/1 unit 0 family ethernet-switching vlan members 10\n"
        "set interfaces ge-0/0/1 unit 0 family ethernet-switching vlan members ghost\n"
    )
    assert parse_juniper_junos(text)["ge-0/0/1"] == PortConfig.trunk(None, [10])


def test_sonic_sample() -> None:
    ports = parse_sonic(sample("sonic_show_runningconfiguration_all.json"))
    assert ports["Ethernet0"] == PortConfig.access(10, NIC0)
    assert ports["Ethernet4"] == PortConfig.quarantine(999, NIC1)
    assert ports["Ethernet8"] == PortConfig.trunk(99, [10, 20])
    assert ports["Ethernet12"] == PortConfig.quarantine()  # no admin_status: SONiC's down
    assert ports["Ethernet124"].access_vlan is None


def test_sonic_output_with_a_banner_before_the_json() -> None:
    text = 'Running configuration:\n{"PORT": {"Ethernet0": {"admin_status": "up"}}}'
    assert parse_sonic(text) == {"Ethernet0": ROUTED}


# ---- round trip ------------------------------------------------------------------------------

PORT = {
    "cisco_ios": "GigabitEthernet1/0/7",
    "arista_eos": "Ethernet7",
    "dell_os10": "ethernet1/1/7",
    "juniper_junos": "ge-0/0/7",
    "sonic": "Ethernet28",
}
STATES = [
    PortConfig.access(10),
    PortConfig.access(20, "vm-7 nic"),
    PortConfig.quarantine(),
    PortConfig.quarantine(999),
    PortConfig.trunk(99, [10, 20]),
    PortConfig.trunk(None, [30, 40]),
    PortConfig.trunk(10, [20]),
]


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_commands_parse_back_to_the_desired_port(vendor: str) -> None:
    """From every state to every other: the commands, run by a model of the OS, leave a
    configuration that parses back to the desired port (incremental OSes get the actual one)."""
    table = VENDORS[vendor]
    port = PORT[vendor]
    for before, after in itertools.product(STATES, repeat=2):
        device = make_device(vendor, port)
        for desired in (before, after):
            running = "\n".join(device.show(c) for c in show_commands(vendor))
            actual = table.parse(running)[port]
            output = device.configure(commands_for(vendor, port, desired, actual))
            assert "rror" not in output and "Invalid" not in output, (before, after, output)
            running = "\n".join(device.show(c) for c in show_commands(vendor))
            parsed = table.parse(running)[port]
            assert diff(desired, parsed) == [], (before, after, parsed)
            if desired.mode == "trunk" or desired.access_vlan is not None:
                assert parsed.mode == desired.mode
                assert parsed.untagged_vlan == desired.untagged_vlan
                assert parsed.tagged_vlans == desired.tagged_vlans


def test_output_with_a_single_interface() -> None:
    """`show running-config interface X` prints one block (TTP then returns a dict)."""
    text = "Building configuration...\n\ninterface Gi1/0/1\n switchport access vlan 10\n!\nend\n"
    assert parse_cisco_ios(text) == {"Gi1/0/1": PortConfig.access(10)}
    assert parse_cisco_ios("") == {}
