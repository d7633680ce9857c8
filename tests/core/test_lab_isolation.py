"""The lab (``passnic.lab``) is a test bench: no production module imports it. Only the
commands that start it on request (``passnic up``, ``passnic demo``/``lab-clean``) may."""

from __future__ import annotations

import ast
from pathlib import Path

import passnic

SRC = Path(passnic.__file__).parent
#: the CLI commands that wire the lab in when the operator asks for it
ENTRY_POINTS = {"cli/up.py", "cli/lab.py"}


def _is_lab(name: str) -> bool:
    return name == "passnic.lab" or name.startswith(("passnic.lab.", "passnic.lab:"))


def lab_references(path: Path) -> list[str]:
    """Each import of the lab in a module, and each string naming it (``import_module`` and
    ``module:Class`` specs)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        found += [name for name in names if _is_lab(name)]
    return found


def test_no_production_module_imports_the_lab() -> None:
    modules = {
        str(p.relative_to(SRC)): p
        for p in sorted(SRC.rglob("*.py"))
        if p.relative_to(SRC).parts[0] != "lab"
    }
    assert "server.py" in modules and "agent/drivers/__init__.py" in modules
    offenders = {
        name: refs
        for name, path in modules.items()
        if name not in ENTRY_POINTS and (refs := lab_references(path))
    }
    assert offenders == {}


def test_the_check_finds_imports_and_specs(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import passnic.lab\nfrom passnic.lab.netns import ip\n"
        "DRIVER = 'passnic.lab.driver:X'\nOTHER = 'passnic.laboratory'\n"
    )
    assert lab_references(planted) == ["passnic.lab", "passnic.lab.netns", "passnic.lab.driver:X"]
