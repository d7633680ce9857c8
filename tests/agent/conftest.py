"""Fixtures for the agent tests: a small pci.ids and fake sysfs trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from passnic.agent.pciids import PciIds

# Entries copied in form (two-space separators, tab indents) from the real database.
SMALL_PCI_IDS = """\
# A trimmed pci.ids for tests
#\tSyntax:
#\tvendor  vendor_name
#\t\tdevice  device_name
1af4  Red Hat, Inc.
\t1000  Virtio network device
\t\t1af4 0001  Virtio network device
\t1001  Virtio block device
8086  Intel Corporation
\t10d3  82574L Gigabit Network Connection
\t\t8086 a01f  Gigabit CT Desktop Adapter
\t1237  440FX - 82441FX PMC [Natoma]
\t154c  Ethernet Virtual Function 700 Series
\t1572  Ethernet Controller X710 for 10GbE SFP+
\t\t8086 0000  Ethernet Converged Network Adapter X710
\t\t8086 0001  Ethernet Converged Network Adapter X710-4
15b3  Mellanox Technologies
\t1017  MT27800 Family [ConnectX-5]

# List of known device classes, subclasses and programming interfaces

C 01  Mass storage controller
\t00  SCSI storage controller
C 02  Network controller
\t00  Ethernet controller
C 06  Bridge
\t00  Host bridge
"""


@pytest.fixture
def pci_ids_file(tmp_path: Path) -> Path:
    path = tmp_path / "pci.ids"
    path.write_text(SMALL_PCI_IDS, encoding="utf-8")
    return path


@pytest.fixture
def pci_ids(pci_ids_file: Path) -> PciIds:
    return PciIds(pci_ids_file)
