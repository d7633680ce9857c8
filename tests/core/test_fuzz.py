"""Property-based fuzzing of every operation /openapi.json documents, as an admin, on SQLite and
PostgreSQL: whatever the body, query or path, valid or not, the answer is never a 5xx.

Schemathesis generates valid and invalid cases; on top of them path ids are often the sample
cloud's own (so bad input reaches the rules of resources that exist, not just a 404) or known
troublemakers (NUL, Unicode digits, huge numbers), one field of a body may take a known-bad
value (lone surrogate, NUL, out of range, wrong type), and each body is sent once more with
every string a lone surrogate and once with NUL (a valid body, so that the strings reach the
rules and the database rather than a refusal of the body's shape). Bodies /openapi.json does
not describe yet are JSON shaped like their API's (wrapper key, field names). The deletes run
last and the admin's own user, project, domain and roles are never targets, so the caller
keeps its access. Bounded in examples per operation and derandomized, so a failure
reproduces."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from passnic.cloud import Cloud
from passnic.db import Base, load_models
from tests.conftest import BOTH_BACKENDS, make_database_url

EXAMPLES_PER_OPERATION = 4
JSON = "application/json"
NO_BODY = object()
REFERENCE_COLUMNS = ("id", "uuid", "name", "hostname")
BAD_IDS = ("\x00", "a\x00b", "\u0663", "\u00b2", "9" * 25, "x" * 300)
"""Path ids the generators rarely produce: NUL, Unicode digits, too large, too long."""
BAD_VALUES = (*BAD_IDS, "\ud800", "x\udfffx", " ", 10**20, -(10**20), 1e308, True, [], {})
"""... and values for one field of a body: also lone surrogates, blank, out of range, the wrong
JSON type."""
EVERY_STRING = ("\ud800", "x\x00")
"""Values every string of a body takes at once, after the random examples: whichever field
reaches the database or the answer unchecked, a lone surrogate or NUL breaks it."""

FIELDS = (
    *("name", "description", "id", "metadata", "tags", "enabled", "admin_state_up", "shared"),
    *("vcpus", "ram", "disk", "swap", "rxtx_factor", "os-flavor-access:is_public", "extra_specs"),
    *("imageRef", "flavorRef", "networks", "port", "uuid", "min_count", "max_count", "key_name"),
    *("network_id", "subnet_id", "port_id", "cidr", "ip_version", "gateway_ip", "fixed_ips"),
    *("provider:network_type", "provider:physical_network", "provider:segmentation_id"),
    *("network_type", "physical_network", "minimum", "maximum", "segmentation_id"),
    *("binding:vnic_type", "device_id", "device_owner", "mac_address", "security_groups"),
    *("direction", "ethertype", "protocol", "port_range_min", "port_range_max", "sub_ports"),
    *("max_kbps", "max_burst_kbps", "policy_id", "qos_policy_id", "public_key", "policies"),
    *("disk_format", "container_format", "visibility", "min_disk", "min_ram", "protected"),
    *("op", "path", "value", "alias", "vendor_id", "product_id", "device_type", "status"),
    *("reboot", "os-start", "os-stop", "lock", "migrate", "addFlavorAccess", "tenant", "type"),
)
"""Field names of the bodies /openapi.json does not describe (Nova, Neutron, Glance), so that
generated bodies look like theirs."""
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(BAD_VALUES),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
)


def resource_key(path: str) -> str:
    """Nova's and Neutron's wrapper key for a collection path: /os-keypairs -> keypair."""
    word = next(w for w in reversed(path.split("/")) if w and "{" not in w)
    word = word.removeprefix("os-").replace("-", "_")
    return word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")


def shaped_bodies(path: str) -> st.SearchStrategy[Any]:
    fields = st.dictionaries(st.sampled_from(FIELDS), LEAVES, max_size=6)
    return st.one_of(st.fixed_dictionaries({resource_key(path): fields}), fields, LEAVES)


def poison(body: Any, value: Any, index: int | None = None) -> None:
    """Replace the ``index``-th leaf (modulo their number) of a JSON body with ``value``, or
    with ``index`` None every string leaf."""
    leaves: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(child, (dict, list)) and child:
                walk(child)
            elif index is not None or isinstance(child, str):
                leaves.append((node, key))

    if isinstance(body, (dict, list)):
        walk(body)
    for n, (parent, key) in enumerate(leaves):
        if index is None or n == index % len(leaves):
            parent[key] = value


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request.param, request, tmp_path)


def references(cloud: Cloud, spared: set[str]) -> list[str]:
    """Ids and names of every kind of row the sample cloud holds, a few of each, but none of
    ``spared``."""
    load_models()
    found: set[str] = set()
    with cloud.db.transaction() as s:
        for table in Base.metadata.sorted_tables:
            for column in REFERENCE_COLUMNS:
                if column in table.c:
                    found.update(str(v) for v in s.scalars(select(table.c[column]).limit(3)))
    return sorted(found - spared)


def the_callers_own(api: TestClient, headers: dict[str, str]) -> set[str]:
    token = {**headers, "X-Subject-Token": headers["X-Auth-Token"]}
    info = api.get("/identity/v3/auth/tokens", headers=token).json()["token"]
    own = [info["user"], info["user"]["domain"], info["project"], *info["roles"]]
    return {ref[key] for ref in own for key in ("id", "name") if key in ref}


@pytest.mark.timeout(600)
def test_no_input_is_a_server_error(
    api: TestClient, cloud: Cloud, admin_headers: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 80, len(operations)  # every API is documented
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    refs = references(cloud, spared=the_callers_own(api, admin_headers))
    answered: Counter[int] = Counter()
    untouched: list[schemathesis.Case] = []  # an operation's valid examples left as generated

    def check(case: schemathesis.Case, poisoned: Any = NO_BODY) -> None:
        """Send the case, or with a ``poisoned`` body, which schemathesis may not serialize."""
        if poisoned is NO_BODY:
            response: Any = case.call(headers=admin_headers)
        else:
            headers = {**admin_headers, "Content-Type": "application/json"}
            response = api.request(
                case.method,
                quote(case.formatted_path, safe="/%:@!$&'()*+,;=-._~"),  # NUL ids too
                params=case.query,
                headers=headers,
                content=json.dumps(poisoned),
            )
        answered[response.status_code // 100] += 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} answered {response.status_code}: "
            f"{response.text[:300]} to {case.body if poisoned is NO_BODY else poisoned!r}"[:600]
        )

    for operation in operations:
        path_names = [p.name for p in operation.path_parameters]
        cases = st.one_of(
            *(
                operation.as_strategy(mode).map(lambda case, mode=mode: (mode, case))
                for mode in schemathesis.GenerationMode
            )
        )
        ids = st.sampled_from(refs + list(BAD_IDS))
        known = st.fixed_dictionaries({name: ids for name in path_names})
        bad_leaf = st.tuples(st.integers(0, 99), st.sampled_from(BAD_VALUES))
        undocumented = operation.method.upper() in ("POST", "PUT", "PATCH") and not (
            operation.definition.raw.get("requestBody")
        )

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            drawn=cases,
            real_path=st.none() | known if path_names else st.none(),
            bad=st.none() | bad_leaf,
            shaped=shaped_bodies(operation.path) if undocumented else st.just(NO_BODY),
        )
        def answers_without_a_server_error(
            drawn: tuple[schemathesis.GenerationMode, schemathesis.Case],
            real_path: dict[str, str] | None,
            bad: tuple[int, Any] | None,
            shaped: Any,
        ) -> None:
            mode, case = drawn
            if real_path is not None:
                case.path_parameters = {**(case.path_parameters or {}), **real_path}
            if shaped is not NO_BODY:
                check(case, shaped)
                return
            if bad is not None and isinstance(case.body, (dict, list)):
                poisoned = json.loads(json.dumps(case.body))
                poison(poisoned, bad[1], bad[0])
                check(case, poisoned)
                return
            positive = mode == schemathesis.GenerationMode.POSITIVE
            if positive and isinstance(case.body, dict) and case.body and case.media_type == JSON:
                untouched.append(case)
            check(case)

        untouched.clear()
        answers_without_a_server_error()
        if untouched:
            case = untouched[-1]
            for value in EVERY_STRING:
                poisoned = json.loads(json.dumps(case.body))
                poison(poisoned, value)
                check(case, poisoned)

    # The admin kept its access, and the fuzz reached resources rather than only refusals.
    assert api.get("/identity/v3/projects", headers=admin_headers).status_code == 200
    assert answered[2] > sum(answered.values()) // 10, answered
