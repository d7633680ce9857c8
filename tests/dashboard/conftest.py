"""Headless Chromium (Debian's, with its chromedriver) driven by selenium against a live cloud.

The tests skip where Chromium, chromedriver or the dashboard's JavaScript (`make assets`) are
missing; `make test` installs all three."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from passnic.bootstrap import Credential, load_credentials
from passnic.dashboard.client import TOKEN_COOKIE
from passnic.dashboard.routes import STATIC, VENDOR_FILES
from tests.compute.conftest import Scene, scene
from tests.conftest import LiveCloud

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

__all__ = ["Scene", "scene"]  # the compute scene (vm1's NIC on tor-1), for test_session.py

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT = 20.0
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def no_background_audit() -> Iterator[None]:
    """The fabric's periodic audit would repair drift on its own: these tests repair it from
    the dashboard, so the live cloud they start runs none."""
    before = os.environ.get("PASSNIC_FABRIC_AUDIT_INTERVAL")
    os.environ["PASSNIC_FABRIC_AUDIT_INTERVAL"] = "0"
    yield
    if before is None:
        os.environ.pop("PASSNIC_FABRIC_AUDIT_INTERVAL", None)
    else:
        os.environ["PASSNIC_FABRIC_AUDIT_INTERVAL"] = before


@pytest.fixture(scope="module")
def live_ui(no_background_audit: None, live: LiveCloud) -> LiveCloud:
    return live


@pytest.fixture(scope="module")
def creds(live_ui: LiveCloud) -> dict[str, Credential]:
    return {c.username: c for c in load_credentials(live_ui.home)}


class Browser:
    """One Chromium session, with waits that poll the page instead of sleeping blindly."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver = driver
        self.url = url

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)

    def find(self, css: str) -> WebElement:
        return self.wait(lambda: self.driver.find_element("css selector", css), css)

    def text(self, css: str = "body") -> str:
        return str(self.driver.find_element("css selector", css).text)

    def wait(self, probe: Callable[[], Any], what: str) -> Any:
        """The first truthy value of ``probe`` (exceptions count as not yet), within WAIT s."""
        deadline = time.monotonic() + WAIT
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = probe()
                if value:
                    return value
            except Exception as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {last}")

    def wait_text(self, needle: str, css: str = "body") -> None:
        self.wait(lambda: needle in self.text(css), f"{needle!r} in {css}")

    def login(self, cred: Credential, project: str = "") -> None:
        self.open("/ui/login")
        self.find("#user").send_keys(cred.username)
        self.find("#password").send_keys(cred.password)
        if project:
            self.find("#project-name").send_keys(project)
        self.find("#sign-in").click()
        self.wait(lambda: "/ui/topology" in self.driver.current_url, "the topology after sign-in")

    def logout(self) -> None:
        """Sign out: the cookie is gone and its token revoked (asked outside the browser)."""
        token = self.driver.get_cookie(TOKEN_COOKIE)["value"]
        self.find("form[action='/ui/logout'] button").click()
        self.wait(lambda: "/ui/login" in self.driver.current_url, "the sign-in page")
        assert self.driver.get_cookie(TOKEN_COOKIE) is None
        revoked = httpx.get(
            f"{self.url}/networking/v2.0/networks", headers={"X-Auth-Token": token}, timeout=30
        )
        assert revoked.status_code == 401, revoked.text

    def console_errors(self) -> list[str]:
        """Errors the page logged since the last call (the log is drained by reading it)."""
        logs = self.driver.get_log("browser")
        return [e["message"] for e in logs if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def browser(live_ui: LiveCloud) -> Iterator[Browser]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (make debian)")
    if not all((STATIC / "vendor" / f).is_file() for f in VENDOR_FILES):
        pytest.skip("needs the dashboard's JavaScript (make assets)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1440,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield Browser(driver, live_ui.url)
    finally:
        driver.quit()
