"""An IOS-like CLI over SSH for the lab switch, good enough for netmiko's ``cisco_ios``.

Passnic's netmiko driver configures and audits the lab switch exactly as a real Catalyst: it
logs in with a password, runs ``terminal width 511`` and ``terminal length 0``, reads ``show
running-config`` (printed in the format `passnic.fabric.drivers.parsers.parse_cisco_ios`
reads), sends ``configure terminal`` / ``interface X`` / ``switchport ...`` lines and saves with
``write memory``. Every change lands in the switch's `SoftSwitch` at once, so the next frame is
forwarded by the new configuration.

`IosCli` is the command interpreter (no I/O, tested directly); `start_ssh_cli` serves it with
asyncssh on the lab switch's event loop. IOS keeps settings of the mode a port is not in (the
access VLAN of a trunk...), so the interpreter keeps an `IosPort` per port and derives the
`PortConfig` from it; a change made around the CLI (`LabSwitch.configure`) resets that port.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from passnic.fabric.portconfig import ALL_VLANS, PortConfig, format_vlan_list, parse_vlan_list

if TYPE_CHECKING:
    from passnic.lab.switch import LabSwitch

INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."

_VOCABULARY = [
    "configure",
    "terminal",
    "show",
    "running-config",
    "startup-config",
    "vlan",
    "brief",
    "interfaces",
    "interface",
    "status",
    "counters",
    "switchport",
    "mode",
    "access",
    "trunk",
    "native",
    "allowed",
    "add",
    "remove",
    "except",
    "all",
    "none",
    "shutdown",
    "description",
    "end",
    "exit",
    "write",
    "memory",
    "length",
    "width",
    "enable",
    "disable",
    "mac",
    "address-table",
    "hostname",
]
_IF_PREFIXES = {
    "gigabitethernet": "GigabitEthernet",
    "gi": "GigabitEthernet",
    "g": "GigabitEthernet",
    "tengigabitethernet": "TenGigabitEthernet",
    "te": "TenGigabitEthernet",
    "fastethernet": "FastEthernet",
    "fa": "FastEthernet",
}


@dataclass(frozen=True)
class IosPort:
    """A port as IOS stores it: both modes' settings, whichever mode is active."""

    mode: str = "access"
    access_vlan: int = 1
    native_vlan: int = 1
    allowed: frozenset[int] = ALL_VLANS
    shutdown: bool = False
    description: str = ""

    def port_config(self) -> PortConfig:
        if self.mode == "access":
            return PortConfig(
                "access", not self.shutdown, self.access_vlan, None, frozenset(), self.description
            )
        native = self.native_vlan if self.native_vlan in self.allowed else None
        return PortConfig("trunk", not self.shutdown, None, native, self.allowed, self.description)

    @classmethod
    def from_config(cls, config: PortConfig) -> IosPort:
        if config.mode == "access":
            return cls(
                "access",
                config.access_vlan or 1,
                1,
                ALL_VLANS,
                not config.admin_up,
                config.description,
            )
        return cls(
            "trunk",
            1,
            config.native_vlan or 1,
            config.allowed_vlans,
            not config.admin_up,
            config.description,
        )

    def running_config(self, name: str) -> list[str]:
        lines = [f"interface {name}"]
        if self.description:
            lines.append(f" description {self.description}")
        if self.access_vlan != 1:
            lines.append(f" switchport access vlan {self.access_vlan}")
        if self.native_vlan != 1:
            lines.append(f" switchport trunk native vlan {self.native_vlan}")
        if self.allowed != ALL_VLANS:
            lines.append(f" switchport trunk allowed vlan {format_vlan_list(self.allowed)}")
        lines.append(f" switchport mode {self.mode}")
        if self.shutdown:
            lines.append(" shutdown")
        lines.append("!")
        return lines


def short_name(name: str) -> str:
    for long, short in (
        ("TenGigabitEthernet", "Te"),
        ("GigabitEthernet", "Gi"),
        ("FastEthernet", "Fa"),
    ):
        if name.startswith(long):
            return short + name[len(long) :]
    return name


class IosState:
    """What the switch's CLI sessions share: the IOS view of each port, the VLAN database and
    the startup configuration. Lives on the switch's loop; writes go to the `LabSwitch`."""

    def __init__(self, switch: LabSwitch, vlan_names: Mapping[int, str] | None = None) -> None:
        self.switch = switch
        self.hostname = switch.hostname
        self.ports: dict[str, IosPort] = {
            name: IosPort.from_config(switch.port_config(name)) for name in switch.port_specs
        }
        self.vlans: dict[int, str] = {1: "default", **(vlan_names or {})}
        for port in self.ports.values():
            for vlan in {port.access_vlan, port.native_vlan}:
                self.vlans.setdefault(vlan, f"VLAN{vlan:04d}")
        self.startup: str | None = None
        self.saves = 0

    def port(self, name: str) -> IosPort:
        """The IOS view of `name`, reset when the switch was configured around the CLI."""
        actual = self.switch.port_config(name)
        current = self.ports[name]
        if current.port_config() != actual:
            current = self.ports[name] = IosPort.from_config(actual)
        return current

    def set_port(self, name: str, port: IosPort) -> None:
        self.ports[name] = port
        config = port.port_config()
        for vlan in {port.access_vlan, port.native_vlan}:
            self.vlans.setdefault(vlan, f"VLAN{vlan:04d}")
        if self.switch.port_config(name) != config:
            self.switch.configure(name, config)

    def running_config(self) -> str:
        body = [f"hostname {self.hostname}", "!"]
        for vlan, vname in sorted(self.vlans.items()):
            if vlan != 1:
                body += [f"vlan {vlan}", f" name {vname}", "!"]
        for name in self.ports:
            body += self.port(name).running_config(name)
        body += ["line vty 0 4", " login local", " transport input ssh", "!", "end"]
        text = "\n".join(["!", "version 17.9", "!", *body]) + "\n"
        return f"Building configuration...\n\nCurrent configuration : {len(text)} bytes\n{text}"


_ALIASES = {
    "no": "no",
    "do": "do",
    "t": "terminal",
    "sh": "show",
    "int": "interface",
    "run": "running-config",
    "wr": "write",
    "mem": "memory",
    "shut": "shutdown",
    "sw": "switchport",
}


def _expand(words: list[str]) -> list[str]:
    """IOS-style abbreviations: a unique prefix of a keyword stands for the keyword."""
    out = []
    for word in words:
        low = word.lower()
        if low in _ALIASES:
            out.append(_ALIASES[low])
            continue
        if low in _VOCABULARY:
            out.append(low)
            continue
        matches = [k for k in _VOCABULARY if k.startswith(low)] if low.isalpha() else []
        out.append(matches[0] if len(matches) == 1 else word)
    return out


def canonical_interface(text: str) -> str | None:
    low = text.lower()
    for prefix in sorted(_IF_PREFIXES, key=len, reverse=True):
        if low.startswith(prefix):
            rest = text[len(prefix) :].strip()
            if rest and rest[0].isdigit():
                return _IF_PREFIXES[prefix] + rest
    return None


class IosCli:
    """One CLI session: modes, prompts, and the commands netmiko and operators use."""

    def __init__(
        self, state: IosState, privileged: bool = True, enable_secret: str | None = None
    ) -> None:
        self.state = state
        self.mode = "priv" if privileged else "exec"
        self.enable_secret = enable_secret
        self.interface: str | None = None
        self.closed = False
        self.awaiting_password = False

    def prompt(self) -> str:
        host = self.state.hostname
        if self.awaiting_password:
            return "Password: "
        return {
            "exec": f"{host}>",
            "priv": f"{host}#",
            "config": f"{host}(config)#",
            "config-if": f"{host}(config-if)#",
        }[self.mode]

    def handle(self, line: str) -> str:
        """Run one input line; the output to print before the next prompt."""
        if self.awaiting_password:
            self.awaiting_password = False
            secret = self.enable_secret or ""
            if hmac.compare_digest(line.strip().encode(), secret.encode()):
                self.mode = "priv"
                return ""
            return "% Access denied"
        text = line.strip()
        if not text or text.startswith("!"):
            return ""
        raw = text.split()
        words = _expand(raw)
        try:
            return self._dispatch(words, raw)
        except (ValueError, IndexError):
            return f"{' ' * (len(self.prompt()) + len(text))}^\n{INVALID}"

    # ---- dispatch ----

    def _dispatch(self, w: list[str], raw: list[str]) -> str:
        if w[0] == "end" and self.mode in ("config", "config-if"):
            self.mode, self.interface = "priv", None
            return ""
        if w[0] == "exit":
            if self.mode == "config-if":
                self.mode, self.interface = "config", None
            elif self.mode == "config":
                self.mode = "priv"
            else:
                self.closed = True
            return ""
        if w[0] == "do" and self.mode in ("config", "config-if"):
            return self._exec(_expand(raw[1:]), raw[1:])
        if self.mode == "config":
            return self._config(w, raw)
        if self.mode == "config-if":
            return self._config_if(w, raw)
        return self._exec(w, raw)

    def _exec(self, w: list[str], raw: list[str]) -> str:
        if w[0] == "terminal" and len(w) == 3 and w[1] in ("length", "width"):
            int(w[2])
            return ""
        if w[0] == "enable":
            if self.mode == "exec":
                if self.enable_secret:
                    self.awaiting_password = True
                else:
                    self.mode = "priv"
            return ""
        if w[0] == "disable":
            self.mode = "exec"
            return ""
        if w[0] == "show":
            return self._show(w[1:])
        if self.mode == "exec":
            raise ValueError("privileged command")
        if w[:2] == ["configure", "terminal"] or w == ["configure"]:
            self.mode = "config"
            return "Enter configuration commands, one per line.  End with CNTL/Z."
        if w[:2] == ["write", "memory"] or w == ["write"]:
            self.state.startup = self.state.running_config()
            self.state.saves += 1
            return "Building configuration...\n[OK]"
        raise ValueError(w[0])

    def _show(self, w: list[str]) -> str:
        state = self.state
        if w == ["running-config"]:
            if self.mode == "exec":
                raise ValueError("privileged command")
            return state.running_config().rstrip("\n")
        if w == ["startup-config"]:
            return (state.startup or "startup-config is not present").rstrip("\n")
        if w[:2] == ["vlan", "brief"]:
            return self._show_vlan_brief()
        if w[:2] == ["interfaces", "status"]:
            return self._show_interfaces_status()
        if w[:2] == ["interfaces", "counters"]:
            return self._show_counters()
        if w[:2] == ["mac", "address-table"]:
            rows = [
                "          Mac Address Table",
                "-------------------------------------------",
                "",
                "Vlan    Mac Address       Type        Ports",
                "----    -----------       --------    -----",
            ]
            for vlan, mac, port in state.switch.soft.mac_table.entries():
                dotted = mac.replace(":", "")
                dotted = f"{dotted[0:4]}.{dotted[4:8]}.{dotted[8:12]}"
                rows.append(f"{vlan:>4}    {dotted}    DYNAMIC     {short_name(port)}")
            return "\n".join(rows)
        raise ValueError("show")

    def _show_vlan_brief(self) -> str:
        members: dict[int, list[str]] = {}
        for name in self.state.ports:
            port = self.state.port(name)
            if port.mode == "access":
                members.setdefault(port.access_vlan, []).append(short_name(name))
        rows = [
            "VLAN Name                             Status    Ports",
            "---- -------------------------------- --------- -------------------------------",
        ]
        for vlan, vname in sorted(self.state.vlans.items()):
            ports = ", ".join(members.get(vlan, []))
            rows.append(f"{vlan:<4} {vname:<32} active    {ports}".rstrip())
        return "\n".join(rows)

    def _show_interfaces_status(self) -> str:
        rows = ["Port      Name               Status       Vlan       Duplex  Speed Type"]
        for name in self.state.ports:
            port = self.state.port(name)
            status = "disabled" if port.shutdown else "connected"
            vlan = str(port.access_vlan) if port.mode == "access" else "trunk"
            rows.append(
                f"{short_name(name):<9} {port.description[:18]:<18} {status:<12} {vlan:<10} "
                "a-full a-1000 10/100/1000BaseTX"
            )
        return "\n".join(rows)

    def _show_counters(self) -> str:
        rows = ["Port            InPkts    OutPkts   Dropped"]
        for name in self.state.ports:
            c = self.state.switch.counters(name)
            rows.append(f"{short_name(name):<12} {c.rx:>10} {c.tx:>10} {c.dropped:>9}")
        return "\n".join(rows)

    def _config(self, w: list[str], raw: list[str]) -> str:
        if w[0] == "interface":
            name = canonical_interface("".join(raw[1:]))
            if name is None or name not in self.state.ports:
                raise ValueError("no such interface")
            self.mode, self.interface = "config-if", name
            return ""
        if w[0] == "vlan" and len(w) == 2:
            vlan = int(w[1])
            if not 1 <= vlan <= 4094:
                raise ValueError("vlan")
            self.state.vlans.setdefault(vlan, f"VLAN{vlan:04d}")
            return ""
        if w[0] == "hostname" and len(raw) == 2:
            self.state.hostname = raw[1]
            return ""
        raise ValueError(w[0])

    def _config_if(self, w: list[str], raw: list[str]) -> str:
        assert self.interface is not None
        port = self.state.port(self.interface)
        negate = w[0] == "no"
        if negate:
            w, raw = w[1:], raw[1:]
        if not w:
            return INCOMPLETE
        if w == ["shutdown"]:
            port = replace(port, shutdown=not negate)
        elif w[0] == "description":
            port = replace(port, description="" if negate else " ".join(raw[1:]))
        elif w[0] == "switchport":
            port = self._switchport(port, w[1:], negate)
        elif w[0] == "interface":  # IOS lets you jump to another interface
            return self._config(w, raw)
        else:
            raise ValueError(w[0])
        self.state.set_port(self.interface, port)
        return ""

    def _switchport(self, port: IosPort, w: list[str], negate: bool) -> IosPort:
        if w[:1] == ["mode"]:
            if negate:
                return replace(port, mode="access")
            if w[1] not in ("access", "trunk"):
                raise ValueError("mode")
            return replace(port, mode=w[1])
        if w[:2] == ["access", "vlan"]:
            return replace(port, access_vlan=1 if negate else _vlan(w[2]))
        if w[:3] == ["trunk", "native", "vlan"]:
            return replace(port, native_vlan=1 if negate else _vlan(w[3]))
        if w[:3] == ["trunk", "allowed", "vlan"]:
            if negate:
                return replace(port, allowed=ALL_VLANS)
            args = w[3:]
            if not args:
                raise IndexError("vlan list")
            if args[0] == "add":
                return replace(port, allowed=port.allowed | parse_vlan_list(args[1]))
            if args[0] == "remove":
                return replace(port, allowed=port.allowed - parse_vlan_list(args[1]))
            if args[0] == "except":
                return replace(port, allowed=ALL_VLANS - parse_vlan_list(args[1]))
            return replace(port, allowed=parse_vlan_list(" ".join(args)))
        raise ValueError("switchport")


def _vlan(text: str) -> int:
    vlan = int(text)
    if not 1 <= vlan <= 4094:
        raise ValueError(f"VLAN {vlan}")
    return vlan


# ---- SSH ---------------------------------------------------------------------------------


class _Server(asyncssh.SSHServer):
    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = users

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        expected = self._users.get(username)
        return expected is not None and hmac.compare_digest(password.encode(), expected.encode())


def host_key(lab_dir: Path) -> asyncssh.SSHKey:
    """The switch's SSH host key, generated once into the lab directory."""
    path = Path(lab_dir) / "switch_host_key"
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    key.write_private_key(str(path))
    path.chmod(0o600)
    return key


@dataclass
class SshCli:
    """A running SSH CLI: where it listens and the state its sessions share."""

    host: str
    port: int
    state: IosState
    server: asyncssh.SSHAcceptor


def start_ssh_cli(
    switch: LabSwitch,
    lab_dir: Path,
    users: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    privileged: bool = True,
    enable_secret: str | None = None,
    vlan_names: Mapping[int, str] | None = None,
) -> SshCli:
    """Serve the IOS CLI for `switch` on `host:port` (0: any free port) until it stops."""
    key = host_key(lab_dir)

    async def start() -> SshCli:
        state = IosState(switch, vlan_names)

        async def session(process: asyncssh.SSHServerProcess[str]) -> None:
            cli = IosCli(state, privileged, enable_secret)
            if process.command:  # ssh switch "show running-config"
                process.stdout.write(cli.handle(process.command) + "\n")
                process.exit(0)
                return
            process.stdout.write("\n" + cli.prompt())
            while not cli.closed:
                try:
                    line = await process.stdin.readline()
                except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
                    continue
                except (asyncssh.DisconnectError, ConnectionError, BrokenPipeError):
                    break
                if not line:
                    break
                was_password = cli.awaiting_password
                output = cli.handle(line.rstrip("\r\n"))
                set_echo = getattr(process.channel, "set_echo", None)  # the line editor's
                if cli.awaiting_password and set_echo:
                    set_echo(False)
                elif was_password and set_echo:
                    set_echo(True)
                if was_password:
                    process.stdout.write("\n")
                if output:
                    process.stdout.write(output + "\n")
                if not cli.closed:
                    process.stdout.write(cli.prompt())
            process.exit(0)

        server = await asyncssh.create_server(
            lambda: _Server(dict(users)),
            host,
            port,
            server_host_keys=[key],
            process_factory=session,
            encoding="utf-8",
        )
        bound = server.sockets[0].getsockname()[1]

        async def close() -> None:
            server.close()
            await server.wait_closed()

        switch.on_stop(close)
        return SshCli(host, int(bound), state, server)

    cli: SshCli = switch.run_coroutine(start())
    return cli
