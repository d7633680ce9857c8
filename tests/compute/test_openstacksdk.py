"""openstacksdk, unmodified, against a running Passnic: what scripts and Ansible call.

Servers (create with a key pair, metadata and a server group; list; interfaces; migrate and
confirm; resize and confirm; delete), key pairs, server groups (anti-affinity honoured) and
quota sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openstack
import openstack.connection
import pytest

from tests.compute.test_openstack_cli import ADMIN, USER1, Inventory, inventory
from tests.conftest import LiveCloud

pytestmark = pytest.mark.osc

__all__ = ["inventory"]  # the module fixture, shared with the CLI test


def connect(live: LiveCloud, cloud: str) -> openstack.connection.Connection:
    config = openstack.config.OpenStackConfig(config_files=[str(live.clouds_yaml)])
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


@pytest.fixture(scope="module")
def conns(live: LiveCloud) -> Iterator[tuple[Any, Any]]:
    admin, user = connect(live, ADMIN), connect(live, USER1)
    yield admin, user
    admin.close()
    user.close()


def test_sdk_servers_keypairs_groups_quotas(
    live: LiveCloud, inventory: Inventory, conns: tuple[Any, Any]
) -> None:
    admin, user = conns
    for host in ("compute-0", "compute-1"):
        inventory.passthrough(host, "enp0s3", "group0-data0")
    project1 = admin.identity.find_project("project1")
    net = admin.network.create_network(
        name="net0",
        project_id=project1.id,
        provider_network_type="vlan",
        provider_physical_network="group0-data0",
        provider_segmentation_id=10,
    )
    user.network.create_subnet(
        name="subnet0", network_id=net.id, cidr="192.168.10.0/24", ip_version=4
    )
    ports = [
        user.network.create_port(
            name=f"port{n}", network_id=net.id, binding_vnic_type="direct-physical"
        )
        for n in range(2)
    ]

    # quotas: an admin reads and raises them; the user sees the new limit
    quota = admin.compute.get_quota_set(project1.id)
    assert quota.instances == 10
    admin.compute.update_quota_set(project1, instances=12, key_pairs=5)
    assert user.compute.get_quota_set(project1.id).instances == 12

    # key pairs: generated (private key answered once) and listed
    key = user.compute.create_keypair(name="k1")
    assert key.private_key and key.public_key.startswith("ssh-ed25519")
    assert [k.name for k in user.compute.keypairs()] == ["k1"]

    group = user.compute.create_server_group(name="web", policy="anti-affinity")
    flavor = user.compute.find_flavor("small")
    image = user.image.find_image("cirros")

    def boot(name: str, port: Any) -> Any:
        server = user.compute.create_server(
            name=name,
            flavor_id=flavor.id,
            image_id=image.id,
            networks=[{"port": port.id}],
            key_name="k1",
            metadata={"role": "web"},
            scheduler_hints={"group": group.id},
        )
        return user.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)

    vm1 = boot("vm1", ports[0])
    interfaces = list(user.compute.server_interfaces(vm1))
    assert [i.port_id for i in interfaces] == [ports[0].id]
    assert interfaces[0].port_state == "ACTIVE"
    user.compute.set_server_metadata(vm1, tier="front")
    assert user.compute.fetch_server_metadata(vm1).metadata == {"role": "web", "tier": "front"}

    # cold migration by the admin, confirmed
    first = admin.compute.get_server(vm1.id).compute_host
    admin.compute.migrate_server(vm1)
    admin.compute.wait_for_server(vm1, status="VERIFY_RESIZE", wait=60, interval=0.2)
    admin.compute.confirm_server_resize(vm1)
    moved = admin.compute.wait_for_server(vm1, status="ACTIVE", wait=60, interval=0.2)
    assert moved.compute_host != first

    # resize by the user to a bigger flavor: a cold migration back, then confirmed
    medium = admin.compute.create_flavor(name="medium", ram=2048, vcpus=2, disk=1)
    user.compute.resize_server(vm1, medium.id)
    user.compute.wait_for_server(vm1, status="VERIFY_RESIZE", wait=60, interval=0.2)
    user.compute.confirm_server_resize(vm1)
    resized = user.compute.wait_for_server(vm1, status="ACTIVE", wait=60, interval=0.2)
    assert (resized.flavor.vcpus, resized.flavor.ram) == (2, 2048)
    assert admin.compute.get_server(vm1.id).compute_host == first

    # the second member of the anti-affinity group: the other host
    vm2 = boot("vm2", ports[1])
    hosts = {admin.compute.get_server(s.id).compute_host for s in (vm1, vm2)}
    assert hosts == {"compute-0", "compute-1"}
    assert set(user.compute.get_server_group(group.id).member_ids) == {vm1.id, vm2.id}
    listed = {s.name: s for s in user.compute.servers(details=True)}
    assert listed["vm1"].key_name == "k1" and listed["vm2"].status == "ACTIVE"

    for server in (vm1, vm2):
        user.compute.delete_server(server)
        user.compute.wait_for_delete(server, wait=60, interval=0.2)
    assert list(user.compute.servers()) == []
    user.compute.delete_server_group(group)
    user.compute.delete_keypair("k1")
    assert list(user.compute.keypairs()) == []
