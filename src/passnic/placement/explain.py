"""Why no host fits, in the operator's words, stage by stage.

The funnel: the hosts that have the NICs asked for (free or not; hosts without them are only
counted, since in a large fleet they are most hosts) → excluded → server group policy (anti-
affinity: a member is there already; affinity: not the members' host) → not schedulable
(locked, disabled, offline) → capacity (vCPUs, RAM, disk) → NICs in use (naming the servers
holding them, except other projects' servers, which are only counted) → not enough free NICs
for all requests together → NUMA policy. Each host is named at the first stage it fails, e.g.
``No valid host: 3 hosts have a pci-passthrough NIC on group0-data0; compute-2 is locked;
compute-0 and compute-1 have theirs in use by vm2 and vm3``.

This is the failure path: it scans the hosts it is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from passnic.placement.fit import assign, fit_devices, guest_nodes, socket_map
from passnic.placement.model import (
    Device,
    DeviceRequest,
    HostState,
    NoValidHost,
    PlacementRequest,
    Stage,
    StageName,
    is_hidden,
)

#: At most this many names per list; the rest are counted ("and 12 more").
MAX_NAMES = 5

_ORDER: tuple[StageName, ...] = (
    "excluded",
    "group",
    "not_schedulable",
    "capacity",
    "in_use",
    "together",
    "numa",
)


@dataclass(frozen=True, slots=True)
class _Need:
    """Device requests of the same kind, merged: "2 NICs on data0", not "a NIC and a NIC"."""

    count: int
    example: DeviceRequest

    def matches(self, device: Device) -> bool:
        return self.example.matches(device)

    @property
    def text(self) -> str:
        r = self.example
        noun = "pci-passthrough NIC" + ("s" if self.count > 1 else "")
        if r.device_type == "type-PF":
            noun = "SR-IOV-capable " + noun
        quantity = str(self.count) if self.count > 1 else ("an" if noun[0] == "S" else "a")
        ids = f" {r.vendor_id}:{r.product_id}" if r.vendor_id is not None else ""
        network = f" on {r.data_network}" if r.data_network is not None else ""
        return f"{quantity} {noun}{ids}{network}"


def needs_of(request: PlacementRequest) -> list[_Need]:
    merged: dict[tuple[object, ...], _Need] = {}
    for r in request.devices:
        key = (r.data_network, r.vendor_id, r.product_id, r.device_type)
        seen = merged.get(key)
        merged[key] = _Need((seen.count if seen else 0) + r.count, r)
    return list(merged.values())


def has_needs(devices: Sequence[Device], needs: Sequence[_Need]) -> bool:
    """Whether a host owns enough of each kind of NIC asked for, whoever holds them now."""
    return all(sum(1 for d in devices if n.matches(d)) >= n.count for n in needs)


def names(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``, ``a, b, c, d, e and 7 more``."""
    if len(items) > MAX_NAMES:
        return ", ".join(items[:MAX_NAMES]) + f" and {len(items) - MAX_NAMES:,} more"
    return _and(items)


def _holders(held: Sequence[str]) -> str:
    """The servers holding NICs: named when the reader may see them, else only counted."""
    shown = [h for h in held if not is_hidden(h)]
    hidden = len(held) - len(shown)
    if hidden:
        others = f"{hidden} servers of other projects" if hidden > 1 else "another project's server"
        shown.append(others)
    return names(shown)


def natural(name: str) -> tuple[str | int, ...]:
    """compute-2 before compute-10, as an operator reads them."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _and(items: Sequence[str]) -> str:
    return "".join(items) if len(items) <= 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _hosts_have(count: int) -> str:
    return "1 host has" if count == 1 else f"{count:,} hosts have"


def explain(
    request: PlacementRequest, hosts: Sequence[tuple[HostState, Sequence[Device]]]
) -> NoValidHost:
    """Build the funnel over ``hosts`` (each with all its devices, holders set).

    Pass the whole fleet, or any superset of the hosts that own the NICs asked for; with
    ``target_host``, pass that host alone (or nothing if it is unknown).
    """
    needs = needs_of(request)
    wanted = _and([n.text for n in needs])
    stages: list[Stage] = []
    target = request.target_host
    if target is not None:
        if not hosts:
            return NoValidHost(
                (Stage("considered", (), f"{target} was asked for but is not a known host"),)
            )
        stages.append(Stage("considered", (target,), f"{target} was asked for"))
        if not has_needs(hosts[0][1], needs):
            stages.append(Stage("no_device", (target,), f"{target} does not have {wanted}"))
            return NoValidHost(tuple(stages))
        relevant = list(hosts)
    else:
        relevant = [h for h in hosts if has_needs(h[1], needs)]
        if needs:
            text = f"{_hosts_have(len(relevant))} {wanted}" if relevant else f"no host has {wanted}"
        else:
            count = len(relevant)
            text = {0: "no host is known", 1: "1 host is known"}.get(
                count, f"{count:,} hosts are known"
            )
        stages.append(Stage("considered", tuple(h[0].name for h in relevant), text))

    groups: dict[tuple[StageName, str], list[str]] = {}
    holders: dict[tuple[StageName, str], dict[str, None]] = {}  # ordered, no repeats
    matched: dict[str, int] = {}
    for state, devices in relevant:
        verdict = _classify(request, needs, state, devices)
        if verdict is None:
            continue
        key = (verdict[0], verdict[1])
        groups.setdefault(key, []).append(state.name)
        holders.setdefault(key, {}).update(dict.fromkeys(verdict[2]))
        matched[state.name] = verdict[3]
    for key in sorted(groups, key=lambda k: _ORDER.index(k[0])):
        group = groups[key]
        text = _render(request, key[0], key[1], group, list(holders[key]), matched)
        stages.append(Stage(key[0], tuple(group), text))
    return NoValidHost(tuple(stages))


def _classify(
    request: PlacementRequest,
    needs: Sequence[_Need],
    state: HostState,
    devices: Sequence[Device],
) -> tuple[StageName, str, list[str], int] | None:
    """(stage, detail, holders, matching NIC count) of the first stage ``state`` fails."""
    if state.name in request.exclude_hosts:
        return "excluded", "", [], 0
    if request.group is not None and not request.group.allows(state.name):
        return "group", "", [], 0
    if not state.schedulable:
        return "not_schedulable", state.reason, [], 0
    flavor = request.flavor
    if state.vcpus - state.vcpus_used < flavor.vcpus:
        return "capacity", "vcpus", [], 0
    if state.ram_mb - state.ram_mb_used < flavor.ram_mb:
        return "capacity", "ram", [], 0
    if state.disk_gb - state.disk_gb_used < flavor.disk_gb:
        return "capacity", "disk", [], 0
    free = [d for d in devices if d.holder is None]
    for need in needs:
        matching = [d for d in devices if need.matches(d)]
        free_count = sum(1 for d in matching if d.holder is None)
        if free_count < need.count:
            held = [d.holder for d in matching if d.holder is not None]
            return "in_use", "all" if free_count == 0 else "some", held, len(matching)
    eligible = [[d for d in free if r.matches(d)] for r in request.devices]
    if assign(eligible, [r.count for r in request.devices]) is None:
        return "together", "", [], 0
    policies = [request.policy_of(i) for i in range(len(request.devices))]
    nodes = guest_nodes(state.numa_nodes, devices)
    if fit_devices(free, request.devices, policies, nodes, socket_map(state.numa_nodes)):
        return None
    strict = sorted({p for p in policies if p != "preferred"})
    return "numa", ",".join(strict), [], 0


def _render(
    request: PlacementRequest,
    stage: StageName,
    detail: str,
    group: list[str],
    held: list[str],
    matched: dict[str, int],
) -> str:
    who = names(group)
    one = len(group) == 1
    if stage == "excluded":
        return f"{who} {'is' if one else 'are'} excluded"
    if stage == "group" and request.group is not None:
        rule = request.group
        if rule.policy == "anti-affinity":
            runs = "runs" if one else "run"
            return f"{who} already {runs} a server of anti-affinity group {rule.name}"
        where = names(sorted(rule.hosts, key=natural))
        return (
            f"{who} {'is' if one else 'are'} not where the servers of affinity group "
            f"{rule.name} are ({where})"
        )
    if stage == "not_schedulable":
        return f"{who} {'is' if one else 'are'} {detail}"
    if stage == "capacity":
        flavor = request.flavor
        amount = {
            "vcpus": f"{flavor.vcpus} vCPU{'' if flavor.vcpus == 1 else 's'}",
            "ram": f"{flavor.ram_mb} MB of RAM",
            "disk": f"{flavor.disk_gb} GB of disk",
        }[detail]
        return f"{who} {'does' if one else 'do'} not have {amount} free"
    if stage == "in_use":
        holders = _holders(held)
        if detail == "some":
            have = "has" if one else "have"
            return f"{who} {have} too few of them free; the rest are in use by {holders}"
        if one:
            nic = "NIC" if matched[group[0]] == 1 else "NICs"
            return f"{who} has its {nic} in use by {holders}"
        return f"{who} have theirs in use by {holders}"
    if stage == "together":
        labels = _and([r.label or _Need(r.count, r).text for r in request.devices])
        return f"{who} {'does' if one else 'do'} not have enough free NICs for {labels} together"
    policies = detail.split(",")
    if policies == ["socket"]:
        where = "one socket"
    elif "socket" in policies:
        where = "one NUMA node or socket, as asked"
    else:
        where = "one NUMA node"
    which = f"NUMA polic{'y' if len(policies) == 1 else 'ies'} {_and(policies)}"
    their = "its" if one else "their"
    return f"{who} cannot put {their} free NICs and the guest on {where} ({which})"
