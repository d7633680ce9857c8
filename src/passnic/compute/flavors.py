"""Flavors (with extra specs and project access) and PCI aliases: what a server asks for.

The two extra specs Passnic acts on are checked for form when they are set, so a malformed
flavor is refused at ``flavor set`` rather than at boot:

* ``pci_passthrough:alias`` = ``name[:count][,name[:count]]``, each count a positive integer
  (1 when omitted). As in Nova, a name need not be a PCI alias yet (a playbook may make the
  flavor first): a boot or resize with a flavor naming an unknown alias is refused, saying so;
* ``hw:pci_numa_affinity_policy`` = required | socket | preferred | legacy.

Other keys are stored as given (Nova lets operators keep their own namespaces).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passnic import policy
from passnic.compute.models import Flavor, FlavorExtraSpec, FlavorProject, PciAlias
from passnic.context import RequestContext
from passnic.db import Database, new_uuid
from passnic.errors import BadRequest, Conflict, NotFound

policy.register(
    {
        "compute:flavor:read": "any",
        "compute:flavor:manage": "admin",
        "compute:pci_alias:read": "admin",
        "compute:pci_alias:manage": "admin",
    }
)

ALIAS_SPEC = "pci_passthrough:alias"
NUMA_POLICY_SPEC = "hw:pci_numa_affinity_policy"
NUMA_POLICIES = ("required", "socket", "preferred", "legacy")
DEVICE_TYPES = ("type-PCI", "type-PF", "type-VF")
DEFAULT_NUMA_POLICY = "legacy"

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_FLAVOR_ID = re.compile(r"^[\w.\- ]{1,255}$")
_HEX4 = re.compile(r"^[0-9a-fA-F]{4}$")
_SPEC_KEY = re.compile(r"^[\w.:\- ]{1,255}$")


@dataclass(frozen=True)
class FlavorSpec:
    """What ``POST /flavors`` asks for, already in Python types."""

    name: str
    vcpus: int
    ram: int
    disk: int = 0
    ephemeral: int = 0
    swap: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    id: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class AliasRequest:
    """One entry of ``pci_passthrough:alias``: ``count`` NICs matching the alias."""

    alias: str
    count: int
    vendor_id: str
    product_id: str
    device_type: str
    numa_policy: str

    def as_dict(self) -> dict[str, object]:
        return {
            "alias": self.alias,
            "count": self.count,
            "vendor_id": self.vendor_id,
            "product_id": self.product_id,
            "device_type": self.device_type,
            "numa_policy": self.numa_policy,
        }


def parse_alias_spec(value: str) -> list[tuple[str, int]]:
    """``"nic1:2,nic2"`` -> [("nic1", 2), ("nic2", 1)]; BadRequest on any other form."""
    entries: list[tuple[str, int]] = []
    for raw in value.split(","):
        part = raw.strip()
        name, sep, count_text = part.partition(":")
        if not _NAME.match(name) or (sep and not count_text.isdigit()):
            raise BadRequest(
                f"Invalid {ALIAS_SPEC} value {value!r}: expected name[:count][,name[:count]], "
                "for example nic-82574:1"
            )
        count = int(count_text) if sep else 1
        if count < 1:
            raise BadRequest(f"Invalid {ALIAS_SPEC} value {value!r}: a count must be at least 1")
        entries.append((name, count))
    return entries


def _check_name(value: str, what: str) -> None:
    if not value.strip() or len(value) > 255:
        raise BadRequest(f"Invalid {what}: it must be 1 to 255 characters, not all spaces.")


def _check_count(value: int, field: str, minimum: int) -> None:
    if value < minimum:
        raise BadRequest(f"Invalid input for field/attribute {field}: must be >= {minimum}.")


class FlavorService:
    """Flavors, their extra specs and access lists, and PCI aliases. One transaction per call."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- flavors ---------------------------------------------------------------------------

    def create_flavor(self, ctx: RequestContext, spec: FlavorSpec) -> Flavor:
        policy.enforce(ctx, "compute:flavor:manage")
        _check_name(spec.name, "flavor name")
        if spec.id is not None and not _FLAVOR_ID.match(spec.id):
            raise BadRequest(
                "Invalid flavor id: use letters, digits, spaces, '.', '-' and '_' (1 to 255)."
            )
        for field, value, minimum in (
            ("vcpus", spec.vcpus, 1),
            ("ram", spec.ram, 1),
            ("disk", spec.disk, 0),
            ("OS-FLV-EXT-DATA:ephemeral", spec.ephemeral, 0),
            ("swap", spec.swap, 0),
        ):
            _check_count(value, field, minimum)
        if spec.rxtx_factor <= 0:
            raise BadRequest("Invalid input for field/attribute rxtx_factor: must be > 0.")
        with self.db.transaction() as s:
            flavor_id = spec.id or new_uuid()
            if s.get(Flavor, flavor_id) is not None:
                raise Conflict(f"Flavor with ID {flavor_id} already exists.")
            if s.scalar(select(Flavor.id).where(Flavor.name == spec.name)) is not None:
                raise Conflict(f"Flavor with name {spec.name} already exists.")
            flavor = Flavor(
                id=flavor_id,
                name=spec.name,
                vcpus=spec.vcpus,
                ram=spec.ram,
                disk=spec.disk,
                ephemeral=spec.ephemeral,
                swap=spec.swap,
                rxtx_factor=spec.rxtx_factor,
                is_public=spec.is_public,
                description=spec.description,
                extra_specs=[],
                projects=[],
            )
            s.add(flavor)
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"Flavor with name {spec.name} already exists.") from None
            return flavor

    def list_flavors(self, ctx: RequestContext, is_public: bool | None = True) -> list[Flavor]:
        """Nova's rules: ``is_public`` True lists public flavors and the private ones the
        caller's project may use; None lists all and False only private ones (admins only;
        other callers always get the first form)."""
        policy.enforce(ctx, "compute:flavor:read")
        if not ctx.is_admin:
            is_public = True
        with self.db.transaction() as s:
            stmt = select(Flavor).where(Flavor.disabled.is_(False)).order_by(Flavor.name)
            if is_public is True:
                stmt = stmt.where(or_(Flavor.is_public.is_(True), _usable_by(ctx.project_id)))
            elif is_public is False:
                stmt = stmt.where(Flavor.is_public.is_(False))
            return list(s.scalars(stmt))

    def get_flavor(self, ctx: RequestContext, flavor_id: str) -> Flavor:
        policy.enforce(ctx, "compute:flavor:read")
        with self.db.transaction() as s:
            return self.usable_flavor(s, ctx, flavor_id)

    def usable_flavor(self, s: Session, ctx: RequestContext, flavor_id: str) -> Flavor:
        """A flavor the caller may see and boot: public, or private with access (admins: all)."""
        flavor = s.get(Flavor, flavor_id)
        if flavor is None or not (
            ctx.is_admin
            or flavor.is_public
            or any(p.project_id == ctx.project_id for p in flavor.projects)
        ):
            raise NotFound(f"Flavor {flavor_id} could not be found.")
        return flavor

    def update_flavor(self, ctx: RequestContext, flavor_id: str, description: str | None) -> Flavor:
        policy.enforce(ctx, "compute:flavor:manage")
        with self.db.transaction() as s:
            flavor = _flavor(s, flavor_id)
            flavor.description = description
            return flavor

    def delete_flavor(self, ctx: RequestContext, flavor_id: str) -> None:
        """Servers keep their copy of the flavor, so a flavor in use may be deleted (Nova)."""
        policy.enforce(ctx, "compute:flavor:manage")
        with self.db.transaction() as s:
            s.delete(_flavor(s, flavor_id))

    # -- extra specs -----------------------------------------------------------------------

    def extra_specs(self, ctx: RequestContext, flavor_id: str) -> dict[str, str]:
        return self.get_flavor(ctx, flavor_id).specs

    def extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> str:
        specs = self.extra_specs(ctx, flavor_id)
        if key not in specs:
            raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return specs[key]

    def set_extra_specs(
        self, ctx: RequestContext, flavor_id: str, specs: Mapping[str, str]
    ) -> dict[str, str]:
        """Add or replace keys; returns every extra spec of the flavor."""
        policy.enforce(ctx, "compute:flavor:manage")
        with self.db.transaction() as s:
            flavor = _flavor(s, flavor_id)
            for key, value in specs.items():
                self._check_extra_spec(key, value)
            current = {spec.key: spec for spec in flavor.extra_specs}
            for key, value in specs.items():
                if key in current:
                    current[key].value = value
                else:
                    flavor.extra_specs.append(FlavorExtraSpec(key=key, value=value))
            s.flush()
            return flavor.specs

    def delete_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> None:
        policy.enforce(ctx, "compute:flavor:manage")
        with self.db.transaction() as s:
            flavor = _flavor(s, flavor_id)
            spec = next((e for e in flavor.extra_specs if e.key == key), None)
            if spec is None:
                raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
            flavor.extra_specs.remove(spec)

    def _check_extra_spec(self, key: str, value: str) -> None:
        if not _SPEC_KEY.match(key):
            raise BadRequest(
                f"Invalid extra spec key {key!r}: use letters, digits, spaces, '.', ':', '-' "
                "and '_' (1 to 255)."
            )
        if len(value) > 255:
            raise BadRequest(f"Invalid extra spec {key}: a value is at most 255 characters.")
        if key == ALIAS_SPEC:
            parse_alias_spec(value)
        elif key == NUMA_POLICY_SPEC and value not in NUMA_POLICIES:
            raise BadRequest(
                f"Invalid {NUMA_POLICY_SPEC} {value!r}: must be one of {', '.join(NUMA_POLICIES)}."
            )

    # -- access ----------------------------------------------------------------------------

    def flavor_access(self, ctx: RequestContext, flavor_id: str) -> list[str]:
        """The projects that may use a private flavor."""
        policy.enforce(ctx, "compute:flavor:manage")
        with self.db.transaction() as s:
            flavor = _flavor(s, flavor_id)
            if flavor.is_public:
                raise NotFound("Access list not available for public flavors.")
            return sorted(p.project_id for p in flavor.projects)

    def add_flavor_access(self, ctx: RequestContext, flavor_id: str, project_id: str) -> list[str]:
        policy.enforce(ctx, "compute:flavor:manage")
        with self.db.transaction() as s:
            flavor = _flavor(s, flavor_id)
            if flavor.is_public:
                raise Conflict("Can not add access to a public flavor.")
            if any(p.project_id == project_id for p in flavor.projects):
                raise Conflict(
                    f"Flavor access already exists for flavor {flavor_id} and project "
                    f"{project_id} combination."
                )
            flavor.projects.append(FlavorProject(project_id=project_id))
            s.flush()
            return sorted(p.project_id for p in flavor.projects)

    def remove_flavor_access(
        self, ctx: RequestContext, flavor_id: str, project_id: str
    ) -> list[str]:
        policy.enforce(ctx, "compute:flavor:manage")
        with self.db.transaction() as s:
            flavor = _flavor(s, flavor_id)
            grant = next((p for p in flavor.projects if p.project_id == project_id), None)
            if grant is None:
                raise NotFound(
                    f"Flavor access not found for {flavor_id} flavor {project_id} project."
                )
            flavor.projects.remove(grant)
            s.flush()
            return sorted(p.project_id for p in flavor.projects)

    # -- PCI aliases -----------------------------------------------------------------------

    def create_alias(
        self,
        ctx: RequestContext,
        name: str,
        vendor_id: str,
        product_id: str,
        device_type: str = "type-PCI",
        numa_policy: str = DEFAULT_NUMA_POLICY,
    ) -> PciAlias:
        policy.enforce(ctx, "compute:pci_alias:manage")
        if not _NAME.match(name):
            raise BadRequest(
                f"Invalid PCI alias name {name!r}: use letters, digits, '.', '-' and '_'."
            )
        for what, value in (("vendor_id", vendor_id), ("product_id", product_id)):
            if not _HEX4.match(value):
                raise BadRequest(
                    f"Invalid PCI alias {what} {value!r}: four hexadecimal digits, e.g. 8086."
                )
        if device_type not in DEVICE_TYPES:
            raise BadRequest(
                f"Invalid PCI alias device_type {device_type!r}: must be one of "
                f"{', '.join(DEVICE_TYPES)}."
            )
        if numa_policy not in NUMA_POLICIES:
            raise BadRequest(
                f"Invalid PCI alias numa_policy {numa_policy!r}: must be one of "
                f"{', '.join(NUMA_POLICIES)}."
            )
        with self.db.transaction() as s:
            if s.get(PciAlias, name) is not None:
                raise Conflict(f"PCI alias {name} already exists.")
            alias = PciAlias(
                name=name,
                vendor_id=vendor_id.lower(),
                product_id=product_id.lower(),
                device_type=device_type,
                numa_policy=numa_policy,
            )
            s.add(alias)
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"PCI alias {name} already exists.") from None
            return alias

    def list_aliases(self, ctx: RequestContext) -> list[PciAlias]:
        policy.enforce(ctx, "compute:pci_alias:read")
        with self.db.transaction() as s:
            return list(s.scalars(select(PciAlias).order_by(PciAlias.name)))

    def get_alias(self, ctx: RequestContext, name: str) -> PciAlias:
        policy.enforce(ctx, "compute:pci_alias:read")
        with self.db.transaction() as s:
            return _alias(s, name)

    def delete_alias(self, ctx: RequestContext, name: str) -> None:
        """Refused while a flavor names the alias: its servers could not be moved or rebuilt."""
        policy.enforce(ctx, "compute:pci_alias:manage")
        with self.db.transaction() as s:
            alias = _alias(s, name)
            users = [
                flavor_name
                for flavor_name, value in s.execute(
                    select(Flavor.name, FlavorExtraSpec.value)
                    .join(FlavorExtraSpec, FlavorExtraSpec.flavor_id == Flavor.id)
                    .where(FlavorExtraSpec.key == ALIAS_SPEC)
                    .order_by(Flavor.name)
                )
                if any(entry == name for entry, _count in parse_alias_spec(value))
            ]
            if users:
                raise Conflict(
                    f"PCI alias {name} is used by flavor(s) {', '.join(users)}: remove "
                    f"{ALIAS_SPEC} from them first."
                )
            s.delete(alias)

    def alias_requests(
        self, s: Session, value: str, numa_policy: str | None = None
    ) -> list[AliasRequest]:
        """Resolve a ``pci_passthrough:alias`` value; NotFound names the aliases that do not
        exist. A flavor's NUMA policy, when set, beats the alias's own (as in Nova)."""
        entries = parse_alias_spec(value)
        aliases = {a.name: a for a in s.scalars(select(PciAlias))}
        missing = [name for name, _count in entries if name not in aliases]
        if missing:
            raise NotFound(
                f"PCI alias {', '.join(missing)} does not exist: create it first "
                "(POST /compute/v2.1/os-pci-aliases, or passnic pci-alias-create)."
            )
        return [
            AliasRequest(
                alias=name,
                count=count,
                vendor_id=aliases[name].vendor_id,
                product_id=aliases[name].product_id,
                device_type=aliases[name].device_type,
                numa_policy=numa_policy or aliases[name].numa_policy,
            )
            for name, count in entries
        ]

    def flavor_requests(self, s: Session, specs: Mapping[str, str]) -> list[AliasRequest]:
        """The PCI requests a flavor's extra specs make."""
        value = specs.get(ALIAS_SPEC)
        if not value:
            return []
        return self.alias_requests(s, value, specs.get(NUMA_POLICY_SPEC))


def _usable_by(project_id: str) -> ColumnElement[bool]:
    return Flavor.projects.any(FlavorProject.project_id == project_id)


def _flavor(s: Session, flavor_id: str) -> Flavor:
    flavor = s.get(Flavor, flavor_id)
    if flavor is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def _alias(s: Session, name: str) -> PciAlias:
    alias = s.get(PciAlias, name)
    if alias is None:
        raise NotFound(f"PCI alias {name} could not be found.")
    return alias
