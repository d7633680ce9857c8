"""Talk to a Passnic (or any OpenStack-shaped) cloud the way the ``openstack`` CLI does.

Configuration comes from ``clouds.yaml`` and ``OS_*`` variables with the same search order and
precedence as openstacksdk/osc-lib, so one ``export OS_CLOUD=...`` serves both ``openstack`` and
``passnic``. Authentication is Keystone v3 password auth with version discovery, so the client
works against Passnic and against a real Keystone alike.

A token is kept between invocations in a 0600 file under the user's cache directory, keyed by
cloud, auth URL, user and project, and reused until it expires or a service answers 401: each
sign-in costs the server an argon2 verification. Requests go through the standard library's
``http.client`` (importing httpx, with httpcore and what it finds installed, costs a command's
start about 0.14 s); tests hand in an ``httpx`` transport instead. yaml is imported on first
use, so ``passnic --help`` does not pay for it.

openstack.config and keystoneauth1 would resolve clouds.yaml and sign in as the ``openstack`` CLI
does, but importing them takes 1-3 s (openstack.config) and 0.3-1.2 s (keystoneauth1.session) on
the development machine, beyond the 0.2 s budget of a command's start-up: this module follows
their rules instead, and the tests run the real ``openstack`` CLI against the same clouds.yaml.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    import httpx

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")

# OS_* variable -> the key it sets, as openstacksdk names it (OS_FOO_BAR -> foo_bar), limited to
# what password auth with a project scope uses. The legacy tenant names are kept because OSC
# still honours them.
ENV_KEYS: Mapping[str, str] = {
    "OS_AUTH_URL": "auth_url",
    "OS_USERNAME": "username",
    "OS_USER_ID": "user_id",
    "OS_PASSWORD": "password",
    "OS_PROJECT_NAME": "project_name",
    "OS_TENANT_NAME": "project_name",
    "OS_PROJECT_ID": "project_id",
    "OS_TENANT_ID": "project_id",
    "OS_USER_DOMAIN_NAME": "user_domain_name",
    "OS_USER_DOMAIN_ID": "user_domain_id",
    "OS_PROJECT_DOMAIN_NAME": "project_domain_name",
    "OS_PROJECT_DOMAIN_ID": "project_domain_id",
    "OS_DEFAULT_DOMAIN": "default_domain",
    "OS_REGION_NAME": "region_name",
    "OS_INTERFACE": "interface",
    "OS_CACERT": "cacert",
    "OS_INSECURE": "insecure",
}

# Variables that only select or locate a cloud; alone they do not make an environment cloud
# (openstacksdk's rule).
SELECTOR_VARS = frozenset(
    {
        "OS_CLOUD",
        "OS_REGION_NAME",
        "OS_CLIENT_CONFIG_FILE",
        "OS_CLIENT_SECURE_FILE",
        "OS_CLOUD_NAME",
    }
)


class CliError(Exception):
    """A failure to show the operator as one line, without a traceback.

    ``status`` is the HTTP status when the server refused; None for local or connection errors.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ---- configuration -----------------------------------------------------------------------


def config_search_path(environ: Mapping[str, str]) -> list[Path]:
    """Directories openstacksdk searches, in order: the working directory, the user's config
    directory, then the site-wide one."""
    xdg = environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return [Path.cwd(), Path(xdg) / "openstack", Path("/etc/openstack")]


def _candidates(stem: str, override: str | None, dirs: Sequence[Path]) -> list[Path]:
    files = [Path(override).expanduser()] if override else []
    files += [d / f"{stem}{suffix}" for d in dirs for suffix in CONFIG_SUFFIXES]
    return files


def _load_first(files: Sequence[Path]) -> tuple[Path | None, dict[str, Any]]:
    """Only the first existing file counts, as in openstacksdk: files are not merged."""
    for path in files:
        if path.is_file():
            import yaml

            try:
                data = yaml.safe_load(path.read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise CliError(f"Cannot read {path}: {exc}") from exc
            if not isinstance(data, dict):
                raise CliError(f"{path} does not hold a mapping")
            return path, data
    return None, {}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _normalize(d: Mapping[str, Any]) -> dict[str, Any]:
    """clouds.yaml accepts ``auth-url`` and ``auth_url`` alike."""
    return {str(k).replace("-", "_"): v for k, v in d.items()}


def _flatten_cloud(cloud: Mapping[str, Any]) -> dict[str, Any]:
    """One flat key space: the ``auth`` section's keys next to region_name, interface, ..."""
    flat = _normalize({k: v for k, v in cloud.items() if k != "auth"})
    flat.update(_normalize(cloud.get("auth") or {}))
    return flat


@dataclass(frozen=True)
class CloudConfig:
    """Everything needed to authenticate: the resolved result of clouds.yaml plus OS_* vars."""

    auth_url: str
    password: str
    username: str | None = None
    user_id: str | None = None
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    region_name: str | None = None
    interface: str = "public"
    verify: bool | str = True
    cloud: str | None = None
    source: str | None = field(default=None, compare=False)

    def cache_key(self) -> str:
        """Which token cache file serves this cloud: the cloud, auth URL, user and project."""
        who = [
            self.cloud,
            self.auth_url.rstrip("/"),
            self.user_id or [self.user_domain_id, self.user_domain_name, self.username],
            self.project_id
            or [self.project_domain_id, self.project_domain_name, self.project_name],
        ]
        return hashlib.sha256(json.dumps(who).encode()).hexdigest()

    def auth_body(self) -> dict[str, Any]:
        """The POST /v3/auth/tokens body keystoneauth's password plugin sends: ids win over
        names, and a domain is only sent with a name (an id is globally unique)."""
        user: dict[str, Any] = {"password": self.password}
        if self.user_id:
            user["id"] = self.user_id
        else:
            user["name"] = self.username
            user["domain"] = _domain(self.user_domain_id, self.user_domain_name)
        project: dict[str, Any]
        if self.project_id:
            project = {"id": self.project_id}
        else:
            project = {
                "name": self.project_name,
                "domain": _domain(self.project_domain_id, self.project_domain_name),
            }
        return {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": project},
            }
        }


def _domain(domain_id: str | None, name: str | None) -> dict[str, str]:
    return {"id": domain_id} if domain_id else {"name": name or ""}


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def load_cloud_config(
    cloud_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    search_path: Sequence[Path] | None = None,
) -> CloudConfig:
    """Resolve the cloud to talk to, as ``openstack`` would.

    Which cloud: ``cloud_name`` (``--os-cloud``), else OS_CLOUD, else the environment alone when
    any non-selector OS_* variable is set, else the only cloud in clouds.yaml. OS_* variables
    then override that cloud's values, because OSC turns them into option defaults that win
    over the file.
    """
    env = os.environ if environ is None else environ
    dirs = config_search_path(env) if search_path is None else list(search_path)
    path, config = _load_first(_candidates("clouds", env.get("OS_CLIENT_CONFIG_FILE"), dirs))
    _, secure = _load_first(_candidates("secure", env.get("OS_CLIENT_SECURE_FILE"), dirs))
    if secure:
        config = _merge(config, secure)
    clouds = config.get("clouds") or {}
    if not isinstance(clouds, dict):
        raise CliError(f"{path}: 'clouds' must be a mapping")

    name = cloud_name or env.get("OS_CLOUD") or None
    env_cloud = any(k.startswith("OS_") and k not in SELECTOR_VARS and env[k] for k in env)
    values: dict[str, Any] = {}
    if name:
        if name not in clouds:
            where = path or "any clouds.yaml (" + ", ".join(str(d) for d in dirs) + ")"
            raise CliError(f"Cloud {name} was not found in {where}.")
        values = _flatten_cloud(clouds[name] or {})
    elif not env_cloud and len(clouds) == 1:
        name, only = next(iter(clouds.items()))
        values = _flatten_cloud(only or {})
    elif not env_cloud and clouds:
        raise CliError(
            f"{path} defines several clouds ({', '.join(sorted(clouds))}); "
            "choose one with --os-cloud or OS_CLOUD."
        )
    for var, key in ENV_KEYS.items():
        if env.get(var):
            values[key] = env[var]
    return _build_config(values, name, str(path) if path and name else None)


def _build_config(v: Mapping[str, Any], name: str | None, source: str | None) -> CloudConfig:
    def get(key: str) -> str | None:
        value = v.get(key)
        return None if value in (None, "") else str(value)

    auth_url, password = get("auth_url"), get("password")
    if not auth_url:
        raise CliError(
            "No cloud to talk to: set --os-cloud or OS_CLOUD (with clouds.yaml, e.g. "
            "OS_CLIENT_CONFIG_FILE as printed by 'passnic up'), or OS_AUTH_URL and friends."
        )
    what = f"cloud {name}" if name else "the environment"
    if password is None:
        raise CliError(f"No password for {what}: set OS_PASSWORD or auth.password.")
    if not (get("username") or get("user_id")):
        raise CliError(f"No user for {what}: set OS_USERNAME or auth.username.")
    if not (get("project_name") or get("project_id")):
        raise CliError(f"No project for {what}: set OS_PROJECT_NAME or auth.project_name.")
    # OSC's --os-default-domain (default "default") fills in a domain given neither way.
    default_domain = get("default_domain") or get("domain_id") or "default"
    user_domain_id = get("user_domain_id")
    project_domain_id = get("project_domain_id")
    if not (user_domain_id or get("user_domain_name")):
        user_domain_id = default_domain
    if not (project_domain_id or get("project_domain_name")):
        project_domain_id = default_domain
    verify: bool | str = True
    if "verify" in v and not _truthy(v["verify"]):
        verify = False
    if _truthy(v.get("insecure", False)):
        verify = False
    elif get("cacert") and verify is not False:
        verify = str(get("cacert"))
    return CloudConfig(
        auth_url=auth_url,
        password=password,
        username=get("username"),
        user_id=get("user_id"),
        project_name=get("project_name"),
        project_id=get("project_id"),
        user_domain_name=get("user_domain_name"),
        user_domain_id=user_domain_id,
        project_domain_name=get("project_domain_name"),
        project_domain_id=project_domain_id,
        region_name=get("region_name"),
        interface=(get("interface") or "public").removesuffix("URL"),
        verify=verify,
        cloud=name,
        source=source,
    )


# ---- error bodies ------------------------------------------------------------------------


def fault_message(body: Any) -> str | None:
    """The operator-facing message inside any OpenStack error body, or None.

    Shapes: sysinv ``{"error_message": "<JSON with faultstring>"}``; Nova
    ``{"badRequest": {"message"}}``; Neutron ``{"NeutronError": {"message"}}``; Keystone
    ``{"error": {"message"}}``; flat ``{"message"}``/``{"faultstring"}``; FastAPI ``{"detail"}``.
    """
    if isinstance(body, str):
        return body.strip() or None
    if not isinstance(body, dict):
        return None
    if "error_message" in body:
        inner = body["error_message"]
        if isinstance(inner, str):
            try:
                inner = json.loads(inner)
            except ValueError:
                return inner.strip() or None
        found = fault_message(inner)
        if found:
            return found
    wrapped = [
        str(v.get("message") or v.get("faultstring"))
        for v in body.values()
        if isinstance(v, dict) and (v.get("message") or v.get("faultstring"))
    ]
    if wrapped:
        return "\n".join(wrapped)
    for key in ("message", "faultstring", "detail", "title"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if key == "detail" and isinstance(value, list):
            msgs = [str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in value]
            return "; ".join(msgs) or None
    return None


def response_error(resp: Reply) -> CliError:
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text
    message = fault_message(body) or resp.reason_phrase or f"HTTP {resp.status_code}"
    if resp.status_code >= 500:  # a server fault, not a refusal: say where, for the bug report
        message = f"{message} (HTTP {resp.status_code} from {resp.method} {resp.url})"
    return CliError(message, status=resp.status_code)


# ---- HTTP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, whichever client carried it; header names are lower case."""

    method: str
    url: str
    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class StdlibSender:
    """``http.client`` with one kept-alive connection per scheme and host (a command makes a few
    requests, to one or two hosts). A kept-alive connection the server closed meanwhile is
    opened again once."""

    def __init__(self, timeout: float, verify: bool | str) -> None:
        self.timeout, self.verify = timeout, verify
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def _connect(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        if scheme != "https":
            return http.client.HTTPConnection(netloc, timeout=self.timeout)
        import ssl

        context = ssl.create_default_context(
            cafile=self.verify if isinstance(self.verify, str) else None
        )
        if self.verify is False:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return http.client.HTTPSConnection(netloc, timeout=self.timeout, context=context)

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.netloc)
        for attempt in range(2):
            reused = key in self._connections
            conn = self._connections.get(key) or self._connect(*key)
            self._connections[key] = conn
            try:
                conn.request(method, target, body=body, headers=dict(headers))
                answer = conn.getresponse()
                content = answer.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                del self._connections[key]
                if reused and attempt == 0:
                    continue  # the server closed the idle connection: a new one, once
                raise CliError(f"Request to {url} failed: the connection was closed") from None
            except TimeoutError as exc:
                self.close()
                raise _timed_out(url) from exc
            except OSError as exc:  # refused, unreachable, name unknown, TLS refused
                self.close()
                raise _unreachable(url, exc) from exc
            except http.client.HTTPException as exc:
                self.close()
                raise _failed(url, exc) from exc
            return Reply(
                method,
                url,
                answer.status,
                answer.reason,
                {k.lower(): v for k, v in answer.getheaders()},
                content,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


class HttpxSender:
    """The same over an httpx transport: what tests serve requests from
    (``httpx.MockTransport``)."""

    def __init__(self, transport: httpx.BaseTransport, timeout: float, verify: bool | str) -> None:
        import httpx

        self.http = httpx.Client(transport=transport, timeout=timeout, verify=verify)

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        import httpx

        try:
            resp = self.http.request(method, url, headers=headers, content=body)
        except httpx.ConnectError as exc:
            raise _unreachable(url, exc) from exc
        except httpx.TimeoutException as exc:
            raise _timed_out(url) from exc
        except httpx.HTTPError as exc:
            raise _failed(url, exc) from exc
        headers_ = {k.lower(): v for k, v in resp.headers.items()}
        return Reply(method, url, resp.status_code, resp.reason_phrase, headers_, resp.content)

    def close(self) -> None:
        self.http.close()


# ---- the token cache -----------------------------------------------------------------------

EXPIRY_MARGIN = timedelta(seconds=30)
"""A cached token this close to its end is not used: a command may take that long."""


def token_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/passnic/tokens`` (``~/.cache`` by default); the process's own
    variable counts when ``environ`` (a test's stand-in for it) has none."""
    base = (
        environ.get("XDG_CACHE_HOME")
        or os.environ.get("XDG_CACHE_HOME")
        or str(Path("~/.cache").expanduser())
    )
    return Path(base) / "passnic" / "tokens"


class TokenCache:
    """One JSON file per cloud/user/project: the token and the token body (its catalog)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """The cached token and its body, or None when absent, unreadable or about to expire."""
        try:
            data = json.loads(self._path(key).read_text())
            token, body = str(data["token"]), dict(data["body"])
            expires = datetime.fromisoformat(str(body["expires_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires - EXPIRY_MARGIN <= datetime.now(UTC):
            return None
        return token, body

    def save(self, key: str, token: str, body: Mapping[str, Any]) -> None:
        """Written 0600 in a 0700 directory, atomically; a cache that cannot be written only
        costs the next command a sign-in."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".token-")  # mode 0600
            with os.fdopen(fd, "w") as f:
                json.dump({"token": token, "body": body}, f)
            os.replace(tmp, self._path(key))
        except OSError:
            return

    def forget(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except OSError:
            return


# ---- the client --------------------------------------------------------------------------


def _version_entries(doc: Any) -> list[dict[str, Any]]:
    """Every version entry in a discovery document, whichever of Keystone's shapes it uses."""
    if not isinstance(doc, dict):
        return []
    if isinstance(doc.get("version"), dict):
        return [doc["version"]]
    versions = doc.get("versions")
    if isinstance(versions, dict):
        versions = versions.get("values")
    return [v for v in versions or [] if isinstance(v, dict)]


def _self_href(entry: Mapping[str, Any]) -> str | None:
    for link in entry.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def join_url(base: str, path: str) -> str:
    """``base`` + ``path``, without doubling a version segment both carry.

    Callers write paths with their API version (``/v1/ihosts``) so they do not depend on whether
    the catalog URL is unversioned (Passnic's ``/inventory``) or versioned (sysinv's ``:6385/v1``).
    """
    base = base.rstrip("/")
    if not path:
        return base
    path = "/" + path.lstrip("/")
    last = base.rsplit("/", 1)[-1]
    first = path.split("/", 2)[1]
    if first == last and first[:1] == "v" and first[1:2].isdigit():
        path = path[len(first) + 1 :]
    return base + path


class CloudClient:
    """An authenticated session with the cloud's catalog.

    Authentication is lazy (the first request does it, or a valid token from ``cache``), and a
    401 on a service call triggers one re-authentication and retry, as keystoneauth does.
    ``transport`` lets tests serve requests from an ``httpx.MockTransport``.
    """

    def __init__(
        self,
        config: CloudConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        cache: TokenCache | None = None,
    ) -> None:
        self.config = config
        self.send: StdlibSender | HttpxSender = (
            StdlibSender(timeout, config.verify)
            if transport is None
            else HttpxSender(transport, timeout, config.verify)
        )
        self.cache = cache
        self._token: str | None = None
        self.catalog: list[dict[str, Any]] = []
        self.token_data: dict[str, Any] = {}

    @classmethod
    def from_environment(
        cls,
        cloud_name: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> CloudClient:
        env = os.environ if environ is None else environ
        return cls(
            load_cloud_config(cloud_name, env),
            transport=transport,
            cache=TokenCache(token_cache_dir(env)),
        )

    def close(self) -> None:
        self.send.close()

    def __enter__(self) -> CloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport --

    def _send(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, json: Any = None
    ) -> Reply:
        """One HTTP exchange (a JSON body, when given); transport failures become a CliError
        naming the URL."""
        sent = dict(headers or {})
        body = None
        if json is not None:
            body = _json_body(json)
            sent["Content-Type"] = "application/json"
        return self.send(method, url, sent, body)

    # -- identity --

    def identity_v3_url(self) -> str:
        """The v3 base from version discovery on the auth URL (its ``self`` link), falling back
        to the auth URL itself when it already names /v3."""
        auth_url = self.config.auth_url
        resp = self._send("GET", auth_url, headers={"Accept": "application/json"})
        if resp.status_code < 400:
            try:
                entries = _version_entries(resp.json())
            except ValueError:
                entries = []
            for entry in entries:
                href = _self_href(entry)
                if str(entry.get("id", "")).startswith("v3") and href:
                    return urljoin(auth_url.rstrip("/") + "/", href).rstrip("/")
        if urlsplit(auth_url).path.rstrip("/").endswith("/v3"):
            return auth_url.rstrip("/")
        raise CliError(f"Could not find versioned identity endpoints when attempting {auth_url}")

    def authenticate(self) -> None:
        url = self.identity_v3_url() + "/auth/tokens"
        resp = self._send(
            "POST", url, headers={"Accept": "application/json"}, json=self.config.auth_body()
        )
        if resp.status_code >= 400:
            err = response_error(resp)
            raise CliError(f"{err.message} (HTTP {resp.status_code})", status=resp.status_code)
        token = resp.headers.get("x-subject-token")
        if not token:
            raise CliError(f"{url} returned no X-Subject-Token header")
        try:
            self.token_data = resp.json()["token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CliError(f"{url} returned no token body") from exc
        self._use(token, self.token_data)
        if self.cache is not None:
            self.cache.save(self.config.cache_key(), token, self.token_data)

    def _use(self, token: str, body: dict[str, Any]) -> None:
        self._token, self.token_data = token, body
        self.catalog = list(body.get("catalog") or [])

    def _sign_in(self) -> None:
        """A cached token that is still valid, else a new sign-in."""
        cached = self.cache.load(self.config.cache_key()) if self.cache is not None else None
        if cached is not None:
            self._use(*cached)
        else:
            self.authenticate()

    def endpoint(self, service_type: str) -> str:
        """The catalog URL of ``service_type`` for the configured interface and region."""
        if self._token is None:
            self._sign_in()
        interface, region = self.config.interface, self.config.region_name
        for service in self.catalog:
            if service.get("type") != service_type:
                continue
            for ep in service.get("endpoints") or []:
                if ep.get("interface") != interface:
                    continue
                if region and region not in (ep.get("region_id"), ep.get("region")):
                    continue
                return str(ep["url"])
        where = f" in {region} region" if region else ""
        raise CliError(f"{interface} endpoint for {service_type} service{where} not found")

    @property
    def token(self) -> str:
        """The X-Subject-Token, authenticating first if needed (the agent uses it directly)."""
        if self._token is None:
            self._sign_in()
        assert self._token is not None
        return self._token

    # -- requests --

    def request(self, method: str, service_type: str, path: str, json: Any = None) -> Any:
        """Call ``path`` (relative to the service's catalog URL) and return the parsed JSON body,
        or None for an empty one. Error statuses raise CliError with the server's message."""
        url = join_url(self.endpoint(service_type), path)
        resp = self._send(method, url, headers=self._headers(), json=json)
        if resp.status_code == 401:
            self.authenticate()
            resp = self._send(method, url, headers=self._headers(), json=json)
        if resp.status_code >= 400:
            raise response_error(resp)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise CliError(f"{method} {url} returned a body that is not JSON") from exc

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "X-Auth-Token": self.token}

    def get(self, service_type: str, path: str) -> Any:
        return self.request("GET", service_type, path)

    def post(self, service_type: str, path: str, json: Any = None) -> Any:
        return self.request("POST", service_type, path, json)

    def patch(self, service_type: str, path: str, json: Any = None) -> Any:
        return self.request("PATCH", service_type, path, json)

    def put(self, service_type: str, path: str, json: Any = None) -> Any:
        return self.request("PUT", service_type, path, json)

    def delete(self, service_type: str, path: str) -> Any:
        return self.request("DELETE", service_type, path)


def _json_body(value: Any) -> bytes:
    """``value`` as a JSON request body (``_send`` takes it as ``json``, as httpx does)."""
    return json.dumps(value).encode()


def _unreachable(url: str, exc: Exception) -> CliError:
    return CliError(f"Unable to connect to {url}: {_reason(exc)}. Is the cloud up?")


def _timed_out(url: str) -> CliError:
    return CliError(f"Timed out talking to {url}")


def _failed(url: str, exc: Exception) -> CliError:
    return CliError(f"Request to {url} failed: {_reason(exc)}")


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return text or type(exc).__name__


__all__ = [
    "CliError",
    "CloudClient",
    "CloudConfig",
    "fault_message",
    "join_url",
    "load_cloud_config",
]
