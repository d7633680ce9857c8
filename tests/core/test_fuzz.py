"""Property-based fuzzing of every operation /openapi.json documents, as an admin, on SQLite and
PostgreSQL: whatever the input, the answer is never a 5xx. Bounded in examples per operation
and derandomized, so a run takes a minute or two and a failure reproduces."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BOTH_BACKENDS, make_database_url

EXAMPLES_PER_OPERATION = 10


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request.param, request, tmp_path)


def test_no_input_is_a_server_error(api: TestClient, admin_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 80, len(operations)  # every API is documented

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=st.one_of(*(operation.as_strategy(mode) for mode in schemathesis.GenerationMode))
        )
        def answers_without_a_server_error(case: schemathesis.Case) -> None:
            response = case.call(headers=admin_headers)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} answered {response.status_code}: "
                f"{response.text[:300]}"
            )

        answers_without_a_server_error()
