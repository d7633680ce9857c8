"""What the scheduler reads (devices, hosts, requests) and what it answers (a placement, or why
there is none). Plain frozen values, so the scheduler stays a pure function of them.

Vocabulary is the operator's: a *device* is one pci-passthrough interface of a host, tagged
with the data networks assigned to it; a *holder* is the server that has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from passnic.errors import BadRequest

NumaPolicy = Literal["required", "preferred", "legacy", "socket"]
DeviceType = Literal["type-PCI", "type-PF", "type-VF"]
Weigher = Literal["pack", "spread"]
GroupPolicy = Literal["affinity", "anti-affinity"]
StageName = Literal[
    "considered",
    "no_device",
    "excluded",
    "group",
    "not_schedulable",
    "capacity",
    "in_use",
    "together",
    "numa",
]

NUMA_POLICIES: tuple[NumaPolicy, ...] = get_args(NumaPolicy)
WEIGHERS: tuple[Weigher, ...] = get_args(Weigher)


#: the start of a ``Device.holder`` that the explanation's reader may not see: a server of
#: another project is counted ("another project's server"), never named
_HIDDEN = "\x00another project:"


def hidden_holder(consumer_id: str) -> str:
    """A holder that stays a holder (the NIC is not free) but whose name is not shown."""
    return _HIDDEN + consumer_id


def is_hidden(holder: str) -> bool:
    return holder.startswith(_HIDDEN)


def pci_id(value: str) -> str:
    """``0x8086``, ``8086`` and ``8086 `` all name the same vendor; compare one spelling."""
    value = value.strip().lower()
    return value[2:] if value.startswith("0x") else value


@dataclass(frozen=True, slots=True)
class Device:
    """One pci-passthrough interface: the unit the scheduler hands out.

    Keyed by (host, pci_address), never by MAC or interface name, which change (peers §6).
    A NIC that reports ``sriov_totalvfs`` is ``type-PF``, any other one ``type-PCI``.
    """

    host: str
    pci_address: str
    vendor_id: str
    product_id: str
    numa_node: int | None
    sriov_capable: bool
    data_networks: frozenset[str] = frozenset()
    interface: str = ""
    mac: str = ""
    holder: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "vendor_id", pci_id(self.vendor_id))
        object.__setattr__(self, "product_id", pci_id(self.product_id))
        object.__setattr__(self, "data_networks", frozenset(self.data_networks))

    @property
    def device_type(self) -> DeviceType:
        return "type-PF" if self.sriov_capable else "type-PCI"


@dataclass(frozen=True, slots=True)
class NumaNode:
    """A host NUMA node and the socket it sits on (``None``: the host does not say)."""

    numa_node: int
    socket: int | None = None


@dataclass(frozen=True, slots=True)
class Flavor:
    """What a server takes from its host besides devices."""

    vcpus: int = 0
    ram_mb: int = 0
    disk_gb: int = 0


@dataclass(frozen=True, slots=True)
class HostState:
    """A compute host as the scheduler sees it.

    ``reason`` says, in the operator's word, why a host is not schedulable: ``locked``,
    ``disabled``, ``offline``. Capacity is host-wide: per-NUMA-node vCPU/RAM is not modelled.
    """

    name: str
    schedulable: bool = True
    reason: str = ""
    vcpus: int = 0
    vcpus_used: int = 0
    ram_mb: int = 0
    ram_mb_used: int = 0
    disk_gb: int = 0
    disk_gb_used: int = 0
    numa_nodes: tuple[NumaNode, ...] = ()

    def __post_init__(self) -> None:
        if not self.schedulable and not self.reason:
            raise BadRequest(f"host {self.name} is not schedulable but no reason is given")

    def fits(self, flavor: Flavor) -> bool:
        return (
            self.vcpus - self.vcpus_used >= flavor.vcpus
            and self.ram_mb - self.ram_mb_used >= flavor.ram_mb
            and self.disk_gb - self.disk_gb_used >= flavor.disk_gb
        )


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """``count`` devices for one port or one alias entry of the flavor.

    A ``direct-physical`` port names only its network's data network and takes any
    passthrough NIC there, with or without SR-IOV (Passnic lifts StarlingX's limitation). An
    alias names vendor/product: ``type-PF`` takes only SR-IOV-capable NICs, ``type-PCI`` any
    whole NIC (Nova's ``type-PCI`` means "a whole device"; a NIC does not stop being one by
    reporting VFs). ``type-VF`` is refused: Passnic passes whole NICs through, never VFs.

    ``numa_policy`` ``None`` takes the request's; the caller resolves Nova's precedence
    (port policy, then flavor/image ``hw:pci_numa_affinity_policy``, then alias
    ``numa_policy``) before building this.
    """

    count: int = 1
    data_network: str | None = None
    vendor_id: str | None = None
    product_id: str | None = None
    device_type: DeviceType | None = None
    numa_policy: NumaPolicy | None = None
    label: str = ""

    def __post_init__(self) -> None:
        name = self.label or "a device request"
        if self.count < 1:
            raise BadRequest(f"{name} asks for {self.count} devices; it must ask for at least 1")
        if (self.vendor_id is None) != (self.product_id is None):
            raise BadRequest(f"{name} must give both vendor_id and product_id, or neither")
        if self.data_network is None and self.vendor_id is None:
            raise BadRequest(f"{name} must name a data network or a vendor_id/product_id")
        if self.device_type == "type-VF":
            raise BadRequest(
                f"{name} asks for type-VF devices; Passnic passes whole NICs through "
                "(type-PCI or type-PF), not SR-IOV virtual functions"
            )
        if self.device_type not in (None, "type-PCI", "type-PF"):
            raise BadRequest(f"{name}: unknown device_type {self.device_type!r}")
        if self.numa_policy is not None and self.numa_policy not in NUMA_POLICIES:
            raise BadRequest(f"{name}: unknown NUMA policy {self.numa_policy!r}")
        if self.vendor_id is not None and self.product_id is not None:
            object.__setattr__(self, "vendor_id", pci_id(self.vendor_id))
            object.__setattr__(self, "product_id", pci_id(self.product_id))

    @classmethod
    def port(
        cls, data_network: str, *, label: str = "", numa_policy: NumaPolicy | None = None
    ) -> DeviceRequest:
        """A ``direct-physical`` port on a network of ``data_network``."""
        return cls(data_network=data_network, label=label, numa_policy=numa_policy)

    @classmethod
    def alias(
        cls,
        vendor_id: str,
        product_id: str,
        *,
        count: int = 1,
        device_type: DeviceType = "type-PCI",
        label: str = "",
        numa_policy: NumaPolicy | None = None,
    ) -> DeviceRequest:
        """One ``pci_passthrough:alias`` entry (``name:count``) of a flavor."""
        return cls(
            count=count,
            vendor_id=vendor_id,
            product_id=product_id,
            device_type=device_type,
            label=label,
            numa_policy=numa_policy,
        )

    def matches(self, device: Device) -> bool:
        """Whether ``device`` is the kind asked for; its state and NUMA node aside."""
        if self.data_network is not None and self.data_network not in device.data_networks:
            return False
        if self.vendor_id is not None and (
            device.vendor_id != self.vendor_id or device.product_id != self.product_id
        ):
            return False
        return self.device_type != "type-PF" or device.sriov_capable


@dataclass(frozen=True, slots=True)
class GroupRule:
    """A server group's hard policy, as the hosts its other members hold.

    ``anti-affinity``: none of ``hosts`` (two passthrough VMs of one service never share a
    host, so one host failing takes one of them). ``affinity``: one of ``hosts``, or any host
    for the group's first member. Nova's soft policies are preferences, not rules: the caller
    passes no rule for them.
    """

    name: str
    policy: GroupPolicy
    hosts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.policy not in ("affinity", "anti-affinity"):
            raise BadRequest(f"unknown server group policy {self.policy!r}")
        object.__setattr__(self, "hosts", frozenset(self.hosts))

    def allows(self, host: str) -> bool:
        if self.policy == "anti-affinity":
            return host not in self.hosts
        return not self.hosts or host in self.hosts


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """One server to place: its flavor and the devices its ports and aliases ask for.

    ``numa_policy`` applies to device requests that have none of their own; ``legacy`` is
    Nova's default. ``exclude_hosts`` keeps a cold migration off the server's current host;
    ``group`` keeps the server where its server group's policy allows.
    """

    flavor: Flavor = field(default_factory=Flavor)
    devices: tuple[DeviceRequest, ...] = ()
    numa_policy: NumaPolicy = "legacy"
    weigher: Weigher = "pack"
    target_host: str | None = None
    exclude_hosts: frozenset[str] = frozenset()
    group: GroupRule | None = None

    def __post_init__(self) -> None:
        if self.numa_policy not in NUMA_POLICIES:
            raise BadRequest(f"unknown NUMA policy {self.numa_policy!r}")
        if self.weigher not in WEIGHERS:
            raise BadRequest(f"unknown weigher {self.weigher!r}; use pack or spread")
        object.__setattr__(self, "devices", tuple(self.devices))
        object.__setattr__(self, "exclude_hosts", frozenset(self.exclude_hosts))

    def policy_of(self, index: int) -> NumaPolicy:
        return self.devices[index].numa_policy or self.numa_policy

    def allows(self, host: str) -> bool:
        """Whether ``host`` may be tried at all: not excluded, and as the group wants."""
        return host not in self.exclude_hosts and (self.group is None or self.group.allows(host))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a server goes: the host, the guest's NUMA node (``None`` when the host reports
    none or the server has no devices), and ``devices[i]``, the devices for request ``i``."""

    host: str
    numa_node: int | None
    devices: tuple[tuple[Device, ...], ...]
    flavor: Flavor

    @property
    def all_devices(self) -> tuple[Device, ...]:
        return tuple(d for chosen in self.devices for d in chosen)


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the "why no host" funnel and the hosts that stopped there."""

    name: StageName
    hosts: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class NoValidHost:
    """Why nothing fits, stage by stage; ``message`` is the server's fault text."""

    stages: tuple[Stage, ...]
    #: the whole story, other projects' servers named, when ``message`` hides them (for
    #: admins); empty otherwise
    details: str = ""

    @property
    def message(self) -> str:
        return "No valid host: " + "; ".join(stage.text for stage in self.stages)

    def __str__(self) -> str:
        return self.message


Decision = Placement | NoValidHost


@dataclass(frozen=True, slots=True)
class FleetView:
    """A snapshot of the fleet: every host and every pci-passthrough device, with holders."""

    hosts: tuple[HostState, ...] = ()
    devices: tuple[Device, ...] = ()
