"""Small fleets for the scheduler tests, in the words of the issue's example."""

from __future__ import annotations

from collections.abc import Iterable

from passnic.placement import Device, FleetIndex, FleetView, HostState, NumaNode

X710 = ("8086", "1572")  # SR-IOV capable: type-PF
E1000 = ("8086", "10d3")  # no SR-IOV: type-PCI


def host(
    name: str,
    *,
    vcpus: int = 16,
    ram_mb: int = 32768,
    disk_gb: int = 200,
    nodes: Iterable[int] = (0, 1),
    sockets: Iterable[int | None] | None = None,
    reason: str = "",
) -> HostState:
    node_list = list(nodes)
    socket_list = list(sockets) if sockets is not None else [None] * len(node_list)
    return HostState(
        name,
        schedulable=not reason,
        reason=reason,
        vcpus=vcpus,
        ram_mb=ram_mb,
        disk_gb=disk_gb,
        numa_nodes=tuple(NumaNode(n, s) for n, s in zip(node_list, socket_list, strict=True)),
    )


def nic(
    host_name: str,
    slot: int,
    *,
    net: str | None = "group0-data0",
    numa: int | None = 0,
    model: tuple[str, str] = X710,
    holder: str | None = None,
) -> Device:
    return Device(
        host=host_name,
        pci_address=f"0000:{0x3B + slot:02x}:00.0",
        vendor_id=model[0],
        product_id=model[1],
        numa_node=numa,
        sriov_capable=model == X710,
        data_networks=frozenset({net} if net else ()),
        interface=f"enp{slot}s0",
        mac=f"52:54:00:00:00:{slot:02x}",
        holder=holder,
    )


def index(hosts: Iterable[HostState], devices: Iterable[Device]) -> FleetIndex:
    return FleetIndex(FleetView(tuple(hosts), tuple(devices)))
