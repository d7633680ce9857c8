"""The exact command lines each switch OS gets for each port operation."""

from __future__ import annotations

import pytest

from passnic.fabric.drivers.netmiko_driver import (
    VENDORS,
    commands_for,
    save_commands,
    show_commands,
)
from passnic.fabric.portconfig import PortConfig

ACCESS = PortConfig.access(10)
QUARANTINE = PortConfig.quarantine()
QUARANTINE_VLAN = PortConfig.quarantine(999)
TRUNK = PortConfig.trunk(99, [10, 20, 30])

JUNOS_ES = "unit 0 family ethernet-switching"

EXPECTED: dict[str, dict[str, tuple[str, PortConfig, list[str]]]] = {
    "cisco_ios": {
        "access": (
            "GigabitEthernet1/0/1",
            ACCESS,
            [
                "interface GigabitEthernet1/0/1",
                "switchport mode access",
                "switchport access vlan 10",
                "no shutdown",
                "exit",
            ],
        ),
        "quarantine": ("Gi1/0/1", QUARANTINE, ["interface Gi1/0/1", "shutdown", "exit"]),
        "quarantine-vlan": (
            "Gi1/0/1",
            QUARANTINE_VLAN,
            [
                "interface Gi1/0/1",
                "shutdown",
                "switchport mode access",
                "switchport access vlan 999",
                "exit",
            ],
        ),
        "trunk": (
            "Gi1/0/1",
            TRUNK,
            [
                "interface Gi1/0/1",
                "switchport mode trunk",
                "switchport trunk native vlan 99",
                "switchport trunk allowed vlan 10,20,30,99",
                "no shutdown",
                "exit",
            ],
        ),
    },
    "arista_eos": {
        "access": (
            "Ethernet3",
            ACCESS,
            [
                "interface Ethernet3",
                "switchport mode access",
                "switchport access vlan 10",
                "no shutdown",
                "exit",
            ],
        ),
        "quarantine": ("Ethernet3", QUARANTINE, ["interface Ethernet3", "shutdown", "exit"]),
        "quarantine-vlan": (
            "Ethernet3",
            QUARANTINE_VLAN,
            [
                "interface Ethernet3",
                "shutdown",
                "switchport mode access",
                "switchport access vlan 999",
                "exit",
            ],
        ),
        "trunk": (
            "Ethernet3",
            TRUNK,
            [
                "interface Ethernet3",
                "switchport mode trunk",
                "switchport trunk native vlan 99",
                "switchport trunk allowed vlan 10,20,30,99",
                "no shutdown",
                "exit",
            ],
        ),
    },
    "dell_os10": {
        "access": (
            "ethernet1/1/3",
            ACCESS,
            [
                "interface ethernet1/1/3",
                "switchport mode access",
                "switchport access vlan 10",
                "no shutdown",
                "exit",
            ],
        ),
        "quarantine": (
            "ethernet1/1/3",
            QUARANTINE,
            ["interface ethernet1/1/3", "shutdown", "exit"],
        ),
        "quarantine-vlan": (
            "ethernet1/1/3",
            QUARANTINE_VLAN,
            [
                "interface ethernet1/1/3",
                "shutdown",
                "switchport mode access",
                "switchport access vlan 999",
                "exit",
            ],
        ),
        "trunk": (
            "ethernet1/1/3",
            TRUNK,
            [
                "interface ethernet1/1/3",
                "switchport mode trunk",
                "switchport access vlan 99",  # OS10's native VLAN
                "switchport trunk allowed vlan 10,20,30",  # tagged VLANs only
                "no shutdown",
                "exit",
            ],
        ),
    },
    "juniper_junos": {
        "access": (
            "ge-0/0/1",
            ACCESS,
            [
                f"delete interfaces ge-0/0/1 {JUNOS_ES} vlan members",
                "delete interfaces ge-0/0/1 native-vlan-id",
                f"set interfaces ge-0/0/1 {JUNOS_ES} interface-mode access",
                f"set interfaces ge-0/0/1 {JUNOS_ES} vlan members 10",
                "delete interfaces ge-0/0/1 disable",
            ],
        ),
        "quarantine": ("ge-0/0/1", QUARANTINE, ["set interfaces ge-0/0/1 disable"]),
        "quarantine-vlan": (
            "ge-0/0/1",
            QUARANTINE_VLAN,
            [
                "set interfaces ge-0/0/1 disable",
                f"delete interfaces ge-0/0/1 {JUNOS_ES} vlan members",
                "delete interfaces ge-0/0/1 native-vlan-id",
                f"set interfaces ge-0/0/1 {JUNOS_ES} interface-mode access",
                f"set interfaces ge-0/0/1 {JUNOS_ES} vlan members 999",
            ],
        ),
        "trunk": (
            "ge-0/0/1",
            TRUNK,
            [
                f"delete interfaces ge-0/0/1 {JUNOS_ES} vlan members",
                f"set interfaces ge-0/0/1 {JUNOS_ES} interface-mode trunk",
                "set interfaces ge-0/0/1 native-vlan-id 99",
                f"set interfaces ge-0/0/1 {JUNOS_ES} vlan members 10",
                f"set interfaces ge-0/0/1 {JUNOS_ES} vlan members 20",
                f"set interfaces ge-0/0/1 {JUNOS_ES} vlan members 30",
                f"set interfaces ge-0/0/1 {JUNOS_ES} vlan members 99",
                "delete interfaces ge-0/0/1 disable",
            ],
        ),
    },
    "sonic": {
        "access": (
            "Ethernet12",
            ACCESS,
            ["config vlan member add -u 10 Ethernet12", "config interface startup Ethernet12"],
        ),
        "quarantine": ("Ethernet12", QUARANTINE, ["config interface shutdown Ethernet12"]),
        "quarantine-vlan": (
            "Ethernet12",
            QUARANTINE_VLAN,
            ["config interface shutdown Ethernet12", "config vlan member add -u 999 Ethernet12"],
        ),
        "trunk": (
            "Ethernet12",
            TRUNK,
            [
                "config vlan member add -u 99 Ethernet12",
                "config vlan member add 10 Ethernet12",
                "config vlan member add 20 Ethernet12",
                "config vlan member add 30 Ethernet12",
                "config interface startup Ethernet12",
            ],
        ),
    },
}

CASES = [(vendor, op) for vendor, ops in EXPECTED.items() for op in ops]


def test_every_vendor_and_operation_is_covered() -> None:
    assert set(EXPECTED) == set(VENDORS)
    assert len(CASES) == 4 * len(VENDORS)


@pytest.mark.parametrize(("vendor", "operation"), CASES)
def test_exact_commands(vendor: str, operation: str) -> None:
    port, desired, expected = EXPECTED[vendor][operation]
    assert commands_for(vendor, port, desired) == expected


def test_exact_save_commands() -> None:
    assert {vendor: save_commands(vendor) for vendor in VENDORS} == {
        "cisco_ios": ["write memory"],
        "arista_eos": ["write memory"],
        "dell_os10": ["copy running-configuration startup-configuration"],
        "juniper_junos": [],  # the commit that applies a change also persists it
        "sonic": ["config save -y"],
    }


def test_exact_show_commands() -> None:
    assert {vendor: show_commands(vendor) for vendor in VENDORS} == {
        "cisco_ios": ["show running-config"],
        "arista_eos": ["show running-config"],
        "dell_os10": ["show running-configuration"],
        "juniper_junos": [
            "show configuration interfaces | display set",
            "show configuration vlans | display set",
        ],
        "sonic": ["show runningconfiguration all"],
    }


def test_descriptions() -> None:
    desired = PortConfig.access(10, "compute-0 enp0s3 (passnic)")
    assert commands_for("cisco_ios", "Gi1/0/1", desired)[3] == (
        "description compute-0 enp0s3 (passnic)"
    )
    assert commands_for("dell_os10", "ethernet1/1/1", desired)[3] == (
        'description "compute-0 enp0s3 (passnic)"'
    )
    assert commands_for("juniper_junos", "ge-0/0/1", desired)[4] == (
        'set interfaces ge-0/0/1 description "compute-0 enp0s3 (passnic)"'
    )
    assert commands_for("sonic", "Ethernet0", desired)[1] == (
        'config interface description Ethernet0 "compute-0 enp0s3 (passnic)"'
    )


def test_trunk_without_native_vlan() -> None:
    no_native = PortConfig.trunk(None, [10])
    assert commands_for("cisco_ios", "Gi1/0/1", no_native)[2] == "no switchport trunk native vlan"
    assert commands_for("dell_os10", "ethernet1/1/1", no_native)[2] == "no switchport access vlan"
    assert "delete interfaces ge-0/0/1 native-vlan-id" in commands_for(
        "juniper_junos", "ge-0/0/1", no_native
    )
    empty = PortConfig.trunk(None, [])
    assert commands_for("cisco_ios", "Gi1/0/1", empty)[3] == "switchport trunk allowed vlan none"


# ---- incremental OSes: the commands depend on what the port has ----------------------------


def test_sonic_moves_a_port_between_vlans_by_leaving_first() -> None:
    assert commands_for("sonic", "Ethernet12", ACCESS, PortConfig.access(20)) == [
        "config vlan member del 20 Ethernet12",
        "config vlan member add -u 10 Ethernet12",
        "config interface startup Ethernet12",
    ]


def test_sonic_does_not_re_add_existing_memberships() -> None:
    assert commands_for("sonic", "Ethernet12", ACCESS, PortConfig.quarantine(10)) == [
        "config interface startup Ethernet12"
    ]
    assert commands_for("sonic", "Ethernet12", TRUNK, PortConfig.trunk(99, [10, 40])) == [
        "config vlan member del 40 Ethernet12",
        "config vlan member add 20 Ethernet12",
        "config vlan member add 30 Ethernet12",
        "config interface startup Ethernet12",
    ]


def test_sonic_trunk_to_quarantine_vlan() -> None:
    assert commands_for("sonic", "Ethernet12", QUARANTINE_VLAN, TRUNK) == [
        "config interface shutdown Ethernet12",
        "config vlan member del 10 Ethernet12",
        "config vlan member del 20 Ethernet12",
        "config vlan member del 30 Ethernet12",
        "config vlan member del 99 Ethernet12",
        "config vlan member add -u 999 Ethernet12",
    ]


def test_os10_removes_stale_trunk_vlans_before_changing_mode() -> None:
    assert commands_for("dell_os10", "ethernet1/1/3", ACCESS, TRUNK) == [
        "interface ethernet1/1/3",
        "no switchport trunk allowed vlan 10,20,30",
        "switchport mode access",
        "switchport access vlan 10",
        "no shutdown",
        "exit",
    ]
    assert commands_for("dell_os10", "ethernet1/1/3", TRUNK, PortConfig.trunk(1, [10, 40])) == [
        "interface ethernet1/1/3",
        "no switchport trunk allowed vlan 40",
        "switchport mode trunk",
        "switchport access vlan 99",
        "switchport trunk allowed vlan 20,30",
        "no shutdown",
        "exit",
    ]


def test_replacing_oses_ignore_the_actual_config() -> None:
    for vendor, port in (("cisco_ios", "Gi1/0/1"), ("juniper_junos", "ge-0/0/1")):
        assert commands_for(vendor, port, ACCESS, TRUNK) == commands_for(vendor, port, ACCESS)


# ---- what must never reach a CLI -----------------------------------------------------------


@pytest.mark.parametrize("port", ["Gi1/0/1\nreload", "Eth 1", "ge-0/0/1;", "", "1/1"])
def test_unsafe_port_names_are_refused(port: str) -> None:
    with pytest.raises(ValueError, match="unsafe switch port name"):
        commands_for("cisco_ios", port, ACCESS)


@pytest.mark.parametrize("text", ['vm "1"', "vm\nreload", "a | b", "x" * 81])
def test_unsafe_descriptions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unsafe port description"):
        commands_for("juniper_junos", "ge-0/0/1", PortConfig.access(10, text))


def test_unknown_vendor() -> None:
    with pytest.raises(ValueError, match="unknown switch OS 'cisco_nxos' \\(known: arista_eos"):
        commands_for("cisco_nxos", "Ethernet1/1", ACCESS)
