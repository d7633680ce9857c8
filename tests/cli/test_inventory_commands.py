"""The system-style inventory commands against the fake cloud: what they send (JSON-patch ops,
POST bodies) and what they print (labels, None, one-line rows, errors on stderr)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from typer.testing import Result

from tests.cli.fakecloud import (
    DN_UUID,
    HOST_UUID,
    IFACE_UUID,
    IFDN_UUID,
    PDEVICE,
    PVENDOR,
    FakeCloud,
)

Run = Callable[..., Result]


def rows(result: Result) -> dict[str, str]:
    """A Property/Value table as a dict."""
    out = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and line.startswith("|"):
            out[cells[0]] = cells[1]
    out.pop("Property", None)
    return out


def lock(fake: FakeCloud) -> None:
    fake.hosts[0]["administrative"] = "locked"


def test_host_list_columns(run: Run, fake: FakeCloud) -> None:
    result = run("host-list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = [c.strip() for c in lines[1].strip("|").split("|")]
    assert header == [
        "id",
        "hostname",
        "personality",
        "administrative",
        "operational",
        "availability",
    ]
    assert "| 1  | compute-0 | worker      | unlocked       | enabled     | available    |" in lines


def test_host_lock_sends_the_action_patch_and_shows_the_host(run: Run, fake: FakeCloud) -> None:
    result = run("host-lock", "compute-0")
    assert result.exit_code == 0, result.output
    (patch,) = fake.sent("PATCH", f"/ihosts/{HOST_UUID}")
    assert patch.body == [{"op": "replace", "path": "/action", "value": "lock"}]
    shown = rows(result)
    assert shown["administrative"] == "locked"
    assert list(shown) == sorted(shown)  # system sorts host-show rows


def test_host_lock_f_means_force_and_format_is_long_only(run: Run, fake: FakeCloud) -> None:
    result = run("host-lock", "-f", "--format", "json", "1")
    assert result.exit_code == 0, result.output
    assert fake.sent("PATCH")[0].body == [
        {"op": "replace", "path": "/action", "value": "force-lock"}
    ]
    assert json.loads(result.stdout)["hostname"] == "compute-0"
    run("host-unlock", "--force", HOST_UUID)
    assert fake.sent("PATCH")[1].body[0]["value"] == "force-unlock"
    assert run("host-lock", "-u", "compute-0").exit_code == 1


def test_host_unlock_f_value_explains_that_f_means_force(run: Run, fake: FakeCloud) -> None:
    """`-f value` is an `openstack` habit; here -f is --force, and the error says so."""
    result = run("host-unlock", "compute-0", "-f", "value")
    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())  # unwrap rich's error box
    assert "in host-unlock -f means --force" in said
    assert "for the output format use --format value" in said
    other = run("host-lock", "compute-0", "extra")
    assert other.exit_code == 2 and "unexpected extra argument(s): extra" in other.output
    assert fake.sent("PATCH") == []


def test_host_if_modify_sends_only_the_given_fields(run: Run, fake: FakeCloud) -> None:
    lock(fake)
    result = run("host-if-modify", "-m", "1500", "-c", "pci-passthrough", "compute-0", "enp0s3")
    assert result.exit_code == 0, result.output
    (patch,) = fake.sent("PATCH", f"/iinterfaces/{IFACE_UUID}")
    assert patch.body == [
        {"op": "replace", "path": "/imtu", "value": 1500},
        {"op": "replace", "path": "/ifclass", "value": "pci-passthrough"},
    ]
    shown = rows(result)
    assert list(shown)[:6] == ["ifname", "iftype", "ports", "imac", "imtu", "ifclass"]
    assert shown["ifclass"] == "pci-passthrough"
    assert shown["ports"] == "['enp0s3']"
    assert shown["vlan_id"] == "None"


def test_host_if_modify_monitoring_and_vf_options(run: Run, fake: FakeCloud) -> None:
    lock(fake)
    result = run(
        "host-if-modify", "compute-0", IFACE_UUID, "--monitoring", "false", "-N", "4",
        "--vf-driver", "vfio",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fake.sent("PATCH")[0].body == [
        {"op": "replace", "path": "/sriov_numvfs", "value": 4},
        {"op": "replace", "path": "/sriov_vf_driver", "value": "vfio"},
        {"op": "replace", "path": "/monitoring", "value": False},
    ]
    assert rows(result)["monitoring"] == "False"


def test_host_if_modify_class_none_renames_to_the_port(run: Run, fake: FakeCloud) -> None:
    lock(fake)
    fake.interfaces[0]["ifname"] = "pthru0"
    assert run("host-if-modify", "-c", "none", "compute-0", "pthru0").exit_code == 0
    assert fake.sent("PATCH")[0].body == [
        {"op": "replace", "path": "/ifname", "value": "enp0s3"},
        {"op": "replace", "path": "/ifclass", "value": "none"},
    ]


def test_server_refusal_goes_to_stderr_with_exit_1(run: Run, fake: FakeCloud) -> None:
    result = run("host-if-modify", "-c", "pci-passthrough", "compute-0", "enp0s3")
    assert result.exit_code == 1
    assert result.stderr == "Host must be locked.\n"
    assert result.stdout == ""


def test_unknown_interface_and_host(run: Run) -> None:
    result = run("host-if-show", "compute-0", "eth9")
    assert (result.exit_code, result.stderr) == (
        1,
        "Interface not found: host compute-0 interface eth9\n",
    )
    result = run("host-show", "compute-9")
    assert (result.exit_code, result.stderr) == (1, "host not found: compute-9\n")


def test_host_port_show_rows_for_grep(run: Run) -> None:
    result = run("host-port-show", "compute-0", "enp0s3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    (vfs,) = [line for line in lines if "sriov_totalvfs" in line]
    assert vfs.split("|")[2].strip() == "None"
    vendor = [line for line in lines if "pvendor " in line or "pdevice " in line]
    assert [v.split("|")[2].strip() for v in vendor] == [PVENDOR, PDEVICE]
    shown = rows(result)
    assert list(shown)[:7] == [
        "name", "namedisplay", "type", "pciaddr", "dev_id", "processor", "sriov_totalvfs",
    ]  # fmt: skip
    assert "mac" not in shown


def test_host_port_list_and_ethernet_port_list_columns(run: Run) -> None:
    result = run("host-port-list", "compute-0", "-f", "json")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)[0]
    assert list(first) == [
        "uuid", "name", "type", "pci address", "device", "processor", "accelerated", "device type",
    ]  # fmt: skip
    assert first["name"] == "enp0s3" and first["device type"] == PDEVICE
    result = run(
        "host-ethernet-port-list",
        "compute-0",
        "--column",
        "name",
        "--column",
        "mac address",
        "-f",
        "value",
    )
    assert result.stdout.splitlines() == ["enp0s3 08:00:27:aa:bb:cc", "enp0s8 None"]


def test_host_if_list_hides_unclassified_unless_all(run: Run, fake: FakeCloud) -> None:
    result = run("host-if-list", "compute-0", "-f", "json")
    assert [r["name"] for r in json.loads(result.stdout)] == ["mgmt0"]
    result = run("host-if-list", "-a", "compute-0", "-f", "json")
    listed = {r["name"]: r for r in json.loads(result.stdout)}
    assert listed["enp0s3"] == {
        "uuid": IFACE_UUID,
        "name": "enp0s3",
        "class": None,
        "type": "ethernet",
        "vlan id": None,
        "ports": ["enp0s3"],
        "uses i/f": [],
        "used by i/f": [],
        "attributes": "MTU=1500",
    }
    assert listed["mgmt0"]["attributes"] == "MTU=9000"
    table = run("host-if-list", "-a", "compute-0").stdout
    cells = (
        "enp0s3 | None     | ethernet | None    | ['enp0s3'] | []       | []          | MTU=1500"
    )
    assert f"{IFACE_UUID} | {cells}" in table


def test_interface_datanetwork_assign_posts_uuids(run: Run, fake: FakeCloud) -> None:
    result = run("interface-datanetwork-assign", "compute-0", "enp0s3", "group0-data0")
    assert result.exit_code == 0, result.output
    (post,) = fake.sent("POST", "/interface_datanetworks")
    assert post.body == {"interface_uuid": IFACE_UUID, "datanetwork_uuid": DN_UUID}
    assert rows(result) == {
        "hostname": "compute-0",
        "uuid": IFDN_UUID,
        "ifname": "enp0s3",
        "datanetwork_name": "group0-data0",
    }


def test_interface_datanetwork_list_show_remove(run: Run, fake: FakeCloud) -> None:
    run("interface-datanetwork-assign", "compute-0", "enp0s3", DN_UUID)
    listed = run("interface-datanetwork-list", "compute-0", "enp0s3", "-f", "value")
    assert listed.stdout == f"compute-0 {IFDN_UUID} enp0s3 group0-data0\n"
    shown = run("interface-datanetwork-show", IFDN_UUID)
    assert rows(shown)["hostname"] == "compute-0"  # resolved from forihostid
    removed = run("interface-datanetwork-remove", IFDN_UUID)
    assert removed.stdout == f"Deleted Interface DataNetwork: {IFDN_UUID}\n"
    assert fake.sent("DELETE", f"/interface_datanetworks/{IFDN_UUID}")


def test_datanetwork_add_sends_mtu_always_and_mode_for_vxlan(run: Run, fake: FakeCloud) -> None:
    result = run("datanetwork-add", "group0-data1", "vlan", "-d", "second")
    assert result.exit_code == 0, result.output
    assert fake.sent("POST", "/datanetworks")[0].body == {
        "name": "group0-data1",
        "network_type": "vlan",
        "mtu": 1500,
        "description": "second",
    }
    assert list(rows(result)) == ["id", "uuid", "name", "network_type", "mtu", "description"]
    vxlan = ("datanetwork-add", "vx0", "vxlan", "-m", "1450", "-g", "239.0.0.1", "-p", "4789")
    assert run(*vxlan, "-t", "10").exit_code == 0
    assert fake.sent("POST", "/datanetworks")[1].body == {
        "name": "vx0",
        "network_type": "vxlan",
        "mtu": 1450,
        "multicast_group": "239.0.0.1",
        "port_num": 4789,
        "ttl": 10,
        "mode": "dynamic",
    }


def test_datanetwork_show_modify_delete_by_name(run: Run, fake: FakeCloud) -> None:
    fake.datanetworks[0].update(
        network_type="vxlan", multicast_group="239.0.0.1", port_num=4789, ttl=10, mode="dynamic"
    )
    assert list(rows(run("datanetwork-show", "group0-data0")))[-4:] == [
        "multicast_group", "port_num", "ttl", "mode",
    ]  # fmt: skip
    result = run("datanetwork-modify", "group0-data0", "-m", "1400")
    assert fake.sent("PATCH")[0].body == [{"op": "replace", "path": "/mtu", "value": 1400}]
    assert rows(result)["mtu"] == "1400"
    result = run("datanetwork-delete", "group0-data0")
    assert result.stdout == "Deleted DataNetwork: group0-data0\n"
    assert fake.sent("DELETE", f"/datanetworks/{DN_UUID}")


def test_host_if_add_bodies(run: Run, fake: FakeCloud) -> None:
    lock(fake)
    assert run("host-if-add", "compute-0", "data0", "enp0s3", "-c", "data").exit_code == 0
    assert run("host-if-add", "compute-0", "eth1", "ethernet", "enp0s8").exit_code == 0
    assert run("host-if-add", "-V", "10", "compute-0", "vlan10", "vlan", "mgmt0").exit_code == 0
    assert run("host-if-add", "compute-0", "v0", "virtual").exit_code == 0
    bodies = [p.body for p in fake.sent("POST", "/iinterfaces")]
    host = {"ihost_uuid": HOST_UUID}
    assert bodies == [
        {**host, "ifname": "data0", "ports": ["enp0s3"], "ifclass": "data"},
        {**host, "ifname": "eth1", "iftype": "ethernet", "ports": ["enp0s8"]},
        {**host, "ifname": "vlan10", "iftype": "vlan", "uses": ["mgmt0"], "vlan_id": 10},
        {**host, "ifname": "v0", "iftype": "virtual"},
    ]


def test_host_if_delete(run: Run, fake: FakeCloud) -> None:
    result = run("host-if-delete", "compute-0", "enp0s3")
    assert result.stdout == "Deleted interface: host compute-0 if enp0s3\n"
    assert fake.sent("DELETE", f"/iinterfaces/{IFACE_UUID}")


def test_one_token_per_invocation(run: Run, fake: FakeCloud) -> None:
    run("host-if-list", "compute-0")
    assert len(fake.sent("POST", "/auth/tokens")) == 1


def test_lldp_lists_use_starlingx_labels(run: Run, fake: FakeCloud) -> None:
    result = run("host-lldp-neighbor-list", "compute-0", "-f", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert list(row) == [
        "uuid", "local_port", "remote_port", "chassis_id", "system_name", "system_description",
        "management_address",
    ]  # fmt: skip
    assert (row["local_port"], row["remote_port"]) == ("enp0s3", "GigabitEthernet1/0/1")
    result = run("host-lldp-agent-list", "compute-0", "-f", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert list(row) == [
        "uuid", "local_port", "status", "chassis_id", "port_id", "system_name",
        "system_description",
    ]  # fmt: skip
    assert row["status"] == "rx=enabled,tx=disabled"


def test_host_show_says_why_a_host_cannot_pass_nics_through(run: Run, fake: FakeCloud) -> None:
    fake.hosts[0]["passthrough"] = "lacking: vfio-pci is not available (load the vfio-pci module)"
    shown = rows(run("host-show", "compute-0"))
    assert shown["passthrough"] == "lacking: vfio-pci is not available (load the vfio-pci module)"


def test_host_list_reads_every_page(run: Run, fake: FakeCloud) -> None:
    """A server with a maximum page of one host: the list follows the ``next`` addresses."""
    fake.hosts.append({**fake.hosts[0], "id": 2, "uuid": "uuid-2", "hostname": "compute-1"})

    def one_per_page(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/inventory/v1/ihosts":
            return None
        uuids = [h["uuid"] for h in fake.hosts]
        marker = request.url.params.get("marker")
        start = uuids.index(marker) + 1 if marker else 0
        body: dict[str, Any] = {"ihosts": fake.hosts[start : start + 1]}
        if start + 1 < len(uuids):
            body["next"] = f"http://x/inventory/v1/ihosts?limit=1&marker={uuids[start]}"
        return httpx.Response(200, json=body)

    fake.fail = one_per_page
    result = run("host-list")
    assert result.exit_code == 0, result.output
    assert "compute-0" in result.stdout and "compute-1" in result.stdout
