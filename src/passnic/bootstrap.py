"""The sample cloud `passnic up` creates on an empty database, and the clouds.yaml that lets
the `openstack` and `passnic` CLIs use it."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from passnic.cloud import Cloud
from passnic.config import private_dir

SAMPLE_USERS = (
    # (user, project, role, cloud name in clouds.yaml)
    ("admin", "admin", "admin", "passnic-admin"),
    ("user1", "project1", "member", "passnic-user1"),
    ("user2", "project2", "member", "passnic-user2"),
)
SAMPLE_PROJECTS = ("admin", "project1", "project2")


@dataclass(frozen=True)
class Credential:
    cloud: str
    username: str
    password: str
    project: str


def credentials_path(home: Path) -> Path:
    return home / "credentials.yaml"


def load_credentials(home: Path) -> list[Credential]:
    path = credentials_path(home)
    if not path.exists():
        return []
    rows = yaml.safe_load(path.read_text()) or []
    return [Credential(**row) for row in rows]


def _write_private(path: Path, text: str) -> None:
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def bootstrap_identity(cloud: Cloud) -> list[Credential]:
    """Domain, roles, the three projects and users with fresh random passwords."""
    cloud.identity.bootstrap()
    projects = {name: cloud.identity.seed_project(name) for name in SAMPLE_PROJECTS}
    creds = []
    for user, project, role, cloud_name in SAMPLE_USERS:
        password = secrets.token_urlsafe(12)
        cloud.identity.seed_user(user, password, projects[project], role)
        creds.append(Credential(cloud_name, user, password, project))
    _write_private(
        credentials_path(cloud.settings.home),
        yaml.safe_dump([c.__dict__ for c in creds], sort_keys=False),
    )
    return creds


def bootstrap_sample_cloud(cloud: Cloud, guest_cache: Path | None = None) -> list[Credential]:
    """Everything the StarlingX procedure starts from; only on an empty database. The image
    is the guest built in ``guest_cache`` when there is one (``make guest``), else cirros."""
    from passnic.compute.sample import seed_flavors
    from passnic.fabric.sample import seed_fabric
    from passnic.image.sample import seed_sample_image
    from passnic.inventory.sample import bootstrap_inventory
    from passnic.network.sample import seed_segment_ranges

    creds = bootstrap_identity(cloud)
    bootstrap_inventory(cloud)
    seed_segment_ranges(cloud)
    seed_sample_image(cloud, guest_cache)
    seed_flavors(cloud)
    seed_fabric(cloud)
    return creds


def write_clouds_yaml(home: Path, auth_url: str, creds: list[Credential]) -> Path:
    clouds = {
        c.cloud: {
            "auth": {
                "auth_url": auth_url,
                "username": c.username,
                "password": c.password,
                "project_name": c.project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": "RegionOne",
            "interface": "public",
            "identity_api_version": 3,
        }
        for c in creds
    }
    path = home / "clouds.yaml"
    _write_private(path, yaml.safe_dump({"clouds": clouds}, sort_keys=False))
    return path


def agents_dir(home: Path) -> Path:
    return home / "agents"


def ensure_sample_agents(cloud: Cloud, auth_url: str) -> list[Path]:
    """Each compute host this home simulates (its fake sysfs tree is in the home: the sample
    hosts, and any added the same way) gets its agent's config file (0600, in the home), with
    a credential of its own created on first use; later starts only point it at
    ``auth_url``. The agents report the hosts' fake sysfs trees and run the fake driver."""
    from passnic.agent.config import AgentConfig
    from passnic.inventory.sample import BOOTSTRAP

    home = cloud.settings.home
    paths = []
    for host in cloud.inventory.compute_hosts():
        hostname = host.hostname
        if not (home / "sysfs" / hostname).is_dir():
            continue
        path = agents_dir(home) / f"{hostname}.yaml"
        if path.exists():
            config = AgentConfig.load(path).model_copy(update={"auth_url": auth_url})
            if config.driver != "fake":  # a lab's driver: only a lab run takes it over again
                config = config.model_copy(update={"driver": "fake", "driver_options": {}})
        else:
            cred = cloud.hosts.create_agent_credential(BOOTSTRAP, hostname, auth_url)
            config = AgentConfig(
                hostname=hostname,
                auth_url=auth_url,
                username=cred.username,
                password=cred.password,
                project_name=cred.project_name,
                driver="fake",
                state_dir=agents_dir(home) / hostname,
                sysfs_root=home / "sysfs" / hostname,
            )
        config.write(path)
        paths.append(path)
    return paths
