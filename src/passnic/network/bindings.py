"""What the network domain publishes about NICs on hosts: which network, and so which VLAN,
each bound passthrough NIC carries (one record per port bound to a NIC), and the networks'
VLANs. Plain records: the fabric decides every switch port from these and its own tables, so
"which VLAN this NIC carries" has one source, the port bindings."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from passnic.db import Database
from passnic.network.models import Network, Port
from passnic.network.ports import HOSTDEV_PHYSICAL


@dataclass(frozen=True)
class NicBinding:
    """A port bound to the passthrough NIC `pci_address` of `host`."""

    host: str
    pci_address: str
    port_id: str
    mac: str
    network_id: str
    network_name: str
    #: `vlan` or `flat` (a flat network's frames use the switch's native VLAN)
    network_type: str
    segmentation_id: int | None
    project_id: str
    #: the server holding the port ("" when none)
    server_id: str


@dataclass(frozen=True)
class NetworkRecord:
    id: str
    name: str
    project_id: str
    shared: bool
    network_type: str
    segmentation_id: int | None


class BindingRules:
    db: Database

    def nic_bindings(
        self, hostnames: Collection[str] | None = None, server_id: str | None = None
    ) -> list[NicBinding]:
        """The ports bound to NICs (of these hosts, of this server, or all)."""
        stmt = (
            select(Port, Network)
            .join(Network, Network.id == Port.network_id)
            .where(Port.binding_vif_type == HOSTDEV_PHYSICAL, Port.binding_host_id != "")
            .order_by(Port.binding_host_id, Port.id)
        )
        if hostnames is not None:
            stmt = stmt.where(Port.binding_host_id.in_(list(hostnames)))
        if server_id is not None:
            stmt = stmt.where(Port.device_id == server_id)
        with self.db.transaction() as s:
            return [
                NicBinding(
                    host=port.binding_host_id,
                    pci_address=str((port.binding_profile or {}).get("pci_slot") or ""),
                    port_id=port.id,
                    mac=port.mac_address,
                    network_id=net.id,
                    network_name=net.name,
                    network_type=net.network_type,
                    segmentation_id=net.segmentation_id,
                    project_id=port.project_id,
                    server_id=port.device_id,
                )
                for port, net in s.execute(stmt).all()
            ]

    def network_records(self) -> list[NetworkRecord]:
        """Every network with its VLAN, for telling which network a VLAN belongs to."""
        with self.db.transaction() as s:
            return [
                NetworkRecord(
                    n.id, n.name, n.project_id, n.shared, n.network_type, n.segmentation_id
                )
                for n in s.scalars(select(Network).order_by(Network.name, Network.id))
            ]
