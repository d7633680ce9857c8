"""The dashboard in a real browser (issue 14's acceptance), in order on one live cloud: the admin
procedure and a network from the Hosts and Networks pages, user1's boot from the Servers page
(its timeline and console), vm1's NIC on its switch port with VLAN 10 in the topology, drift made
behind Passnic's back seen and repaired, and user1 seeing nothing of project2. No page may log a
console error. The topology and the timeline are saved as the README's screenshots."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from passnic.agent.host import password_login
from passnic.bootstrap import Credential
from passnic.fabric.portconfig import PortConfig
from tests.conftest import LiveCloud
from tests.dashboard.conftest import DOCS, Browser

Select = pytest.importorskip("selenium.webdriver.support.ui").Select

pytestmark = pytest.mark.browser
VM1_PORT = "GigabitEthernet1/0/1"  # tor-1's port cabled to compute-0 enp0s3


def api_as(live_ui: LiveCloud, cred: Credential) -> httpx.Client:
    http = httpx.Client(base_url=live_ui.url, timeout=30)
    login = password_login("/identity", cred.username, cred.password, cred.project)
    http.headers["X-Auth-Token"] = login(http)
    return http


Creds = dict[str, Credential]


def no_console_errors(b: Browser) -> None:
    assert b.console_errors() == []


def in_row(b: Browser, host: str, ifname: str, css: str) -> Any:
    """An element of the row of ``ifname`` in ``host``'s card (found afresh: htmx swaps it)."""
    return b.find(f"#host-{host} tr[data-ifname='{ifname}'] {css}")


def set_class(b: Browser, host: str, ifclass: str) -> None:
    Select(in_row(b, host, "enp0s3", "select[name=ifclass]")).select_by_value(ifclass)
    in_row(b, host, "enp0s3", "button.set-class").click()


def sign_in_is_refused_with_a_wrong_password(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    b.open("/")  # a browser asking for / lands on the sign-in form
    b.wait(lambda: "/ui/login" in b.driver.current_url, "the sign-in form")
    b.find("#user").send_keys("admin")
    b.find("#password").send_keys("not-the-password")
    b.find("#sign-in").click()
    assert "invalid" in b.find("#login-error").text.lower() or b.text("#login-error")
    assert "/ui/login" in b.driver.current_url
    # the API's own root still answers JSON to API clients
    assert httpx.get(f"{b.url}/").json()["name"] == "passnic"
    no_console_errors(b)


def admin_procedure_from_the_hosts_page(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    b.login(creds["admin"])
    b.find("a[href='/ui/hosts']").click()
    for host in ("compute-0", "compute-1"):
        # sysinv's refusal, shown in the host's card: the host is unlocked
        set_class(b, host, "pci-passthrough")
        b.wait_text("Host must be locked.", f"#host-{host}")
        b.find(f"#host-{host} button.lock-toggle").click()
        b.wait(lambda h=host: b.text(f"#host-{h} .admin-state") == "locked", "locked")
        set_class(b, host, "pci-passthrough")
        b.wait(
            lambda h=host: in_row(b, h, "enp0s3", ".ifclass").text == "pci-passthrough",
            "class pci-passthrough",
        )
        in_row(b, host, "enp0s3", "button.assign").click()
        b.wait(
            lambda h=host: in_row(b, h, "enp0s3", ".datanetworks").text == "group0-data0",
            "data network group0-data0",
        )
        assert "sysinv refused" not in b.text(f"#host-{host}")
        b.find(f"#host-{host} button.lock-toggle").click()
        b.wait(lambda h=host: b.text(f"#host-{h} .admin-state") == "unlocked", "unlocked")
    no_console_errors(b)


def admin_creates_net0_for_project1(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    b.open("/ui/networks")
    b.find("details.card summary").click()
    b.find("#net-name").send_keys("net0")
    Select(b.find("#net-project")).select_by_visible_text("project1")
    b.find("#net-vlan").send_keys("10")
    b.find("#net-cidr").send_keys("192.168.10.0/24")
    b.find("#create-network").click()
    b.wait(lambda: "net0" in b.text("#networks"), "net0 listed")
    row = next(r for r in b.text("#networks").splitlines() if r.startswith("net0"))
    assert "project1" in row and " 10 " in f" {row} " and "192.168.10.0/24" in row
    no_console_errors(b)
    b.logout()


def user1_boots_vm1_and_reads_its_timeline(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    b.login(creds["user1"])
    assert b.text("#project") == "project1"
    # a member is shown no Hosts or Fabric page
    assert not b.driver.find_elements("css selector", "a[href='/ui/hosts']")
    assert not b.driver.find_elements("css selector", "a[href='/ui/fabric']")
    b.find("a[href='/ui/servers']").click()
    b.find("#boot-name").send_keys("vm1")
    Select(b.find("#boot-flavor")).select_by_visible_text("small")
    network = Select(b.find("#boot-network"))
    network.select_by_visible_text(
        next(o.text for o in network.options if o.text.startswith("net0"))
    )
    b.find("#boot").click()
    b.wait(lambda: b.text("#server-status") == "ACTIVE", "vm1 ACTIVE")  # live, no reload
    b.wait_text("switch_port", "#timeline")
    timeline = b.text("#timeline")
    for step in ("create", "schedule", "claimed compute-0 enp0s3", "access VLAN 10", "spawn"):
        assert step in timeline
    b.wait_text("Passnic fake guest vm1", "#console")
    assert "192.168.10." in b.text("#console")
    # stop and start, the status following without a reload
    b.find("#action-stop").click()
    b.wait(lambda: b.text("#server-status") == "SHUTOFF", "vm1 SHUTOFF")
    b.find("#action-start").click()
    b.wait(lambda: b.text("#server-status") == "ACTIVE", "vm1 ACTIVE again")
    no_console_errors(b)
    b.logout()


PATH_OF_VM1 = """
const cy = window.passnicTopology, id = (x) => cy.getElementById(x);
const nic = 'nic:compute-0:enp0s3', port = 'swport:tor-1:' + arguments[0];
const net = id('vlan:10').outgoers('node[kind = "network"]');
return {
  cable: id(nic + '->' + port).nonempty(),
  vlan: id(port + '->vlan:10').nonempty(),
  network: net.data('label'),
  server: net.outgoers('node[kind = "server"]').some((n) => n.data('label').startsWith('vm1')),
  label: id(port).data('label'),
};
"""


def _vm1_port_classes(b: Browser) -> str:
    return str(
        b.driver.execute_script(
            "return window.passnicTopology.getElementById(arguments[0]).classes().join(' ')",
            f"swport:tor-1:{VM1_PORT}",
        )
    )


def topology_shows_vm1_nic_on_its_switch_port_in_vlan_10(
    b: Browser, live_ui: LiveCloud, creds: Creds
) -> None:
    b.login(creds["admin"])
    b.wait(lambda: b.find("#cy").get_attribute("data-ready") == "true", "the topology drawn")
    b.wait_text("vm1", "#paths")
    row = b.find("#paths tr[data-server='vm1']").text
    assert "compute-0 enp0s3" in row and f"tor-1 {VM1_PORT} (access VLAN 10)" in row
    assert "VLAN 10" in row and "net0" in row
    assert b.driver.execute_script(PATH_OF_VM1, VM1_PORT) == {
        "cable": True,
        "vlan": True,
        "network": "net0 (VLAN 10)",
        "server": True,
        "label": f"{VM1_PORT}\naccess VLAN 10",
    }
    assert "bound" in _vm1_port_classes(b) and "drift" not in _vm1_port_classes(b)
    # the details and the frame trace, from the keyboard-usable list
    b.find("#paths tr[data-server='vm1'] button").click()
    b.wait_text("untagged frame enters tor-1", "#details")
    assert "→ VLAN 10 → net0 (project1)" in b.text("#details")
    b.find("#trace input[name=tag]").send_keys("20")
    b.find("#trace button").click()
    b.wait_text("dropped: tagged VLAN 20 on an access port for VLAN 10", "#details")
    b.driver.execute_script("window.scrollTo(0, 0)")
    b.driver.save_screenshot(str(DOCS / "dashboard-topology.png"))
    no_console_errors(b)


def drift_appears_and_is_repaired(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    tor1 = live_ui.cloud.fabric.soft("tor-1")
    tor1.switch.configure(VM1_PORT, PortConfig.access(20))  # behind Passnic's back
    b.wait(lambda: "drift" in _vm1_port_classes(b), "drift in the topology")  # by polling
    assert "drift" in str(b.find("#paths tr[data-server='vm1']").get_attribute("class"))
    b.find("a[href='/ui/fabric']").click()
    row = b.find(f"tr[data-port='{VM1_PORT}']")
    assert "DRIFT" in row.text and "access VLAN 20" in row.text
    b.find("#audit").click()
    b.wait_text("wrong VLAN: access VLAN 20, expected 10", "#audit-result")
    b.wait_text(VM1_PORT, "#alarms-active")
    b.find("#repair").click()
    b.wait_text("repaired", "#audit-result")
    b.wait(lambda: "DRIFT" not in b.find(f"tr[data-port='{VM1_PORT}']").text, "no drift")
    assert "No active alarms." in b.text("#alarms-active")
    assert VM1_PORT in b.text("#alarms-resolved")
    assert tor1.read([VM1_PORT])[VM1_PORT] == PortConfig.access(10)
    b.find("a[href='/ui/topology']").click()
    b.wait(lambda: b.find("#cy").get_attribute("data-ready") == "true", "the topology drawn")
    b.wait(lambda: "bound" in _vm1_port_classes(b), "vm1's port drawn")
    assert "drift" not in _vm1_port_classes(b)
    no_console_errors(b)
    b.logout()


def user1_sees_nothing_of_project2(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    user2 = api_as(live_ui, creds["user2"])
    secret = user2.post("/networking/v2.0/networks", json={"network": {"name": "p2-secret"}})
    assert secret.status_code == 201, secret.text
    b.login(creds["user1"])
    b.wait(lambda: b.find("#cy").get_attribute("data-ready") == "true", "the topology drawn")
    labels = b.driver.execute_script(
        "return window.passnicTopology.nodes().map((n) => n.data('label'))"
    )
    assert any(label.startswith("vm1") for label in labels)
    assert not any("p2-secret" in label for label in labels)
    for page in ("/ui/networks", "/ui/servers"):
        b.open(page)
        b.find("main h1")
        assert "p2-secret" not in b.text() and "project2" not in b.text()
    no_console_errors(b)
    # the admin's pages are refused with user1's own session (asked outside the browser, whose
    # console would log the 403 as an error)
    cookies = {c["name"]: c["value"] for c in b.driver.get_cookies()}
    for page in ("/ui/fabric", "/ui/hosts"):
        refused = httpx.get(f"{b.url}{page}", cookies=cookies, timeout=30)
        assert refused.status_code == 403 and "<title>Refused" in refused.text, refused.text
    b.logout()


def admin_migrates_vm1_and_confirms(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    b.login(creds["admin"])
    b.find("a[href='/ui/servers']").click()
    b.find("#servers tr[data-server='vm1'] a").click()
    b.wait(lambda: b.text("#server-status") == "ACTIVE", "vm1's page")
    b.find("#action-migrate").click()
    b.wait(lambda: b.text("#server-status") == "VERIFY_RESIZE", "vm1 waiting for confirmation")
    b.find("#action-confirm").click()
    b.wait(lambda: b.text("#server-status") == "ACTIVE", "vm1 migrated")
    assert b.text("#server-host") == "compute-1"
    b.wait_text("compute-1 enp0s3", "#server-fabric")
    timeline = b.text("#timeline")
    assert "migrate" in timeline and "confirm" in timeline and "create" in timeline
    b.driver.execute_script("window.scrollTo(0, 0)")
    b.driver.save_screenshot(str(DOCS / "dashboard-server-timeline.png"))
    no_console_errors(b)
    b.logout()


def no_valid_host_is_explained_and_the_server_deleted(
    b: Browser, live_ui: LiveCloud, creds: Creds
) -> None:
    """Two passthrough NICs on group0-data0: vm1 holds one, vm2 takes the other, vm3 finds
    none; its page says why, stage by stage, and deletes it."""
    b.login(creds["user1"])
    for name in ("vm2", "vm3"):
        b.open("/ui/servers")
        b.find("#boot-name").send_keys(name)
        network = Select(b.find("#boot-network"))
        network.select_by_visible_text(
            next(o.text for o in network.options if o.text.startswith("net0"))
        )
        b.find("#boot").click()
        b.wait(lambda: b.text("#server-status") in ("ACTIVE", "ERROR"), f"{name} settled")
    assert b.text("#server-status") == "ERROR"
    fault = b.find("#fault").text
    assert "No valid host" in fault and "in use by" in fault
    assert "vm1" in fault and "vm2" in fault
    b.find("#action-delete").click()
    b.driver.switch_to.alert.accept()
    b.wait(lambda: b.driver.current_url.endswith("/ui/servers"), "back to the servers")
    b.wait(lambda: "vm3" not in b.text("#servers"), "vm3 gone")
    assert "vm2" in b.text("#servers")
    no_console_errors(b)
    b.logout()


def a_trunk_is_amber_and_its_tagged_frames_traced(
    b: Browser, live_ui: LiveCloud, creds: Creds
) -> None:
    """An admin's trunk exception for vm1 (native 10, allowed 10 and 20): its port and VLAN 20
    turn amber, and vm1's trace shows where a frame tagged 20 lands, unasked."""
    admin = api_as(live_ui, creds["admin"])
    project1 = admin.get("/identity/v3/projects", params={"name": "project1"}).json()
    net1 = {
        "name": "net1",
        "project_id": project1["projects"][0]["id"],
        "provider:network_type": "vlan",
        "provider:physical_network": "group0-data0",
        "provider:segmentation_id": 20,
    }
    assert admin.post("/networking/v2.0/networks", json={"network": net1}).status_code == 201
    vm1 = admin.get("/compute/v2.1/servers", params={"all_tenants": 1, "name": "vm1"}).json()
    trunk = f"/fabric/v1/servers/{vm1['servers'][0]['id']}/trunk"
    assert admin.put(trunk, json={"allowed_vlans": [10, 20]}).status_code == 200
    b.login(creds["admin"])
    b.wait(lambda: "trunk" in _vm1_port_classes(b), "vm1's port drawn as a trunk")
    extra = b.driver.execute_script(
        "return window.passnicTopology.getElementById('vlan:20').hasClass('extra')"
    )
    assert extra is True
    b.find("#paths tr[data-server='vm1'] button").click()
    b.wait_text("frame tagged VLAN 20 enters tor-1", "#details")
    assert "→ VLAN 20 → net1 (project1)" in b.text("#details")
    assert admin.delete(trunk).status_code == 200
    b.wait(lambda: "trunk" not in _vm1_port_classes(b), "vm1's port an access port again")
    no_console_errors(b)
    b.logout()


def pages_fit_a_tablet(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    """At a tablet's width no page scrolls sideways (wide tables scroll in their own box)."""
    b.login(creds["admin"])
    b.driver.set_window_size(820, 1180)
    try:
        for page in ("topology", "hosts", "networks", "servers", "fabric"):
            b.open(f"/ui/{page}")
            b.find("main h1")
            overflow = b.driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"/ui/{page} is {overflow}px too wide"
        no_console_errors(b)
    finally:
        b.driver.set_window_size(1440, 1000)
    b.logout()


@pytest.mark.timeout(900)  # about two minutes alone; more on a busy machine
def test_the_dashboard_in_a_browser(browser: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    """The steps share one cloud and one browser, in this order (one test: workers of
    pytest-xdist never split it)."""
    for step in (
        sign_in_is_refused_with_a_wrong_password,
        admin_procedure_from_the_hosts_page,
        admin_creates_net0_for_project1,
        user1_boots_vm1_and_reads_its_timeline,
        topology_shows_vm1_nic_on_its_switch_port_in_vlan_10,
        drift_appears_and_is_repaired,
        a_trunk_is_amber_and_its_tagged_frames_traced,
        user1_sees_nothing_of_project2,
        admin_migrates_vm1_and_confirms,
        no_valid_host_is_explained_and_the_server_deleted,
        pages_fit_a_tablet,
    ):
        step(browser, live_ui, creds)
