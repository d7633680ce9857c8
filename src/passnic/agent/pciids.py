"""Names for PCI ids from the pci.ids database, formatted the way ``lspci -Dmnn`` prints them.

sysinv stores a port's ``pclass``/``pvendor``/``pdevice``/``psvendor``/``psdevice`` as lspci
``-Dmnn`` strings (``"Intel Corporation [8086]"``) and consumers take the id from the trailing
``[xxxx]``, so Passnic must produce byte-for-byte the same strings lspci would. The rules below
follow pciutils' ``lib/names.c`` (``pci_lookup_name`` with ``PCI_LOOKUP_MIXED``) and ``lspci.c``
(``show_machine``):

* vendor: ``"<name> [vvvv]"``, unknown → ``"Vendor [vvvv]"``;
* device: ``"<name> [dddd]"``, unknown → ``"Device [dddd]"``;
* class (``ccss`` = base class + subclass): the subclass name, else the base-class name (still
  with the full ``[ccss]``), else ``"Class [ccss]"``;
* subsystem vendor: ``"<name> [svvv]"``, unknown → ``"Unknown vendor [svvv]"``;
* subsystem device: the ``svvv sddd`` entry under the device, else (when the subsystem ids equal
  the device ids) the device's own name, else ``"Device [sddd]"``;
* both subsystem fields are ``""`` when the subsystem vendor id is 0 or 0xffff (lspci prints
  ``"" ""`` then).

The database has no names for a host without the ``pci.ids`` package; then every field takes the
unknown form above, which still carries the ids consumers need.
"""

from __future__ import annotations

import functools
import gzip
import logging
import threading
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

#: Where distributions install pci.ids (Debian: /usr/share/misc; Fedora/RHEL: hwdata).
DEFAULT_PCI_IDS_PATHS: tuple[Path, ...] = (
    Path("/usr/share/misc/pci.ids"),
    Path("/usr/share/hwdata/pci.ids"),
    Path("/usr/share/pci.ids"),
    Path("/usr/share/misc/pci.ids.gz"),
)


class PciIds:
    """An index of one pci.ids file, built in a single pass on first lookup.

    Loading is deferred because most agent runs format a handful of ids from a ~1.3 MB file;
    constructing a ``PciIds`` must stay free so callers can create one unconditionally.
    ``path=None`` (or a missing/unreadable file) means "no database": every lookup misses.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded = False
        self._vendors: dict[int, str] = {}
        self._devices: dict[tuple[int, int], str] = {}
        self._subsystems: dict[tuple[int, int, int, int], str] = {}
        self._classes: dict[int, str] = {}
        self._subclasses: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"PciIds({self.path!r})"

    @classmethod
    def find(cls, candidates: Iterable[Path] = DEFAULT_PCI_IDS_PATHS) -> PciIds:
        """The first existing database among ``candidates``, or an empty one."""
        for candidate in candidates:
            if candidate.is_file():
                return cls(candidate)
        log.info("no pci.ids database found; PCI names fall back to bare ids")
        return cls(None)

    @staticmethod
    @functools.cache
    def system() -> PciIds:
        """The host's database, shared by the whole process so it is parsed at most once."""
        return PciIds.find()

    # -- loading ---------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            if self.path is not None:
                try:
                    self._parse(self._read_text(self.path))
                except OSError as exc:
                    log.warning(
                        "cannot read %s (%s); PCI names fall back to bare ids", self.path, exc
                    )
            self._loaded = True

    @staticmethod
    def _read_text(path: Path) -> str:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", errors="replace")

    def _parse(self, text: str) -> None:
        """Index vendors, devices, subsystems, classes and subclasses in one pass.

        Format: ``vvvv  name`` / ``\\tdddd  name`` / ``\\t\\tsvvv sddd  name`` for vendors, and
        ``C cc  name`` / ``\\tss  name`` / ``\\t\\tpp  name`` for classes; ids and names are
        separated by two spaces. Lines that do not parse are skipped, as lspci does.
        """
        vendors, devices, subsystems = self._vendors, self._devices, self._subsystems
        classes, subclasses = self._classes, self._subclasses
        section = ""  # "vendor", "class" or "" (an unknown top-level section: skip children)
        vendor = device = klass = -1
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            ident, _, name = line.lstrip("\t").partition("  ")
            name = name.strip()
            try:
                if line[0] != "\t":
                    if ident.startswith("C "):
                        section, klass = "class", int(ident[2:], 16)
                        classes[klass] = name
                    elif len(ident) == 4:
                        section, vendor, device = "vendor", int(ident, 16), -1
                        vendors[vendor] = name
                    else:
                        section = ""
                elif line[1] != "\t":
                    if section == "vendor":
                        device = int(ident, 16)
                        devices[(vendor, device)] = name
                    elif section == "class":
                        subclasses[(klass << 8) | int(ident, 16)] = name
                elif section == "vendor" and device >= 0:
                    sub_vendor, _, sub_device = ident.partition(" ")
                    key = (vendor, device, int(sub_vendor, 16), int(sub_device, 16))
                    subsystems[key] = name
            except ValueError:
                continue

    # -- raw lookups ------------------------------------------------------------------------

    def vendor_name(self, vendor_id: int) -> str | None:
        self._ensure_loaded()
        return self._vendors.get(vendor_id)

    def device_name(self, vendor_id: int, device_id: int) -> str | None:
        self._ensure_loaded()
        return self._devices.get((vendor_id, device_id))

    def subsystem_name(
        self, vendor_id: int, device_id: int, subvendor_id: int, subdevice_id: int
    ) -> str | None:
        self._ensure_loaded()
        name = self._subsystems.get((vendor_id, device_id, subvendor_id, subdevice_id))
        if name is None and (vendor_id, device_id) == (subvendor_id, subdevice_id):
            name = self._devices.get((vendor_id, device_id))
        return name

    def class_name(self, class_code: int) -> str | None:
        """Name of a 16-bit ``ccss`` code: the subclass's, else its base class's."""
        self._ensure_loaded()
        return self._subclasses.get(class_code) or self._classes.get(class_code >> 8)

    # -- lspci -mnn strings -----------------------------------------------------------------

    def format_class(self, class_code: int) -> str:
        """``class_code`` is the 24-bit sysfs ``class`` value (class, subclass, prog-if)."""
        ccss = (class_code >> 8) & 0xFFFF
        return _mixed(self.class_name(ccss), f"{ccss:04x}", "Class")

    def format_vendor(self, vendor_id: int) -> str:
        return _mixed(self.vendor_name(vendor_id), f"{vendor_id:04x}", "Vendor")

    def format_device(self, vendor_id: int, device_id: int) -> str:
        return _mixed(self.device_name(vendor_id, device_id), f"{device_id:04x}", "Device")

    def format_subsystem_vendor(self, subvendor_id: int) -> str:
        if not has_subsystem(subvendor_id):
            return ""
        return _mixed(self.vendor_name(subvendor_id), f"{subvendor_id:04x}", "Unknown vendor")

    def format_subsystem_device(
        self, vendor_id: int, device_id: int, subvendor_id: int, subdevice_id: int
    ) -> str:
        if not has_subsystem(subvendor_id):
            return ""
        name = self.subsystem_name(vendor_id, device_id, subvendor_id, subdevice_id)
        return _mixed(name, f"{subdevice_id:04x}", "Device")


def has_subsystem(subvendor_id: int) -> bool:
    """lspci shows subsystem fields only for a real subsystem vendor id."""
    return subvendor_id not in (0, 0xFFFF)


def _mixed(name: str | None, number: str, unknown: str) -> str:
    return f"{name if name is not None else unknown} [{number}]"
