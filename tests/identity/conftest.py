"""Identity runs on SQLite and on PostgreSQL."""

from pathlib import Path

import pytest

from tests.conftest import BOTH_BACKENDS, make_database_url


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request.param, request, tmp_path)
