"""A "no valid host" reason names only the servers its reader may see: the requesting
project's; other projects' servers holding NICs are counted. The whole story stays for admins
(``details``)."""

from __future__ import annotations

from passnic.placement.model import DeviceRequest, Flavor, NoValidHost, PlacementRequest
from passnic.placement.service import DeviceSource
from tests.compute.conftest import DATANET, Scene


def test_the_reason_hides_other_projects_servers(scene: Scene) -> None:
    vm1 = scene.boot("vm1", networks=[{"port": scene.port("p1")["id"]}])
    vm2 = scene.boot("vm2", networks=[{"port": scene.port("p2")["id"]}])
    assert {vm1["status"], vm2["status"]} == {"ACTIVE"}  # both NICs of the fleet are held
    placement = scene.cloud.placement
    request = PlacementRequest(Flavor(1, 512, 1), (DeviceRequest.port(DATANET, label="port p"),))
    sources = [DeviceSource(physical_network=DATANET)]

    def refusal(shown: set[str] | None) -> NoValidHost:
        found = placement.run(
            lambda s: placement.place(
                s, "c", "vm3", request, sources, shown=None if shown is None else lambda: shown
            )
        )
        assert isinstance(found, NoValidHost)
        return found

    full = (
        "No valid host: 2 hosts have a pci-passthrough NIC on group0-data0; compute-0 and "
        "compute-1 have theirs in use by vm1 and vm2"
    )
    everyone = refusal(None)
    assert (everyone.message, everyone.details) == (full, "")
    member = refusal({vm1["id"]})  # vm2 is, as far as this reader knows, another project's
    assert member.message == (
        "No valid host: 2 hosts have a pci-passthrough NIC on group0-data0; compute-0 and "
        "compute-1 have theirs in use by vm1 and another project's server"
    )
    assert member.details == full
    assert refusal(set()).stages[-1].text.endswith("in use by 2 servers of other projects")
