"""The drivers: NetmikoSwitch over a fake session, the netmiko adapter, the test switch."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from netmiko.ssh_dispatcher import CLASS_MAPPER

from passnic.fabric.drivers import SwitchDriver, SwitchError
from passnic.fabric.drivers.netmiko_driver import (
    VENDORS,
    Connection,
    NetmikoConnection,
    NetmikoSwitch,
    VendorCommands,
)
from passnic.fabric.drivers.soft import SoftSwitchDriver
from passnic.fabric.frames import SoftSwitch
from passnic.fabric.portconfig import PortConfig
from tests.fabric.fabric_fakes import Device, FakeConnection, SonicDevice, cisco_ios

SECRET_HOST = "192.0.2.10"


@dataclass
class Sessions:
    """A connection factory handing out fake sessions over one device, and remembering them."""

    device: Device
    opened: list[FakeConnection] = field(default_factory=list)

    def __call__(self, table: VendorCommands, params: Mapping[str, Any]) -> Connection:
        assert params == {"host": SECRET_HOST, "username": "netops", "password": "pw"}
        session = FakeConnection(self.device)
        self.opened.append(session)
        return session


def switch(vendor: str, device: Device) -> tuple[NetmikoSwitch, Sessions]:
    sessions = Sessions(device)
    params = {"host": SECRET_HOST, "username": "netops", "password": "pw"}
    return NetmikoSwitch(vendor, params, name="tor-1", connect=sessions), sessions


def test_apply_batches_many_ports_into_one_session_and_checks_the_result() -> None:
    device = cisco_ios("Gi1/0/1", "Gi1/0/2", "Gi1/0/3")
    driver, sessions = switch("cisco_ios", device)
    driver.apply(
        {
            "Gi1/0/2": PortConfig.quarantine(),
            "Gi1/0/1": PortConfig.access(10),
            "Gi1/0/3": PortConfig.access(1),  # already so (IOS default): nothing sent
        }
    )
    [session] = sessions.opened
    assert session.closed
    assert session.sent == [
        ("command", "show running-config"),
        (
            "config",
            [
                "interface Gi1/0/1",
                "switchport mode access",
                "switchport access vlan 10",
                "no shutdown",
                "exit",
                "interface Gi1/0/2",
                "shutdown",
                "exit",
            ],
        ),
        ("command", "show running-config"),  # the read-back
    ]
    assert driver.read(["Gi1/0/1", "Gi1/0/2", "Gi1/0/9"]) == {
        "Gi1/0/1": PortConfig.access(10),
        "Gi1/0/2": PortConfig.quarantine(1),
    }


def test_apply_sends_nothing_when_the_ports_already_match() -> None:
    driver, sessions = switch("cisco_ios", cisco_ios("Gi1/0/1"))
    driver.apply({"Gi1/0/1": PortConfig.access(10)})
    driver.apply({"Gi1/0/1": PortConfig.access(10)})
    assert sessions.opened[1].sent == [("command", "show running-config")]
    driver.apply({})
    assert len(sessions.opened) == 2  # no ports, no login


def test_incremental_vendor_gets_commands_against_what_it_has() -> None:
    device = SonicDevice.with_ports("Ethernet12")
    driver, sessions = switch("sonic", device)
    driver.apply({"Ethernet12": PortConfig.access(20)})
    driver.apply({"Ethernet12": PortConfig.access(10)})
    assert sessions.opened[1].sent[1] == (
        "config",
        [
            "config vlan member del 20 Ethernet12",
            "config vlan member add -u 10 Ethernet12",
            "config interface startup Ethernet12",  # admin state is idempotent: always sent
        ],
    )
    assert driver.read(["Ethernet12"]) == {"Ethernet12": PortConfig.access(10)}


@pytest.mark.parametrize(
    ("vendor", "device", "sent"),
    [
        ("cisco_ios", cisco_ios(), [("command", "write memory")]),
        ("sonic", SonicDevice.with_ports(), [("config", ["config save -y"])]),
    ],
)
def test_save(vendor: str, device: Device, sent: list[tuple[str, object]]) -> None:
    driver, sessions = switch(vendor, device)
    driver.save()
    assert sessions.opened[0].sent == sent
    assert getattr(device, "saved")  # noqa: B009 - both models record the saved config


def test_junos_save_needs_no_session() -> None:
    driver, sessions = switch("juniper_junos", cisco_ios())
    driver.save()
    assert sessions.opened == []


def test_a_refused_command_is_an_operator_error() -> None:
    driver, sessions = switch("cisco_ios", cisco_ios("Gi1/0/1"))
    with pytest.raises(SwitchError) as caught:
        driver.apply({"Gi1/0/9": PortConfig.access(10)})
    assert caught.value.message == (
        "switch tor-1 refused the port configuration: % Invalid input detected at '^' marker."
    )
    assert caught.value.status == 503
    assert sessions.opened[0].closed


def test_sonic_refusal() -> None:
    device = SonicDevice.with_ports("Ethernet12")
    driver, _ = switch("sonic", device)
    with pytest.raises(SwitchError, match="refused the port configuration: Error: Vlan77 doesn't"):
        driver.apply({"Ethernet12": PortConfig.access(77)})


def test_a_change_the_switch_ignores_is_caught_by_the_read_back() -> None:
    device = cisco_ios("Gi1/0/1")
    device.ignore = frozenset({"switchport access vlan 10"})
    driver, _ = switch("cisco_ios", device)
    with pytest.raises(SwitchError) as caught:
        driver.apply({"Gi1/0/1": PortConfig.access(10)})
    assert caught.value.message == (
        "switch tor-1 accepted the change but port Gi1/0/1: wrong VLAN: access VLAN 1, expected 10"
    )


def test_connection_failures_do_not_leak_the_address() -> None:
    def refuse(table: VendorCommands, params: Mapping[str, Any]) -> Connection:
        raise TimeoutError(f"TCP connection to device failed. Device: {params['host']}:22")

    driver = NetmikoSwitch("arista_eos", {"host": SECRET_HOST}, name="leaf-1", connect=refuse)
    with pytest.raises(SwitchError) as caught:
        driver.read(["Ethernet1"])
    assert caught.value.message == "could not connect to switch leaf-1: TimeoutError"
    assert SECRET_HOST not in str(caught.value)


def test_real_netmiko_to_a_closed_port_is_a_clean_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = {"host": "127.0.0.1", "port": port, "username": "u", "password": "p"}
    driver = NetmikoSwitch("cisco_ios", params | {"conn_timeout": 2}, name="tor-1")
    with pytest.raises(SwitchError) as caught:
        driver.read(["Gi1/0/1"])
    assert caught.value.message == "could not connect to switch tor-1: NetmikoTimeoutException"


def test_every_device_type_is_one_netmiko_knows() -> None:
    assert {t.device_type for t in VENDORS.values()} <= set(CLASS_MAPPER)


def test_a_dropped_session_is_reported_and_closed() -> None:
    class Dropping(FakeConnection):
        def send_command(self, command: str) -> str:
            raise EOFError("Socket is closed")

    session = Dropping(cisco_ios())
    driver = NetmikoSwitch("cisco_ios", {}, name="tor-1", connect=lambda t, p: session)
    with pytest.raises(SwitchError, match="lost the session with switch tor-1: Socket is closed"):
        driver.read(["Gi1/0/1"])
    assert session.closed


def test_unreadable_output_is_reported() -> None:
    class Garbled(FakeConnection):
        def send_command(self, command: str) -> str:
            return "Please wait..."

    driver = NetmikoSwitch(
        "sonic", {}, name="tor-3", connect=lambda t, p: Garbled(SonicDevice.with_ports())
    )
    with pytest.raises(SwitchError, match="switch tor-3: unreadable configuration"):
        driver.read(["Ethernet0"])


# ---- the netmiko adapter -----------------------------------------------------------------


@dataclass
class RawNetmiko:
    """Stands in for a netmiko BaseConnection: records calls and their keyword arguments."""

    commit_error: str | None = None
    calls: list[tuple[str, object, dict[str, Any]]] = field(default_factory=list)

    def send_command(self, command: str, **options: Any) -> str:
        self.calls.append(("send_command", command, options))
        return "output"

    def send_config_set(self, commands: list[str], **options: Any) -> str:
        self.calls.append(("send_config_set", commands, options))
        return "\n".join(commands)

    def commit(self, **options: Any) -> str:
        self.calls.append(("commit", None, options))
        if self.commit_error:
            raise ValueError(self.commit_error)
        return "commit complete\nExiting configuration mode"

    def disconnect(self) -> None:
        self.calls.append(("disconnect", None, {}))


def test_junos_uses_a_private_candidate_and_commits() -> None:
    raw = RawNetmiko()
    conn = NetmikoConnection(raw, VENDORS["juniper_junos"], read_timeout=30)
    output = conn.send_config_set(["set interfaces ge-0/0/1 disable"])
    assert raw.calls == [
        (
            "send_config_set",
            ["set interfaces ge-0/0/1 disable"],
            {
                "exit_config_mode": False,
                "read_timeout": 30,
                "cmd_verify": True,
                "config_mode_command": "configure private",
            },
        ),
        ("commit", None, {"and_quit": True, "read_timeout": 30}),
    ]
    assert output.endswith("commit complete\nExiting configuration mode")


def test_a_failed_junos_commit_is_a_refusal() -> None:
    raw = RawNetmiko(commit_error="Commit failed with the following errors:\n\nVLAN 77 missing")
    conn = NetmikoConnection(raw, VENDORS["juniper_junos"])
    driver = NetmikoSwitch("juniper_junos", {}, name="ex-1", connect=lambda t, p: conn)
    with pytest.raises(SwitchError, match="ex-1 refused the port configuration: error: commit"):
        driver._check(conn.send_config_set(["set x"]), "the port configuration")


def test_sonic_skips_echo_checks_and_other_vendors_use_netmiko_defaults() -> None:
    raw = RawNetmiko()
    NetmikoConnection(raw, VENDORS["sonic"]).send_config_set(["config save -y"])
    NetmikoConnection(raw, VENDORS["cisco_ios"]).send_command("show running-config")
    NetmikoConnection(raw, VENDORS["cisco_ios"]).disconnect()
    assert raw.calls == [
        ("send_config_set", ["config save -y"], {"read_timeout": 60.0, "cmd_verify": False}),
        ("send_command", "show running-config", {"read_timeout": 60.0}),
        ("disconnect", None, {}),
    ]


def test_device_types() -> None:
    assert {v: t.device_type for v, t in VENDORS.items()} == {
        "cisco_ios": "cisco_ios",
        "arista_eos": "arista_eos",
        "dell_os10": "dell_os10",
        "juniper_junos": "juniper_junos",
        "sonic": "linux",  # SONiC's Linux shell, with its click `config` commands
    }


# ---- the test switch -----------------------------------------------------------------------


def soft_driver() -> tuple[SoftSwitchDriver, SoftSwitch]:
    soft = SoftSwitch({"p1": PortConfig.quarantine(), "p2": PortConfig.quarantine()})
    return SoftSwitchDriver(soft, name="soft-1"), soft


def test_lab_driver_configures_the_soft_switch() -> None:
    driver, soft = soft_driver()
    driver.apply({"p1": PortConfig.access(10), "p2": PortConfig.trunk(99, [10])})
    assert soft.ports["p1"] == PortConfig.access(10)
    assert driver.read(["p1", "p2", "p9"]) == {
        "p1": PortConfig.access(10),
        "p2": PortConfig.trunk(99, [10]),
    }
    driver.apply({"p1": PortConfig.access(10)})
    assert driver.applied == 1  # the second apply changed nothing
    assert driver.saved["p1"] == PortConfig.quarantine()
    driver.save()
    assert driver.saved["p1"] == PortConfig.access(10)


def test_lab_driver_refuses_when_told_to_and_changes_nothing() -> None:
    driver, soft = soft_driver()
    driver.fail_next_apply("% Bad VLAN list - character #1 is a non-numeric character.")
    with pytest.raises(SwitchError) as caught:
        driver.apply({"p1": PortConfig.access(10)})
    assert caught.value.message == (
        "switch soft-1 refused the port configuration: "
        "% Bad VLAN list - character #1 is a non-numeric character."
    )
    assert soft.ports["p1"] == PortConfig.quarantine()
    driver.apply({"p1": PortConfig.access(10)})  # the refusal was for one apply only
    assert soft.ports["p1"] == PortConfig.access(10)


def test_lab_driver_refuses_unknown_ports_as_a_whole() -> None:
    driver, soft = soft_driver()
    with pytest.raises(SwitchError, match="% Invalid interface p9"):
        driver.apply({"p1": PortConfig.access(10), "p9": PortConfig.access(10)})
    assert soft.ports["p1"] == PortConfig.quarantine()


def test_both_drivers_satisfy_the_interface() -> None:
    drivers: list[SwitchDriver] = [soft_driver()[0], switch("cisco_ios", cisco_ios())[0]]
    assert len(drivers) == 2
