"""What a host agent tells the controller about its hardware: the contract between discovery
(``passnic.agent``) and the inventory rules. Sent as JSON over HTTP, so it is a pydantic model.

Numbers and names are bounded to what the inventory's columns hold, so a nonsense report is
refused as bad input instead of failing in the database.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

Personality = Literal["controller", "worker", "storage"]

INT32_MAX = 2**31 - 1
Name = Annotated[str, Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(max_length=255)]
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
#: sysfs says -1 when the platform has no NUMA information
NumaNode = Annotated[int, Field(ge=-1, le=INT32_MAX)]


class LldpNeighbourReport(BaseModel):
    """What the port hears over LLDP: the switch (chassis ID, system name) and its port."""

    chassis_id: Name
    port_identifier: Name
    system_name: Text = ""
    system_description: Text = ""
    port_description: Text = ""
    ttl: Count = 120


class PortReport(BaseModel):
    """One physical Ethernet port (a PCI network-class device; never a VF)."""

    name: Name = Field(description="kernel interface name, e.g. enp0s3")
    pciaddr: Name = Field(description="PCI address, e.g. 0000:00:03.0")
    dev_id: Count = 0
    pclass: Text = Field(description='lspci -Dmnn form, e.g. "Ethernet controller [0200]"')
    pvendor: Text = Field(description='e.g. "Intel Corporation [8086]"')
    pdevice: Text = Field(description='e.g. "Ethernet Controller X710 for 10GbE SFP+ [1572]"')
    psvendor: Text = ""
    psdevice: Text = ""
    numa_node: NumaNode = 0
    sriov_totalvfs: Count | None = Field(default=None, description="None: no SR-IOV capability")
    sriov_numvfs: Count = 0
    sriov_vf_driver: Text | None = None
    sriov_vf_pdevice_id: Text | None = None
    sriov_vfs_pci_address: list[Name] = Field(default_factory=list)
    driver: Text | None = None
    mac: Name
    mtu: Count = 1500
    speed: Count | None = Field(default=None, description="Mb/s; None when the link is down")
    link_mode: Text | None = None
    lldp_neighbour: LldpNeighbourReport | None = Field(
        default=None, description="None: nothing heard over LLDP (now)"
    )


class HostReport(BaseModel):
    """A host's inventory as its agent sees it; the controller upserts from it."""

    hostname: Name
    personality: Personality = "worker"
    numa_nodes: list[Count] = Field(default_factory=lambda: [0])
    vcpus: Count = 0
    memory_mb: Count = 0
    disk_gb: Count = 0
    ports: list[PortReport] = Field(default_factory=list)
    #: why the host cannot run passthrough guests (its hypervisor driver's words: no IOMMU
    #: groups, no vfio-pci, libvirt unreachable, virt_type unusable); empty when it can, None
    #: when the reporter does not know (``passnic agent discover``)
    prerequisites: list[Annotated[str, Field(max_length=1024)]] | None = Field(
        default=None, max_length=32
    )

    @model_validator(mode="after")
    def _ports_once(self) -> HostReport:
        """Each port once, by name and by PCI function: the inventory keys them so."""
        names = [p.name for p in self.ports]
        functions = [(p.pciaddr, p.dev_id) for p in self.ports]
        if len(set(names)) != len(names) or len(set(functions)) != len(functions):
            raise ValueError("a port is listed twice (by name or by PCI address)")
        return self
