"""CloudClient: configuration as the openstack CLI resolves it, Keystone v3 authentication,
catalog lookup, and the operator-facing message of every OpenStack error shape."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml

from passnic.cli.client import (
    CliError,
    CloudClient,
    CloudConfig,
    StdlibSender,
    fault_message,
    join_url,
    load_cloud_config,
)
from tests.conftest import free_port

CLOUDS = {
    "clouds": {
        "passnic-admin": {
            "auth": {
                "auth_url": "http://a.test/identity",
                "username": "admin",
                "password": "from-file",
                "project_name": "admin",
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": "RegionOne",
            "interface": "public",
        },
        "passnic-user1": {
            "auth": {
                "auth-url": "http://a.test/identity/v3",
                "username": "user1",
                "password": "pw1",
                "project_id": "p-123",
                "user_domain_id": "default",
            },
        },
    }
}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


# ---- configuration -----------------------------------------------------------------------


def test_named_cloud_from_os_client_config_file(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere" / "my-clouds.yaml", CLOUDS)
    cfg = load_cloud_config("passnic-admin", {"OS_CLIENT_CONFIG_FILE": str(path)}, [])
    assert cfg.auth_url == "http://a.test/identity"
    assert (cfg.username, cfg.password, cfg.project_name) == ("admin", "from-file", "admin")
    assert (cfg.region_name, cfg.interface, cfg.cloud) == ("RegionOne", "public", "passnic-admin")


def test_os_cloud_picks_the_cloud_and_dashed_keys_are_accepted(tmp_path: Path) -> None:
    write(tmp_path / "clouds.yaml", CLOUDS)
    cfg = load_cloud_config(None, {"OS_CLOUD": "passnic-user1"}, [tmp_path])
    assert cfg.auth_url == "http://a.test/identity/v3"
    assert cfg.project_id == "p-123"


def test_explicit_cloud_name_beats_os_cloud(tmp_path: Path) -> None:
    write(tmp_path / "clouds.yaml", CLOUDS)
    cfg = load_cloud_config("passnic-admin", {"OS_CLOUD": "passnic-user1"}, [tmp_path])
    assert cfg.username == "admin"


def test_env_vars_override_the_clouds_values(tmp_path: Path) -> None:
    write(tmp_path / "clouds.yaml", CLOUDS)
    env = {"OS_CLOUD": "passnic-admin", "OS_PASSWORD": "from-env", "OS_REGION_NAME": "R2"}
    cfg = load_cloud_config(None, env, [tmp_path])
    assert (cfg.password, cfg.region_name, cfg.username) == ("from-env", "R2", "admin")


def test_search_order_first_existing_file_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "cwd", tmp_path / "user"
    write(first / "clouds.yaml", {"clouds": {"only": CLOUDS["clouds"]["passnic-admin"]}})
    write(second / "clouds.yaml", CLOUDS)
    cfg = load_cloud_config(None, {}, [first, second])
    assert cfg.cloud == "only"  # the single cloud of the first file is the default


def test_default_search_path_is_cwd_then_user_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdg = tmp_path / "xdg"
    write(xdg / "openstack" / "clouds.yaml", CLOUDS)
    monkeypatch.chdir(tmp_path)
    cfg = load_cloud_config("passnic-user1", {"XDG_CONFIG_HOME": str(xdg)})
    assert cfg.username == "user1"
    write(tmp_path / "clouds.yml", {"clouds": {"passnic-user1": {"auth": {**_auth("cwd")}}}})
    cfg = load_cloud_config("passnic-user1", {"XDG_CONFIG_HOME": str(xdg)})
    assert cfg.username == "cwd"


def _auth(user: str) -> dict[str, str]:
    return {"auth_url": "http://x", "username": user, "password": "p", "project_name": "p"}


def test_environment_alone_makes_a_cloud(tmp_path: Path) -> None:
    write(tmp_path / "clouds.yaml", CLOUDS)  # several clouds, but env vars win the default
    env = {
        "OS_AUTH_URL": "http://e.test/identity",
        "OS_USERNAME": "u",
        "OS_PASSWORD": "p",
        "OS_PROJECT_NAME": "proj",
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_INTERFACE": "internal",
    }
    cfg = load_cloud_config(None, env, [tmp_path])
    assert (cfg.cloud, cfg.auth_url, cfg.interface) == (None, "http://e.test/identity", "internal")
    body = cfg.auth_body()["auth"]
    assert body["identity"]["password"]["user"] == {
        "password": "p",
        "name": "u",
        "domain": {"id": "default"},
    }
    assert body["scope"] == {"project": {"name": "proj", "domain": {"name": "Default"}}}


def test_unknown_cloud_and_ambiguous_default_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "clouds.yaml", CLOUDS)
    with pytest.raises(CliError, match="Cloud nosuch was not found"):
        load_cloud_config("nosuch", {}, [tmp_path])
    with pytest.raises(CliError, match=r"several clouds.*--os-cloud"):
        load_cloud_config(None, {}, [tmp_path])


def test_nothing_configured_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="OS_CLOUD"):
        load_cloud_config(None, {}, [tmp_path])
    with pytest.raises(CliError, match="No password"):
        load_cloud_config(None, {"OS_AUTH_URL": "http://x", "OS_USERNAME": "u"}, [tmp_path])


def test_domains_default_to_the_default_domain_and_project_id_scopes() -> None:
    cfg = load_cloud_config(
        None,
        {"OS_AUTH_URL": "http://x", "OS_USERNAME": "u", "OS_PASSWORD": "p", "OS_PROJECT_ID": "pid"},
        [],
    )
    auth = cfg.auth_body()["auth"]
    assert auth["identity"]["password"]["user"]["domain"] == {"id": "default"}
    assert auth["scope"] == {"project": {"id": "pid"}}


def test_secure_yaml_is_merged(tmp_path: Path) -> None:
    no_password = {
        "clouds": {"c": {"auth": {k: v for k, v in _auth("u").items() if k != "password"}}}
    }
    write(tmp_path / "clouds.yaml", no_password)
    write(tmp_path / "secure.yaml", {"clouds": {"c": {"auth": {"password": "s3cret"}}}})
    assert load_cloud_config("c", {}, [tmp_path]).password == "s3cret"


# ---- error bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "error_message": json.dumps(
                    {
                        "faultstring": "Host must be locked.",
                        "faultcode": "Client",
                        "debuginfo": None,
                    }
                )
            },
            "Host must be locked.",
        ),
        (
            {"badRequest": {"code": 400, "message": "Migration pre-check error"}},
            "Migration pre-check error",
        ),
        (
            {"NeutronError": {"type": "Conflict", "message": "QoS is refused", "detail": ""}},
            "QoS is refused",
        ),
        (
            {"error": {"code": 401, "message": "Bad password", "title": "Unauthorized"}},
            "Bad password",
        ),
        ({"message": "flat"}, "flat"),
        ({"faultstring": "fault"}, "fault"),
        ({"detail": "fastapi"}, "fastapi"),
        ({"error_message": "plain text"}, "plain text"),
        ({"a": {"message": "one"}, "b": {"message": "two"}}, "one\ntwo"),
        ({"unrelated": 1}, None),
    ],
)
def test_fault_message_shapes(body: Any, message: str | None) -> None:
    assert fault_message(body) == message


# ---- authentication and requests ---------------------------------------------------------


def _config(
    auth_url: str = "http://k.test/identity", region: str | None = "RegionOne"
) -> CloudConfig:
    return CloudConfig(
        auth_url=auth_url,
        password="p",
        username="u",
        project_name="p",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=region,
    )


def _catalog() -> list[dict[str, Any]]:
    return [
        {
            "type": "platform",
            "endpoints": [
                {"interface": "public", "region_id": "Other", "url": "http://wrong-region/"},
                {"interface": "admin", "region_id": "RegionOne", "url": "http://admin/"},
                {"interface": "public", "region": "RegionOne", "url": "http://k.test/inventory"},
            ],
        }
    ]


class Keystone:
    """Discovery at /identity (or 404 for /identity/v3), tokens, and an inventory echo."""

    def __init__(self, discovery: bool = True) -> None:
        self.discovery = discovery
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.tokens = 0
        self.reject_next_token = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url), dict(request.headers)))
        path = request.url.path
        if request.method == "GET" and path.startswith("/identity") and "auth" not in path:
            if not self.discovery:
                return httpx.Response(404, text="nope")
            v3 = {
                "id": "v3.14",
                "status": "stable",
                "links": [{"rel": "self", "href": "http://k.test/identity/v3/"}],
            }
            return httpx.Response(300, json={"versions": {"values": [v3]}})
        if path == "/identity/v3/auth/tokens":
            self.tokens += 1
            token = {"catalog": _catalog(), "expires_at": "2030-01-01T00:00:00Z"}
            return httpx.Response(
                201, json={"token": token}, headers={"X-Subject-Token": f"t{self.tokens}"}
            )
        if self.reject_next_token:
            self.reject_next_token = False
            return httpx.Response(401, json={"error": {"message": "expired"}})
        if path == "/inventory/v1/empty":
            return httpx.Response(204)
        return httpx.Response(200, json={"path": path, "token": request.headers["X-Auth-Token"]})


def test_authenticates_through_discovery_and_uses_the_token() -> None:
    keystone = Keystone()
    client = CloudClient(_config(), transport=httpx.MockTransport(keystone))
    assert client.get("platform", "/v1/ihosts") == {"path": "/inventory/v1/ihosts", "token": "t1"}
    methods_urls = [(m, u) for m, u, _ in keystone.seen]
    assert methods_urls[:2] == [
        ("GET", "http://k.test/identity"),
        ("POST", "http://k.test/identity/v3/auth/tokens"),
    ]
    assert "x-auth-token" not in keystone.seen[0][2]
    assert client.endpoint("platform") == "http://k.test/inventory"  # public, RegionOne
    assert client.get("platform", "/v1/empty") is None
    assert keystone.tokens == 1


def test_auth_url_ending_in_v3_works_without_discovery() -> None:
    keystone = Keystone(discovery=False)
    client = CloudClient(
        _config("http://k.test/identity/v3"), transport=httpx.MockTransport(keystone)
    )
    assert client.token == "t1"
    with pytest.raises(CliError, match="Could not find versioned identity endpoints"):
        CloudClient(_config(), transport=httpx.MockTransport(keystone)).authenticate()


def test_a_401_reauthenticates_once() -> None:
    keystone = Keystone()
    client = CloudClient(_config(), transport=httpx.MockTransport(keystone))
    client.authenticate()
    keystone.reject_next_token = True
    assert client.get("platform", "/v1/ihosts")["token"] == "t2"


def test_missing_endpoint_names_service_interface_and_region() -> None:
    client = CloudClient(_config(region="Nowhere"), transport=httpx.MockTransport(Keystone()))
    with pytest.raises(CliError, match="public endpoint for platform service in Nowhere region"):
        client.endpoint("platform")


def test_failed_login_shows_keystones_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return Keystone()(request)
        return httpx.Response(401, json={"error": {"code": 401, "message": "Invalid credentials"}})

    client = CloudClient(_config(), transport=httpx.MockTransport(handler))
    with pytest.raises(CliError, match=r"Invalid credentials \(HTTP 401\)"):
        client.authenticate()


def test_server_error_becomes_cli_error_with_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/inventory"):
            inner = json.dumps({"faultstring": "Host must be locked."})
            return httpx.Response(400, json={"error_message": inner})
        return Keystone()(request)

    client = CloudClient(_config(), transport=httpx.MockTransport(handler))
    with pytest.raises(CliError) as info:
        client.patch("platform", "/v1/iinterfaces/x", [])
    assert (info.value.message, info.value.status) == ("Host must be locked.", 400)


def test_server_fault_says_status_and_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/inventory"):
            return httpx.Response(500, text="Internal Server Error")
        return Keystone()(request)

    client = CloudClient(_config(), transport=httpx.MockTransport(handler))
    with pytest.raises(CliError) as info:
        client.get("platform", "/v1/ihosts")
    assert info.value.message == (
        "Internal Server Error (HTTP 500 from GET http://k.test/inventory/v1/ihosts)"
    )


def test_connection_refused_names_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client = CloudClient(_config(), transport=httpx.MockTransport(handler))
    with pytest.raises(
        CliError, match=r"Unable to connect to http://k.test/identity: connection refused"
    ):
        client.get("platform", "/v1/ihosts")


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("http://h/inventory", "/v1/ihosts", "http://h/inventory/v1/ihosts"),
        ("http://h:6385/v1", "/v1/ihosts", "http://h:6385/v1/ihosts"),
        ("http://h/inventory/", "v1/ihosts", "http://h/inventory/v1/ihosts"),
        ("http://h/networking", "/v2.0/ports", "http://h/networking/v2.0/ports"),
        ("http://h/networking/v2.0", "/v2.0/ports", "http://h/networking/v2.0/ports"),
        ("http://h/compute/v2.1", "/servers", "http://h/compute/v2.1/servers"),
        ("http://h/fabric", "", "http://h/fabric"),
    ],
)
def test_join_url_does_not_double_versions(base: str, path: str, url: str) -> None:
    assert join_url(base, path) == url


class _ClosesAfterEachAnswer(BaseHTTPRequestHandler):
    """Answers, then closes the connection without saying so (as a server dropping an idle
    keep-alive connection does)."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()

    def do_GET(self) -> None:
        type(self).connections.add(self.client_address[1])
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *_args: object) -> None:
        pass


def test_the_standard_library_sender_reconnects_once_and_names_a_closed_port() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesAfterEachAnswer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    send = StdlibSender(timeout=10, verify=True)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        first = send("GET", f"{base}/a?x=1", {"Accept": "application/json"}, None)
        second = send("GET", f"{base}/b", {}, None)  # its kept-alive connection was closed
        assert (first.status_code, first.json(), second.json()) == (
            200,
            {"path": "/a?x=1"},
            {"path": "/b"},
        )
        assert first.headers["content-length"] == str(len(first.content))
        assert len(_ClosesAfterEachAnswer.connections) == 2
    finally:
        send.close()
        server.shutdown()
        server.server_close()
    closed = f"http://127.0.0.1:{free_port()}/identity"
    with pytest.raises(CliError, match=r"Unable to connect to .*: connection refused\. Is the"):
        send("GET", closed, {}, None)
