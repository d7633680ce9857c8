"""The dashboard in a real browser (issue 14's acceptance), in order on one live cloud: the admin
procedure and a network from the Hosts and Networks pages, user1's boots from the Servers page (a
direct-physical port, a PCI-alias flavor; timeline and console), vm1's NIC on its switch port
with VLAN 10 in the topology and the facts of NICs, drift made behind Passnic's back seen, traced
and repaired, the Networks page's ranges and ports, the keyboard alone, user1 seeing nothing of
project2, a migration reverted then confirmed, and pages at a laptop's and a tablet's width. No
page may log a console error; every sign-out revokes its token. The topology and the timeline
are saved as the README's screenshots."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from passnic.agent.host import password_login
from passnic.bootstrap import Credential
from passnic.fabric.portconfig import PortConfig
from passnic.fabric.sample import QUARANTINE_VLAN
from tests.conftest import LiveCloud
from tests.dashboard.conftest import DOCS, Browser

Select = pytest.importorskip("selenium.webdriver.support.ui").Select
ActionChains = pytest.importorskip("selenium.webdriver").ActionChains
Keys = pytest.importorskip("selenium.webdriver.common.keys").Keys

pytestmark = pytest.mark.browser
VM1_PORT = "GigabitEthernet1/0/1"  # tor-1's port cabled to compute-0 enp0s3
FREE_NIC = "nic:compute-0:enp0s4"  # the 82574L, never claimed in these steps
FREE_PORT = "GigabitEthernet1/0/2"  # its port on tor-1


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


def user1_boots_with_a_pci_alias_flavor(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    """The boot form's "none" network: the flavor's PCI alias (the X710, 8086:1572) brings the
    NIC, compute-1's (vm1 holds compute-0's). Deleted afterwards: the migration needs it."""
    admin = api_as(live_ui, creds["admin"])
    alias = {"name": "nic-x710", "vendor_id": "8086", "product_id": "1572"}
    made = admin.post("/compute/v2.1/os-pci-aliases", json={"pci_alias": alias})
    assert made.status_code == 201, made.text
    flavor = {"name": "small-x710", "ram": 1024, "vcpus": 1, "disk": 1, "id": None}
    made = admin.post("/compute/v2.1/flavors", json={"flavor": flavor})
    assert made.status_code == 200, made.text
    specs = {"extra_specs": {"pci_passthrough:alias": "nic-x710:1"}}
    made = admin.post(
        f"/compute/v2.1/flavors/{made.json()['flavor']['id']}/os-extra_specs", json=specs
    )
    assert made.status_code == 200, made.text
    b.login(creds["user1"])
    b.find("a[href='/ui/servers']").click()
    b.find("#boot-name").send_keys("vm-alias")
    Select(b.find("#boot-flavor")).select_by_visible_text("small-x710 (alias nic-x710:1)")
    Select(b.find("#boot-network")).select_by_value("")
    b.find("#boot").click()
    b.wait(lambda: b.text("#server-status") == "ACTIVE", "vm-alias ACTIVE")
    b.wait_text("spawn", "#timeline")
    claim = next(line for line in b.text("#timeline").splitlines() if "claimed" in line)
    assert "claimed compute-1 enp0s3" in claim and "for alias nic-x710" in claim
    assert "flavor small-x710" in b.text("main")
    b.find("#action-delete").click()
    b.driver.switch_to.alert.accept()
    b.wait(lambda: b.driver.current_url.endswith("/ui/servers"), "back to the servers")
    b.wait(lambda: "vm-alias" not in b.text("#servers"), "vm-alias gone")
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


NODE = """
const n = window.passnicTopology.getElementById(arguments[0]);
return {
  classes: n.classes(), label: n.data('label'), details: Object.fromEntries(n.data('details')),
};
"""


def tap(b: Browser, node: str) -> None:
    """Click a node where the picture draws it (Cytoscape.js makes the click a tap)."""
    b.driver.execute_script("window.scrollTo(0, 0)")
    box = b.find("#cy")
    x, y = b.driver.execute_script(
        "const p = window.passnicTopology.getElementById(arguments[0]).renderedPosition();"
        "return [p.x, p.y];",
        node,
    )
    dx, dy = round(x - box.size["width"] / 2), round(y - box.size["height"] / 2)
    ActionChains(b.driver).move_to_element_with_offset(box, dx, dy).click().perform()


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
    # the facts of a claimed NIC and of a free one
    claimed = b.driver.execute_script(NODE, "nic:compute-0:enp0s3")
    assert {"claimed", "pci-passthrough"} <= set(claimed["classes"])
    assert claimed["label"] == "enp0s3 · pci-passthrough\nSR-IOV · NUMA 0 · vm1"
    assert (
        claimed["details"]
        | {
            "class": "pci-passthrough",
            "SR-IOV": "yes (64 VFs)",
            "NUMA node": "0",
            "held by": "vm1",
        }
        == claimed["details"]
    )
    free = b.driver.execute_script(NODE, FREE_NIC)
    assert "free" in free["classes"] and "claimed" not in free["classes"]
    assert free["label"] == "enp0s4 · none\nno SR-IOV · NUMA 1 · free"
    facts = {"class": "none", "SR-IOV": "no", "NUMA node": "1", "held by": "free"}
    assert free["details"] | facts == free["details"]
    # clicked in the picture: its details, and what its quarantined port does with its frames
    tap(b, FREE_NIC)
    b.wait_text("untagged frame enters tor-1", "#details")
    shown = b.text("#details")
    assert "enp0s4 · none" in shown and "NUMA node\n1" in shown and "held by\nfree" in shown
    assert (
        f"tor-1 {FREE_PORT} should be access VLAN {QUARANTINE_VLAN}, shut down (no port is bound "
        f"to the NIC: it carries no network); it is access VLAN {QUARANTINE_VLAN}, shut down."
    ) in shown
    assert "→ dropped: port is shut down" in shown
    no_console_errors(b)


def drift_appears_and_is_repaired(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    tor1 = live_ui.cloud.fabric.soft("tor-1")
    tor1.switch.configure(VM1_PORT, PortConfig.access(20))  # behind Passnic's back
    tor1.switch.configure(FREE_PORT, PortConfig.access(10))  # a free NIC's port, opened
    b.wait(lambda: "drift" in _vm1_port_classes(b), "drift in the topology")  # by polling
    assert "drift" in str(b.find("#paths tr[data-server='vm1']").get_attribute("class"))
    # the free NIC's frames now land in net0: its trace says so, and that they should not
    tap(b, FREE_NIC)
    b.wait_text("→ VLAN 10 → net0 (project1) — but no port is bound to this NIC", "#details")
    assert "it is access VLAN 10 — drift: " in b.text("#details")
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
    assert tor1.read([FREE_PORT])[FREE_PORT] == PortConfig.quarantine(QUARANTINE_VLAN)
    b.find("a[href='/ui/topology']").click()
    b.wait(lambda: b.find("#cy").get_attribute("data-ready") == "true", "the topology drawn")
    b.wait(lambda: "bound" in _vm1_port_classes(b), "vm1's port drawn")
    assert "drift" not in _vm1_port_classes(b)
    no_console_errors(b)
    b.logout()


def networks_page_lists_vm1s_port_and_the_vlan_range(
    b: Browser, live_ui: LiveCloud, creds: Creds
) -> None:
    b.login(creds["admin"])
    b.find("a[href='/ui/networks']").click()
    shared = b.find("#ranges tr[data-range='group0-data0-shared']").text
    assert shared.startswith("group0-data0-shared every project group0-data0 10")
    assert "999 1 (10)" in shared  # VLANs 10 to 999, one in use: 10
    port = b.find("#ports tr[data-port='vm1-port']").text
    assert port.startswith("vm1-port net0 (VLAN 10) ")
    assert "192.168.10." in port and "compute-0 ACTIVE" in port
    no_console_errors(b)
    b.logout()


def keys(b: Browser, *typed: str) -> Any:
    """Type into whatever has the focus, as a keyboard would; then what has it."""
    ActionChains(b.driver).send_keys(*typed).perform()
    return b.driver.switch_to.active_element


def the_keyboard_alone_signs_in_and_reaches_vm1(
    b: Browser, live_ui: LiveCloud, creds: Creds
) -> None:
    """No mouse: the sign-in form (its user field has the focus), the skip link, and the "Go to
    element" list, where user1's vm1 shows its details and its frame trace."""
    user1 = creds["user1"]
    b.open("/ui/login")
    b.wait(  # autofocus lands once the page has loaded, later on a busy machine
        lambda: b.driver.switch_to.active_element.get_attribute("id") == "user",
        "the focus on the user field",
    )
    keys(b, user1.username, Keys.TAB, user1.password, Keys.TAB, user1.project, Keys.ENTER)
    b.wait(lambda: "/ui/topology" in b.driver.current_url, "the topology after sign-in")
    b.wait(lambda: b.find("#cy").get_attribute("data-ready") == "true", "the topology drawn")
    skip = keys(b, Keys.TAB)
    assert skip.text == "Skip to content" and skip.location["x"] >= 0  # shown once focused
    assert keys(b, Keys.ENTER).get_attribute("id") == "main"
    focused = keys(b, Keys.TAB)
    assert focused.get_attribute("id") == "jump", focused.get_attribute("outerHTML")
    keys(b, "server")  # the list's first server: vm1
    b.wait_text("untagged frame enters tor-1", "#details")
    assert b.text("#details h2").startswith("vm1")
    assert f"{VM1_PORT} (access VLAN 10) → VLAN 10 → net0 (project1)" in b.text("#details")
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


def save_whole_page(b: Browser, name: str) -> None:
    """A screenshot of the whole page, however long: the window grows to it for the shot."""
    height, chrome = b.driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    b.driver.set_window_size(1440, height + chrome)
    try:
        b.driver.save_screenshot(str(DOCS / name))
    finally:
        b.driver.set_window_size(1440, 1000)


def admin_migrates_vm1_reverts_then_confirms(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    b.login(creds["admin"])
    b.find("a[href='/ui/servers']").click()
    b.find("#servers tr[data-server='vm1'] a").click()
    b.wait(lambda: b.text("#server-status") == "ACTIVE", "vm1's page")
    assert b.text("#server-host") == "compute-0"

    def migrate_then(button: str, host: str) -> None:
        b.find("#action-migrate").click()
        b.wait(lambda: b.text("#server-status") == "VERIFY_RESIZE", "vm1 waiting for confirmation")
        b.find(f"#action-{button}").click()
        b.wait(lambda: b.text("#server-status") == "ACTIVE", f"vm1 after {button}")
        assert b.text("#server-host") == host
        b.wait_text(f"{host} enp0s3", "#server-fabric")

    migrate_then("revert", "compute-0")  # back where it was, on its old port
    assert f"{VM1_PORT}: access VLAN 10" in b.text("#server-fabric")
    migrate_then("confirm", "compute-1")
    timeline = b.text("#timeline")
    for action in ("confirmResize", "revertResize", "migrate", "create", "spawn"):
        assert action in timeline
    save_whole_page(b, "dashboard-server-timeline.png")  # down to the boot's spawn
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


def pages_fit_a_laptop_and_a_tablet(b: Browser, live_ui: LiveCloud, creds: Creds) -> None:
    """At a laptop's and a tablet's width no page scrolls sideways (wide tables scroll in their
    own box)."""
    b.login(creds["admin"])
    try:
        for width, height in ((1440, 900), (820, 1180)):
            b.driver.set_window_size(width, height)
            for page in ("topology", "hosts", "networks", "servers", "fabric"):
                b.open(f"/ui/{page}")
                b.find("main h1")
                overflow = b.driver.execute_script(
                    "return document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 0, f"/ui/{page} is {overflow}px too wide at {width}px"
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
        user1_boots_with_a_pci_alias_flavor,
        topology_shows_vm1_nic_on_its_switch_port_in_vlan_10,
        drift_appears_and_is_repaired,
        networks_page_lists_vm1s_port_and_the_vlan_range,
        the_keyboard_alone_signs_in_and_reaches_vm1,
        a_trunk_is_amber_and_its_tagged_frames_traced,
        user1_sees_nothing_of_project2,
        admin_migrates_vm1_reverts_then_confirms,
        no_valid_host_is_explained_and_the_server_deleted,
        pages_fit_a_laptop_and_a_tablet,
    ):
        step(browser, live_ui, creds)
