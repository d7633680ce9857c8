"""Tenant boundaries and secrets on the identity side, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passnic.bootstrap import Credential
from passnic.cloud import Cloud
from passnic.config import Settings
from passnic.errors import NotAuthenticated
from passnic.identity.service import IdentityService, PasswordAuth
from tests.conftest import login


def _auth(user: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def test_only_the_owner_or_an_admin_may_validate_a_token(
    api: TestClient,
    admin_headers: dict[str, str],
    user1_headers: dict[str, str],
    user2_headers: dict[str, str],
) -> None:
    theirs = {"X-Subject-Token": user2_headers["X-Auth-Token"]}
    refused = api.get("/identity/v3/auth/tokens", headers={**user1_headers, **theirs})
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": 403,
        "title": "Forbidden",
        "message": "Policy does not allow identity:validate_token to be performed.",
    }
    own = {"X-Subject-Token": user2_headers["X-Auth-Token"]}
    assert api.get("/identity/v3/auth/tokens", headers={**user2_headers, **own}).status_code == 200
    checked = api.get("/identity/v3/auth/tokens", headers={**admin_headers, **theirs})
    assert checked.json()["token"]["user"]["name"] == "user2"


@pytest.mark.parametrize(
    "user",
    [
        {"name": "admin", "password": "x", "domain": "default"},
        {"name": "admin", "password": "x", "domain": 5},
        {"name": True, "password": "x"},
        {"name": 5, "password": "x"},
        {"name": ["admin"], "password": "x"},
        {"name": "admin", "password": 5},
        {"name": "admin", "password": "x", "domain": {"id": {"a": 1}}},
    ],
)
def test_wrong_json_types_in_auth_are_a_400(
    api: TestClient, sample: dict[str, Credential], user: dict[str, Any]
) -> None:
    resp = api.post("/identity/v3/auth/tokens", json=_auth(user))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["title"] == "Bad Request"


def test_a_new_password_or_disabling_ends_the_users_sessions(
    api: TestClient,
    sample: dict[str, Credential],
    admin_headers: dict[str, str],
    user1_headers: dict[str, str],
    user2_headers: dict[str, str],
) -> None:
    users = api.get("/identity/v3/users", headers=admin_headers).json()["users"]
    ids = {u["name"]: u["id"] for u in users}
    changed = api.patch(
        f"/identity/v3/users/{ids['user1']}",
        json={"user": {"password": "n3w-password"}},
        headers=admin_headers,
    )
    assert changed.status_code == 200
    assert api.get("/identity/v3/users", headers=user1_headers).status_code == 401
    login(api, replace(sample["user1"], password="n3w-password"))

    for enabled in (False, True):
        toggled = api.patch(
            f"/identity/v3/users/{ids['user2']}",
            json={"user": {"enabled": enabled}},
            headers=admin_headers,
        )
        assert toggled.status_code == 200
    # Re-enabled, user2 signs in again: the old token stays dead.
    assert api.get("/identity/v3/users", headers=user2_headers).status_code == 401
    login(api, sample["user2"])


def test_repeated_failures_lock_the_user_out_for_a_while(
    cloud: Cloud, sample: dict[str, Credential]
) -> None:
    strict = IdentityService(
        cloud.db,
        replace(cloud.settings, lockout_failure_attempts=3, lockout_duration=timedelta(hours=1)),
    )
    right = PasswordAuth(password=sample["user1"].password, user_name="user1")
    wrong = replace(right, password="wrong")
    strict.authenticate(right)
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            strict.authenticate(wrong)
    strict.authenticate(right)  # a success starts the count again
    for _ in range(3):
        with pytest.raises(NotAuthenticated) as failed:
            strict.authenticate(wrong)
    with pytest.raises(NotAuthenticated) as locked:
        strict.authenticate(right)
    assert locked.value.message == failed.value.message  # reads as any other failure
    other = PasswordAuth(password=sample["user2"].password, user_name="user2")
    strict.authenticate(other)  # only that user is locked
    # Once the duration has passed the right password works again.
    lapsed = IdentityService(cloud.db, replace(strict.settings, lockout_duration=timedelta(0)))
    lapsed.authenticate(right)


def test_an_unknown_user_costs_a_password_verification(
    cloud: Cloud, sample: dict[str, Credential], monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real = cloud.identity._hasher

    class Counting:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(cloud.identity, "_hasher", Counting())
    for name in ("nobody", "admin"):
        with pytest.raises(NotAuthenticated):
            cloud.identity.authenticate(PasswordAuth(password="wrong", user_name=name))
    assert len(verified) == 2
    assert all(h.startswith("$argon2") for h in verified)


def test_up_honours_the_environments_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import passnic.server
    from passnic.cli.up import up

    seen: list[Settings] = []

    def fake_prepare(settings: Settings, host: str, port: int) -> Any:
        seen.append(settings)
        return passnic.server.Prepared(tmp_path / "clouds.yaml", "", [], False, [])

    monkeypatch.setattr(passnic.server, "prepare", fake_prepare)
    monkeypatch.setattr(passnic.server, "serve", lambda *a, **k: None)
    monkeypatch.setenv("PASSNIC_TOKEN_TTL_SECONDS", "120")
    monkeypatch.setenv("PASSNIC_LOCKOUT_FAILURE_ATTEMPTS", "2")
    up(home=tmp_path / "home", database_url="", workers=1, lab=False)
    settings = seen[0]
    assert settings.token_ttl == timedelta(seconds=120)
    assert settings.lockout_failure_attempts == 2
    assert settings.database_url == f"sqlite:///{tmp_path / 'home' / 'passnic.db'}"
    # Worker processes rebuild the same settings from what serve() exports.
    for key, value in settings.export().items():
        monkeypatch.setenv(key, value)
    assert Settings.from_env() == settings


def test_state_is_private_to_its_owner(tmp_path: Path) -> None:
    from passnic.server import prepare

    old = os.umask(0o022)
    try:
        settings = Settings(home=tmp_path / "state" / "home")
        prepare(settings, "127.0.0.1", 8999)
    finally:
        os.umask(old)
    home = settings.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("passnic.db", "passnic.db-wal", "passnic.db-shm"):
        if (home / name).exists():
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    assert (home / "passnic.db").exists()
