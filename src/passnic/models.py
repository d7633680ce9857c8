"""Every domain's tables, imported in one place for Alembic and create_all."""

from passnic.compute import models as compute_models
from passnic.fabric import models as fabric_models
from passnic.identity import models as identity_models
from passnic.image import models as image_models
from passnic.inventory import models as inventory_models
from passnic.network import models as network_models
from passnic.placement import models as placement_models

__all__ = [
    "compute_models",
    "fabric_models",
    "identity_models",
    "image_models",
    "inventory_models",
    "network_models",
    "placement_models",
]
