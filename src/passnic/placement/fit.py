"""Whether one host can take one server: its free devices against the device requests under
the NUMA policies. Used by the index on each candidate host and by the explanation.

Passnic's guest is one NUMA cell (the scheduler picks its node), so the policies read:

* ``required``: every device on the guest's node; devices with no NUMA node are unusable.
* ``legacy`` (Nova's default): every device on the guest's node or with no NUMA node. Nova
  applies it only to guests with a NUMA topology; every Passnic guest has one (one cell).
* ``socket``: every device on the guest's socket; unusable on a host that does not say which
  socket each of its NUMA nodes is on (as Nova).
* ``preferred``: first as ``legacy`` on some node; failing that, any devices (affine ones
  first), the guest on the first node.

Guest nodes are tried in ascending order, strict pass first, so the choice is deterministic.
Devices of several requests are disjoint: a small bipartite matching (a host has few NICs)
finds an assignment whenever one exists, where Nova's request-by-request greed may not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from passnic.placement.model import Device, DeviceRequest, NumaNode, NumaPolicy


def guest_nodes(
    numa_nodes: Sequence[NumaNode], devices: Sequence[Device]
) -> tuple[int | None, ...]:
    """The NUMA nodes the guest may sit on: the host's, else those its devices report."""
    if numa_nodes:
        return tuple(sorted(n.numa_node for n in numa_nodes))
    known = sorted({d.numa_node for d in devices if d.numa_node is not None})
    return tuple(known) if known else (None,)


def socket_map(numa_nodes: Sequence[NumaNode]) -> dict[int, int]:
    """Node → socket, empty unless the host reports a socket for every node (as Nova)."""
    if not numa_nodes or any(n.socket is None for n in numa_nodes):
        return {}
    return {n.numa_node: n.socket for n in numa_nodes if n.socket is not None}


def _allowed(
    policy: NumaPolicy,
    device: Device,
    guest: int | None,
    sockets: Mapping[int, int],
    relaxed: bool,
) -> bool:
    node = device.numa_node
    if policy == "required":
        return node is not None and node == guest
    if policy == "socket":
        if node is None or guest is None:
            return False
        socket = sockets.get(node)
        return socket is not None and socket == sockets.get(guest)
    if policy == "preferred" and relaxed:
        return True
    return node is None or node == guest


def assign(
    candidates: Sequence[Sequence[Device]], counts: Sequence[int]
) -> tuple[tuple[Device, ...], ...] | None:
    """Give request ``i`` ``counts[i]`` distinct devices out of ``candidates[i]``, or ``None``.

    Kuhn's augmenting paths over request "slots"; each slot takes its first free candidate,
    so earlier candidates (better NUMA affinity, lower pci_address) win.
    """
    slots = [i for i, count in enumerate(counts) for _ in range(count)]
    if any(len(c) < n for c, n in zip(candidates, counts, strict=True)):
        return None
    owner: dict[str, int] = {}  # pci_address → slot

    def augment(slot: int, seen: set[str]) -> bool:
        for device in candidates[slots[slot]]:
            address = device.pci_address
            if address in seen:
                continue
            seen.add(address)
            if address not in owner or augment(owner[address], seen):
                owner[address] = slot
                return True
        return False

    for slot in range(len(slots)):
        if not augment(slot, set()):
            return None
    by_address = {d.pci_address: d for c in candidates for d in c}
    chosen: list[list[Device]] = [[] for _ in counts]
    for address, slot in sorted(owner.items()):
        chosen[slots[slot]].append(by_address[address])
    return tuple(tuple(c) for c in chosen)


def fit_devices(
    free: Sequence[Device],
    requests: Sequence[DeviceRequest],
    policies: Sequence[NumaPolicy],
    nodes: Sequence[int | None],
    sockets: Mapping[int, int],
) -> tuple[int | None, tuple[tuple[Device, ...], ...]] | None:
    """The guest's node and the devices for each request, or ``None`` if the host cannot."""
    eligible = [[d for d in free if r.matches(d)] for r in requests]
    counts = [r.count for r in requests]
    if any(len(e) < n for e, n in zip(eligible, counts, strict=True)):
        return None
    passes = (False, True) if "preferred" in policies else (False,)
    for relaxed in passes:
        for guest in nodes:
            candidates = [
                _ranked([d for d in e if _allowed(policy, d, guest, sockets, relaxed)], guest)
                for e, policy in zip(eligible, policies, strict=True)
            ]
            chosen = assign(candidates, counts)
            if chosen is not None:
                return guest, chosen
    return None


def _ranked(devices: list[Device], guest: int | None) -> list[Device]:
    """Same node first, then no NUMA node, then elsewhere; pci_address order within each."""
    same = [d for d in devices if d.numa_node == guest]
    unknown = [d for d in devices if d.numa_node is None and guest is not None]
    other = [d for d in devices if d.numa_node is not None and d.numa_node != guest]
    return same + unknown + other
