"""The host agent: discovers a host's NICs from sysfs and reports them to the controller.

StarlingX's sysinv-agent does this with ``lspci`` and sysfs; Passnic reads sysfs only (plus the
pci.ids database for names) so that it runs unprivileged, in containers, and on fake trees.
"""

from pathlib import Path

REAL_SYSFS = Path("/sys")
"""Defined here, not in ``discovery``, so the CLI shows it as a default without importing
discovery (and pydantic) for ``--help``."""
