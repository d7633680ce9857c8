"""pci.ids lookups produce the exact strings ``lspci -Dmnn`` prints (sysinv stores those)."""

from __future__ import annotations

import gzip
from pathlib import Path

from passnic.agent.pciids import PciIds


def test_known_ids_are_name_then_bracketed_hex(pci_ids: PciIds) -> None:
    assert pci_ids.format_vendor(0x8086) == "Intel Corporation [8086]"
    assert pci_ids.format_device(0x8086, 0x1572) == "Ethernet Controller X710 for 10GbE SFP+ [1572]"
    assert pci_ids.format_class(0x020000) == "Ethernet controller [0200]"
    assert pci_ids.format_subsystem_vendor(0x8086) == "Intel Corporation [8086]"
    assert (
        pci_ids.format_subsystem_device(0x8086, 0x1572, 0x8086, 0x0001)
        == "Ethernet Converged Network Adapter X710-4 [0001]"
    )


def test_names_containing_brackets_keep_the_id_last(pci_ids: PciIds) -> None:
    # Consumers take the id from the trailing [xxxx]; a name's own brackets come before it.
    assert pci_ids.format_device(0x15B3, 0x1017) == "MT27800 Family [ConnectX-5] [1017]"


def test_unknown_ids_use_lspci_placeholders(pci_ids: PciIds) -> None:
    assert pci_ids.format_vendor(0x1234) == "Vendor [1234]"
    assert pci_ids.format_device(0x8086, 0xBEEF) == "Device [beef]"
    assert pci_ids.format_device(0x1234, 0x1572) == "Device [1572]"
    assert pci_ids.format_subsystem_vendor(0x1234) == "Unknown vendor [1234]"
    assert pci_ids.format_subsystem_device(0x8086, 0x1572, 0x8086, 0x7777) == "Device [7777]"
    assert pci_ids.format_class(0xFF0000) == "Class [ff00]"


def test_unknown_subclass_falls_back_to_base_class_with_full_code(pci_ids: PciIds) -> None:
    assert pci_ids.format_class(0x028000) == "Network controller [0280]"


def test_subsystem_equal_to_device_uses_the_device_name(pci_ids: PciIds) -> None:
    assert pci_ids.format_subsystem_device(0x8086, 0x154C, 0x8086, 0x154C) == (
        "Ethernet Virtual Function 700 Series [154c]"
    )


def test_no_subsystem_vendor_gives_empty_subsystem_fields(pci_ids: PciIds) -> None:
    for subvendor in (0x0000, 0xFFFF):
        assert pci_ids.format_subsystem_vendor(subvendor) == ""
        assert pci_ids.format_subsystem_device(0x8086, 0x1572, subvendor, 0) == ""


def test_without_a_database_every_name_is_the_placeholder(tmp_path: Path) -> None:
    for ids in (PciIds(None), PciIds(tmp_path / "missing.ids")):
        assert ids.format_vendor(0x8086) == "Vendor [8086]"
        assert ids.format_device(0x8086, 0x1572) == "Device [1572]"
        assert ids.format_class(0x020000) == "Class [0200]"


def test_find_takes_the_first_existing_candidate(tmp_path: Path, pci_ids_file: Path) -> None:
    assert PciIds.find([tmp_path / "nope", pci_ids_file]).path == pci_ids_file
    assert PciIds.find([tmp_path / "nope"]).path is None


def test_database_is_read_once_on_first_lookup(pci_ids_file: Path) -> None:
    ids = PciIds(pci_ids_file)
    pci_ids_file.write_text("8086  Renamed Corp\n", encoding="utf-8")  # before any lookup
    assert ids.format_vendor(0x8086) == "Renamed Corp [8086]"
    pci_ids_file.write_text("8086  Changed Again\n", encoding="utf-8")  # after: cached
    assert ids.format_vendor(0x8086) == "Renamed Corp [8086]"


def test_gzipped_database(tmp_path: Path, pci_ids_file: Path) -> None:
    gz = tmp_path / "pci.ids.gz"
    gz.write_bytes(gzip.compress(pci_ids_file.read_bytes()))
    assert PciIds(gz).format_vendor(0x1AF4) == "Red Hat, Inc. [1af4]"


def test_malformed_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "pci.ids"
    path.write_text(
        "zzzz  Not hex\n\tnope  Orphan device\n8086  Intel Corporation\n\txyz1  Bad\n"
        "\t1572  X710\n\t\tbroken\n\t\t8086 0000  Adapter\n",
        encoding="utf-8",
    )
    ids = PciIds(path)
    assert ids.format_vendor(0x8086) == "Intel Corporation [8086]"
    assert ids.format_device(0x8086, 0x1572) == "X710 [1572]"
    assert ids.format_subsystem_device(0x8086, 0x1572, 0x8086, 0) == "Adapter [0000]"


def test_full_size_database_indexes_every_section(tmp_path: Path) -> None:
    # Shaped like the real ~1.3 MB file: thousands of vendors, devices and subsystems.
    lines = []
    for v in range(2500):
        lines.append(f"{v:04x}  Vendor number {v}")
        for d in range(8):
            lines.append(f"\t{d:04x}  Device {d} of {v}")
            lines.append(f"\t\t{v:04x} {d:04x}  Subsystem {d} of {v}")
    lines += ["C 02  Network controller", "\t00  Ethernet controller", "\t\t00  Prog-if"]
    path = tmp_path / "pci.ids"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > 1_000_000
    ids = PciIds(path)
    assert ids.format_vendor(2499) == "Vendor number 2499 [09c3]"
    assert ids.format_device(2499, 7) == "Device 7 of 2499 [0007]"
    assert ids.format_subsystem_device(5, 3, 5, 3) == "Subsystem 3 of 5 [0003]"
    assert ids.format_class(0x020000) == "Ethernet controller [0200]"
