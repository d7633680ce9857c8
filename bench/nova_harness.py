"""Nova's PCI filter core, driven standalone: run ONLY in the Nova venv that bench/scheduler.py
builds (it imports nova, never passnic). Reads {"fleet", "requests"} as JSON on stdin and
prints one JSON result line after the RESULT marker.

Per research/peers.md §5.2: in-memory oslo objects, no DB. Each host gets a two-cell
NUMATopology, a compute-side PciDeviceStats fed with add_device(), and the scheduler-side
PciDeviceStats rebuilt from its pools as HostState does. Per request: support_requests() on
every host (the PciPassthroughFilter body) with the guest's one NUMA cell, trying host cell 0
then cell 1 as NUMATopologyFilter's permutations would; pick "stack" (fewest free devices, as
PCIWeigher; ties by name, as Passnic); apply_requests() on the chosen host. Not modelled:
Placement, HostState refresh, the filter's own NUMA-less call, other filters: a lower bound.
The scheduler-side stats carry an empty device spec, as in Nova's scheduler (the compute
side's spec would add its deep copy to every check, which Nova does not pay).
"""

from __future__ import annotations

import gc
import json
import sys
import time
import uuid

from nova import objects

objects.register_all()

from nova.pci import stats as pci_stats  # noqa: E402
from nova.pci import whitelist  # noqa: E402

CPUS_PER_CELL = 16
#: the scheduler side's device spec: Nova's scheduler does not set [pci] device_spec
EMPTY_SPEC = whitelist.Whitelist([])


def device_spec(fleet: dict) -> whitelist.Whitelist:
    """One spec per PCI bus range (see bench/scheduler.py BUS), tagged with its physnet."""
    specs = []
    for bus, network in fleet["buses"]:
        spec: dict = {"address": {"domain": ".*", "bus": bus, "slot": ".*", "function": ".*"}}
        if network:
            spec["physical_network"] = network
        specs.append(json.dumps(spec))
    return whitelist.Whitelist(specs)


def numa_topology(numa_nodes: list[list[int]]) -> objects.NUMATopology:
    cells = []
    for node, socket in numa_nodes:
        cpus = set(range(node * CPUS_PER_CELL, (node + 1) * CPUS_PER_CELL))
        cells.append(
            objects.NUMACell(
                id=node,
                cpuset=cpus,
                pcpuset=set(),
                memory=65536,
                cpu_usage=0,
                memory_usage=0,
                pinned_cpus=set(),
                siblings=[{c, c + 1} for c in sorted(cpus)[::2]],
                mempages=[objects.NUMAPagesTopology(size_kb=4, total=16777216, used=0, reserved=0)],
                network_metadata=objects.NetworkMetadata(physnets=set(), tunneled=False),
                socket=socket,
            )
        )
    return objects.NUMATopology(cells=cells)


def build_hosts(fleet: dict, spec: whitelist.Whitelist) -> list[tuple[str, object]]:
    by_host: dict[str, list[dict]] = {h["name"]: [] for h in fleet["hosts"]}
    for d in fleet["devices"]:
        by_host[d["host"]].append(d)
    hosts = []
    for number, h in enumerate(fleet["hosts"]):
        topology = numa_topology(h["numa_nodes"])
        compute = pci_stats.PciDeviceStats(topology, dev_filter=spec)
        for d in by_host[h["name"]]:
            compute.add_device(
                objects.PciDevice(
                    compute_node_id=number,
                    address=d["pci_address"],
                    vendor_id=d["vendor_id"],
                    product_id=d["product_id"],
                    dev_type="type-PF" if d["sriov_capable"] else "type-PCI",
                    status="available",
                    dev_id="pci_" + d["pci_address"].replace(":", "_").replace(".", "_"),
                    label=f"label_{d['vendor_id']}_{d['product_id']}",
                    numa_node=d["numa_node"],
                    parent_addr=None,
                    extra_info={},
                    request_id=None,
                    instance_uuid=None,
                )
            )
        # the scheduler's HostState builds its stats without the compute's device spec (its
        # own [pci] device_spec is empty): support_requests deep-copies an empty filter there
        scheduler = pci_stats.PciDeviceStats(
            topology, stats=compute.to_device_pools_obj(), dev_filter=EMPTY_SPEC
        )
        hosts.append((h["name"], scheduler))
    return hosts


def pci_requests(request: dict) -> list[objects.InstancePCIRequest]:
    """The shapes Nova builds: a direct-physical port, or a flavor alias entry."""
    built = []
    for r in request["devices"]:
        policy = r["numa_policy"] or request["numa_policy"]
        if r["data_network"] is not None:
            spec = {
                "physical_network": r["data_network"],
                "remote_managed": "False",
                "dev_type": "type-PF",
            }
            alias = None
        else:
            spec = {
                "vendor_id": r["vendor_id"],
                "product_id": r["product_id"],
                "dev_type": r["device_type"],
            }
            alias = "bench-alias"
        built.append(
            objects.InstancePCIRequest(
                count=r["count"],
                spec=[spec],
                request_id=str(uuid.uuid4()),
                alias_name=alias,
                numa_policy=policy,
            )
        )
    return built


def main() -> None:
    data = json.load(sys.stdin)
    started = time.perf_counter()
    spec = device_spec(data["fleet"])
    hosts = build_hosts(data["fleet"], spec)
    setup = time.perf_counter() - started
    guest_cells = [
        [objects.InstanceNUMACell(id=node, cpuset={0}, pcpuset=set(), memory=1024)]
        for node in sorted({n for h in data["fleet"]["hosts"] for n, _ in h["numa_nodes"]})
    ]
    times, chosen, checks = [], [], 0
    gc.collect()
    gc.freeze()  # as on the Passnic side: the fleet stays out of full collections
    for request in data["requests"]:
        requests = pci_requests(request)
        t0 = time.perf_counter()
        best = None
        for name, stats in hosts:
            for cells in guest_cells:
                checks += 1
                if stats.support_requests(requests, None, cells):
                    free = sum(pool["count"] for pool in stats.pools)
                    if best is None or (free, name) < best[0]:
                        best = ((free, name), stats, cells)
                    break
        if best is not None:
            best[1].apply_requests(requests, None, best[2])
        times.append(time.perf_counter() - t0)
        chosen.append(best[0][1] if best is not None else None)
    print("RESULT")
    print(json.dumps({"setup_s": setup, "times": times, "hosts": chosen, "checks": checks}))


if __name__ == "__main__":
    main()
