"""Passnic itself drives the lab: servers booted through the compute API land on lab "VMs"
(each host's agent runs the lab driver), the guests configure themselves from Passnic's
network_data.json, Passnic's fabric configures the lab switch over SSH, and real packets cross
it."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from passnic.agent.discovery import discover_host
from passnic.fabric.drivers.netmiko_driver import NetmikoSwitch
from passnic.lab import netns
from passnic.lab.attach import lab_agent_options, point_switch_at_lab, wait_for_cabling
from passnic.lab.driver import LabDriver, guest_interfaces, vm_netns
from passnic.lab.ping import ping_from
from passnic.lab.topology import Lab
from tests.compute.conftest import Scene, scene  # noqa: F401 (fixture)

HOSTS = ("compute-0", "compute-1")


def test_servers_booted_through_the_api_ping_each_other_on_the_lab(
    scene: Scene,  # noqa: F811
    lab_prefix: str,
    tmp_path: Path,
) -> None:
    with Lab(tmp_path / "lab", prefix=lab_prefix) as lab:
        point_switch_at_lab(scene.cloud, lab)
        for host in HOSTS:
            # the host's agent runs the lab driver, as `passnic up` configures it on the lab,
            # and reports its inventory with what each NIC hears from the lab switch's LLDP
            agent = scene.hosts.agent(host)
            options = lab_agent_options(lab, host)
            agent.driver = driver = LabDriver(host, tmp_path / "agents" / host, options)
            agent.lldp = driver.lldp_neighbours
            agent.inventory = partial(discover_host, host, sysfs_root=lab.sysfs_root(host))
        deadline = time.monotonic() + 30
        while (missing := wait_for_cabling(scene.cloud, lab, timeout=0)) and any(
            host in m for m in missing for host in HOSTS
        ):
            assert time.monotonic() < deadline, f"no LLDP heard on {missing}"
            scene.hosts.sync()
            time.sleep(0.2)
        switch = NetmikoSwitch("cisco_ios", lab.netmiko_params(), name="tor-1")

        ports = [scene.port(f"port{i}") for i in range(2)]
        servers = [scene.boot(f"vm{i}", networks=[{"port": p["id"]}]) for i, p in enumerate(ports)]
        for server in servers:
            assert server["status"] == "ACTIVE", server.get("fault")
        hosts = {s["OS-EXT-SRV-ATTR:host"] for s in servers}
        assert hosts == set(HOSTS)  # one passthrough NIC per host: one VM each
        # Passnic's fabric put both NICs' switch ports on net0's VLAN, over SSH
        nic_ports = [lab.nic(h, "enp0s3").switch_port for h in HOSTS]
        assert {p: c.access_vlan for p, c in switch.read(nic_ports).items()} == dict.fromkeys(
            nic_ports, 10
        )

        ip1 = ports[1]["fixed_ips"][0]["ip_address"]
        assert ping_from(vm_netns(lab.vm_prefix(), servers[0]["id"]), ip1, count=2, timeout=1)
        # the guest's eth0 is the NIC of its host, with the port's MAC and address
        host0 = servers[0]["OS-EXT-SRV-ATTR:host"]
        assert guest_interfaces(lab.vm_prefix(), servers[0]["id"]) == {
            lab.nic(host0, "enp0s3").mac: "eth0"
        }
        out = netns.ip(
            "-br", "addr", "show", "eth0", ns=vm_netns(lab.vm_prefix(), servers[0]["id"])
        )
        assert ports[0]["fixed_ips"][0]["ip_address"] in out

        for server in servers:
            resp = scene.delete(server["id"], headers=scene.user1)
            assert resp.status_code == 204, resp.text
        assert netns.namespaces(lab.vm_prefix()) == []
        for host in HOSTS:
            assert netns.link_exists("enp0s3", lab.host_netns(host))
        # and shut their ports down again once the servers are gone
        assert not any(c.admin_up for c in switch.read(nic_ports).values())
