"""The dashboard's session and safety without a browser: `/` for browsers and for API clients,
the cookie's flags, CSRF on every form, sign-in required, admin pages closed to members, what a
member's topology holds, a member's frame traces (their own servers' only), and how a switch
port's line becomes VLANs."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from passnic.bootstrap import Credential
from passnic.dashboard.client import LOGIN_CSRF_COOKIE, TOKEN_COOKIE
from passnic.dashboard.topology import port_vlans
from passnic.fabric.portconfig import PortConfig
from tests.compute.conftest import ADMIN, Scene

HTML = {"Accept": "text/html,application/xhtml+xml"}


def sign_in(api: TestClient, cred: Credential) -> str:
    """Sign in through the form; the CSRF token of the pages that follow."""
    api.get("/ui/login")
    form = {
        "csrf_token": api.cookies[LOGIN_CSRF_COOKIE],
        "user": cred.username,
        "password": cred.password,
        "domain": "Default",
        "project": cred.project,
    }
    resp = api.post("/ui/login", data=form, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/ui/topology"
    page = api.get("/ui/topology").text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found
    return found.group(1)


def test_root_sends_browsers_to_the_dashboard_and_api_clients_the_catalog(
    api: TestClient,
) -> None:
    resp = api.get("/", headers=HTML, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/ui/"
    assert api.get("/").json()["name"] == "passnic"
    login = api.get("/ui/topology", headers=HTML, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/ui/login"
    htmx = api.get("/ui/servers/table", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/ui/login"


def test_the_token_cookie_is_httponly_and_samesite(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    api.get("/ui/login")
    cred = sample["admin"]
    form = {"user": cred.username, "password": cred.password, "project": "admin"}
    stale = api.post("/ui/login", data=form, follow_redirects=False)  # no CSRF token
    assert stale.status_code == 200 and "stale" in stale.text
    assert TOKEN_COOKIE not in stale.headers.get("set-cookie", "")
    wrong = api.post(
        "/ui/login",
        data={**form, "password": "wrong", "csrf_token": api.cookies[LOGIN_CSRF_COOKIE]},
        follow_redirects=False,
    )
    assert wrong.status_code == 200 and 'role="alert"' in wrong.text
    good = api.post(
        "/ui/login",
        data={**form, "csrf_token": api.cookies[LOGIN_CSRF_COOKIE]},
        follow_redirects=False,
    )
    cookie = next(c for c in good.headers.get_list("set-cookie") if c.startswith(TOKEN_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    page = api.get("/ui/topology")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script


def test_forms_need_the_csrf_token(api: TestClient, sample: dict[str, Credential]) -> None:
    csrf = sign_in(api, sample["admin"])
    refused = api.post("/ui/hosts/compute-0/lock", data={})
    assert refused.status_code == 403
    assert "unlocked" in api.get("/ui/hosts").text.split('id="host-compute-0"')[1][:600]
    forged = api.post("/ui/hosts/compute-0/lock", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    locked = api.post("/ui/hosts/compute-0/lock", headers={"X-CSRF-Token": csrf})
    assert locked.status_code == 200 and '<strong class="admin-state">locked<' in locked.text
    out = api.post("/ui/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    api.cookies.clear()
    assert api.get("/ui/hosts", follow_redirects=False).headers["location"] == "/ui/login"


def test_a_member_traces_their_own_servers_only(
    scene: Scene, sample: dict[str, Credential]
) -> None:
    """user1 traces vm1 through the API and the dashboard, and is not told of user2's server
    (not found, as in Nova) nor, when vm1's port drifts into project2's VLAN, its network's
    name. Tracing a switch port of any NIC stays the admin's."""
    api = scene.api
    project2 = scene.cloud.identity.list_projects(ADMIN, name="project2")[0].id
    p2net = {
        "name": "p2net",
        "project_id": project2,
        "provider:network_type": "vlan",
        "provider:physical_network": "group0-data0",
        "provider:segmentation_id": 30,
    }
    resp = api.post("/networking/v2.0/networks", json={"network": p2net}, headers=scene.admin)
    assert resp.status_code == 201, resp.text
    port = {"network_id": resp.json()["network"]["id"], "binding:vnic_type": "direct-physical"}
    resp = api.post("/networking/v2.0/ports", json={"port": port}, headers=scene.user2)
    assert resp.status_code == 201, resp.text
    theirs = scene.boot(
        "vm-p2", networks=[{"port": resp.json()["port"]["id"]}], headers=scene.user2
    )
    vm1 = scene.boot("vm1", networks=[{"port": scene.port()["id"]}])
    assert vm1["status"] == theirs["status"] == "ACTIVE"
    fabric = api.get(f"/fabric/v1/servers/{vm1['id']}", headers=scene.user1)
    assert fabric.status_code == 200, fabric.text
    (mine,) = fabric.json()["server"]["ports"]
    landing = (
        f"untagged frame enters tor-1 {mine['port']} (access VLAN 10) → VLAN 10 → net0 (project1)"
    )
    for path in (f"/fabric/v1/servers/{theirs['id']}", f"/fabric/v1/servers/{theirs['id']}/trace"):
        assert api.get(path, headers=scene.user1).status_code == 404
        assert api.get(path, headers=scene.user2).status_code == 200
    free_port = "/fabric/v1/switches/tor-1/ports/GigabitEthernet1/0/2/trace"
    assert api.get(free_port, headers=scene.user1).status_code == 403
    assert api.get(free_port, headers=scene.admin).status_code == 200

    sign_in(api, sample["user1"])
    assert landing in api.get(f"/ui/servers/{vm1['id']}/trace").text
    refused = api.get(f"/ui/servers/{theirs['id']}/trace").text
    assert f"Server {theirs['id']} could not be found." in refused and "enters" not in refused
    node = next(
        e["data"]
        for e in api.get("/ui/topology.json").json()["elements"]
        if e["data"]["id"] == f"server:{vm1['id']}"
    )
    assert node["trace"] == f"/ui/servers/{vm1['id']}/trace"
    scene.cloud.fabric.soft("tor-1").switch.configure(mine["port"], PortConfig.access(30))
    crossing = api.get(f"/ui/servers/{vm1['id']}/trace").text
    assert "→ VLAN 30 → a network of another project — crosses" in crossing
    assert "p2net" not in crossing and "project2" not in crossing
    admin_view = api.get(f"/fabric/v1/servers/{vm1['id']}/trace", headers=scene.admin).json()
    assert "→ VLAN 30 → p2net (project2)" in admin_view["traces"][0]["summary"]


def test_sysinv_refusal_is_shown_in_the_host_card(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    csrf = sign_in(api, sample["admin"])
    page = api.get("/ui/hosts").text
    iface = re.search(r"/ui/hosts/compute-0/interfaces/([0-9a-f-]+)/class", page)
    assert iface
    resp = api.post(
        f"/ui/hosts/compute-0/interfaces/{iface.group(1)}/class",
        data={"csrf_token": csrf, "ifclass": "pci-passthrough"},
    )
    assert resp.status_code == 200 and "sysinv refused: Host must be locked." in resp.text


def test_members_see_their_project_only(api: TestClient, sample: dict[str, Credential]) -> None:
    csrf = sign_in(api, sample["user2"])
    api.post("/ui/networks", data={"csrf_token": csrf, "name": "p2-only"}, follow_redirects=False)
    assert "p2-only" in api.get("/ui/networks").text
    api.cookies.clear()
    sign_in(api, sample["user1"])
    for page in ("/ui/hosts", "/ui/fabric"):
        assert api.get(page).status_code == 403
    assert "p2-only" not in api.get("/ui/networks").text
    labels = [e["data"].get("label", "") for e in api.get("/ui/topology.json").json()["elements"]]
    assert not any("p2-only" in label for label in labels)


def test_admin_topology_cables_nics_to_switch_ports(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    sign_in(api, sample["admin"])
    elements = api.get("/ui/topology.json").json()["elements"]
    edges = {e["data"]["id"] for e in elements if "source" in e["data"]}
    assert "nic:compute-0:enp0s3->swport:tor-1:GigabitEthernet1/0/1" in edges
    port = next(e for e in elements if e["data"]["id"] == "swport:tor-1:GigabitEthernet1/0/1")
    assert "quarantined" in port["classes"] and "drift" not in port["classes"]


@pytest.mark.parametrize(
    ("line", "vlans", "extra"),
    [
        ("access VLAN 10", {10}, set()),
        ("access VLAN 4000, shut down", set(), set()),
        ("trunk, native 10, allowed 10,20-22", {10, 20, 21, 22}, {20, 21, 22}),
        ("trunk, native none, allowed 30", {30}, {30}),
        ("trunk, native none, allowed none", set(), set()),
        ("access, no VLAN", set(), set()),
        (None, set(), set()),
    ],
)
def test_port_vlans(line: str | None, vlans: set[int], extra: set[int]) -> None:
    assert port_vlans(line) == (vlans, extra)


def test_project_switcher_asks_for_the_password(
    api: TestClient, sample: dict[str, Credential]
) -> None:
    csrf = sign_in(api, sample["user1"])
    assert '<option value="project1" selected>project1</option>' in api.get("/ui/projects").text
    before = api.cookies[TOKEN_COOKIE]
    wrong = api.post("/ui/project", data={"csrf_token": csrf, "project": "project1"})
    assert 'role="alert"' in wrong.text and api.cookies[TOKEN_COOKIE] == before
    other = api.post(
        "/ui/project",
        data={"csrf_token": csrf, "project": "project2", "password": sample["user1"].password},
    )
    assert 'role="alert"' in other.text and api.cookies[TOKEN_COOKIE] == before
    switched = api.post(
        "/ui/project",
        data={"csrf_token": csrf, "project": "project1", "password": sample["user1"].password},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and api.cookies[TOKEN_COOKIE] != before


def test_the_pages_api_calls_are_logged_at_debug(
    api: TestClient, sample: dict[str, Credential], caplog: pytest.LogCaptureFixture
) -> None:
    """One info line per page; the API calls it made in-process only at debug."""
    sign_in(api, sample["admin"])
    caplog.set_level(logging.DEBUG, logger="passnic.request")
    caplog.clear()
    assert api.get("/ui/topology.json").status_code == 200
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "passnic.request"]
    info = [m for level, m in lines if level == logging.INFO]
    assert len(info) == 1 and " path=/ui/topology.json status=200 " in info[0]
    assert any("path=/fabric/v1/switches " in m for level, m in lines if level == logging.DEBUG)


def test_a_trunk_and_its_extra_vlans_are_marked() -> None:
    """vm1's port made a trunk (native 10, allowed 10 and 20): the port is a trunk, VLAN 20 is
    an extra VLAN reaching net1, and the port drifts only where desired and actual differ."""
    from passnic.dashboard.topology import Inputs, build

    port = {
        "name": "enp0s3", "interface_uuid": "if-1", "sriov_totalvfs": 64, "pdevice": "X710",
        "pciaddr": "0000:00:03.0", "mac": "52:54:00:00:00:03", "numa_node": 0,
    }  # fmt: skip
    trunk = "trunk, native 10, allowed 10,20"
    got = Inputs(
        hosts=[{"hostname": "compute-0", "administrative": "unlocked", "operational": "enabled",
                "availability": "available"}],
        host_nics={"compute-0": ([port], [{"uuid": "if-1", "ifclass": "pci-passthrough"}],
                                 [{"ifname": "enp0s3", "datanetwork_name": "group0-data0"}])},
        switch_ports={"tor-1": [
            {"role": "edge", "name": "Gi1/0/1", "host": "compute-0", "nic": "enp0s3",
             "desired": trunk, "actual": trunk, "status": "bound", "reason": "trunk"},
            {"role": "edge", "name": "Gi1/0/2", "host": None, "nic": None,
             "desired": "access VLAN 4000, shut down", "actual": "access VLAN 30",
             "status": "quarantined", "reason": "free"},
            {"role": "uplink", "name": "Gi1/0/48", "host": None, "nic": None, "desired": None,
             "actual": "trunk, native none, allowed 1-4094", "status": None, "reason": None},
        ]},
        networks=[
            {"id": f"n{vlan}", "name": f"net{vlan}", "project_id": "p1", "status": "ACTIVE",
             "provider:network_type": "vlan", "provider:physical_network": "group0-data0",
             "provider:segmentation_id": vlan}
            for vlan in (10, 20)
        ],
        servers=[{"id": "s1", "name": "vm1", "status": "ACTIVE", "tenant_id": "p1",
                  "addresses": {"net10": []}, "flavor": {"original_name": "small"}}],
        server_fabric={"s1": [{"host": "compute-0", "nic": "enp0s3", "switch": "tor-1",
                               "port": "Gi1/0/1", "actual": trunk, "vlan": 10, "drift": []}]},
    )  # fmt: skip
    data = build(got)
    nodes = {e["data"]["id"]: e for e in data["elements"] if "source" not in e["data"]}
    edges = {e["data"]["id"]: e["classes"] for e in data["elements"] if "source" in e["data"]}
    assert "trunk" in nodes["swport:tor-1:Gi1/0/1"]["classes"]
    assert "drift" not in nodes["swport:tor-1:Gi1/0/1"]["classes"]
    assert "extra" in nodes["vlan:20"]["classes"] and "extra" not in nodes["vlan:10"]["classes"]
    assert "extra" in edges["swport:tor-1:Gi1/0/1->vlan:20"]
    assert edges["vlan:20->network:n20"] == "vlan-network"
    assert "drift" in nodes["swport:tor-1:Gi1/0/2"]["classes"]  # carries VLAN 30 instead
    assert "swport:tor-1:Gi1/0/48" not in nodes  # uplinks carry everything: not drawn
    assert "network:n10->server:s1" in edges
    assert data["paths"] == [
        {"server": "vm1", "server_id": "s1", "host": "compute-0", "nic": "enp0s3",
         "switch": "tor-1", "port": "Gi1/0/1", "actual": trunk, "vlan": 10, "drift": False,
         "networks": ["net10"]}
    ]  # fmt: skip


def test_a_nic_held_through_a_pci_alias_is_drawn_claimed(
    scene: Scene, sample: dict[str, Credential]
) -> None:
    """A flavor's PCI alias holds a NIC with no port bound to it: the topology learns the
    holder from the host's held NICs, not from port bindings."""
    scene.alias_flavor("small-x710", "nic-x710", "8086", "1572")
    vm = scene.boot("vm-alias", flavor="small-x710", networks="none")
    assert vm["status"] == "ACTIVE", vm.get("fault")
    ((host, _pci, holder),) = scene.claims()
    assert holder == "vm-alias"
    sign_in(scene.api, sample["admin"])
    nics = [
        e["data"] | {"classes": e.get("classes", "")}
        for e in scene.api.get("/ui/topology.json").json()["elements"]
        if e["data"]["id"].startswith(f"nic:{host}:")
    ]
    claimed = [n for n in nics if "claimed" in n["classes"]]
    assert [n["label"].rsplit(" · ", 1)[-1] for n in claimed] == ["vm-alias"], nics
