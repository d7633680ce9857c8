"""The cloud: one database and every domain's service, built once per process."""

from __future__ import annotations

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
        self.inventory.servers_on = self.placement.servers_on
        self.compute = ComputeService(self.db, self.image, self.network, self.placement)
        self.fabric = self.compute.fabric = FabricService(self.db)

    def close(self) -> None:
        self.db.dispose()
