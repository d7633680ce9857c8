"""A host agent's configuration file (YAML), as ``passnic agent config`` writes it.

It holds the host's credential, so it is written 0600 and read only by the agent."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, Field, model_validator

from passnic.agent import REAL_SYSFS

if TYPE_CHECKING:
    import httpx


class AgentConfig(BaseModel):
    hostname: str = Field(min_length=1, max_length=255)
    auth_url: str
    #: the host's Keystone user and password, or an application credential of that user
    username: str | None = None
    password: str | None = None
    project_name: str = "service"
    user_domain_name: str = "Default"
    application_credential_id: str | None = None
    application_credential_secret: str | None = None
    #: where the agent API is; default: the auth URL without its ``/identity``
    controller_url: str | None = None
    driver: str = "fake"
    driver_options: dict[str, Any] = Field(default_factory=dict)
    state_dir: Path
    sysfs_root: Path = REAL_SYSFS

    @model_validator(mode="after")
    def _one_credential(self) -> AgentConfig:
        app = (self.application_credential_id, self.application_credential_secret)
        if any(app) and not all(app):
            raise ValueError("an application credential needs both its id and its secret")
        if not any(app) and not (self.username and self.password):
            raise ValueError("a username and password, or an application credential, is needed")
        return self

    def login(self) -> Callable[[httpx.Client], str]:
        """How the agent signs in to Keystone with its credential."""
        from passnic.agent.host import application_credential_login, password_login

        if self.application_credential_id and self.application_credential_secret:
            return application_credential_login(
                self.auth_url, self.application_credential_id, self.application_credential_secret
            )
        return password_login(
            self.auth_url,
            self.username or "",
            self.password or "",
            self.project_name,
            self.user_domain_name,
        )

    @property
    def controller(self) -> str:
        if self.controller_url:
            return self.controller_url.rstrip("/")
        return self.auth_url.rstrip("/").removesuffix("/identity")

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})

    def dump(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.dump())
