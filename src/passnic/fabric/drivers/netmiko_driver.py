"""A netmiko driver for real switches, driven by one declarative command table per switch OS.

The vendor knowledge is the tables (in the manner of OpenStack's networking-generic-switch,
written afresh); `commands_for` is the one place that turns a desired `PortConfig` into command
lines, and `NetmikoSwitch` the one place that talks SSH. Vendors differ in two ways the tables
capture:

- Port-centric OSes whose commands *replace* a setting (IOS, EOS, Junos after deleting the VLAN
  members) get the whole desired state every time; the commands do not depend on the switch.
- OSes whose commands *add* to what is there (OS10's trunk allowed list, every SONiC VLAN
  membership) are `incremental`: the commands are the difference from the actual configuration,
  which `NetmikoSwitch.apply` reads first in the same session.

Ordering keeps ports safe: a port being quarantined is shut down before its VLAN changes, and a
port being brought up is opened only after its VLANs are right.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from passnic.fabric.drivers import SwitchError
from passnic.fabric.drivers.parsers import (
    Parser,
    parse_arista_eos,
    parse_cisco_ios,
    parse_dell_os10,
    parse_juniper_junos,
    parse_sonic,
)
from passnic.fabric.portconfig import PortConfig, diff, format_vlan_list

Templates = tuple[str, ...]


@dataclass(frozen=True)
class VendorCommands:
    """How one switch OS spells each port operation.

    Templates take `{port}` and `{description}`; VLAN templates take `{vlan}` (the line is
    repeated once per VLAN, ascending) or `{vlans}` (one line with a VLAN list, "none" if empty).
    """

    device_type: str  # netmiko's name for the OS
    parse: Parser  # running configuration (the `show` outputs, joined) -> ports
    show: Templates  # commands whose output `parse` reads
    save: Templates  # persist the running configuration; empty when `apply` already does
    error_patterns: Templates  # output lines that mean the switch refused a command
    enter: Templates  # enter the interface context
    exit: Templates  # leave it
    shutdown: Templates
    no_shutdown: Templates
    description: Templates
    access_mode: Templates
    access_vlan: Templates
    trunk_mode: Templates
    native_vlan: Templates
    no_native_vlan: Templates
    allow_vlans: Templates  # the VLANs a trunk carries tagged (plus native, per native_in_allowed)
    disallow_vlans: Templates = ()  # incremental OSes: stop carrying tagged VLANs
    leave_untagged: Templates = ()  # incremental OSes: leave the old untagged VLAN first
    incremental: bool = False
    native_in_allowed: bool = True  # the allowed list names the native VLAN too
    config_mode_command: str | None = None  # instead of netmiko's default for the OS
    commit: bool = False  # transactional: commit after the configuration lines
    cmd_verify: bool = True  # netmiko waits for each command's echo
    save_in_config_mode: bool = False  # the save command needs the configuration (root) mode


_IOS_ERRORS: Templates = (
    r"^% ?(?:Invalid|Incomplete|Ambiguous|Bad|Unrecognized)",
    r"^Command rejected",
)

VENDORS: dict[str, VendorCommands] = {
    "cisco_ios": VendorCommands(
        device_type="cisco_ios",
        parse=parse_cisco_ios,
        show=("show running-config",),
        save=("write memory",),
        error_patterns=_IOS_ERRORS,
        enter=("interface {port}",),
        exit=("exit",),
        shutdown=("shutdown",),
        no_shutdown=("no shutdown",),
        description=("description {description}",),
        access_mode=("switchport mode access",),
        access_vlan=("switchport access vlan {vlan}",),
        trunk_mode=("switchport mode trunk",),
        native_vlan=("switchport trunk native vlan {vlan}",),
        no_native_vlan=("no switchport trunk native vlan",),
        allow_vlans=("switchport trunk allowed vlan {vlans}",),
    ),
    "arista_eos": VendorCommands(
        device_type="arista_eos",
        parse=parse_arista_eos,
        show=("show running-config",),
        save=("write memory",),
        error_patterns=(r"^% ?(?:Invalid|Incomplete|Ambiguous|Error|Unavailable)",),
        enter=("interface {port}",),
        exit=("exit",),
        shutdown=("shutdown",),
        no_shutdown=("no shutdown",),
        description=("description {description}",),
        access_mode=("switchport mode access",),
        access_vlan=("switchport access vlan {vlan}",),
        trunk_mode=("switchport mode trunk",),
        native_vlan=("switchport trunk native vlan {vlan}",),
        no_native_vlan=("no switchport trunk native vlan",),
        allow_vlans=("switchport trunk allowed vlan {vlans}",),
    ),
    "dell_os10": VendorCommands(
        device_type="dell_os10",
        parse=parse_dell_os10,
        show=("show running-configuration",),
        save=("copy running-configuration startup-configuration",),
        error_patterns=(r"^% ?(?:Error|Invalid|Incomplete)",),
        enter=("interface {port}",),
        exit=("exit",),
        shutdown=("shutdown",),
        no_shutdown=("no shutdown",),
        description=('description "{description}"',),
        access_mode=("switchport mode access",),
        access_vlan=("switchport access vlan {vlan}",),
        trunk_mode=("switchport mode trunk",),
        # OS10 has no trunk native command: in trunk mode the access VLAN is the untagged one.
        native_vlan=("switchport access vlan {vlan}",),
        no_native_vlan=("no switchport access vlan",),
        allow_vlans=("switchport trunk allowed vlan {vlans}",),
        disallow_vlans=("no switchport trunk allowed vlan {vlans}",),
        incremental=True,
        native_in_allowed=False,
    ),
    "juniper_junos": VendorCommands(
        device_type="juniper_junos",
        parse=parse_juniper_junos,
        show=(
            "show configuration interfaces | display set",
            "show configuration vlans | display set",
        ),
        save=(),  # a Junos commit is already persistent
        error_patterns=(r"^\s*(?:error:|syntax error|unknown command)",),
        enter=(),
        exit=(),
        shutdown=("set interfaces {port} disable",),
        no_shutdown=("delete interfaces {port} disable",),
        description=('set interfaces {port} description "{description}"',),
        # ELS syntax. VLAN members are written as IDs (a VLAN with that vlan-id must exist);
        # deleting the members first makes the following `set` lines replace, not add.
        access_mode=(
            "delete interfaces {port} unit 0 family ethernet-switching vlan members",
            "delete interfaces {port} native-vlan-id",
            "set interfaces {port} unit 0 family ethernet-switching interface-mode access",
        ),
        access_vlan=("set interfaces {port} unit 0 family ethernet-switching vlan members {vlan}",),
        trunk_mode=(
            "delete interfaces {port} unit 0 family ethernet-switching vlan members",
            "set interfaces {port} unit 0 family ethernet-switching interface-mode trunk",
        ),
        native_vlan=("set interfaces {port} native-vlan-id {vlan}",),
        no_native_vlan=("delete interfaces {port} native-vlan-id",),
        allow_vlans=("set interfaces {port} unit 0 family ethernet-switching vlan members {vlan}",),
        # A private candidate: our uncommitted lines never mix with another session's, and are
        # discarded if the commit fails.
        config_mode_command="configure private",
        commit=True,
    ),
    "sonic": VendorCommands(
        # Community SONiC through its Linux shell; netmiko's configuration mode there is a root
        # shell (`sudo -s`, with the `secret`), so the `config` commands need no sudo.
        device_type="linux",
        parse=parse_sonic,
        show=("show runningconfiguration all",),
        save=("config save -y",),
        error_patterns=(r"^(?:Error|Usage):", r"^No such command", r"^Interface name is invalid"),
        enter=(),
        exit=(),
        shutdown=("config interface shutdown {port}",),
        no_shutdown=("config interface startup {port}",),
        description=('config interface description {port} "{description}"',),
        access_mode=(),
        access_vlan=("config vlan member add -u {vlan} {port}",),
        trunk_mode=(),
        native_vlan=("config vlan member add -u {vlan} {port}",),
        no_native_vlan=(),
        allow_vlans=("config vlan member add {vlan} {port}",),
        disallow_vlans=("config vlan member del {vlan} {port}",),
        leave_untagged=("config vlan member del {vlan} {port}",),
        incremental=True,
        native_in_allowed=False,
        cmd_verify=False,
        save_in_config_mode=True,
    ),
}

# Names and descriptions go into CLI lines: anything that could end a line, open a quote or
# start a pipe would let data become commands.
_SAFE_PORT = re.compile(r"[A-Za-z][A-Za-z0-9/:._-]{0,63}")
_SAFE_DESCRIPTION = re.compile(r"[A-Za-z0-9 _.,:;@#()/+=-]{0,80}")


def vendor_commands(vendor: str) -> VendorCommands:
    try:
        return VENDORS[vendor]
    except KeyError:
        known = ", ".join(sorted(VENDORS))
        raise ValueError(f"unknown switch OS {vendor!r} (known: {known})") from None


def _render(
    templates: Templates, values: Mapping[str, str], vlans: Iterable[int] = ()
) -> list[str]:
    ordered = sorted(vlans)
    lines: list[str] = []
    for template in templates:
        if "{vlan}" in template:
            lines.extend(template.format(vlan=vlan, **values) for vlan in ordered)
        else:
            lines.append(template.format(vlans=format_vlan_list(ordered), **values))
    return lines


def commands_for(
    vendor: str, port: str, desired: PortConfig, actual: PortConfig | None = None
) -> list[str]:
    """The configuration lines that make `port` match `desired`.

    `actual` matters only for incremental OSes, and only when known: without it they get the
    lines that build `desired` on a port in no VLAN.
    """
    table = vendor_commands(vendor)
    if not _SAFE_PORT.fullmatch(port):
        raise ValueError(f"unsafe switch port name {port!r}")
    if not _SAFE_DESCRIPTION.fullmatch(desired.description):
        raise ValueError(f"unsafe port description {desired.description!r}")
    values = {"port": port, "description": desired.description}
    base = actual if table.incremental else None
    lines = _render(table.enter, values)
    if not desired.admin_up:
        lines += _render(table.shutdown, values)
    lines += _vlan_commands(table, desired, base, values)
    if desired.description:
        lines += _render(table.description, values)
    if desired.admin_up:
        lines += _render(table.no_shutdown, values)
    return lines + _render(table.exit, values)


def _vlan_commands(
    table: VendorCommands, desired: PortConfig, base: PortConfig | None, values: dict[str, str]
) -> list[str]:
    """Leave the VLANs that must go before joining new ones: some OSes refuse a second untagged
    VLAN, or a mode change while tagged VLANs remain."""
    if desired.mode == "access" and desired.access_vlan is None:
        return []  # a quarantine that only shuts the port leaves its VLANs alone
    untagged = desired.untagged_vlan
    old_untagged = base.untagged_vlan if base else None
    old_tagged = base.tagged_vlans if base else frozenset()
    lines: list[str] = []
    if old_tagged - desired.tagged_vlans:
        lines += _render(table.disallow_vlans, values, old_tagged - desired.tagged_vlans)
    if old_untagged is not None and old_untagged != untagged:
        lines += _render(table.leave_untagged, values, {old_untagged})
    if desired.mode == "access":
        lines += _render(table.access_mode, values)
        if untagged is not None and untagged != old_untagged:
            lines += _render(table.access_vlan, values, {untagged})
        return lines
    lines += _render(table.trunk_mode, values)
    if untagged is not None and untagged != old_untagged:
        lines += _render(table.native_vlan, values, {untagged})
    elif untagged is None and (base is None or old_untagged is not None):
        lines += _render(table.no_native_vlan, values)
    listed = desired.allowed_vlans if table.native_in_allowed else desired.tagged_vlans
    if base is None:
        lines += _render(table.allow_vlans, values, listed)
    elif listed - old_tagged:
        lines += _render(table.allow_vlans, values, listed - old_tagged)
    return lines


def save_commands(vendor: str) -> list[str]:
    return list(vendor_commands(vendor).save)


def show_commands(vendor: str) -> list[str]:
    return list(vendor_commands(vendor).show)


# ---- the SSH session --------------------------------------------------------------------


class Connection(Protocol):
    """The calls the driver makes on an open switch session (a fake one in tests)."""

    def send_command(self, command: str) -> str: ...

    def send_config_set(self, commands: Sequence[str]) -> str:
        """Send lines in configuration mode (and commit them, on transactional OSes)."""

    def disconnect(self) -> None: ...


class NetmikoConnection:
    """A netmiko session that follows the vendor's configuration-mode and commit rules."""

    def __init__(self, session: Any, table: VendorCommands, read_timeout: float = 60.0) -> None:
        self._session = session
        self._table = table
        self._read_timeout = read_timeout

    def send_command(self, command: str) -> str:
        return str(self._session.send_command(command, read_timeout=self._read_timeout))

    def send_config_set(self, commands: Sequence[str]) -> str:
        table = self._table
        options: dict[str, Any] = {
            "read_timeout": self._read_timeout,
            "cmd_verify": table.cmd_verify,
        }
        if table.config_mode_command is not None:
            options["config_mode_command"] = table.config_mode_command
        if not table.commit:
            return str(self._session.send_config_set(list(commands), **options))
        output = str(
            self._session.send_config_set(list(commands), exit_config_mode=False, **options)
        )
        try:
            committed = self._session.commit(and_quit=True, read_timeout=self._read_timeout)
        except ValueError as exc:  # netmiko's way of saying the commit failed
            return f"{output}\nerror: commit failed: {exc}"
        return f"{output}\n{committed}"

    def disconnect(self) -> None:
        self._session.disconnect()


def open_netmiko(table: VendorCommands, params: Mapping[str, Any]) -> Connection:
    """Log in with netmiko (imported here: only real switches need it)."""
    from netmiko import ConnectHandler

    return NetmikoConnection(ConnectHandler(device_type=table.device_type, **params), table)


ConnectionFactory = Callable[[VendorCommands, Mapping[str, Any]], Connection]


class NetmikoSwitch:
    """One switch reached over SSH. `params` are netmiko's (host, username, password, secret,
    port, ...); `name` is what operators call the switch and the only identity errors show."""

    def __init__(
        self,
        vendor: str,
        params: Mapping[str, Any],
        *,
        name: str,
        connect: ConnectionFactory = open_netmiko,
    ) -> None:
        self.vendor = vendor
        self.table = vendor_commands(vendor)
        self.name = name
        self._params = dict(params)
        self._connect = connect
        self._errors = [re.compile(p, re.MULTILINE) for p in self.table.error_patterns]

    def apply(
        self, ports: Mapping[str, PortConfig], *, save: bool = False
    ) -> dict[str, PortConfig]:
        """Converge the ports in one session: read, send only what differs, read back, save.

        The read-back check catches a switch that accepts a line but does something else
        (a silently ignored command, a parse or template mistake) at the time of the change.
        """
        if not ports:
            return {}
        with self._session() as conn:
            actual = self._read(conn)
            before = {name: actual[name] for name in ports if name in actual}
            lines: list[str] = []
            for name in sorted(ports):
                current = actual.get(name)
                if current is None or diff(ports[name], current):
                    lines += commands_for(self.vendor, name, ports[name], current)
            if not lines:
                return before
            self._check(conn.send_config_set(lines), "the port configuration")
            after = self._read(conn)
            self._verify(ports, after)
            if save:
                self._save(conn)
        return before

    def _verify(self, ports: Mapping[str, PortConfig], after: Mapping[str, PortConfig]) -> None:
        for name in sorted(ports):
            drifts = diff(ports[name], after.get(name))
            if drifts:
                found = "; ".join(d.message for d in drifts)
                raise SwitchError(
                    f"switch {self.name} accepted the change but port {name}: {found}"
                )

    def read(self, port_names: Iterable[str]) -> dict[str, PortConfig]:
        with self._session() as conn:
            actual = self._read(conn)
        return {name: actual[name] for name in port_names if name in actual}

    def save(self) -> None:
        if not save_commands(self.vendor):
            return
        with self._session() as conn:
            self._save(conn)

    def _save(self, conn: Connection) -> None:
        commands = save_commands(self.vendor)
        if not commands:
            return
        if self.table.save_in_config_mode:
            output = conn.send_config_set(commands)
        else:
            output = "\n".join(conn.send_command(c) for c in commands)
        self._check(output, "to save its configuration")

    def _read(self, conn: Connection) -> dict[str, PortConfig]:
        output = "\n".join(conn.send_command(c) for c in self.table.show)
        self._check(output, "to show its configuration")
        try:
            return self.table.parse(output)
        except (ValueError, KeyError) as exc:
            raise SwitchError(f"switch {self.name}: unreadable configuration ({exc})") from exc

    def _check(self, output: str, what: str) -> None:
        for pattern in self._errors:
            match = pattern.search(output)
            if match:
                line = output[match.start() :].splitlines()[0].strip()
                raise SwitchError(f"switch {self.name} refused {what}: {line}")

    @contextmanager
    def _session(self) -> Iterator[Connection]:
        try:
            conn = self._connect(self.table, self._params)
        except Exception as exc:
            # netmiko's messages name the address and user: keep them out of operator errors.
            raise SwitchError(
                f"could not connect to switch {self.name}: {type(exc).__name__}"
            ) from exc
        try:
            yield conn
        except (OSError, EOFError, TimeoutError) as exc:
            raise SwitchError(f"lost the session with switch {self.name}: {exc}") from exc
        finally:
            conn.disconnect()
