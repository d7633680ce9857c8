"""The Alembic history builds exactly the schema the models declare, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from passnic.db import Base, load_models
from tests.conftest import BOTH_BACKENDS, make_database_url


@pytest.mark.parametrize("backend", BOTH_BACKENDS)
def test_migrations_match_models(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = make_database_url(backend, request, tmp_path)
    load_models()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()
