"""``passnic agent``: run discovery on this host, print it, and optionally report it.

Mounted by the main CLI as ``passnic agent``. Reporting authenticates through the main CLI's
``passnic.cli.client.CloudClient`` (clouds.yaml / OS_* variables), imported only when
``--report`` is given so discovery works on a host with nothing but the agent installed.
Everything else heavy (httpx, rich, yaml, discovery and its pydantic models) is imported by the
command that uses it, so the ``passnic`` CLI starts fast.
"""

from __future__ import annotations

import importlib
import json
import socket
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, cast

import typer

from passnic.agent import REAL_SYSFS
from passnic.errors import PassnicError

if TYPE_CHECKING:
    from rich.table import Table

    from passnic.inventory.report import HostReport

#: The catalog service type under which the inventory (sysinv) API is registered.
INVENTORY_SERVICE_TYPE = "platform"
PIPED_TABLE_WIDTH = 200

agent_app = typer.Typer(help="Host agent", no_args_is_help=True, rich_markup_mode=None)


class OutputFormat(StrEnum):
    json = "json"
    yaml = "yaml"
    table = "table"


class PersonalityChoice(StrEnum):
    controller = "controller"
    worker = "worker"
    storage = "storage"


class _CloudSession(Protocol):
    """What the agent needs from ``passnic.cli.client.CloudClient``."""

    @property
    def token(self) -> str: ...

    def endpoint(self, service_type: str) -> str: ...


@agent_app.callback()
def _agent() -> None:
    """Host agent: discover this host's NICs and report them to the controller."""


@agent_app.command("config")
def write_config(
    ctx: typer.Context,
    hostname: Annotated[str, typer.Argument(help="The compute host the agent runs on")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the config (created 0600)")
    ],
    driver: Annotated[str, typer.Option(help="Hypervisor driver: fake, lab, libvirt")] = "fake",
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="The agent's state directory on the host")
    ] = Path("/var/lib/passnic-agent"),
    sysfs_root: Annotated[
        Path, typer.Option("--sysfs-root", help="sysfs to report (a fake tree for test hosts)")
    ] = REAL_SYSFS,
    os_cloud: Annotated[
        str | None,
        typer.Option("--os-cloud", envvar="OS_CLOUD", help="The admin's clouds.yaml entry"),
    ] = None,
) -> None:
    """(admin) Create HOSTNAME's agent credential and write the agent's config file: copy it
    to the host and run `passnic agent run --config FILE` there. A new credential replaces
    the host's old one."""
    from passnic.agent.config import AgentConfig
    from passnic.cli.client import CliError, CloudClient
    from passnic.cli.state import State

    # `passnic --os-cloud X agent config ...` names the cloud before the sub-command
    root = ctx.find_object(State)
    cloud = os_cloud or (root.cloud_name if root is not None else None)
    try:
        with CloudClient.from_environment(cloud) as client:
            cred = client.post("host-agent", f"/v1/hosts/{hostname}/credential")
    except CliError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    AgentConfig(
        hostname=hostname,
        auth_url=cred["auth_url"],
        username=cred["username"],
        password=cred["password"],
        project_name=cred["project_name"],
        driver=driver,
        state_dir=state_dir,
        sysfs_root=sysfs_root,
    ).write(output)
    typer.echo(f"wrote {output} for the agent of {hostname} (user {cred['username']})", err=True)


@agent_app.command()
def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The agent's configuration file (YAML)")
    ],
    hostname: Annotated[str | None, typer.Option(help="Overrides the config's hostname")] = None,
    controller_url: Annotated[
        str | None, typer.Option("--controller-url", help="Overrides the controller's URL")
    ] = None,
    driver: Annotated[str | None, typer.Option(help="Overrides the config's driver")] = None,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Overrides the state directory")
    ] = None,
) -> None:
    """Run this host's agent until SIGTERM/SIGINT: report the inventory, then keep the
    hypervisor converged to what the controller wants, heartbeating all along. It connects
    out to the controller; the host needs no listening port."""
    import logging
    import signal
    import threading

    import httpx

    from passnic.agent.config import AgentConfig
    from passnic.agent.discovery import discover_host
    from passnic.agent.drivers import load_driver
    from passnic.agent.host import (
        HTTP_TIMEOUT_SECONDS,
        ControllerClient,
        HostAgent,
    )
    from passnic.agent.lldp import host_neighbours

    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long-poll is noise
    overrides = {
        "hostname": hostname,
        "controller_url": controller_url,
        "driver": driver,
        "state_dir": state_dir,
    }
    cfg = AgentConfig.load(config).model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    cfg.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stop = threading.Event()
    agent: HostAgent | None = None

    def on_signal(_signum: int, _frame: object) -> None:
        """Stop after the current round; at once when only waiting for work (the
        hypervisor is never left half-changed, and the guests live on either way)."""
        stop.set()
        if agent is not None and agent.waiting:
            raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    def inventory() -> HostReport:
        return discover_host(cfg.hostname, sysfs_root=cfg.sysfs_root)

    with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as http:
        client = ControllerClient(http, cfg.controller, cfg.login())
        # the driver fetches the images its guests boot through Glance with the agent's token
        hypervisor = load_driver(
            cfg.driver, cfg.hostname, cfg.state_dir, cfg.driver_options, client.images()
        )
        # the NICs' LLDP neighbours: the driver's when it hears them itself (a lab host's NICs
        # live in its namespace; the fake driver reads a file), else the host's interfaces:
        # each NIC's own, or the one the driver names for it (the libvirt lab form)
        heard_on: dict[str, str] = getattr(hypervisor, "host_interfaces", dict)()
        lldp = getattr(hypervisor, "lldp_neighbours", None) or host_neighbours(
            {p.name: heard_on.get(p.pciaddr, p.name) for p in inventory().ports}
        )
        agent = HostAgent(
            cfg.hostname,
            hypervisor,
            client,
            state_dir=cfg.state_dir,
            inventory=inventory,
            lldp=lldp,
        )
        agent.run(stop)


@agent_app.command()
def discover(
    hostname: Annotated[
        str | None,
        typer.Option(help="Host name to report [default: this machine's host name]"),
    ] = None,
    sysfs_root: Annotated[
        Path, typer.Option("--sysfs-root", help="sysfs to read (a fake tree for test hosts)")
    ] = REAL_SYSFS,
    personality: Annotated[
        PersonalityChoice, typer.Option(help="Host personality")
    ] = PersonalityChoice.worker,
    pci_ids: Annotated[
        Path | None,
        typer.Option("--pci-ids", help="pci.ids database [default: the system's]"),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Send the result to the controller's inventory")
    ] = False,
    os_cloud: Annotated[
        str | None,
        typer.Option("--os-cloud", envvar="OS_CLOUD", help="clouds.yaml entry for --report"),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("-f", "--format", help="Output format")
    ] = OutputFormat.json,
) -> None:
    """Discover this host's Ethernet ports (VFs excluded) and print them."""
    from passnic.agent.discovery import discover_host
    from passnic.agent.pciids import PciIds

    if not (sysfs_root / "bus" / "pci" / "devices").is_dir():
        # A mistyped root would otherwise report a host with no ports, and --report would file it.
        raise typer.BadParameter(
            f"{sysfs_root} has no bus/pci/devices; is it a sysfs tree?", param_hint="--sysfs-root"
        )
    host_report = discover_host(
        hostname or socket.gethostname(),
        sysfs_root=sysfs_root,
        pci_ids=PciIds(pci_ids) if pci_ids is not None else None,
        personality=personality.value,
    )
    _print(host_report, output_format)
    if report:
        url, host = _report(host_report, os_cloud)
        typer.echo(
            f"reported {len(host_report.ports)} port(s) of host "
            f"{host.get('hostname', host_report.hostname)} to {url}",
            err=True,
        )


def _report(host_report: HostReport, os_cloud: str | None) -> tuple[str, dict[str, Any]]:
    """Authenticate with the main CLI's client and post the report; failures exit 1.

    The client module is imported here, not at the top, so discovery works on a host that has
    only the agent. Its ``CliError`` is caught alongside ours so the operator sees one line,
    and its HTTP session is reused so clouds.yaml TLS settings (cacert, insecure) apply.
    """
    import httpx

    from passnic.agent.reporter import report_to_controller

    try:
        module = importlib.import_module("passnic.cli.client")
    except ImportError as exc:
        typer.echo(
            f"error: --report needs passnic.cli.client, which is unavailable: {exc}", err=True
        )
        raise typer.Exit(1) from exc
    failures: tuple[type[Exception], ...] = (PassnicError,)
    cli_error = getattr(module, "CliError", None)
    if isinstance(cli_error, type) and issubclass(cli_error, Exception):
        failures = (PassnicError, cli_error)
    try:
        session = cast(_CloudSession, module.CloudClient.from_environment(os_cloud))
        try:
            url = session.endpoint(INVENTORY_SERVICE_TYPE)
            http = getattr(session, "http", None)
            host = report_to_controller(
                host_report,
                url,
                session.token,
                client=http if isinstance(http, httpx.Client) else None,
            )
        finally:
            close = getattr(session, "close", None)
            if callable(close):
                close()
    except failures as exc:
        typer.echo(f"error: {getattr(exc, 'message', None) or exc}", err=True)
        raise typer.Exit(1) from exc
    return url, host


def _print(report: HostReport, output_format: OutputFormat) -> None:
    import yaml
    from rich.console import Console

    data = report.model_dump(mode="json")
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2))
    elif output_format is OutputFormat.yaml:
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip("\n"))
    else:
        console = Console()
        if not console.is_terminal:  # piped or captured: no width to fit, so don't squeeze
            console = Console(width=PIPED_TABLE_WIDTH)
        console.print(ports_table(report))


def ports_table(report: HostReport) -> Table:
    """The ports as an operator reads them (the ``host-port-list`` columns plus SR-IOV)."""
    from rich.table import Table

    table = Table(
        title=(
            f"{report.hostname} ({report.personality}): {report.vcpus} vCPUs, "
            f"{report.memory_mb} MiB, NUMA nodes {report.numa_nodes}"
        )
    )
    # Identity columns never shrink (an operator copies them into system commands); the
    # descriptive ones come last and wrap instead.
    width = max([len(p.name) for p in report.ports] + [4])
    table.add_column("name", no_wrap=True, min_width=width)
    table.add_column("pciaddr", no_wrap=True, min_width=12)
    table.add_column("numa", justify="right")
    table.add_column("sriov_totalvfs", justify="right")
    table.add_column("driver")
    table.add_column("mac", no_wrap=True, min_width=17)
    table.add_column("mtu", justify="right")
    table.add_column("speed", justify="right")
    table.add_column("pvendor")
    table.add_column("pdevice")
    for port in report.ports:
        table.add_row(
            port.name,
            port.pciaddr,
            str(port.numa_node),
            str(port.sriov_totalvfs),
            port.driver or "",
            port.mac,
            str(port.mtu),
            str(port.speed) if port.speed is not None else "",
            port.pvendor,
            port.pdevice,
        )
    return table
