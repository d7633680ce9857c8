"""The cloud: one database and every domain's service, built once per process."""

from __future__ import annotations

from collections.abc import Collection

from passnic.compute.conductor import Conductor
from passnic.compute.hosts import HostService
from passnic.compute.service import ComputeService
from passnic.config import Settings
from passnic.db import Database
from passnic.fabric.service import FabricService, ServerRef
from passnic.identity.service import IdentityService
from passnic.image.service import ImageService
from passnic.inventory.service import InventoryService
from passnic.network.bindings import NetworkRecord, NicBinding
from passnic.network.service import NetworkService
from passnic.placement.service import PlacementService


class Cloud:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.identity = IdentityService(self.db, settings)
        self.inventory = InventoryService(self.db)
        self.network = NetworkService(self.db, self.inventory)
        self.image = ImageService(self.db, settings)
        self.placement = PlacementService(self.db, self.inventory)
        self.fabric = FabricService(self.db, settings, _FabricSources(self))
        self.hosts = HostService(
            self.db,
            self.inventory,
            self.identity,
            settings.heartbeat_timeout,
            settings.home / "disks",
        )
        self.compute = ComputeService(
            self.db,
            self.image,
            self.network,
            self.placement,
            self.hosts,
            self.fabric,
            settings.step_timeout,
        )
        self.conductor = Conductor(self.compute, self.hosts)
        self.inventory.consult(self.placement.nics_in_use, self.network.data_network_users)
        self.inventory.servers_on = self.placement.servers_on
        self.inventory.lldp_heard = self.fabric.learn_lldp

    def close(self) -> None:
        self.conductor.stop()
        self.db.dispose()


class _FabricSources:
    """What the fabric reads of the other domains: the network domain's NIC bindings (its
    intent) and, for names in its answers, the published read-models of compute, identity and
    inventory."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def nic_bindings(
        self, hostnames: Collection[str] | None = None, server_id: str | None = None
    ) -> list[NicBinding]:
        return self.cloud.network.nic_bindings(hostnames, server_id)

    def network_records(self) -> list[NetworkRecord]:
        return self.cloud.network.network_records()

    def find_server(self, ref: str) -> ServerRef | None:
        found = self.cloud.compute.server_refs(ref=ref)
        return ServerRef(*found[0]) if found else None

    def servers(self, ids: Collection[str]) -> dict[str, ServerRef]:
        return {i: ServerRef(i, n, p) for i, n, p in self.cloud.compute.server_refs(ids=ids)}

    def project_names(self) -> dict[str, str]:
        return self.cloud.identity.project_names()

    def nic_pci_address(self, hostname: str, ifname: str) -> str | None:
        return self.cloud.inventory.nic_pci_address(hostname, ifname)
