"""``passnic agent discover``: output formats and ``--report`` through the cloud client."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from passnic.agent.cli import agent_app
from passnic.agent.fakesysfs import build_sample_compute_sysfs
from passnic.inventory.report import HostReport

runner = CliRunner()


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    return build_sample_compute_sysfs(tmp_path / "sys", 0)


def discover(*args: str) -> Any:
    return runner.invoke(agent_app, ["discover", *args])


def test_json_output_is_a_host_report(sysfs: Path, pci_ids_file: Path) -> None:
    result = discover(
        "--sysfs-root", str(sysfs), "--hostname", "compute-0", "--pci-ids", str(pci_ids_file)
    )
    assert result.exit_code == 0, result.output
    report = HostReport.model_validate(json.loads(result.stdout))
    assert report.hostname == "compute-0"
    assert [p.name for p in report.ports] == ["enp0s2", "enp0s3", "enp0s4"]
    assert report.ports[1].pvendor == "Intel Corporation [8086]"


def test_yaml_output_and_personality(sysfs: Path) -> None:
    result = discover(
        "--sysfs-root", str(sysfs), "--hostname", "c", "-f", "yaml", "--personality", "controller"
    )
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["personality"] == "controller"
    assert len(data["ports"]) == 3


def test_table_output_lists_ports(sysfs: Path) -> None:
    result = discover("--sysfs-root", str(sysfs), "--format", "table")
    assert result.exit_code == 0, result.output
    for ifname in ("enp0s2", "enp0s3", "enp0s4"):
        assert ifname in result.stdout


def test_not_a_sysfs_root_is_refused(tmp_path: Path) -> None:
    result = discover("--sysfs-root", str(tmp_path / "nope"))
    assert result.exit_code != 0
    assert "bus/pci/devices" in result.output


class FakeCliError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FakeCloudClient:
    """Stands in for passnic.cli.client.CloudClient: from_environment, endpoint, token, http."""

    clouds: ClassVar[list[str | None]] = []
    closed: ClassVar[int] = 0
    transport: ClassVar[httpx.MockTransport]

    def __init__(self, cloud_name: str | None) -> None:
        self.cloud_name = cloud_name
        self.token = "tok-xyz"
        self.http = httpx.Client(transport=self.transport)

    @classmethod
    def from_environment(cls, cloud_name: str | None) -> FakeCloudClient:
        cls.clouds.append(cloud_name)
        return cls(cloud_name)

    def endpoint(self, service_type: str) -> str:
        if self.cloud_name == "nowhere":
            raise FakeCliError("public endpoint for platform service not found")
        assert service_type == "platform"
        return "http://ctl:6385/inventory"

    def close(self) -> None:
        type(self).closed += 1
        self.http.close()


@pytest.fixture
def controller(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """A fake ``passnic.cli.client`` and a controller answering on a mock transport."""
    module = types.ModuleType("passnic.cli.client")
    module.CloudClient = FakeCloudClient  # type: ignore[attr-defined]
    module.CliError = FakeCliError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "passnic.cli.client", module)
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        body = json.loads(request.content)
        if body["hostname"] == "refused":
            fault = json.dumps({"faultstring": "Host refused is not provisioned"})
            return httpx.Response(400, json={"error_message": fault})
        return httpx.Response(200, json={"uuid": "u-1", "hostname": body["hostname"]})

    FakeCloudClient.clouds = []
    FakeCloudClient.closed = 0
    FakeCloudClient.transport = httpx.MockTransport(handler)
    return requests


def test_report_sends_to_inventory_endpoint(sysfs: Path, controller: list[httpx.Request]) -> None:
    result = discover(
        "--sysfs-root", str(sysfs), "--hostname", "compute-0", "--report", "--os-cloud", "passnic"
    )
    assert result.exit_code == 0, result.output
    assert FakeCloudClient.clouds == ["passnic"]
    [request] = controller
    assert str(request.url) == "http://ctl:6385/inventory/v1/agent/reports"
    assert request.headers["X-Auth-Token"] == "tok-xyz"
    assert json.loads(request.content) == json.loads(result.stdout)
    assert "reported 3 port(s) of host compute-0" in result.stderr
    assert FakeCloudClient.closed == 1


def test_client_errors_exit_nonzero_with_their_message(
    sysfs: Path, controller: list[httpx.Request]
) -> None:
    result = discover("--sysfs-root", str(sysfs), "--report", "--os-cloud", "nowhere")
    assert result.exit_code == 1
    assert "error: public endpoint for platform service not found" in result.stderr
    assert "Traceback" not in result.output
    assert controller == []


def test_report_refusal_exits_nonzero_with_fault(
    sysfs: Path, controller: list[httpx.Request]
) -> None:
    result = discover("--sysfs-root", str(sysfs), "--hostname", "refused", "--report")
    assert result.exit_code == 1
    assert "Host refused is not provisioned" in result.stderr
