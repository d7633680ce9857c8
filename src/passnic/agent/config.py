"""A host agent's configuration file (YAML), as ``passnic agent config`` writes it.

It holds the host's credential, so it is written 0600 and read only by the agent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from passnic.agent import REAL_SYSFS


class AgentConfig(BaseModel):
    hostname: str = Field(min_length=1, max_length=255)
    auth_url: str
    username: str
    password: str
    project_name: str = "service"
    user_domain_name: str = "Default"
    #: where the agent API is; default: the auth URL without its ``/identity``
    controller_url: str | None = None
    driver: str = "fake"
    driver_options: dict[str, Any] = Field(default_factory=dict)
    state_dir: Path
    sysfs_root: Path = REAL_SYSFS

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
