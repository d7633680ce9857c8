"""The fabric service: switches and cabling, the desired configuration of every managed switch
port, provisioning (called by compute around boot, migration and delete), audit, trace, trunk
exceptions and the L2 report.

Desired state of an edge port cabled to a passthrough NIC, from the one source of intent, the
network domain's NIC bindings (`passnic.network.bindings`: a port bound to that host's NIC):

* a port is bound to the NIC: access, up, VLAN = the port's network segmentation ID (a flat
  network: the switch's ``native_vlan``), whether the NIC was claimed for a direct-physical
  port or through a flavor's PCI alias (the boot's ``--nic net-id=`` port is bound to it);
* an admin's trunk exception for that server: trunk, native = that VLAN, the allowed list;
* no port bound: quarantined (shut down, parked on ``quarantine_vlan`` when the switch has one).

Besides the bindings the fabric reads only its own tables (switches, cabling, alarms) and, for
names in its answers, the other domains' published read-models (`FabricSources`).

Switch I/O never happens inside a database transaction: a change reads the desired state (and
commits), talks to the switch once (one driver session for all pending ports of a switch, which
also saves the configuration when the switch's `save_config` says so), then records the result.
Changes to one switch are serialised across threads (a lock per switch) and across API workers
and hosts (a PostgreSQL advisory lock, or a file lock beside a SQLite database), held outside
any transaction.

On start every managed port is reconciled (a fresh cloud has zero drift, a restart puts bound
ports back); the periodic audit repairs drift too unless PASSNIC_FABRIC_AUTO_REPAIR is off.
Repaired drift is logged and kept as a resolved alarm; drift that stays is an active alarm.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.orm import Session

from passnic import policy
from passnic.config import Settings
from passnic.context import RequestContext
from passnic.db import Database, utcnow
from passnic.errors import BadRequest, Conflict, NotFound
from passnic.fabric.credentials import CredentialBox, CredentialError, is_encrypted
from passnic.fabric.drivers import SwitchDriver, SwitchError
from passnic.fabric.drivers.netmiko_driver import (
    VENDORS,
    ConnectionFactory,
    NetmikoSwitch,
    open_netmiko,
)
from passnic.fabric.drivers.soft import SoftSwitchDriver
from passnic.fabric.frames import MacTable, SoftSwitch, classify_ingress
from passnic.fabric.models import FabricAlarm, FabricLink, FabricSwitch, FabricSwitchPort
from passnic.fabric.portconfig import PortConfig, diff, format_vlan_list, parse_vlan_list
from passnic.logs import log_event
from passnic.network.bindings import NetworkRecord, NicBinding

log = logging.getLogger(__name__)

#: A server's own switch ports and frame trace are its project's to see too; the rest is the
#: admin's.
policy.register({"fabric:admin": "admin", "fabric:server": "owner"})

EDGE, UPLINK = "edge", "uplink"
MANUAL, LLDP = "manual", "lldp"
#: alarm kinds: a port's config drifted; LLDP disagrees with a manual link; a learned link moved
DRIFT, LLDP_MISMATCH, LLDP_MOVED = "fabric-drift", "lldp-mismatch", "lldp-moved"
TRUNK_WARNING = (
    "a trunk lets the guest tag its frames into every allowed VLAN: it can reach networks "
    "{vlans} directly, bypassing the access-port isolation"
)


def audit_interval() -> float:
    """Seconds between background audits (PASSNIC_FABRIC_AUDIT_INTERVAL; 0 turns them off)."""
    return float(os.environ.get("PASSNIC_FABRIC_AUDIT_INTERVAL", "60"))


@dataclass(frozen=True)
class ServerRef:
    id: str
    name: str
    project_id: str


class FabricSources(Protocol):
    """What the fabric reads of the other domains, through their published read-models."""

    def nic_bindings(
        self, hostnames: Collection[str] | None = None, server_id: str | None = None
    ) -> list[NicBinding]:
        """The network domain's ports bound to NICs: the intent of every switch port."""
        ...

    def network_records(self) -> list[NetworkRecord]: ...

    def find_server(self, ref: str) -> ServerRef | None:
        """A server by id or name."""
        ...

    def servers(self, ids: Collection[str]) -> dict[str, ServerRef]: ...

    def project_names(self) -> dict[str, str]: ...

    def nic_pci_address(self, hostname: str, ifname: str) -> str | None:
        """The PCI address of a host's interface (None: no such interface)."""
        ...


class HeardNeighbour(Protocol):
    """What one NIC of a host hears over LLDP (the inventory's record of an agent report)."""

    @property
    def ifname(self) -> str: ...

    @property
    def pci_address(self) -> str: ...

    @property
    def chassis_id(self) -> str: ...

    @property
    def port_identifier(self) -> str: ...

    @property
    def system_name(self) -> str: ...


@dataclass(frozen=True)
class Desired:
    """What one managed port should be, and why, in operator words."""

    config: PortConfig
    status: str  # "bound", "quarantined", "trunk"
    reason: str
    server_id: str | None = None
    network_id: str | None = None
    vlan: int | None = None
    #: the bound port's MAC (the NIC's own)
    mac: str = ""


@dataclass(frozen=True)
class ManagedPort:
    switch: str
    port: str
    port_id: str
    hostname: str
    ifname: str
    pci_address: str
    desired: Desired


#: a port to trace: its switch's name, driver and port names, and the port
TracePlan = tuple[str, SwitchDriver, list[str], ManagedPort]


@dataclass
class AuditRow:
    managed: ManagedPort
    actual: PortConfig | None
    drifts: list[str]
    fixed: bool = False


@dataclass
class AuditResult:
    rows: list[AuditRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# ---- drivers: one registry, the test switch plus every OS of the netmiko vendor tables -------

DriverFactory = Callable[["FabricService", FabricSwitch], SwitchDriver]

#: the in-process test switch: one process's memory, so one API worker only
SOFT = "soft"


def _soft_factory(service: FabricService, sw: FabricSwitch) -> SwitchDriver:
    return service.soft_driver(sw)


def _netmiko_factory(vendor: str) -> DriverFactory:
    def make(service: FabricService, sw: FabricSwitch) -> SwitchDriver:
        host, _, port = sw.address.partition(":")
        try:
            password = service.credentials.decrypt(sw.password)
        except CredentialError as exc:
            raise SwitchError(f"switch {sw.name}: {exc}") from None
        params: dict[str, Any] = {"host": host, "username": sw.username, "password": password}
        if port:
            params["port"] = int(port)
        return NetmikoSwitch(vendor, params, name=sw.name, connect=service.connect)

    return make


DRIVERS: dict[str, DriverFactory] = {
    SOFT: _soft_factory,
    **{vendor: _netmiko_factory(vendor) for vendor in VENDORS},
}


def _uplink_config() -> PortConfig:
    return PortConfig.trunk(None, range(1, 4095))


class FabricService:
    def __init__(self, db: Database, settings: Settings, sources: FabricSources) -> None:
        self.db = db
        self.settings = settings
        self.sources = sources
        self.credentials = CredentialBox(settings.fabric_key_path)
        #: how netmiko drivers open a session (tests put a recorded switch here)
        self.connect: ConnectionFactory = open_netmiko
        self._softs: dict[str, SoftSwitchDriver] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # ==== drivers ===============================================================================

    def soft_driver(self, sw: FabricSwitch) -> SoftSwitchDriver:
        """The process's SoftSwitch for a test switch; ports the DB has but the switch lacks
        appear quarantined (edge) or as all-VLAN trunks (uplink)."""
        with self._guard:
            driver = self._softs.get(sw.name)
            if driver is None:
                driver = SoftSwitchDriver(SoftSwitch(mac_table=MacTable(aging=None)), sw.name)
                self._softs[sw.name] = driver
            for p in sw.ports:
                if p.name not in driver.switch.ports:
                    config = (
                        _uplink_config()
                        if p.role == UPLINK
                        else PortConfig.quarantine(sw.quarantine_vlan)
                    )
                    driver.switch.configure(p.name, config)
            return driver

    def soft(self, name: str) -> SoftSwitchDriver:
        """The test switch `name` of this process (tests change it behind our back)."""
        with self.db.transaction() as s:
            return self.soft_driver(self._switch(s, name))

    def driver(self, sw: FabricSwitch) -> SwitchDriver:
        """The switch's driver; builds no session (call it in a transaction, use it after)."""
        try:
            factory = DRIVERS[sw.driver]
        except KeyError:
            raise SwitchError(
                f"switch {sw.name} has driver {sw.driver!r}, which this version does not know; "
                f"known: {', '.join(sorted(DRIVERS))}"
            ) from None
        if sw.driver == SOFT and self.settings.workers > 1:
            raise SwitchError(
                f"switch {sw.name} is the in-process test switch, which "
                f"{self.settings.workers} API workers cannot share: point it at a real switch "
                "(an SSH driver) or serve with one worker"
            )
        return factory(self, sw)

    def _check_driver(self, driver: str) -> None:
        if driver not in DRIVERS:
            raise BadRequest(
                f"Unknown switch driver {driver!r}; known: {', '.join(sorted(DRIVERS))}"
            )
        if driver == SOFT and self.settings.workers > 1:
            raise BadRequest(
                f"Driver {SOFT} is the in-process test switch: with {self.settings.workers} "
                "API workers each would have its own; a real (SSH) switch is required."
            )

    @contextmanager
    def _switch_lock(self, switch_id: str) -> Iterator[None]:
        """Serialise changes to one switch: threads here, and every other process (API
        workers, hosts) through the database, held outside any transaction."""
        with self._guard:
            local = self._locks.setdefault(switch_id, threading.Lock())
        with local:
            if self.db.is_postgres:
                key = int.from_bytes(
                    hashlib.sha256(f"passnic-switch:{switch_id}".encode()).digest()[:8],
                    "big",
                    signed=True,
                )
                with self.db.engine.connect() as conn:
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                    try:
                        yield
                    finally:
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            else:
                # SQLite serves one machine: a file lock reaches all its processes.
                path = Path(self.settings.home) / "locks" / f"switch-{switch_id}.lock"
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a") as f:
                    fcntl.flock(f, fcntl.LOCK_EX)
                    try:
                        yield
                    finally:
                        fcntl.flock(f, fcntl.LOCK_UN)

    # ==== switches, ports, links ==================================================================

    def create_switch(self, ctx: RequestContext, body: Mapping[str, Any]) -> FabricSwitch:
        policy.enforce(ctx, "fabric:admin")
        name = str(body.get("name") or "").strip()
        if not name:
            raise BadRequest("A switch needs a name.")
        driver = str(body.get("driver") or "")
        self._check_driver(driver)
        save_config = body.get("save_config", True)
        if not isinstance(save_config, bool):
            raise BadRequest("save_config must be true or false.")
        native = int(body.get("native_vlan") or 1)
        quarantine = body.get("quarantine_vlan")
        for what, vlan in (("native_vlan", native), ("quarantine_vlan", quarantine)):
            if vlan is not None and not 1 <= int(vlan) <= 4094:
                raise BadRequest(f"{what} {vlan} is outside 1-4094")
        ports = list(body.get("ports") or [])
        uplinks = set(body.get("uplinks") or [])
        with self.db.transaction() as s:
            if s.scalar(select(FabricSwitch).where(FabricSwitch.name == name)) is not None:
                raise Conflict(f"Switch {name} already exists.")
            sw = FabricSwitch(
                name=name,
                address=str(body.get("address") or ""),
                driver=driver,
                username=str(body.get("username") or ""),
                password=self.credentials.encrypt(str(body.get("password") or "")),
                save_config=save_config,
                native_vlan=native,
                quarantine_vlan=int(quarantine) if quarantine is not None else None,
            )
            names = [*ports, *[u for u in uplinks if u not in ports]]
            if len(set(names)) != len(names):
                raise BadRequest("Switch port names must be unique.")
            sw.ports = [
                FabricSwitchPort(name=p, position=i, role=UPLINK if p in uplinks else EDGE)
                for i, p in enumerate(names)
            ]
            s.add(sw)
            s.flush()
            return self._loaded(s, sw.id)

    def repoint_switch(
        self,
        ctx: RequestContext,
        ref: str,
        *,
        driver: str,
        address: str,
        username: str = "",
        password: str = "",
    ) -> FabricSwitch:
        """Change how a switch is reached (driver, address, credentials); its ports, links
        and desired state stay. Idempotent."""
        policy.enforce(ctx, "fabric:admin")
        self._check_driver(driver)
        with self.db.transaction() as s:
            sw = self._switch(s, ref)
            self._softs.pop(sw.name, None)
            sw.driver, sw.address = driver, address
            sw.username, sw.password = username, self.credentials.encrypt(password)
            s.flush()
            return self._loaded(s, sw.id)

    def list_switches(self, ctx: RequestContext) -> list[FabricSwitch]:
        policy.enforce(ctx, "fabric:admin")
        with self.db.transaction() as s:
            return [
                self._loaded(s, sw.id)
                for sw in s.scalars(select(FabricSwitch).order_by(FabricSwitch.name))
            ]

    def get_switch(self, ctx: RequestContext, ref: str) -> FabricSwitch:
        policy.enforce(ctx, "fabric:admin")
        with self.db.transaction() as s:
            return self._loaded(s, self._switch(s, ref).id)

    def delete_switch(self, ctx: RequestContext, ref: str) -> None:
        policy.enforce(ctx, "fabric:admin")
        with self.db.transaction() as s:
            sw = self._switch(s, ref)
            self._softs.pop(sw.name, None)
            s.delete(sw)

    def switch_ports(self, ctx: RequestContext, ref: str) -> list[dict[str, Any]]:
        """Each port of a switch with its cable, desired and actual configuration."""
        policy.enforce(ctx, "fabric:admin")
        bindings = self._bindings(None)
        with self.db.transaction() as s:
            sw = self._switch(s, ref)
            managed = {m.port_id: m for m in self._managed(s, sw, bindings)}
            links = {
                link.switch_port_id: link
                for link in s.scalars(
                    select(FabricLink).where(
                        FabricLink.switch_port_id.in_([p.id for p in sw.ports])
                    )
                )
            }
            driver = self.driver(sw)
        actual = driver.read([p.name for p in sw.ports])
        rows = []
        for p in sw.ports:
            link = links.get(p.id)
            m = managed.get(p.id)
            got = actual.get(p.name)
            rows.append(
                {
                    "name": p.name,
                    "role": p.role,
                    "host": link.hostname if link else None,
                    "nic": link.ifname if link else None,
                    "link_source": link.source if link else None,
                    "desired": m.desired.config.summary() if m else None,
                    "status": m.desired.status if m else None,
                    "reason": m.desired.reason if m else None,
                    "actual": got.summary() if got else None,
                }
            )
        return rows

    def set_link(
        self,
        ctx: RequestContext,
        hostname: str,
        ifname: str,
        switch: str,
        port: str,
        *,
        source: str = MANUAL,
        pci_address: str | None = None,
    ) -> FabricLink:
        """Cable a host NIC to a switch port. An LLDP report never replaces a manual link."""
        policy.enforce(ctx, "fabric:admin")
        if source not in (MANUAL, LLDP):
            raise BadRequest(f"Link source must be {MANUAL} or {LLDP}.")
        with self.db.transaction() as s:
            sw = self._switch(s, switch)
            sp = next((p for p in sw.ports if p.name == port), None)
            if sp is None:
                raise NotFound(f"Switch {sw.name} has no port {port}.")
            if sp.role != EDGE:
                raise BadRequest(f"Port {port} of {sw.name} is an uplink, not a host port.")
            pci = pci_address
            if pci is None:
                pci = self.sources.nic_pci_address(hostname, ifname)
                if pci is None:
                    raise NotFound(f"Host {hostname} has no interface {ifname}.")
            link = s.scalar(
                select(FabricLink).where(
                    FabricLink.hostname == hostname, FabricLink.ifname == ifname
                )
            )
            if link is not None and source == LLDP and link.source == MANUAL:
                return _loaded_link(link)
            other = s.scalar(select(FabricLink).where(FabricLink.switch_port_id == sp.id))
            if other is not None and other is not link:
                if source == LLDP and other.source == MANUAL:
                    return _loaded_link(other)
                s.delete(other)
                s.flush()
            if source == MANUAL:  # the operator settles what LLDP disagreed about
                for port_id in {sp.id, link.switch_port_id if link is not None else sp.id}:
                    _resolve_alarms(s, port_id, LLDP_MISMATCH, LLDP_MOVED)
            if link is None:
                link = FabricLink(hostname=hostname, ifname=ifname)
                s.add(link)
            link.pci_address, link.switch_port_id, link.source = pci, sp.id, source
            s.flush()
            s.refresh(link)
            return _loaded_link(link)

    def learn_lldp(self, hostname: str, heard: Iterable[HeardNeighbour]) -> list[str]:
        """Turn what a host's NICs hear over LLDP into their links (``source: lldp``).

        The neighbour names a managed switch by its name (as system name or chassis ID) and
        one of its edge ports by its name (the port ID). A manual link always stays: when LLDP
        disagrees an ``lldp-mismatch`` alarm says so (resolved once they agree or the operator
        sets the link again). A learned link that moves raises an ``lldp-moved`` alarm; the port
        it left is quarantined, the new one converged. What changed, one line each."""
        changes: list[str] = []
        hosts = {hostname}
        vacated: list[tuple[str, str, PortConfig]] = []
        with self.db.transaction() as s:
            switches = list(s.scalars(select(FabricSwitch)))
            for n in heard:
                sw = next((w for w in switches if w.name == n.system_name), None) or next(
                    (w for w in switches if w.name == n.chassis_id), None
                )
                sp = (
                    next((p for p in sw.ports if p.name == n.port_identifier), None) if sw else None
                )
                if sw is None or sp is None or sp.role != EDGE:
                    continue
                nic, where = f"{hostname} {n.ifname}", f"{sw.name} {sp.name}"
                link = s.scalar(
                    select(FabricLink).where(
                        FabricLink.hostname == hostname, FabricLink.ifname == n.ifname
                    )
                )
                if link is not None and link.switch_port_id == sp.id:
                    _resolve_alarms(s, sp.id, LLDP_MISMATCH)
                    continue
                if link is not None and link.source == MANUAL:
                    cabled = f"{link.switch_port.switch.name} {link.switch_port.name}"
                    _raise_alarm(
                        s,
                        link.switch_port_id,
                        LLDP_MISMATCH,
                        f"{nic}: cabled to {cabled} (manual link) but LLDP hears {where}",
                    )
                    continue
                other = s.scalar(select(FabricLink).where(FabricLink.switch_port_id == sp.id))
                if other is not None and other.source == MANUAL:
                    _raise_alarm(
                        s,
                        sp.id,
                        LLDP_MISMATCH,
                        f"{nic} hears {where} over LLDP, but {where} is cabled to "
                        f"{other.hostname} {other.ifname} (manual link)",
                    )
                    continue
                if other is not None:  # that NIC's learned link is stale: this one hears it now
                    hosts.add(other.hostname)
                    s.delete(other)
                    s.flush()
                if link is None:
                    link = FabricLink(hostname=hostname, ifname=n.ifname)
                    s.add(link)
                    changes.append(f"{nic}: learned link to {where}")
                else:
                    old = link.switch_port
                    moved = (
                        f"{nic}: learned link moved from {old.switch.name} {old.name} to {where}"
                    )
                    _raise_alarm(s, sp.id, LLDP_MOVED, moved)
                    vacated.append(
                        (old.switch_id, old.name, PortConfig.quarantine(old.switch.quarantine_vlan))
                    )
                    changes.append(moved)
                    log.warning("fabric: %s", moved)
                link.pci_address, link.switch_port_id, link.source = n.pci_address, sp.id, LLDP
                s.flush()
        if changes:
            log_event(log, "lldp_learned", host=hostname, changes="; ".join(changes))
        for switch_id, port, config in vacated:
            try:
                self._push(switch_id, {port: config})
            except SwitchError as exc:
                log.warning("fabric: quarantining vacated port %s failed: %s", port, exc)
        if changes:
            try:
                self.provision(sorted(hosts))
            except SwitchError as exc:  # left to the audit
                log.warning("fabric: converging learned links of %s failed: %s", hostname, exc)
        return changes

    def _push(self, switch_id: str, configs: Mapping[str, PortConfig]) -> None:
        """Set ports no link manages any more (one session, under the switch's lock)."""
        with self._switch_lock(switch_id):
            with self.db.transaction() as s:
                sw = s.get(FabricSwitch, switch_id)
                if sw is None:
                    return
                driver, save = self.driver(sw), sw.save_config
            driver.apply(dict(configs), save=save)

    def delete_link(self, ctx: RequestContext, hostname: str, ifname: str) -> None:
        """Forget a NIC's cable (its switch port is left as it is, unmanaged)."""
        policy.enforce(ctx, "fabric:admin")
        with self.db.transaction() as s:
            link = s.scalar(
                select(FabricLink).where(
                    FabricLink.hostname == hostname, FabricLink.ifname == ifname
                )
            )
            if link is None:
                raise NotFound(f"Host {hostname} NIC {ifname} is not cabled.")
            s.delete(link)

    def list_links(self, ctx: RequestContext) -> list[FabricLink]:
        policy.enforce(ctx, "fabric:admin")
        with self.db.transaction() as s:
            links = list(
                s.scalars(select(FabricLink).order_by(FabricLink.hostname, FabricLink.ifname))
            )
            for link in links:
                _ = link.switch_port.switch.name
            return links

    # ==== desired state ===========================================================================

    def _bindings(self, hostnames: Collection[str] | None) -> dict[tuple[str, str], NicBinding]:
        """The network domain's bindings by (host, PCI address); read before, never inside,
        a fabric transaction."""
        return {(b.host, b.pci_address): b for b in self.sources.nic_bindings(hostnames)}

    def _managed(
        self,
        s: Session,
        sw: FabricSwitch,
        bindings: Mapping[tuple[str, str], NicBinding],
        hostnames: Iterable[str] | None = None,
    ) -> list[ManagedPort]:
        ports = {p.id: p for p in sw.ports if p.role == EDGE}
        stmt = select(FabricLink).where(FabricLink.switch_port_id.in_(list(ports)))
        if hostnames is not None:
            stmt = stmt.where(FabricLink.hostname.in_(list(hostnames)))
        rows = []
        for link in s.scalars(stmt):
            sp = ports[link.switch_port_id]
            binding = bindings.get((link.hostname, link.pci_address))
            rows.append(
                ManagedPort(
                    sw.name,
                    sp.name,
                    sp.id,
                    link.hostname,
                    link.ifname,
                    link.pci_address,
                    _desired(sw, sp, binding),
                )
            )
        return sorted(rows, key=lambda m: m.port)

    # ==== provisioning ============================================================================

    def provision(self, hostnames: Iterable[str]) -> list[str]:
        """Converge every managed port cabled to a NIC of these hosts; raises SwitchError with
        the switch's message when a switch refuses or does not answer (nothing half-applied:
        one driver session per switch). One line per port: what it now is, and whether this
        call changed it (for the instance action's record)."""
        hosts = sorted(set(hostnames))
        if not hosts:
            return []
        with self.db.transaction() as s:
            switch_ids = list(
                s.scalars(
                    select(FabricSwitchPort.switch_id)
                    .join(FabricLink, FabricLink.switch_port_id == FabricSwitchPort.id)
                    .where(FabricLink.hostname.in_(hosts))
                    .distinct()
                )
            )
        lines = []
        for switch_id in sorted(switch_ids):
            for row in self._converge(switch_id, hosts):
                m = row.managed
                lines.append(
                    f"{m.switch} {m.port} ({m.hostname} {m.ifname}): {m.desired.config.summary()}"
                    + (" (set now)" if row.fixed else "")
                )
        return lines

    def _converge(
        self, switch_id: str, hosts: list[str] | None, *, repair: bool = True
    ) -> list[AuditRow]:
        """Reconcile the managed ports of one switch (those of `hosts`, or all): read the
        desired state and commit, then one driver session that reads the ports and, with
        `repair`, changes the drifted ones (and saves), all under the switch's lock."""
        with self._switch_lock(switch_id):
            bindings = self._bindings(hosts)
            with self.db.transaction() as s:
                sw = s.get(FabricSwitch, switch_id)
                if sw is None:
                    return []
                managed = self._managed(s, sw, bindings, hosts)
                driver = self.driver(sw)
                save, name = sw.save_config, sw.name
            desired = {m.port: m.desired.config for m in managed}
            try:
                actual = driver.apply(desired, save=save) if repair else driver.read(desired)
            except SwitchError as exc:
                log_event(
                    log,
                    "switch_push_failed",
                    logging.ERROR,
                    switch=name,
                    ports=",".join(desired),
                    error=str(exc),
                )
                raise
        rows = [
            AuditRow(
                m,
                actual.get(m.port),
                [d.message for d in diff(m.desired.config, actual.get(m.port))],
            )
            for m in managed
        ]
        for r in rows:
            r.fixed = repair and bool(r.drifts)
            if r.fixed:
                _log_push(r)
        return rows

    # ==== audit ===================================================================================

    def audit(self, ctx: RequestContext | None, fix: bool = False) -> AuditResult:
        """Compare each managed port's actual configuration (read from the switch) with its
        desired one; with `fix`, repair it. Drift is recorded as alarms: active while it stays,
        resolved (and logged) when repaired."""
        if ctx is not None:
            policy.enforce(ctx, "fabric:admin")
        result = AuditResult()
        with self.db.transaction() as s:
            switches = list(s.scalars(select(FabricSwitch.id).order_by(FabricSwitch.name)))
        for switch_id in switches:
            try:
                rows = self._converge(switch_id, None, repair=fix)
            except SwitchError as exc:
                result.errors.append(exc.message)
                continue
            result.rows.extend(rows)
            self._record_alarms(rows)
        return result

    def reconcile(self) -> AuditResult:
        """Repair every managed port, as on start; failures are logged, not raised."""
        result = self.audit(None, fix=True)
        for error in result.errors:
            log.warning("fabric reconcile: %s", error)
        return result

    def _record_alarms(self, rows: list[AuditRow]) -> None:
        """Drift that stays replaces the port's active alarms; repaired drift, or a port that
        came right, resolves them, and repaired drift is kept as resolved alarms."""
        now = utcnow()
        with self.db.transaction() as s:
            for r in rows:
                m = r.managed
                active = (
                    FabricAlarm.switch_port_id == m.port_id,
                    FabricAlarm.resolved_at.is_(None),
                    FabricAlarm.kind == DRIFT,
                )
                if r.drifts and not r.fixed:
                    s.execute(delete(FabricAlarm).where(*active))
                else:
                    s.execute(update(FabricAlarm).where(*active).values(resolved_at=now))
                for message in r.drifts:
                    line = f"{m.switch} {m.port} ({m.hostname} {m.ifname}): {message}"
                    if r.fixed:
                        log.warning("fabric drift repaired: %s", line)
                    s.add(
                        FabricAlarm(
                            switch_port_id=m.port_id,
                            kind=DRIFT,
                            message=line,
                            detected_at=now,
                            resolved_at=now if r.fixed else None,
                        )
                    )

    def list_alarms(self, ctx: RequestContext, *, resolved: bool = False) -> list[FabricAlarm]:
        """Active alarms, with `resolved` the resolved ones too."""
        policy.enforce(ctx, "fabric:admin")
        stmt = select(FabricAlarm).order_by(FabricAlarm.detected_at)
        if not resolved:
            stmt = stmt.where(FabricAlarm.resolved_at.is_(None))
        with self.db.transaction() as s:
            alarms = list(s.scalars(stmt))
            for a in alarms:
                _ = a.switch_port.switch.name
            return alarms

    def audit_forever(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                self.audit(None, fix=self.settings.fabric_auto_repair)
            except Exception:  # the loop must survive a bad switch or a busy database
                log.exception("periodic fabric audit failed")

    def encrypt_stored_credentials(self) -> int:
        """Encrypt the passwords an older version stored in clear; how many."""
        with self.db.transaction() as s:
            clear = [
                sw
                for sw in s.scalars(select(FabricSwitch))
                if sw.password and not is_encrypted(sw.password)
            ]
            for sw in clear:
                sw.password = self.credentials.encrypt(sw.password)
            return len(clear)

    def rotate_key(self) -> int:
        """A new credential key: every stored password re-encrypted with it, the old key
        dropped. Workers read the key file at each use, so they follow without a restart."""
        self.credentials.begin_rotation()
        with self.db.transaction() as s:
            switches = list(s.scalars(select(FabricSwitch)))
            for sw in switches:
                sw.password = self.credentials.reencrypt(sw.password)
        self.credentials.end_rotation()
        return len(switches)

    @asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """Before serving: encrypt clear-text credentials, reconcile every managed port. Then
        the periodic audit (off when the interval is 0)."""
        self.encrypt_stored_credentials()
        self.reconcile()
        interval = audit_interval()
        stop = threading.Event()
        thread = None
        if interval > 0:
            thread = threading.Thread(target=self.audit_forever, args=(stop, interval), daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=5)

    # ==== per server: status, trunk, trace =======================================================

    def _server_ports(self, s: Session, server_id: str) -> list[tuple[FabricSwitch, ManagedPort]]:
        """The managed ports cabled to the NICs the server's ports are bound to."""
        bindings = self.sources.nic_bindings(server_id=server_id)
        keyed = {(b.host, b.pci_address): b for b in bindings}
        out = []
        for b in bindings:
            link = s.scalar(
                select(FabricLink).where(
                    FabricLink.hostname == b.host, FabricLink.pci_address == b.pci_address
                )
            )
            if link is None:
                continue
            sw = link.switch_port.switch
            m = next(
                m
                for m in self._managed(s, sw, keyed, [link.hostname])
                if m.port_id == link.switch_port_id
            )
            out.append((sw, m))
        return out

    def _server(self, server_id: str) -> ServerRef:
        server = self.sources.find_server(server_id)
        if server is None:
            raise NotFound(f"Server {server_id} could not be found.")
        return server

    def _visible_server(self, ctx: RequestContext, server_id: str) -> ServerRef:
        """The server if the caller's project owns it (an admin: any); as in Nova, another
        project's server is not found rather than refused, so its existence is not told."""
        server = self._server(server_id)
        if not policy.allowed(ctx, "fabric:server", server.project_id):
            raise NotFound(f"Server {server_id} could not be found.")
        return server

    def server_fabric(self, ctx: RequestContext, server_id: str) -> dict[str, Any]:
        """Where a server's NICs are cabled and what their switch ports should be and are."""
        server = self._visible_server(ctx, server_id)
        with self.db.transaction() as s:
            managed = [(self.driver(sw), m) for sw, m in self._server_ports(s, server.id)]
        actual = _read_switches(managed)
        ports = []
        for _driver, m in managed:
            got = actual.get((m.switch, m.port))
            ports.append(
                {
                    **_managed_json(m),
                    "actual": got.summary() if got else None,
                    "drift": [d.message for d in diff(m.desired.config, got)],
                }
            )
        return {"server_id": server.id, "name": server.name, "ports": ports}

    def set_trunk(
        self, ctx: RequestContext, server_id: str, allowed: Iterable[int] | None
    ) -> dict[str, Any]:
        """Allow (or, with None, remove) a trunk on the switch ports of one server's NICs.
        Every allowed VLAN must belong to a network the server's project may use."""
        policy.enforce(ctx, "fabric:admin")
        vlans = sorted(set(allowed)) if allowed is not None else None
        server = self._server(server_id)
        if vlans is not None:
            if not vlans:
                raise BadRequest("A trunk needs an explicit, non-empty allowed_vlans list.")
            usable = {
                n.segmentation_id
                for n in self.sources.network_records()
                if n.network_type == "vlan" and (n.project_id == server.project_id or n.shared)
            }
            foreign = [v for v in vlans if v not in usable]
            if foreign:
                raise BadRequest(
                    f"VLANs {format_vlan_list(foreign)} belong to no network project "
                    f"{server.project_id} may use: refused on a trunk."
                )
        with self.db.transaction() as s:
            ports = self._server_ports(s, server.id)
            if not ports:
                raise Conflict(f"Server {server.name} has no NIC cabled to a managed switch port.")
            for _sw, m in ports:
                sp = s.get(FabricSwitchPort, m.port_id)
                assert sp is not None
                sp.trunk_server_id = server.id if vlans is not None else None
                sp.trunk_vlans = format_vlan_list(vlans) if vlans is not None else ""
            hosts = sorted({m.hostname for _sw, m in ports})
        self.provision(hosts)
        result = self.server_fabric(ctx, server.id)
        if vlans is not None:
            result["warning"] = TRUNK_WARNING.format(vlans=format_vlan_list(vlans))
        return result

    def trace(self, ctx: RequestContext, server_id: str, tag: int | None = None) -> dict[str, Any]:
        """Where a frame from each of the server's NICs goes, from the switch's actual config."""
        server = self._visible_server(ctx, server_id)
        with self.db.transaction() as s:
            plan = [self._trace_plan(sw, m) for sw, m in self._server_ports(s, server.id)]
        return {"server_id": server.id, "name": server.name, "traces": self._traces(ctx, plan, tag)}

    def trace_port(
        self, ctx: RequestContext, ref: str, port: str, tag: int | None = None
    ) -> dict[str, Any]:
        """Where a frame from the NIC cabled to one switch port goes, whatever that NIC's state:
        a free NIC's port should drop everything, but a drifted one may carry a network."""
        policy.enforce(ctx, "fabric:admin")
        bindings = self._bindings(None)
        with self.db.transaction() as s:
            sw = self._switch(s, ref)
            m = next((m for m in self._managed(s, sw, bindings) if m.port == port), None)
            if m is None:
                raise NotFound(f"Port {port} of switch {sw.name} is cabled to no NIC.")
            plan = [self._trace_plan(sw, m)]
        return {"port": _managed_json(m), "traces": self._traces(ctx, plan, tag)}

    def _trace_plan(self, sw: FabricSwitch, m: ManagedPort) -> TracePlan:
        """What tracing from `m` needs once the transaction is over."""
        return sw.name, self.driver(sw), [p.name for p in sw.ports], m

    def _traces(
        self, ctx: RequestContext, plan: list[TracePlan], tag: int | None
    ) -> list[dict[str, Any]]:
        """Each port's actual config and drift, and where a frame from its NIC goes. A member
        is not told the names of other projects' networks."""
        networks = {
            n.segmentation_id: n for n in self.sources.network_records() if n.segmentation_id
        }
        projects = self.sources.project_names()
        # One read per switch, of all its ports (the trace follows the frame across them).
        switch_configs: dict[str, dict[str, PortConfig]] = {}
        for name, driver, names, _m in plan:
            if name not in switch_configs:
                switch_configs[name] = driver.read(names)
        traces = []
        for name, _driver, _names, m in plan:
            actual = switch_configs[name]
            config = actual.get(m.port)
            mac = bytes.fromhex(m.desired.mac.replace(":", "") or "020000000001")
            frame = _frame(mac, tag)
            kind = "untagged frame" if tag is None else f"frame tagged VLAN {tag}"
            entry: dict[str, Any] = {
                "switch": name,
                "port": m.port,
                "host": m.hostname,
                "nic": m.ifname,
                "tag": tag,
                "actual": config.summary() if config else None,
                "drift": [d.message for d in diff(m.desired.config, config)],
                "crosses_network": False,
            }
            if config is None:
                entry.update(
                    vlan=None,
                    network=None,
                    dropped=True,
                    summary=f"{kind} enters {name} {m.port}: port not found on the switch",
                    steps=[],
                )
                traces.append(entry)
                continue
            ingress = classify_ingress(frame, config)
            soft = SoftSwitch(actual, MacTable(aging=None))
            steps = soft.explain(m.port, frame)
            head = f"{kind} enters {name} {m.port} ({config.summary()})"
            if ingress.vlan is None:
                entry.update(
                    vlan=None,
                    network=None,
                    dropped=True,
                    summary=f"{head} → dropped: {ingress.reason}",
                    steps=steps,
                )
            else:
                net = networks.get(ingress.vlan)
                crosses = net is None or net.id != m.desired.network_id
                if net is not None and not (net.shared or ctx.owns(net.project_id)):
                    where, net = "a network of another project", None
                elif net is not None:
                    project = projects.get(net.project_id, net.project_id)
                    where = f"{net.name or net.id} ({project})"
                else:
                    where = "no network of this cloud"
                summary = f"{head} → VLAN {ingress.vlan} → {where}"
                if m.desired.network_id is None:
                    summary += " — but no port is bound to this NIC: it should carry no network"
                elif crosses:
                    summary += " — crosses into another network than the server's port"
                entry.update(
                    vlan=ingress.vlan,
                    network=net.name if net else None,
                    network_id=net.id if net else None,
                    project=projects.get(net.project_id, net.project_id) if net else None,
                    dropped=False,
                    crosses_network=crosses,
                    summary=summary,
                    steps=steps,
                )
            traces.append(entry)
        return traces

    # ==== report ==================================================================================

    def report(self, ctx: RequestContext) -> dict[str, Any]:
        """Which servers share an L2 segment (VLAN), from the switches' actual configuration;
        a server whose port reaches a VLAN of another project is flagged."""
        policy.enforce(ctx, "fabric:admin")
        segments: dict[int, list[str]] = {}
        servers_out = []
        nets = {n.segmentation_id: n for n in self.sources.network_records() if n.segmentation_id}
        bindings = self._bindings(None)
        held: dict[str, list[tuple[SwitchDriver, ManagedPort]]] = {}
        with self.db.transaction() as s:
            for sw in s.scalars(select(FabricSwitch).order_by(FabricSwitch.name)):
                driver: SwitchDriver | None = None
                for m in self._managed(s, sw, bindings):
                    if m.desired.server_id:
                        driver = driver or self.driver(sw)
                        held.setdefault(m.desired.server_id, []).append((driver, m))
        refs = self.sources.servers(list(held))
        servers = sorted((refs[sid], pairs) for sid, pairs in held.items() if sid in refs)
        actual = _read_switches([pair for _server, pairs in servers for pair in pairs])
        for server, pairs in servers:
            reach: set[int] = set()
            for _driver, m in pairs:
                cfg = actual.get((m.switch, m.port))
                if cfg is None or not cfg.admin_up:
                    continue
                reach |= (
                    {cfg.access_vlan}
                    if cfg.mode == "access" and cfg.access_vlan
                    else set(cfg.allowed_vlans)
                    if cfg.mode == "trunk"
                    else set()
                )
            if not reach:
                continue
            foreign = sorted(
                v
                for v in reach
                if v in nets and nets[v].project_id != server.project_id and not nets[v].shared
            )
            for v in reach:
                segments.setdefault(v, []).append(server.name)
            servers_out.append(
                {
                    "server_id": server.id,
                    "name": server.name,
                    "project_id": server.project_id,
                    "vlans": sorted(reach),
                    "flagged": bool(foreign),
                    "foreign_vlans": foreign,
                }
            )
        return {
            "servers": servers_out,
            "segments": [
                {
                    "vlan": v,
                    "network": nets[v].name if v in nets else None,
                    "servers": sorted(names),
                }
                for v, names in sorted(segments.items())
            ],
        }

    # ==== helpers =================================================================================

    def _switch(self, s: Session, ref: str) -> FabricSwitch:
        sw = s.scalar(
            select(FabricSwitch).where(or_(FabricSwitch.id == ref, FabricSwitch.name == ref))
        )
        if sw is None:
            raise NotFound(f"Switch {ref} could not be found.")
        return sw

    def _loaded(self, s: Session, switch_id: str) -> FabricSwitch:
        sw = s.get(FabricSwitch, switch_id)
        assert sw is not None
        _ = list(sw.ports)
        return sw


def _raise_alarm(s: Session, switch_port_id: str, kind: str, message: str) -> None:
    """An active alarm, once: the same one still active is not repeated."""
    same = s.scalar(
        select(FabricAlarm).where(
            FabricAlarm.switch_port_id == switch_port_id,
            FabricAlarm.kind == kind,
            FabricAlarm.message == message,
            FabricAlarm.resolved_at.is_(None),
        )
    )
    if same is None:
        s.add(FabricAlarm(switch_port_id=switch_port_id, kind=kind, message=message))


def _resolve_alarms(s: Session, switch_port_id: str, *kinds: str) -> None:
    s.execute(
        update(FabricAlarm)
        .where(
            FabricAlarm.switch_port_id == switch_port_id,
            FabricAlarm.kind.in_(kinds),
            FabricAlarm.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow())
    )


def _log_push(row: AuditRow) -> None:
    m, desired = row.managed, row.managed.desired
    log_event(
        log,
        "switch_push",
        switch=m.switch,
        port=m.port,
        host=m.hostname,
        nic=m.ifname,
        status=desired.status,
        vlan=desired.vlan,
        server_id=desired.server_id,
        changes="; ".join(row.drifts),
    )


def _desired(sw: FabricSwitch, sp: FabricSwitchPort, binding: NicBinding | None) -> Desired:
    """What the port cabled to a NIC should be, given the port bound to that NIC (if any)."""
    quarantine = PortConfig.quarantine(sw.quarantine_vlan)
    if binding is None:
        return Desired(
            quarantine,
            "quarantined",
            "no port is bound to the NIC: it carries no network",
        )
    server_id = binding.server_id or None
    vlan = binding.segmentation_id if binding.network_type == "vlan" else None
    if vlan is None:
        vlan = sw.native_vlan
    network = binding.network_name or binding.network_id
    if server_id is not None and sp.trunk_server_id == server_id and sp.trunk_vlans:
        allowed = parse_vlan_list(sp.trunk_vlans)
        return Desired(
            PortConfig.trunk(vlan, allowed),
            "trunk",
            f"trunk exception for server {server_id}: "
            + TRUNK_WARNING.format(vlans=format_vlan_list(allowed)),
            server_id,
            binding.network_id,
            vlan,
            binding.mac,
        )
    return Desired(
        PortConfig.access(vlan),
        "bound",
        f"bound to {network} (VLAN {vlan})",
        server_id,
        binding.network_id,
        vlan,
        binding.mac,
    )


def _read_switches(
    managed: Iterable[tuple[SwitchDriver, ManagedPort]],
) -> dict[tuple[str, str], PortConfig]:
    """The actual configuration of these ports by (switch, port): one read per switch."""
    wanted: dict[str, tuple[SwitchDriver, set[str]]] = {}
    for driver, m in managed:
        wanted.setdefault(m.switch, (driver, set()))[1].add(m.port)
    return {
        (switch, port): config
        for switch, (driver, ports) in wanted.items()
        for port, config in driver.read(sorted(ports)).items()
    }


def _loaded_link(link: FabricLink) -> FabricLink:
    _ = link.switch_port.switch.name
    return link


def _frame(src: bytes, tag: int | None) -> bytes:
    dst = b"\xff" * 6
    body = b"\x08\x00" + bytes(46)
    if tag is None:
        return dst + src + body
    return dst + src + b"\x81\x00" + tag.to_bytes(2, "big") + body


def _managed_json(m: ManagedPort) -> dict[str, Any]:
    return {
        "switch": m.switch,
        "port": m.port,
        "host": m.hostname,
        "nic": m.ifname,
        "pci_address": m.pci_address,
        "desired": m.desired.config.summary(),
        "status": m.desired.status,
        "reason": m.desired.reason,
        "server_id": m.desired.server_id,
        "vlan": m.desired.vlan,
    }
