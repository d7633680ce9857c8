"""Issue 15, the remaining parts: the fabric reads the network domain's NIC bindings only, an
alias-flavor boot with a network gets its switch port set, and a start without the lab gives
back the switch a lab run had taken over."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passnic.fabric.drivers.soft import SoftSwitchDriver
from passnic.fabric.sample import SAMPLE_SWITCH, sample_cabling
from passnic.fabric.service import LLDP, SOFT
from passnic.lab.attach import LAB_ADMIN, point_switch_at_lab, release_lab_switch
from tests.compute.conftest import Scene

FAB = "/fabric/v1"
FABRIC = Path(__file__).parents[2] / "src" / "passnic" / "fabric"


@dataclass
class _Spec:
    switch_name: str = SAMPLE_SWITCH


@dataclass
class FakeLab:
    """What `point_switch_at_lab` reads of a started lab."""

    spec: _Spec = field(default_factory=_Spec)

    def netmiko_params(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": 1, "username": "lab", "password": "lab"}

    def cabling(self) -> dict[tuple[str, str], str]:
        return {(h, n): p for h, n, p in sample_cabling()}


def test_the_lab_learns_its_cabling_and_a_start_without_it_gives_the_switch_back(
    scene: Scene,
) -> None:
    cloud = scene.cloud
    # one NIC's link was learned by an earlier lab run: it stays
    cloud.fabric.delete_link(LAB_ADMIN, "compute-0", "enp0s3")
    cloud.fabric.set_link(
        LAB_ADMIN, "compute-0", "enp0s3", SAMPLE_SWITCH, "GigabitEthernet1/0/1", source=LLDP
    )
    point_switch_at_lab(cloud, FakeLab())  # type: ignore[arg-type]
    tor1 = cloud.fabric.get_switch(LAB_ADMIN, SAMPLE_SWITCH)
    assert (tor1.driver, tor1.address) == ("cisco_ios", "127.0.0.1:1")
    # the sample's typed links give way to what LLDP will teach
    links = cloud.fabric.list_links(LAB_ADMIN)
    assert [(lk.hostname, lk.ifname, lk.source) for lk in links] == [("compute-0", "enp0s3", LLDP)]
    assert release_lab_switch(cloud) == SAMPLE_SWITCH
    tor1 = cloud.fabric.get_switch(LAB_ADMIN, SAMPLE_SWITCH)
    assert (tor1.driver, tor1.address) == (SOFT, "")
    assert release_lab_switch(cloud) is None  # nothing left to give back


def test_a_switch_repointed_since_the_lab_is_left_alone(scene: Scene) -> None:
    cloud = scene.cloud
    point_switch_at_lab(cloud, FakeLab())  # type: ignore[arg-type]
    cloud.fabric.repoint_switch(LAB_ADMIN, SAMPLE_SWITCH, driver="arista_eos", address="tor:22")
    release_lab_switch(cloud)
    tor1 = cloud.fabric.get_switch(LAB_ADMIN, SAMPLE_SWITCH)
    assert (tor1.driver, tor1.address) == ("arista_eos", "tor:22")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_fabric_reads_no_other_domains_tables() -> None:
    """The fabric's intent comes from the network domain's published bindings: it imports no
    table (models) of another domain, nor compute, placement, identity or inventory at all
    (the sample seeding, which runs with the whole cloud, may name the sample hosts)."""
    banned = ("compute", "placement", "identity", "inventory")
    for path in sorted(FABRIC.rglob("*.py")):
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "passnic" or len(parts) < 2 or parts[1] == "fabric":
                continue
            assert parts[-1] != "models", f"{path.name} imports {module}"
            if path.name != "sample.py":
                assert parts[1] not in banned, f"{path.name} imports {module}"


def switch_of(tor1: SoftSwitchDriver, name: str) -> Any:
    return tor1.read([name])[name]
