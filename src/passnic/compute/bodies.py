"""Nova's request bodies as pydantic models: the routes take them, ``/openapi.json`` shows them,
and a body that does not fit is a 400 in Nova's fault shape (``badRequest``).

Types follow Nova's JSON schemas where clients rely on their leniency: integers may come as
their decimal strings, metadata values as numbers; keys Nova ignores are ignored. What needs
the database (a flavor, a port) or the microversion is checked by the routes and services.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, StrictInt, StrictStr


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


def _nova_bool(value: Any) -> Any:
    """Booleans, also as the strings ``true``/``false`` in any case."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, bool):
        return value
    raise ValueError("a boolean is required")


def _flavor_id(value: Any) -> Any:
    """A flavor reference: a string, or a number as some clients send it (not a bool)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _positive_number(value: Any) -> Any:
    """rxtx_factor: a positive finite number, also as its decimal string."""
    if value is None:
        return 1.0
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        number = math.nan
    if isinstance(value, bool) or not 0 < number < math.inf:
        raise ValueError(f"{value!r} is not a positive number")
    return number


#: (bounds go before the validator: after it, pydantic writes them as "ge"/"le", which JSON
#: Schema and so /openapi.json readers do not know)
NovaInt = Annotated[int, BeforeValidator(_nova_int)]
NovaBool = Annotated[bool, BeforeValidator(_nova_bool)]
#: a flavor's size, as its column holds it
Count = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_nova_int)]
#: vcpus and ram: at least one
PositiveCount = Annotated[int, Field(ge=1, le=2**31 - 1), BeforeValidator(_nova_int)]
#: a quota limit: -1 (unlimited) up to what the database column holds
Limit = Annotated[int, Field(ge=-1, le=2**31 - 1), BeforeValidator(_nova_int)]
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


class RebootArgs(_Body):
    #: SOFT or HARD, any case (checked by the route, with Nova's words)
    type: StrictStr = "SOFT"


class HostArgs(_Body):
    """migrate / os-migrateLive: an optional target host."""

    host: StrictStr | None = None


class ResizeArgs(_Body):
    """resize: the flavor to take (an id; Nova's clients may send a number)."""

    flavorRef: Annotated[str, BeforeValidator(_flavor_id), Field(min_length=1, max_length=255)]


class RebuildArgs(_Body):
    """rebuild: the image, and what else changes (only the keys given; ``adminPass``,
    ``preserve_ephemeral`` and the like are accepted and have nothing to act on)."""

    imageRef: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    name: StrictStr | None = None
    metadata: Metadata | None = None
    #: base64 (checked by the route, with Nova's words)
    user_data: StrictStr | None = None
    key_name: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = None
    description: Annotated[StrictStr, Field(max_length=255)] | None = None


class ConsoleArgs(_Body):
    #: how many of the last lines; null or -1: all
    length: Annotated[int, Field(ge=-1), BeforeValidator(_nova_int)] | None = None


class LockArgs(_Body):
    locked_reason: Annotated[StrictStr, Field(max_length=255)] | None = None


NoArgs = dict[str, Any] | None


class ServerActionBody(BaseModel):
    """``POST /servers/{id}/action``: exactly one action, named by its key. Nova's other
    actions are kept as extras, so the route refuses them by name."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    os_start: NoArgs = Field(default=None, alias="os-start")
    os_stop: NoArgs = Field(default=None, alias="os-stop")
    reboot: RebootArgs | None = None
    migrate: HostArgs | None = None
    os_migrateLive: HostArgs | None = Field(default=None, alias="os-migrateLive")
    resize: ResizeArgs | None = None
    rebuild: RebuildArgs | None = None
    confirmResize: NoArgs = None
    revertResize: NoArgs = None
    os_getConsoleOutput: ConsoleArgs | None = Field(default=None, alias="os-getConsoleOutput")
    lock: LockArgs | None = None
    unlock: NoArgs = None

    def actions(self) -> list[tuple[str, Any]]:
        """The actions the body names (by their wire names) with their arguments."""
        given = [
            (field.alias or name, getattr(self, name))
            for name, field in type(self).model_fields.items()
            if name in self.model_fields_set
        ]
        return given + list((self.model_extra or {}).items())


# ---- flavors, PCI aliases, services ----------------------------------------------------------


class FlavorCreate(_Body):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    vcpus: PositiveCount
    ram: PositiveCount
    disk: Count = 0
    ephemeral: Count = Field(default=0, alias="OS-FLV-EXT-DATA:ephemeral")
    #: an empty string is no swap, as Nova's clients send it
    swap: Count | Literal[""] = 0
    rxtx_factor: Annotated[float, BeforeValidator(_positive_number)] = 1.0
    is_public: NovaBool = Field(default=True, alias="os-flavor-access:is_public")
    #: empty, null or ``auto``: a new UUID
    id: Annotated[StrictStr, Field(max_length=255)] | StrictInt | None = None
    description: Annotated[StrictStr, Field(max_length=65535)] | None = None


class FlavorCreateBody(_Body):
    flavor: FlavorCreate


class FlavorUpdate(BaseModel):
    """Only the description may change (2.55); other keys are kept to be refused."""

    model_config = ConfigDict(extra="allow")

    description: Annotated[StrictStr, Field(max_length=65535)] | None


class FlavorUpdateBody(_Body):
    flavor: FlavorUpdate


class ExtraSpecsBody(_Body):
    extra_specs: Metadata


class ExtraSpecItemBody(RootModel[Metadata]):
    """``PUT .../os-extra_specs/{key}``: ``{key: value}`` for the URI's key."""


class TenantRef(_Body):
    tenant: StrictStr


class FlavorActionBody(_Body):
    addTenantAccess: TenantRef | None = None
    removeTenantAccess: TenantRef | None = None


class PciAliasCreate(_Body):
    name: StrictStr
    vendor_id: StrictStr
    product_id: StrictStr
    device_type: StrictStr = "type-PCI"
    numa_policy: StrictStr = "legacy"


class PciAliasCreateBody(_Body):
    pci_alias: PciAliasCreate


class ServiceUpdateBody(_Body):
    """``PUT /os-services/{id}`` (2.53: status by id; before: the host in the body)."""

    status: StrictStr | None = None
    host: StrictStr | None = None
    binary: StrictStr | None = None
    disabled_reason: Annotated[StrictStr, Field(max_length=255)] | None = None


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
