"""The real `openstack` CLI against a running Passnic: project tags, application credentials
(created, then used to sign in) and image sharing between projects."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BIN, LiveCloud

pytestmark = pytest.mark.osc


def test_project_tags(live: LiveCloud) -> None:
    live.openstack("passnic-admin", "project", "create", "--tag", "red", "--tag", "blue", "tagged")
    live.openstack("passnic-admin", "project", "create", "--tag", "red", "plain")
    shown = live.openstack_json("passnic-admin", "project", "show", "tagged")
    assert sorted(shown["tags"]) == ["blue", "red"]
    both = live.openstack_json("passnic-admin", "project", "list", "--tags", "red,blue")
    assert [p["Name"] for p in both] == ["tagged"]
    any_ = live.openstack_json("passnic-admin", "project", "list", "--tags-any", "red")
    assert {p["Name"] for p in any_} == {"tagged", "plain"}
    live.openstack("passnic-admin", "project", "set", "--remove-tag", "red", "plain")
    assert live.openstack_json("passnic-admin", "project", "show", "plain")["tags"] == []


def test_application_credential_signs_in(live: LiveCloud) -> None:
    cred = live.openstack_json("passnic-user1", "application", "credential", "create", "agent-cred")
    assert cred["Secret"] and cred["Unrestricted"] is False
    listed = live.openstack_json("passnic-user1", "application", "credential", "list")
    assert [c["Name"] for c in listed] == ["agent-cred"]
    argv = [
        str(BIN / "openstack"),
        "--os-auth-url",
        f"{live.url}/identity",
        "--os-auth-type",
        "v3applicationcredential",
        "--os-application-credential-id",
        cred["ID"],
        "--os-application-credential-secret",
        cred["Secret"],
        "--os-identity-api-version",
        "3",
        "--os-region-name",
        "RegionOne",
    ]
    token = json.loads(live.run([*argv, "token", "issue", "-f", "json"]).stdout)
    assert token["project_id"] == cred["Project ID"]
    live.run([*argv, "network", "list"])
    live.openstack("passnic-user1", "application", "credential", "delete", "agent-cred")
    assert live.run([*argv, "token", "issue"], check=False).returncode == 1


def test_image_shared_with_another_project(live: LiveCloud) -> None:
    project2 = live.openstack_json("passnic-admin", "project", "show", "project2")["id"]
    image = live.openstack_json(
        "passnic-user1", "image", "create", "--shared", "--disk-format", "raw", "shared-img"
    )
    live.openstack("passnic-user1", "image", "add", "project", image["id"], project2)
    live.openstack("passnic-user2", "image", "set", "--accept", image["id"])
    names = {i["Name"] for i in live.openstack_json("passnic-user2", "image", "list")}
    assert "shared-img" in names
    members = live.openstack_json("passnic-user1", "image", "member", "list", image["id"])
    assert [(m["Member ID"], m["Status"]) for m in members] == [(project2, "accepted")]
    live.openstack("passnic-user1", "image", "remove", "project", image["id"], project2)
    names = {i["Name"] for i in live.openstack_json("passnic-user2", "image", "list")}
    assert "shared-img" not in names
