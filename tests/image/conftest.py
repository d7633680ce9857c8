"""Images run on SQLite and on PostgreSQL (listing uses row-value comparisons and uploads use
conditional UPDATEs, both worth proving on each backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from passnic.bootstrap import Credential
from passnic.cloud import Cloud
from passnic.context import RequestContext
from passnic.identity.service import PasswordAuth
from tests.conftest import BOTH_BACKENDS, make_database_url


@pytest.fixture(params=BOTH_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request.param, request, tmp_path)


def context_of(cloud: Cloud, cred: Credential) -> RequestContext:
    """The caller a token of this sample user would be, without going through HTTP."""
    token, _info = cloud.identity.authenticate(
        PasswordAuth(
            password=cred.password,
            user_name=cred.username,
            user_domain_id="default",
            project_name=cred.project,
            project_domain_id="default",
        )
    )
    return cloud.identity.validate_token(token)


@pytest.fixture
def admin(cloud: Cloud, sample: dict[str, Credential]) -> RequestContext:
    return context_of(cloud, sample["admin"])


@pytest.fixture
def user1(cloud: Cloud, sample: dict[str, Credential]) -> RequestContext:
    return context_of(cloud, sample["user1"])


@pytest.fixture
def user2(cloud: Cloud, sample: dict[str, Credential]) -> RequestContext:
    return context_of(cloud, sample["user2"])
