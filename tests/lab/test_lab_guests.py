"""The lab on real guests: QEMU (TCG) guests started by the production libvirt driver, each
lab NIC handed to its guest as an emulated NIC with the NIC's MAC on the TAP that is its lab
switch port. The guest's own console shows its interface, and the guests ping each other
through the lab switch (the ping runs inside the guest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from passnic.compute.protocol import GuestDevice, GuestSpec
from passnic.fabric.portconfig import PortConfig
from passnic.lab import guests
from passnic.lab.attach import lab_agent_options
from passnic.lab.topology import Lab, LabSpec
from tests.lab.test_lab_topology import _network_data

IMAGE = "lab-guest-image"
HOSTS = ("compute-0", "compute-1")
SERVERS = ("aaaaaaaa-0000-4000-8000-0000000000a1", "bbbbbbbb-0000-4000-8000-0000000000b2")
IPS = ("10.0.10.5", "10.0.10.6")
BOOT_SECONDS = 90.0  # TCG on a loaded 2-core machine; a quiet one boots in ~10 s


@pytest.fixture
def qemu_lab(lab_prefix: str, tmp_path: Path) -> Iterator[Lab]:
    reason = guests.unavailable()
    if reason is not None:
        pytest.skip(reason)
    try:
        guests.ensure_libvirtd()
        from passnic.image.guest import build

        image = build()
    except Exception as exc:
        pytest.skip(f"no real guests here: {exc}")
    spec = LabSpec(hostnames=HOSTS, guests="qemu", uplink_port=None)
    lab = Lab(tmp_path / "lab", spec, prefix=lab_prefix)
    try:
        lab.start()
        guests.write_images(lab.lab_dir / "images", [IMAGE], image)
        yield lab
    finally:
        guests.remove_domains(lab_prefix)
        lab.stop()


def _spec(lab: Lab, index: int) -> GuestSpec:
    nic = lab.nic(HOSTS[index], "enp0s3")
    device = GuestDevice(
        pci_address=nic.pci_address, vendor_id="0x8086", product_id="0x10d3", mac=nic.mac
    )
    return GuestSpec(
        server_id=SERVERS[index],
        name=f"vm{index}",
        vcpus=1,
        ram_mb=256,
        disk_gb=1,
        image_id=IMAGE,
        devices=(device,),
        network_data=_network_data(nic.mac, IPS[index]),
    )


def test_two_qemu_guests_ping_each_other_through_the_lab_switch(
    qemu_lab: Lab, lab_prefix: str, tmp_path: Path
) -> None:
    from passnic.agent.drivers.libvirt import LibvirtDriver

    lab = qemu_lab
    assert lab.switch is not None
    drivers, consoles = [], []
    for index, host in enumerate(HOSTS):
        nic = lab.nic(host, "enp0s3")
        lab.switch.configure(nic.switch_port, PortConfig.access(10, f"{host} enp0s3"))
        options = lab_agent_options(lab, host)
        driver = LibvirtDriver(host, tmp_path / "agents" / host, options)
        driver.spawn(_spec(lab, index))
        drivers.append(driver)
        domain = options["name_prefix"] + SERVERS[index]
        log = Path(driver.instances) / SERVERS[index] / "console.log"
        consoles.append(guests.GuestConsole(domain, log))
    try:
        for index, console in enumerate(consoles):
            console.wait_for(r"passnic-guest: ready", BOOT_SECONDS)
            mac = lab.nic(HOSTS[index], "enp0s3").mac
            # the guest itself: its NIC has the lab NIC's MAC and the port's address
            assert f"passnic-guest: eth0 {mac} {IPS[index]}/24" in drivers[index].console(
                SERVERS[index]
            )
        status, output = consoles[0].run(f"ping -c 2 -W 3 {IPS[1]}", timeout=30)
        assert status == 0, output
        assert f"from {IPS[1]}" in output
        # a guest on another VLAN is out of reach: the switch isolates it
        lab.switch.configure(
            lab.nic(HOSTS[1], "enp0s3").switch_port, PortConfig.access(20, "moved")
        )
        status, output = consoles[0].run(f"ping -c 1 -W 2 {IPS[1]}", timeout=30)
        assert status != 0, output
    finally:
        for console in consoles:
            console.close()
        for index, driver in enumerate(drivers):
            driver.destroy(SERVERS[index])
    assert guests.remove_domains(lab_prefix) == []  # the driver removed its domains
