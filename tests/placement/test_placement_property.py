"""FleetIndex against a naive scan that rereads the rules and tries every device combination.

Random small fleets go through random sequences of requests (claimed when placed), releases
and lock/unlock. At every step the index and the scan must agree on whether the server fits
and on the host (same weigher order, ties by name); the devices chosen must be free, of the
kind asked for, distinct, and honour the NUMA policy; the index's view must equal the state
the test keeps itself; and a failure must name every host that owns the NICs asked for.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passnic.placement import (
    Device,
    DeviceRequest,
    Flavor,
    FleetIndex,
    FleetView,
    HostState,
    NoValidHost,
    NumaNode,
    Placement,
    PlacementRequest,
)

NETWORKS = ("n0", "n1")
MODELS = (("8086", "1572"), ("8086", "10d3"))
POLICIES = ("required", "preferred", "legacy", "socket")


@st.composite
def fleets(draw: st.DrawFn) -> FleetView:
    hosts: list[HostState] = []
    devices: list[Device] = []
    for h in range(draw(st.integers(1, 6))):
        name = f"h{h}"
        layout = draw(st.sampled_from(["none", "nosocket", "onesocket", "twosockets"]))
        nodes = {
            "none": (),
            "nosocket": (NumaNode(0), NumaNode(1)),
            "onesocket": (NumaNode(0, 0), NumaNode(1, 0)),
            "twosockets": (NumaNode(0, 0), NumaNode(1, 1)),
        }[layout]
        locked = draw(st.integers(0, 5)) == 0
        hosts.append(
            HostState(
                name,
                schedulable=not locked,
                reason="locked" if locked else "",
                vcpus=draw(st.sampled_from([2, 4, 8])),
                ram_mb=draw(st.sampled_from([1024, 4096])),
                disk_gb=draw(st.sampled_from([10, 50])),
                numa_nodes=nodes,
            )
        )
        for slot in range(draw(st.integers(0, 5))):
            model = draw(st.sampled_from(MODELS))
            devices.append(
                Device(
                    host=name,
                    pci_address=f"0000:{slot:02x}:00.0",
                    vendor_id=model[0],
                    product_id=model[1],
                    numa_node=draw(st.sampled_from([None, 0, 1])),
                    sriov_capable=draw(st.booleans()),
                    data_networks=frozenset(draw(st.sets(st.sampled_from(NETWORKS)))),
                    holder=draw(st.sampled_from([None, None, None, "old"])),
                )
            )
    return FleetView(tuple(hosts), tuple(devices))


@st.composite
def device_requests(draw: st.DrawFn) -> DeviceRequest:
    shape = draw(st.sampled_from(["port", "port", "alias", "alias", "both"]))
    network = draw(st.sampled_from(NETWORKS)) if shape != "alias" else None
    model = draw(st.sampled_from(MODELS)) if shape != "port" else None
    return DeviceRequest(
        count=draw(st.sampled_from([1, 1, 2])),
        data_network=network,
        vendor_id=model[0] if model else None,
        product_id=model[1] if model else None,
        device_type=draw(st.sampled_from([None, "type-PCI", "type-PF"])) if model else None,
        numa_policy=draw(st.sampled_from([None, None, *POLICIES])),
    )


@st.composite
def requests(draw: st.DrawFn) -> PlacementRequest:
    names = [f"h{h}" for h in range(6)]
    return PlacementRequest(
        flavor=Flavor(
            draw(st.integers(0, 3)), draw(st.sampled_from([0, 512, 1024])), draw(st.integers(0, 20))
        ),
        devices=tuple(
            draw(
                st.lists(
                    device_requests(), min_size=draw(st.sampled_from([0, 1, 1, 1])), max_size=2
                )
            )
        ),
        numa_policy=draw(st.sampled_from(POLICIES)),
        weigher=draw(st.sampled_from(["pack", "spread"])),
        target_host=draw(st.sampled_from([None, None, None, *names])),
        exclude_hosts=frozenset(draw(st.sets(st.sampled_from(names), max_size=2))),
    )


steps = st.lists(
    st.one_of(
        requests(),
        st.tuples(st.just("release"), st.integers(0, 100)),
        st.tuples(st.just("toggle"), st.integers(0, 100)),
    ),
    min_size=3,
    max_size=15,
)


# ---- the naive scan ----------------------------------------------------------------------------


def kind_ok(r: DeviceRequest, d: Device) -> bool:
    if r.data_network and r.data_network not in d.data_networks:
        return False
    if r.vendor_id and (d.vendor_id, d.product_id) != (r.vendor_id, r.product_id):
        return False
    return not (r.device_type == "type-PF" and not d.sriov_capable)


def numa_ok(policy: str, d: Device, guest: int | None, host: HostState, relaxed: bool) -> bool:
    sockets = {n.numa_node: n.socket for n in host.numa_nodes}
    if policy == "required":
        return d.numa_node is not None and d.numa_node == guest
    if policy == "socket":
        if not host.numa_nodes or None in sockets.values():
            return False
        return (
            d.numa_node in sockets and guest in sockets and sockets[d.numa_node] == sockets[guest]
        )
    if policy == "preferred" and relaxed:
        return True
    return d.numa_node is None or d.numa_node == guest


def guests(host: HostState, devices: list[Device]) -> list[int | None]:
    if host.numa_nodes:
        return [n.numa_node for n in host.numa_nodes]
    known = sorted({d.numa_node for d in devices if d.numa_node is not None})
    return list(known) or [None]


def combos(pools: list[list[Device]], counts: list[int], used: frozenset[str]) -> bool:
    if not pools:
        return True
    choices = [d for d in pools[0] if d.pci_address not in used]
    return any(
        combos(pools[1:], counts[1:], used | {d.pci_address for d in pick})
        for pick in itertools.combinations(choices, counts[0])
    )


def feasible(
    request: PlacementRequest, host: HostState, devices: list[Device], relaxed: bool
) -> bool:
    free = [d for d in devices if d.holder is None]
    policies = [r.numa_policy or request.numa_policy for r in request.devices]
    for guest in guests(host, devices):
        pools = [
            [d for d in free if kind_ok(r, d) and numa_ok(p, d, guest, host, relaxed)]
            for r, p in zip(request.devices, policies, strict=True)
        ]
        if combos(pools, [r.count for r in request.devices], frozenset()):
            return True
    return False


def host_fits(request: PlacementRequest, host: HostState, devices: list[Device]) -> bool:
    if not host.schedulable or host.name in request.exclude_hosts:
        return False
    if not host.fits(request.flavor):
        return False
    return feasible(request, host, devices, False) or feasible(request, host, devices, True)


def reference(fleet: FleetView, request: PlacementRequest) -> str | None:
    def on(h: HostState) -> list[Device]:
        return [d for d in fleet.devices if d.host == h.name]

    def weight(h: HostState) -> tuple[int, str]:
        free = sum(1 for d in on(h) if d.holder is None)
        return (free if request.weigher == "pack" else -free, h.name)

    hosts = [h for h in fleet.hosts if request.target_host in (None, h.name)]
    for h in sorted(hosts, key=weight):
        if host_fits(request, h, on(h)):
            return h.name
    return None


# ---- the property --------------------------------------------------------------------------


def check_placement(fleet: FleetView, request: PlacementRequest, placement: Placement) -> None:
    host = next(h for h in fleet.hosts if h.name == placement.host)
    devices = {d.pci_address: d for d in fleet.devices if d.host == host.name}
    chosen = placement.all_devices
    assert len({d.pci_address for d in chosen}) == len(chosen)
    strict_possible = feasible(request, host, list(devices.values()), False)
    for i, (r, picked) in enumerate(zip(request.devices, placement.devices, strict=True)):
        assert len(picked) == r.count
        for d in picked:
            assert devices[d.pci_address].holder is None
            assert kind_ok(r, d)
            policy = request.policy_of(i)
            assert numa_ok(policy, d, placement.numa_node, host, relaxed=not strict_possible)


def apply(fleet: FleetView, placement: Placement, holder: str, sign: int) -> FleetView:
    touched = {d.pci_address for d in placement.all_devices}
    f = placement.flavor
    return FleetView(
        tuple(
            replace(
                h,
                vcpus_used=h.vcpus_used + sign * f.vcpus,
                ram_mb_used=h.ram_mb_used + sign * f.ram_mb,
                disk_gb_used=h.disk_gb_used + sign * f.disk_gb,
            )
            if h.name == placement.host
            else h
            for h in fleet.hosts
        ),
        tuple(
            replace(d, holder=holder if sign > 0 else None)
            if d.host == placement.host and d.pci_address in touched
            else d
            for d in fleet.devices
        ),
    )


def same(a: FleetView, b: FleetView) -> bool:
    return sorted(a.hosts, key=lambda h: h.name) == sorted(
        b.hosts, key=lambda h: h.name
    ) and sorted(a.devices, key=lambda d: (d.host, d.pci_address)) == sorted(
        b.devices, key=lambda d: (d.host, d.pci_address)
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet=fleets(), ops=steps)
def test_index_agrees_with_the_naive_scan(fleet: FleetView, ops: list[object]) -> None:
    index = FleetIndex(fleet)
    servers: list[Placement] = []
    for n, op in enumerate(ops):
        if isinstance(op, PlacementRequest):
            expected = reference(fleet, op)
            decision = index.choose(op)
            if expected is None:
                assert isinstance(decision, NoValidHost), (decision, op)
                check_explanation(fleet, op, decision)
            else:
                assert isinstance(decision, Placement), (decision.message, expected, op)
                assert decision.host == expected
                check_placement(fleet, op, decision)
                index.claim(decision, f"vm{n}")
                fleet = apply(fleet, decision, f"vm{n}", 1)
                servers.append(decision)
        elif op[0] == "release" and servers:  # type: ignore[index]
            gone = servers.pop(op[1] % len(servers))  # type: ignore[index]
            index.release(gone.host, [d.pci_address for d in gone.all_devices], gone.flavor)
            fleet = apply(fleet, gone, "", -1)
        elif op[0] == "toggle":  # type: ignore[index]
            h = fleet.hosts[op[1] % len(fleet.hosts)]  # type: ignore[index]
            flipped = replace(
                h, schedulable=not h.schedulable, reason="" if not h.schedulable else "locked"
            )
            index.update_host(flipped)
            fleet = FleetView(
                tuple(flipped if x.name == h.name else x for x in fleet.hosts), fleet.devices
            )
        assert same(index.view(), fleet)


def check_explanation(fleet: FleetView, request: PlacementRequest, result: NoValidHost) -> None:
    """Every host that owns the NICs asked for is named exactly once, after the count."""
    if request.target_host is not None:
        return
    owners = [
        h.name
        for h in fleet.hosts
        if all(
            sum(
                r.count
                for r in request.devices
                if (r.data_network, r.vendor_id, r.product_id, r.device_type)
                == (q.data_network, q.vendor_id, q.product_id, q.device_type)
            )
            <= sum(1 for d in fleet.devices if d.host == h.name and kind_ok(q, d))
            for q in request.devices
        )
    ]
    considered, *rest = result.stages
    assert sorted(considered.hosts) == sorted(owners)
    named = [name for stage in rest for name in stage.hosts]
    assert sorted(named) == sorted(owners)
