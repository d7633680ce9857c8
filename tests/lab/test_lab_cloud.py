"""Passnic itself drives the lab: servers booted through the compute API land on lab
"VMs" (the lab hypervisor behind each host's agent), the guests configure themselves from
Passnic's network_data.json, and real packets cross the lab switch that Passnic's netmiko
driver configured."""

from __future__ import annotations

from pathlib import Path

from passnic.compute.agents import LocalAgent
from passnic.compute.hypervisor.lab import lab_driver_factory, vm_netns
from passnic.fabric.drivers.netmiko_driver import NetmikoSwitch
from passnic.fabric.portconfig import PortConfig
from passnic.lab import netns
from passnic.lab.ping import ping_from
from passnic.lab.topology import Lab
from tests.compute.conftest import ADMIN, API, Scene, scene  # noqa: F401 (fixture)

HOSTS = ("compute-0", "compute-1")


def test_servers_booted_through_the_api_ping_each_other_on_the_lab(
    scene: Scene,  # noqa: F811
    lab_prefix: str,
    tmp_path: Path,
) -> None:
    with Lab(tmp_path / "lab") as lab:
        factory = lab_driver_factory(
            lab, lambda server_id: scene.cloud.compute.network_data(ADMIN, server_id)
        )
        for host in HOSTS:
            scene.cloud.compute.agents.register(host, LocalAgent(host, factory(host)))
        # what the fabric service will do for net0 (VLAN 10): access ports on VLAN 10
        switch = NetmikoSwitch("cisco_ios", lab.netmiko_params(), name="tor-1")
        switch.apply({lab.nic(h, "enp0s3").switch_port: PortConfig.access(10) for h in HOSTS})

        ports = [scene.port(f"port{i}") for i in range(2)]
        servers = [scene.boot(f"vm{i}", networks=[{"port": p["id"]}]) for i, p in enumerate(ports)]
        for server in servers:
            assert server["status"] == "ACTIVE", server.get("fault")
        hosts = {scene.show(s["id"])["OS-EXT-SRV-ATTR:host"] for s in servers}
        assert hosts == set(HOSTS)  # one passthrough NIC per host: one VM each

        ip1 = ports[1]["fixed_ips"][0]["ip_address"]
        assert ping_from(vm_netns(servers[0]["id"]), ip1, count=2, timeout=1)
        # the guest's eth0 carries the NIC's MAC and the port's address
        out = netns.ip("-br", "addr", "show", "eth0", ns=vm_netns(servers[0]["id"]))
        assert ports[0]["fixed_ips"][0]["ip_address"] in out

        for server in servers:
            resp = scene.api.delete(f"{API}/servers/{server['id']}", headers=scene.user1)
            assert resp.status_code == 204, resp.text
        assert netns.namespaces("pn-vm-") == []
        for host in HOSTS:
            assert netns.link_exists("enp0s3", f"pn-{host}")
