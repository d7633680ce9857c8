"""The sample cloud's flavor ``small`` (1 vCPU, 1024 MB RAM, 1 GB disk), which the StarlingX
procedure boots its VM with."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from passnic.compute.flavors import FlavorSpec
from passnic.errors import Conflict
from passnic.inventory.sample import BOOTSTRAP

if TYPE_CHECKING:
    from passnic.cloud import Cloud

SAMPLE_FLAVORS = (FlavorSpec(name="small", vcpus=1, ram=1024, disk=1),)


def seed_flavors(cloud: Cloud) -> None:
    """Create the sample flavors that are missing (safe to call on every start)."""
    for spec in SAMPLE_FLAVORS:
        with contextlib.suppress(Conflict):
            cloud.compute.flavors.create_flavor(BOOTSTRAP, spec)
