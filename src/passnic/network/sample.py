"""The sample cloud's VLAN segment range: VLANs 10-999 of group0-data0, shared by every project.

Segment ranges say which VLAN IDs of a data network a project's networks may use. With none,
no project could create a network of its own (Passnic would have no VLAN to give it), and the
first private range an admin added would leave every other project with none. A shared range
from the start lets every project create networks (the lowest free VLAN of it), lets an admin
give a project any VLAN in it (the procedure's VLAN 10), and leaves 1000-3999 for ranges an
admin reserves for one project. VLANs 1-9 and 4000 (tor-1's quarantine VLAN) are in no range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from passnic.inventory.sample import BOOTSTRAP, SAMPLE_DATANETWORK

if TYPE_CHECKING:
    from passnic.cloud import Cloud

SHARED_RANGE_NAME = f"{SAMPLE_DATANETWORK['name']}-shared"
SHARED_VLANS = (10, 999)


def seed_segment_ranges(cloud: Cloud) -> None:
    cloud.network.create_segment_range(
        BOOTSTRAP,
        name=SHARED_RANGE_NAME,
        physical_network=str(SAMPLE_DATANETWORK["name"]),
        minimum=SHARED_VLANS[0],
        maximum=SHARED_VLANS[1],
        shared=True,
    )
