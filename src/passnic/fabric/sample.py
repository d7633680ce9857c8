"""The sample cloud's access switch: `tor-1` (the in-process test switch, `soft`, until the lab
points it at its SSH switch) with each compute NIC cabled to its own
port and an uplink port carrying every VLAN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from passnic.fabric.service import SOFT
from passnic.inventory.sample import BOOTSTRAP, SAMPLE_HOSTS

if TYPE_CHECKING:
    from passnic.cloud import Cloud

SAMPLE_SWITCH = "tor-1"
SAMPLE_NICS = ("enp0s3", "enp0s4")
UPLINK_PORT = "GigabitEthernet1/0/48"
#: Freed NICs are parked here, shut down: a VLAN no network uses, so a freed NIC never keeps a
#: project's VLAN even if someone brings its port up.
QUARANTINE_VLAN = 4000


def sample_cabling() -> list[tuple[str, str, str]]:
    """(host, nic, switch port): compute-N's NICs on GigabitEthernet1/0/(2N+1) and (2N+2)."""
    rows = []
    computes = [name for name, personality, _ in SAMPLE_HOSTS if personality == "worker"]
    for n, host in enumerate(computes):
        for k, nic in enumerate(SAMPLE_NICS):
            rows.append((host, nic, f"GigabitEthernet1/0/{2 * n + k + 1}"))
    return rows


def seed_fabric(cloud: Cloud) -> None:
    cabling = sample_cabling()
    cloud.fabric.create_switch(
        BOOTSTRAP,
        {
            "name": SAMPLE_SWITCH,
            "driver": SOFT,
            "address": "",
            "ports": [port for _h, _n, port in cabling],
            "uplinks": [UPLINK_PORT],
            "quarantine_vlan": QUARANTINE_VLAN,
        },
    )
    for host, nic, port in cabling:
        cloud.fabric.set_link(BOOTSTRAP, host, nic, SAMPLE_SWITCH, port)
