"""The compute scene (the StarlingX procedure up to net0) reused for the fabric tests, on
SQLite; the switch is the sample cloud's tor-1 (the in-process test switch `soft`)."""

from __future__ import annotations

import pytest

from passnic.cloud import Cloud
from passnic.fabric.drivers.soft import SoftSwitchDriver
from tests.compute.conftest import Scene, scene

__all__ = ["Scene", "scene"]


@pytest.fixture
def tor1(cloud: Cloud, scene: Scene) -> SoftSwitchDriver:
    return cloud.fabric.soft("tor-1")
