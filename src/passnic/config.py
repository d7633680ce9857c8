"""Where Passnic keeps its state, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create a state directory only its owner may enter (0700); an existing one keeps its
    mode, since it may be a directory the operator chose."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def default_home() -> Path:
    return Path(os.environ.get("PASSNIC_HOME", "~/.local/share/passnic")).expanduser()


@dataclass(frozen=True)
class Settings:
    """Process-wide settings. Every field has an environment variable so worker processes
    started by uvicorn (which re-import the app) see the same configuration."""

    home: Path = field(default_factory=default_home)
    database_url: str = ""
    token_ttl: timedelta = timedelta(hours=1)
    region: str = "RegionOne"
    #: Keystone's lockout: this many failed sign-ins in a row lock a user out for the duration
    #: (0 attempts: never)
    lockout_failure_attempts: int = 6
    lockout_duration: timedelta = timedelta(minutes=5)
    #: the largest request body an API reads into memory (image data streams and is exempt)
    max_request_body: int = 1024 * 1024
    password_hashing: str = field(
        default_factory=lambda: os.environ.get("PASSNIC_PASSWORD_HASHING", "rfc9106-low-memory")
    )
    #: a host whose agent is silent this long is offline (Nova's service_down_time)
    heartbeat_timeout: timedelta = field(
        default_factory=lambda: _seconds("PASSNIC_HEARTBEAT_TIMEOUT_SECONDS", 30)
    )
    #: how long an operation waits for a host's agent before it fails
    step_timeout: timedelta = field(
        default_factory=lambda: _seconds("PASSNIC_STEP_TIMEOUT_SECONDS", 300)
    )
    #: run the conductor in this process (tests that take the steps themselves turn it off)
    conductor: bool = field(default_factory=lambda: _flag("PASSNIC_CONDUCTOR", default=True))
    #: API worker processes serving this cloud (`passnic up --workers`): the in-process test
    #: switch cannot be shared by several
    workers: int = field(default_factory=lambda: int(os.environ.get("PASSNIC_WORKERS", "1")))
    #: the periodic fabric audit repairs the drift it finds (else it only raises alarms)
    fabric_auto_repair: bool = field(
        default_factory=lambda: _flag("PASSNIC_FABRIC_AUTO_REPAIR", default=True)
    )
    #: the most rows one page of a list holds, whatever ``limit`` asks (Nova's ``max_limit``,
    #: Neutron's ``pagination_max_limit``, sysinv's ``api_limit_max``)
    max_page: int = field(default_factory=lambda: int(os.environ.get("PASSNIC_MAX_PAGE", "1000")))
    #: the Fernet key(s) encrypting switch credentials; "" is ``fabric.key`` in the home
    fabric_key_file: str = field(
        default_factory=lambda: os.environ.get("PASSNIC_FABRIC_KEY_FILE", "")
    )

    def __post_init__(self) -> None:
        if self.max_page < 1:
            raise ValueError(f"PASSNIC_MAX_PAGE must be at least 1, not {self.max_page}")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.home / 'passnic.db'}")

    @property
    def image_dir(self) -> Path:
        return self.home / "images"

    @property
    def fabric_key_path(self) -> Path:
        return Path(self.fabric_key_file) if self.fabric_key_file else self.home / "fabric.key"

    @classmethod
    def from_env(cls) -> Settings:
        ttl = int(os.environ.get("PASSNIC_TOKEN_TTL_SECONDS", "3600"))
        return cls(
            home=default_home(),
            database_url=os.environ.get("PASSNIC_DATABASE_URL", ""),
            token_ttl=timedelta(seconds=ttl),
            lockout_failure_attempts=int(os.environ.get("PASSNIC_LOCKOUT_FAILURE_ATTEMPTS", "6")),
            lockout_duration=timedelta(
                seconds=int(os.environ.get("PASSNIC_LOCKOUT_DURATION_SECONDS", "300"))
            ),
            max_request_body=int(os.environ.get("PASSNIC_MAX_REQUEST_BODY", str(1024 * 1024))),
        )

    def export(self) -> dict[str, str]:
        """The environment that reproduces these settings in another process."""
        return {
            "PASSNIC_HOME": str(self.home),
            "PASSNIC_DATABASE_URL": self.database_url,
            "PASSNIC_TOKEN_TTL_SECONDS": str(int(self.token_ttl.total_seconds())),
            "PASSNIC_PASSWORD_HASHING": self.password_hashing,
            "PASSNIC_HEARTBEAT_TIMEOUT_SECONDS": str(self.heartbeat_timeout.total_seconds()),
            "PASSNIC_STEP_TIMEOUT_SECONDS": str(self.step_timeout.total_seconds()),
            "PASSNIC_CONDUCTOR": "1" if self.conductor else "0",
            "PASSNIC_MAX_REQUEST_BODY": str(self.max_request_body),
            "PASSNIC_LOCKOUT_FAILURE_ATTEMPTS": str(self.lockout_failure_attempts),
            "PASSNIC_LOCKOUT_DURATION_SECONDS": str(int(self.lockout_duration.total_seconds())),
            "PASSNIC_WORKERS": str(self.workers),
            "PASSNIC_FABRIC_AUTO_REPAIR": "1" if self.fabric_auto_repair else "0",
            "PASSNIC_FABRIC_KEY_FILE": self.fabric_key_file,
            "PASSNIC_MAX_PAGE": str(self.max_page),
        }


def _flag(variable: str, *, default: bool) -> bool:
    return os.environ.get(variable, "1" if default else "0") not in ("0", "false")


def _seconds(variable: str, default: float) -> timedelta:
    return timedelta(seconds=float(os.environ.get(variable, default)))
