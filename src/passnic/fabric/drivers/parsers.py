"""Parsers of switch configuration output into `PortConfig`, one per configuration format.

- IOS, EOS and OS10 print indented `interface` blocks: a TTP template fits them (one template,
  indented per vendor, since TTP matches indentation literally); per-vendor defaults for the lines
  a switch does not print are applied afterwards.
- Junos `display set` output is one flat statement per line and needs VLAN names resolved to IDs
  across statements: a small table of regular expressions is simpler than a template.
- SONiC prints its configuration database as JSON: the json module is the parser.

Each parser returns every port it finds; callers pick the ones they manage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ttp import ttp

from passnic.fabric.portconfig import ALL_VLANS, PortConfig, parse_vlan_list

Parser = Callable[[str], dict[str, PortConfig]]

# ---- IOS-style indented blocks (cisco_ios, arista_eos, dell_os10) -------------------------

_IOS_STYLE_TEMPLATE = """
<group name="ports">
interface {{{{ name }}}}
{i}description {{{{ description | re(".+") }}}}
{i}switchport mode {{{{ mode }}}}
{i}switchport access vlan {{{{ access_vlan }}}}
{i}switchport trunk native vlan {{{{ native_vlan }}}}
{i}switchport trunk allowed vlan {{{{ allowed | joinmatches(",") }}}}
{i}switchport trunk allowed vlan add {{{{ allowed | joinmatches(",") }}}}
{i}no switchport {{{{ routed | set(True) }}}}
{i}shutdown {{{{ shutdown | set(True) }}}}
{i}no shutdown {{{{ no_shutdown | set(True) }}}}
!{{{{ _end_ }}}}
</group>
"""


@dataclass(frozen=True)
class IosStyle:
    """How one IOS-like OS prints a port, including what it leaves out when it is the default.

    `native_from_access_line`: OS10 has no trunk native command; in trunk mode its
    `switchport access vlan` line is the untagged (native) VLAN, and its allowed list holds only
    the tagged VLANs. IOS and EOS list the native VLAN among the allowed ones.
    """

    indent: str
    default_access_vlan: int | None
    default_native_vlan: int | None
    default_allowed: frozenset[int]
    native_from_access_line: bool = False


CISCO_IOS_STYLE = IosStyle(" ", 1, 1, ALL_VLANS)
ARISTA_EOS_STYLE = IosStyle("   ", 1, 1, ALL_VLANS)
DELL_OS10_STYLE = IosStyle(" ", None, None, frozenset(), native_from_access_line=True)


def parse_ios_style(text: str, style: IosStyle) -> dict[str, PortConfig]:
    parser = ttp(data=text, template=_IOS_STYLE_TEMPLATE.format(i=style.indent))
    parser.parse()
    results = cast(list[dict[str, Any]], parser.result(structure="flat_list"))
    rows = results[0].get("ports", []) if results else []
    if isinstance(rows, dict):  # TTP gives a lone match as a dict, several as a list
        rows = [rows]
    return {row["name"]: _ios_port(row, style) for row in rows}


def _int(value: Any, default: int | None) -> int | None:
    return default if value is None else int(value)


def _ios_port(row: dict[str, Any], style: IosStyle) -> PortConfig:
    admin_up = not row.get("shutdown", False)
    description = str(row.get("description", "")).strip().strip('"')
    if row.get("routed"):
        return PortConfig("access", admin_up, None, None, frozenset(), description)
    access_line = _int(row.get("access_vlan"), style.default_access_vlan)
    if row.get("mode", "access") == "access":
        return PortConfig("access", admin_up, access_line, None, frozenset(), description)
    allowed = row.get("allowed")
    vlans = parse_vlan_list(allowed) if allowed is not None else style.default_allowed
    if style.native_from_access_line:
        native = access_line
        vlans |= {native} if native is not None else frozenset()
    else:
        native = _int(row.get("native_vlan"), style.default_native_vlan)
    if native not in vlans:
        native = None
    return PortConfig("trunk", admin_up, None, native, vlans, description)


def parse_cisco_ios(text: str) -> dict[str, PortConfig]:
    return parse_ios_style(text, CISCO_IOS_STYLE)


def parse_arista_eos(text: str) -> dict[str, PortConfig]:
    return parse_ios_style(text, ARISTA_EOS_STYLE)


def parse_dell_os10(text: str) -> dict[str, PortConfig]:
    return parse_ios_style(text, DELL_OS10_STYLE)


# ---- Junos `display set` (juniper_junos, ELS syntax) -------------------------------------

_JUNOS_ES = r"unit 0 family ethernet-switching"
_JUNOS_LINES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), field)
    for pattern, field in (
        (r"^set interfaces (\S+) disable$", "disable"),
        (r"^set interfaces (\S+) description (.+)$", "description"),
        (r"^set interfaces (\S+) native-vlan-id (\d+)$", "native"),
        (rf"^set interfaces (\S+) {_JUNOS_ES} interface-mode (access|trunk)$", "mode"),
        (rf"^set interfaces (\S+) {_JUNOS_ES} vlan members (\S+)$", "member"),
        (r"^set interfaces (\S+) ", "seen"),
    )
)
_JUNOS_VLAN_ID = re.compile(r"^set vlans (\S+) vlan-id (\d+)$")


def parse_juniper_junos(text: str) -> dict[str, PortConfig]:
    """Ports from `show configuration interfaces | display set` followed by
    `show configuration vlans | display set`.

    `vlan members` names VLANs by name or by ID (Passnic writes IDs); names are resolved through
    the `set vlans NAME vlan-id ID` statements. A member that resolves to nothing is left out,
    which the audit then reports as a missing VLAN. A port without `family ethernet-switching`
    is not a Layer 2 port and reads as an access port in no VLAN.
    """
    lines = [line.strip() for line in text.splitlines()]
    vlan_ids = {m[1]: int(m[2]) for line in lines if (m := _JUNOS_VLAN_ID.match(line))}
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        for pattern, field in _JUNOS_LINES:
            match = pattern.match(line)
            if match is None:
                continue
            port = found.setdefault(match[1], {"members": set()})
            port["switching"] = port.get("switching", False) or _JUNOS_ES in line
            if field == "member":
                port["members"] |= _junos_member(match[2], vlan_ids)
            elif field == "disable":
                port[field] = True
            elif field != "seen":
                port[field] = match[2]
            break
    return {name: _junos_port(fields) for name, fields in found.items()}


def _junos_member(member: str, vlan_ids: dict[str, int]) -> frozenset[int]:
    if member in vlan_ids:
        return frozenset({vlan_ids[member]})
    if re.fullmatch(r"all|\d+(-\d+)?", member):
        return parse_vlan_list(member)
    return frozenset()


def _junos_port(fields: dict[str, Any]) -> PortConfig:
    admin_up = not fields.get("disable", False)
    description = str(fields.get("description", "")).strip('"')
    members: frozenset[int] = frozenset(fields["members"])
    if fields.get("mode") == "trunk":
        native = _int(fields.get("native"), None)
        return PortConfig(
            "trunk", admin_up, None, native if native in members else None, members, description
        )
    access = next(iter(members)) if fields.get("switching") and len(members) == 1 else None
    return PortConfig("access", admin_up, access, None, frozenset(), description)


# ---- SONiC config DB JSON (`show runningconfiguration all`) ------------------------------


def parse_sonic(text: str) -> dict[str, PortConfig]:
    """Ports from the PORT table, VLANs from VLAN_MEMBER ("Vlan10|Ethernet12": tagging_mode).

    SONiC is VLAN-centric: a port untagged in one VLAN and tagged in none is an access port; any
    tagged membership makes it a trunk whose native VLAN is the untagged one. An absent
    admin_status means down, SONiC's default for a port.
    """
    config = json.loads(text[text.index("{") :])
    vlan_ids = {name: int(entry["vlanid"]) for name, entry in config.get("VLAN", {}).items()}
    untagged: dict[str, set[int]] = {}
    tagged: dict[str, set[int]] = {}
    for key, entry in config.get("VLAN_MEMBER", {}).items():
        vlan_name, _, port = key.partition("|")
        vlan = vlan_ids.get(vlan_name, int(vlan_name.removeprefix("Vlan")))
        mode = entry.get("tagging_mode", "untagged")
        (tagged if mode == "tagged" else untagged).setdefault(port, set()).add(vlan)
    ports: dict[str, PortConfig] = {}
    for name, entry in config.get("PORT", {}).items():
        admin_up = entry.get("admin_status", "down") == "up"
        description = entry.get("description", "")
        native = min(untagged.get(name, ()), default=None)
        if name in tagged:
            allowed = frozenset(tagged[name]) | ({native} if native is not None else frozenset())
            ports[name] = PortConfig("trunk", admin_up, None, native, allowed, description)
        else:
            ports[name] = PortConfig("access", admin_up, native, None, frozenset(), description)
    return ports
