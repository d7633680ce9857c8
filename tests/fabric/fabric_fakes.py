"""Small models of each switch OS's port configuration, and a fake netmiko session over them.

A model takes the command lines a driver sends and prints the running configuration the way the
OS does (what it hides by default, what replaces and what adds), so tests can check that the
commands `commands_for` writes parse back to the port that was asked for. They encode the same
vendor knowledge as the driver's tables: they check consistency, not the vendors themselves.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from passnic.fabric.portconfig import format_vlan_list, parse_vlan_list


class Device(Protocol):
    def show(self, command: str) -> str: ...

    def configure(self, lines: Sequence[str]) -> str: ...


# ---- IOS, EOS, OS10 ----------------------------------------------------------------------

_IOS_KEYS = (
    "description",
    "no shutdown",
    "shutdown",
    "switchport trunk native vlan",
    "switchport trunk allowed vlan",
    "switchport mode",
    "switchport access vlan",
)
_EXCLUSIVE = {"shutdown": "no shutdown", "no shutdown": "shutdown"}


@dataclass
class IosStyleDevice:
    indent: str
    hidden: frozenset[str]  # lines the OS does not print (its defaults)
    default: tuple[str, ...]  # lines of a fresh port
    additive_allowed: bool  # OS10: "switchport trunk allowed vlan X" adds X
    show_command: str
    save_command: str
    ports: dict[str, dict[str, str]] = field(default_factory=dict)
    saved: str = ""
    ignore: frozenset[str] = frozenset()  # lines accepted but without effect, to fake a bug

    def add_ports(self, names: Iterable[str]) -> IosStyleDevice:
        for name in names:
            self.ports[name] = {_key(line): line for line in self.default}
        return self

    def show(self, command: str) -> str:
        if command == self.save_command:
            self.saved = self.running()
            return "Building configuration...\n[OK]"
        assert command == self.show_command, command
        return self.running()

    def running(self) -> str:
        blocks = ["!\nhostname fake\n!"]
        for name, lines in self.ports.items():
            body = [self.indent + lines[k] for k in _IOS_KEYS if k in lines]
            body = [b for b in body if b.strip() not in self.hidden]
            blocks.append("\n".join([f"interface {name}", *body, "!"]))
        return "\n".join([*blocks, "end"])

    def configure(self, lines: Sequence[str]) -> str:
        out: list[str] = []
        port: dict[str, str] | None = None
        for line in lines:
            out.append(f"fake(config)#{line}")
            if line.startswith("interface "):
                port = self.ports.get(line.split(" ", 1)[1])
                if port is None:
                    out.append("% Invalid input detected at '^' marker.")
                continue
            if line == "exit" or line in self.ignore:
                continue
            if port is None:  # not an interface line, in global configuration mode
                out.append("% Invalid input detected at '^' marker.")
                continue
            if line.startswith("no ") and line not in _EXCLUSIVE:
                self._remove(port, line[3:])
                continue
            key = _key(line)
            if key == "switchport trunk allowed vlan" and self.additive_allowed:
                old = parse_vlan_list(port.get(key, f"{key} none")[len(key) :])
                new = old | parse_vlan_list(line[len(key) :])
                line = f"{key} {format_vlan_list(new)}"
            port.pop(_EXCLUSIVE.get(key, ""), None)
            port[key] = line
        return "\n".join(out)

    def _remove(self, port: dict[str, str], what: str) -> None:
        key = _key(what)
        if key == "switchport trunk allowed vlan" and what != key and key in port:
            old = parse_vlan_list(port[key][len(key) :])
            left = old - parse_vlan_list(what[len(key) :])
            port[key] = f"{key} {format_vlan_list(left)}"
            if not left:
                del port[key]
        else:
            port.pop(key, None)


def _key(line: str) -> str:
    return next((k for k in sorted(_IOS_KEYS, key=len, reverse=True) if line.startswith(k)), line)


def cisco_ios(*ports: str) -> IosStyleDevice:
    return IosStyleDevice(
        " ", frozenset({"no shutdown"}), (), False, "show running-config", "write memory"
    ).add_ports(ports)


def arista_eos(*ports: str) -> IosStyleDevice:
    return IosStyleDevice(
        "   ",
        frozenset({"no shutdown", "switchport mode access"}),
        (),
        False,
        "show running-config",
        "write memory",
    ).add_ports(ports)


def dell_os10(*ports: str) -> IosStyleDevice:
    return IosStyleDevice(
        " ",
        frozenset({"switchport mode access"}),
        ("no shutdown", "switchport access vlan 1"),
        True,
        "show running-configuration",
        "copy running-configuration startup-configuration",
    ).add_ports(ports)


# ---- Junos ---------------------------------------------------------------------------------

_JUNOS_SINGLE = ("description", "native-vlan-id", "interface-mode")


@dataclass
class JunosDevice:
    """The committed configuration as `display set` statements (without "set ")."""

    statements: list[str]
    vlans: dict[str, int]

    @classmethod
    def with_ports(cls, *ports: str) -> JunosDevice:
        vlans = {f"v{vid}": vid for vid in (1, 10, 20, 30, 40, 99, 999)}
        return cls([f"interfaces {p} unit 0 family ethernet-switching" for p in ports], vlans)

    def show(self, command: str) -> str:
        if command == "show configuration interfaces | display set":
            return "\n".join(f"set {s}" for s in self.statements) + "\n\n{master:0}"
        assert command == "show configuration vlans | display set", command
        return "\n".join(f"set vlans {n} vlan-id {i}" for n, i in self.vlans.items())

    def configure(self, lines: Sequence[str]) -> str:
        out: list[str] = ["Entering configuration mode", "", "[edit]"]
        for line in lines:
            verb, _, what = line.partition(" ")
            out.append(f"user@fake# {line}")
            if verb == "delete":
                kept = [s for s in self.statements if not (s == what or s.startswith(what + " "))]
                if len(kept) == len(self.statements):
                    out.append("warning: statement not found")
                self.statements = kept
            elif verb == "set":
                words = what.split(" ")
                single = next((w for w in _JUNOS_SINGLE if w in words), None)
                if single is not None:
                    head = " ".join(words[: words.index(single) + 1])
                    self.statements = [s for s in self.statements if not s.startswith(head + " ")]
                if what not in self.statements:
                    self.statements.append(what)
            else:
                out.append("syntax error, expecting <command>.")
        out.append("commit complete")
        return "\n".join(out)


# ---- SONiC ---------------------------------------------------------------------------------


@dataclass
class SonicDevice:
    """CONFIG_DB's PORT, VLAN and VLAN_MEMBER tables, changed by the `config` CLI."""

    port: dict[str, dict[str, str]]
    vlan: dict[str, dict[str, str]]
    member: dict[str, dict[str, str]] = field(default_factory=dict)
    saved: str = ""

    @classmethod
    def with_ports(cls, *ports: str) -> SonicDevice:
        vlans = {f"Vlan{vid}": {"vlanid": str(vid)} for vid in (10, 20, 30, 40, 99, 999)}
        return cls({p: {"admin_status": "up", "mtu": "9100"} for p in ports}, vlans)

    def show(self, command: str) -> str:
        assert command == "show runningconfiguration all", command
        return self.running()

    def running(self) -> str:
        return json.dumps({"PORT": self.port, "VLAN": self.vlan, "VLAN_MEMBER": self.member})

    def configure(self, lines: Sequence[str]) -> str:
        return "\n".join(filter(None, (self._run(shlex.split(line)) for line in lines)))

    def _run(self, argv: list[str]) -> str:
        match argv:
            case ["config", "save", "-y"]:
                self.saved = self.running()
            case ["config", "interface", ("shutdown" | "startup") as verb, port]:
                self.port[port]["admin_status"] = "down" if verb == "shutdown" else "up"
            case ["config", "interface", "description", port, text]:
                self.port[port]["description"] = text
            case ["config", "vlan", "member", "add", *flags, vid, port]:
                key = f"Vlan{vid}|{port}"
                if f"Vlan{vid}" not in self.vlan:
                    return f"Error: Vlan{vid} doesn't exist"
                if key in self.member:
                    return f"Error: {port} is already a member of Vlan{vid}"
                untagged = flags == ["-u"]
                if untagged and any(
                    k.endswith(f"|{port}") and v["tagging_mode"] == "untagged"
                    for k, v in self.member.items()
                ):
                    return f"Error: {port} is already untagged member!"
                self.member[key] = {"tagging_mode": "untagged" if untagged else "tagged"}
            case ["config", "vlan", "member", "del", vid, port]:
                if self.member.pop(f"Vlan{vid}|{port}", None) is None:
                    return f"Error: {port} is not a member of Vlan{vid}"
            case _:
                return "Error: No such command"
        return ""


def make_device(vendor: str, *ports: str) -> Device:
    factories: dict[str, Callable[..., Device]] = {
        "cisco_ios": cisco_ios,
        "arista_eos": arista_eos,
        "dell_os10": dell_os10,
        "juniper_junos": JunosDevice.with_ports,
        "sonic": SonicDevice.with_ports,
    }
    return factories[vendor](*ports)


# ---- the session ---------------------------------------------------------------------------


@dataclass
class FakeConnection:
    """Records what the driver sends, answers from a device model."""

    device: Device
    sent: list[tuple[str, object]] = field(default_factory=list)
    closed: bool = False

    def send_command(self, command: str) -> str:
        self.sent.append(("command", command))
        return self.device.show(command)

    def send_config_set(self, commands: Sequence[str]) -> str:
        self.sent.append(("config", list(commands)))
        return self.device.configure(commands)

    def disconnect(self) -> None:
        self.closed = True
