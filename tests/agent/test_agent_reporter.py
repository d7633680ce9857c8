"""The reporter posts the HostReport JSON and turns controller faults into readable errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from passnic.agent.reporter import ReportError, report_to_controller
from passnic.errors import PassnicError
from passnic.inventory.report import HostReport, PortReport

REPORT = HostReport(
    hostname="compute-0",
    numa_nodes=[0, 1],
    vcpus=8,
    memory_mb=32768,
    ports=[
        PortReport(
            name="enp0s3",
            pciaddr="0000:00:03.0",
            pclass="Ethernet controller [0200]",
            pvendor="Intel Corporation [8086]",
            pdevice="Ethernet Controller X710 for 10GbE SFP+ [1572]",
            sriov_totalvfs=64,
            mac="52:54:00:00:00:03",
        )
    ],
)


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_posts_report_with_token_and_returns_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"uuid": "u-1", "hostname": "compute-0"})

    host = report_to_controller(
        REPORT, "http://ctl:6385/inventory/", "tok-123", client=client_for(handler)
    )
    assert host == {"uuid": "u-1", "hostname": "compute-0"}
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "http://ctl:6385/inventory/v1/agent/reports"
    assert request.headers["X-Auth-Token"] == "tok-123"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert body == REPORT.model_dump(mode="json")
    assert HostReport.model_validate(body) == REPORT


def test_sysinv_fault_string_is_surfaced() -> None:
    fault = {"faultcode": "Client", "faultstring": "Host compute-0 is unlocked", "debuginfo": None}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error_message": json.dumps(fault)})

    with pytest.raises(ReportError) as caught:
        report_to_controller(REPORT, "http://ctl/inventory", "t", client=client_for(handler))
    assert caught.value.status == 409
    assert "Host compute-0 is unlocked" in caught.value.message
    assert "HTTP 409" in caught.value.message
    assert "faultcode" not in caught.value.message
    assert isinstance(caught.value, PassnicError)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(401, json={"error_message": "plain words"}), "plain words"),
        (httpx.Response(422, json={"detail": "bad body"}), "bad body"),
        (httpx.Response(502, text="upstream down"), "upstream down"),
        (httpx.Response(500), "Internal Server Error"),
    ],
)
def test_other_error_shapes(response: httpx.Response, expected: str) -> None:
    with pytest.raises(ReportError, match=expected) as caught:
        report_to_controller(
            REPORT, "http://ctl/inventory", "t", client=client_for(lambda r: response)
        )
    assert caught.value.status == response.status_code


def test_unreachable_controller() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ReportError, match="cannot reach the controller") as caught:
        report_to_controller(REPORT, "http://ctl/inventory", "t", client=client_for(handler))
    assert caught.value.status == 0


def test_success_without_a_json_object_is_an_error() -> None:
    with pytest.raises(ReportError, match="not JSON"):
        report_to_controller(
            REPORT,
            "http://ctl/inventory",
            "t",
            client=client_for(lambda r: httpx.Response(200, text="ok")),
        )
