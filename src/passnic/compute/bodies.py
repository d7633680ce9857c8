"""Nova's request bodies as pydantic models: the routes take them, ``/openapi.json`` shows them,
and a body that does not fit is a 400 in Nova's fault shape (``badRequest``).

Types follow Nova's JSON schemas where clients rely on their leniency: integers may come as
their decimal strings, metadata values as numbers; keys Nova ignores are ignored. What needs
the database (a flavor, a port) or the microversion is checked by the routes and services.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr


def _nova_int(value: Any) -> Any:
    """Nova accepts integers and their decimal strings, never booleans."""
    if isinstance(value, bool):
        raise ValueError("an integer is required")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.strip().lstrip("-").isdecimal():
        return int(value)
    raise ValueError(f"{value!r} is not an integer")


def _meta_value(value: Any) -> Any:
    """Metadata values are strings; numbers are taken as their text, as Nova's clients send."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


NovaInt = Annotated[int, BeforeValidator(_nova_int)]
#: a quota limit: -1 (unlimited) up to what the database column holds
Limit = Annotated[NovaInt, Field(ge=-1, le=2**31 - 1)]
MetaKey = Annotated[StrictStr, Field(min_length=1, max_length=255)]
MetaValue = Annotated[StrictStr, BeforeValidator(_meta_value), Field(max_length=255)]
Metadata = dict[MetaKey, MetaValue]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- servers ---------------------------------------------------------------------------------


class NetworkRequest(_Body):
    """One entry of ``networks``: an existing port, or a network to make a port on."""

    port: StrictStr | None = None
    uuid: StrictStr | None = None
    fixed_ip: StrictStr | None = None


class SecurityGroupRef(_Body):
    name: Annotated[StrictStr, Field(min_length=1, max_length=255)]


class ServerCreate(_Body):
    name: StrictStr
    flavorRef: StrictStr | int
    imageRef: StrictStr | None = None
    networks: Literal["auto", "none"] | list[NetworkRequest] | None = None
    metadata: Metadata = Field(default_factory=dict)
    key_name: StrictStr | None = None
    #: base64 (checked by the route, with Nova's words)
    user_data: StrictStr | None = None
    description: Annotated[StrictStr, Field(max_length=255)] | None = None
    security_groups: list[SecurityGroupRef] | None = None
    accessIPv4: StrictStr | None = None
    accessIPv6: StrictStr | None = None
    min_count: NovaInt = 1
    max_count: NovaInt | None = None


class SchedulerHints(_Body):
    group: StrictStr | None = None


class ServerCreateBody(_Body):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    server: ServerCreate
    scheduler_hints: SchedulerHints | None = Field(default=None, alias="os:scheduler_hints")
    legacy_hints: SchedulerHints | None = Field(default=None, alias="OS-SCH-HNT:scheduler_hints")

    @property
    def hints(self) -> SchedulerHints:
        return self.scheduler_hints or self.legacy_hints or SchedulerHints()


class ServerUpdate(BaseModel):
    """What ``PUT /servers/{id}`` may change; other keys are kept to be refused by name."""

    model_config = ConfigDict(extra="allow")

    name: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = None
    description: Annotated[StrictStr, Field(max_length=255)] | None = None


class ServerUpdateBody(_Body):
    server: ServerUpdate


class MetadataBody(_Body):
    metadata: Metadata


class MetadataItemBody(_Body):
    meta: Metadata


class TagsBody(_Body):
    tags: list[StrictStr]


# ---- key pairs, server groups, quotas --------------------------------------------------------


class KeypairCreate(_Body):
    name: StrictStr
    public_key: StrictStr | None = None
    type: StrictStr = "ssh"
    user_id: StrictStr | None = None


class KeypairCreateBody(_Body):
    keypair: KeypairCreate


class ServerGroupCreate(_Body):
    name: StrictStr
    #: from 2.64 on
    policy: StrictStr | None = None
    #: before 2.64: a list of exactly one policy
    policies: list[StrictStr] | None = None


class ServerGroupCreateBody(_Body):
    server_group: ServerGroupCreate


#: resources Nova took before 2.36/2.57 and no longer limits: accepted, not kept
LEGACY_QUOTAS = (
    "fixed_ips",
    "floating_ips",
    "security_groups",
    "security_group_rules",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "networks",
)


class QuotaSet(BaseModel):
    """The limits an admin sets (-1: unlimited); Nova refuses other keys."""

    model_config = ConfigDict(extra="forbid")

    fixed_ips: Limit | None = None
    floating_ips: Limit | None = None
    security_groups: Limit | None = None
    security_group_rules: Limit | None = None
    injected_files: Limit | None = None
    injected_file_content_bytes: Limit | None = None
    injected_file_path_bytes: Limit | None = None
    networks: Limit | None = None

    instances: Limit | None = None
    cores: Limit | None = None
    ram: Limit | None = None
    metadata_items: Limit | None = None
    key_pairs: Limit | None = None
    server_groups: Limit | None = None
    server_group_members: Limit | None = None
    force: bool | StrictStr | None = None


class QuotaSetBody(_Body):
    quota_set: QuotaSet

    def limits(self) -> dict[str, int]:
        given = self.quota_set.model_dump(exclude_none=True, exclude={"force", *LEGACY_QUOTAS})
        return {k: int(v) for k, v in given.items()}
