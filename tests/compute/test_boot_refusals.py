"""What a boot request is refused for, in Nova's words, and what it keeps (accessIPv4/v6)."""

from __future__ import annotations

from typing import Any

import pytest

from passnic.image.models import Image
from tests.compute.conftest import API, Scene
from tests.conftest import assert_bodies_documented


def message(resp: Any) -> str:
    assert resp.status_code == 400, resp.text
    text: str = resp.json()["badRequest"]["message"]
    return text


@pytest.mark.parametrize(
    ("server", "words"),
    [
        ({"key_name": "nokey"}, "Invalid key_name provided: nokey."),
        ({"security_groups": [{"name": "nosuch"}]}, "Security group nosuch not found."),
        ({"security_groups": "default"}, "security_groups"),
        ({"min_count": 0}, "at least 1"),
        ({"min_count": 2, "max_count": 1}, "min_count must be <= max_count"),
        ({"max_count": "x"}, "is not an integer"),
        ({"max_count": 2}, "boots one server per request"),
        ({"accessIPv4": "300.1.1.1"}, "accessIPv4"),
        ({"accessIPv6": "10.0.0.1"}, "is not IPv6"),
    ],
)
def test_refused(scene: Scene, server: dict[str, Any], words: str) -> None:
    assert words in message(scene.post_server(**server))
    servers = scene.api.get(f"{API}/servers", headers=scene.user1).json()["servers"]
    assert servers == []


def test_image_minimums_against_the_flavor(scene: Scene) -> None:
    with scene.cloud.db.transaction() as s:
        image = s.get(Image, scene.image_id)
        assert image is not None
        image.min_ram = 10**6
    assert message(scene.post_server()) == "Flavor's memory is too small for requested image."
    with scene.cloud.db.transaction() as s:
        image = s.get(Image, scene.image_id)
        assert image is not None
        image.min_ram, image.min_disk = 0, 10**4
    assert "Flavor's disk is too small for requested image" in message(scene.post_server())


def test_default_security_group_and_access_ips_are_kept(scene: Scene) -> None:
    resp = scene.post_server(
        security_groups=[{"name": "default"}],
        accessIPv4="192.0.2.10",
        accessIPv6="2001:db8::10",
        min_count=1,
        max_count="1",
    )
    assert resp.status_code == 202, resp.text
    shown = scene.show(resp.json()["server"]["id"], scene.user1)
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("192.0.2.10", "2001:db8::10")


def test_openapi_documents_the_compute_bodies(scene: Scene) -> None:
    spec = scene.api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"ServerCreateBody", "QuotaSetBody", "KeypairCreateBody"} <= set(schemas)
    create = spec["paths"]["/compute/v2.1/servers"]["post"]["requestBody"]["content"]
    assert create["application/json"]["schema"]["$ref"].endswith("/ServerCreateBody")
    documented = {
        ("/compute/v2.1/flavors", "post"): "FlavorCreateBody",
        ("/compute/v2.1/flavors/{flavor_id}", "put"): "FlavorUpdateBody",
        ("/compute/v2.1/flavors/{flavor_id}/os-extra_specs", "post"): "ExtraSpecsBody",
        ("/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", "put"): "ExtraSpecItemBody",
        ("/compute/v2.1/flavors/{flavor_id}/action", "post"): "FlavorActionBody",
        ("/compute/v2.1/os-pci-aliases", "post"): "PciAliasCreateBody",
        ("/compute/v2.1/servers/{server_id}/action", "post"): "ServerActionBody",
        ("/compute/v2.1/os-services/{service_id}", "put"): "ServiceUpdateBody",
        ("/image/v2/images", "post"): "ImageCreate",
        ("/image/v2/images/{image_id}/members", "post"): "MemberCreate",
        ("/image/v2/images/{image_id}/members/{member_id}", "put"): "MemberUpdate",
    }
    assert_bodies_documented(spec, documented)
    actions = schemas["ServerActionBody"]["properties"]
    assert {"os-start", "reboot", "migrate", "os-getConsoleOutput", "lock"} <= set(actions)
    patch = spec["paths"]["/image/v2/images/{image_id}"]["patch"]["requestBody"]["content"]
    for media_type in (
        "application/openstack-images-v2.1-json-patch",
        "application/json-patch+json",
    ):
        operation = patch[media_type]["schema"]["items"]
        assert {"op", "path", "value"} <= set(operation["properties"])
