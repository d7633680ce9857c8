"""The real `openstack` CLI against a running Passnic: the identity acceptance lines."""

from __future__ import annotations

import pytest

from tests.conftest import LiveCloud

pytestmark = pytest.mark.osc


def test_identity_commands(live: LiveCloud) -> None:
    token = live.openstack_json("passnic-admin", "token", "issue")
    assert token["id"] and token["project_id"] and token["user_id"]

    projects = {p["Name"] for p in live.openstack_json("passnic-admin", "project", "list")}
    assert {"admin", "project1", "project2"} <= projects
    users = {u["Name"] for u in live.openstack_json("passnic-admin", "user", "list")}
    assert {"admin", "user1", "user2"} <= users

    rows = live.openstack_json("passnic-admin", "role", "assignment", "list", "--names")
    assert {"Role": "member", "User": "user1@Default", "Project": "project1@Default"}.items() <= {
        k: v for row in rows if row["User"] == "user1@Default" for k, v in row.items()
    }.items()

    live.openstack("passnic-admin", "project", "create", "project3")
    live.openstack("passnic-admin", "user", "create", "--password", "s3cret", "user3")
    live.openstack(
        "passnic-admin", "role", "add", "--project", "project3", "--user", "user3", "member"
    )
    rows = live.openstack_json(
        "passnic-admin", "role", "assignment", "list", "--names", "--user", "user3"
    )
    assert [(r["Role"], r["Project"]) for r in rows] == [("member", "project3@Default")]


def test_member_is_refused_admin_commands(live: LiveCloud) -> None:
    proc = live.openstack("passnic-user1", "project", "create", "nope", check=False)
    assert proc.returncode == 1
    assert "Policy does not allow identity:create_project" in proc.stderr
