"""The cloud: one database and every domain's service, built once per process."""

from __future__ import annotations

from passnic.compute.conductor import Conductor
from passnic.compute.hosts import HostService
from passnic.compute.service import ComputeService
from passnic.config import Settings
from passnic.db import Database
from passnic.fabric.service import FabricService
from passnic.identity.service import IdentityService
from passnic.image.service import ImageService
from passnic.inventory.service import InventoryService
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
        self.fabric = FabricService(self.db, settings)
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

    def close(self) -> None:
        self.conductor.stop()
        self.db.dispose()
