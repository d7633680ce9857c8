"""Fabric commands: the access switches, their ports, the cabling from host NICs, the audit,
alarms, trace and the L2 report, over ``/fabric/v1`` (the admin's; a member may trace their own
project's servers); and, on the controller's machine, the rotation of the key that encrypts
switch credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from passnic.cli.client import CliError
from passnic.cli.output import (
    ColumnOption,
    FormatOption,
    OutputFormat,
    fields,
    print_list,
    print_show,
)
from passnic.cli.state import get_client

SERVICE = "fabric"
SWITCH_FIELDS = fields(
    "id",
    "name",
    "driver",
    "address",
    "username",
    "password_set",
    "save_config",
    "native_vlan",
    "quarantine_vlan",
    ("ports", lambda sw: [p["name"] for p in sw.get("ports") or []]),
    "created_at",
    "updated_at",
)
PORT_FIELDS = fields("name", "role", "host", "nic", "status", "desired", "actual", "reason")
LINK_FIELDS = fields("host", "nic", "pci_address", "switch", "switch_port", "source")
AUDIT_FIELDS = fields(
    "switch", "port", "host", "nic", "status", "desired", "actual",
    ("drift", lambda r: "; ".join(r.get("drift") or []) or "ok"),
    "fixed",
)  # fmt: skip
ALARM_FIELDS = fields("id", "kind", "switch", "port", "message", "detected_at", "resolved_at")
SwitchArg = Annotated[str, typer.Argument(metavar="<switch>", help="Name or id of the switch")]


def _q(text: str) -> str:
    return quote(text, safe="")


def switch_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="<name>")],
    driver: Annotated[
        str,
        typer.Option(
            "--driver",
            help="cisco_ios, arista_eos, juniper_junos, dell_os10, sonic; soft: a test switch",
        ),
    ],
    address: Annotated[str, typer.Option("--address", help="Management address[:port]")] = "",
    username: Annotated[str, typer.Option("--username")] = "",
    password: Annotated[str, typer.Option("--password", envvar="PASSNIC_SWITCH_PASSWORD")] = "",
    port: Annotated[list[str] | None, typer.Option("--port", help="Host port; repeat")] = None,
    uplink: Annotated[list[str] | None, typer.Option("--uplink", help="Uplink; repeat")] = None,
    native_vlan: Annotated[int, typer.Option("--native-vlan", help="VLAN of flat networks")] = 1,
    quarantine_vlan: Annotated[
        int | None, typer.Option("--quarantine-vlan", help="Park quarantined ports here")
    ] = None,
    save_config: Annotated[
        bool,
        typer.Option("--save-config/--no-save-config", help="Save the config after changes"),
    ] = True,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Add an access switch (the password is stored encrypted, never shown)."""
    body = {
        "switch": {
            "name": name,
            "driver": driver,
            "address": address,
            "username": username,
            "password": password,
            "ports": port or [],
            "uplinks": uplink or [],
            "native_vlan": native_vlan,
            "quarantine_vlan": quarantine_vlan,
            "save_config": save_config,
        }
    }
    sw = get_client(ctx).post(SERVICE, "/v1/switches", json=body)["switch"]
    print_show(sw, SWITCH_FIELDS, fmt, column)


def switch_list(
    ctx: typer.Context, fmt: FormatOption = OutputFormat.table, column: ColumnOption = None
) -> None:
    """List access switches."""
    switches = get_client(ctx).get(SERVICE, "/v1/switches")["switches"]
    print_list(switches, SWITCH_FIELDS[:4], fmt, column)


def switch_show(
    ctx: typer.Context,
    switch: SwitchArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Show an access switch."""
    sw = get_client(ctx).get(SERVICE, f"/v1/switches/{_q(switch)}")["switch"]
    print_show(sw, SWITCH_FIELDS, fmt, column)


def switch_delete(ctx: typer.Context, switch: SwitchArg) -> None:
    """Delete an access switch, its ports and their cabling."""
    get_client(ctx).delete(SERVICE, f"/v1/switches/{_q(switch)}")
    typer.echo(f"Deleted switch: {switch}")


def switch_port_list(
    ctx: typer.Context,
    switch: SwitchArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """List a switch's ports: cabling, desired and actual (read from the switch) config."""
    ports = get_client(ctx).get(SERVICE, f"/v1/switches/{_q(switch)}/ports")["ports"]
    print_list(ports, PORT_FIELDS, fmt, column)


def link_set(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(metavar="<host>")],
    nic: Annotated[str, typer.Argument(metavar="<nic>")],
    switch: SwitchArg,
    switch_port: Annotated[str, typer.Argument(metavar="<switch-port>")],
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Record that a host NIC is cabled to a switch port (wins over LLDP)."""
    body = {"link": {"host": host, "nic": nic, "switch": switch, "switch_port": switch_port}}
    link = get_client(ctx).put(SERVICE, "/v1/links", json=body)["link"]
    print_show(link, LINK_FIELDS, fmt, column)


def link_list(
    ctx: typer.Context, fmt: FormatOption = OutputFormat.table, column: ColumnOption = None
) -> None:
    """List the cabling from host NICs to switch ports."""
    print_list(get_client(ctx).get(SERVICE, "/v1/links")["links"], LINK_FIELDS, fmt, column)


def fabric_audit(
    ctx: typer.Context,
    fix: Annotated[bool, typer.Option("--fix", help="Repair the drift found")] = False,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Compare each managed switch port (read from the switch) with what Passnic wants."""
    result = get_client(ctx).post(SERVICE, "/v1/audit", json={"fix": fix})
    print_list(result["ports"], AUDIT_FIELDS, fmt, column)
    for error in result.get("errors") or []:
        typer.echo(f"error: {error}", err=True)
    drifted = [r for r in result["ports"] if r["drift"] and not r["fixed"]]
    if fmt is OutputFormat.table:
        fixed = sum(1 for r in result["ports"] if r["fixed"])
        typer.echo(f"{len(drifted)} port(s) drifted" + (f", {fixed} fixed" if fix else ""))
    if drifted or result.get("errors"):
        raise typer.Exit(2)


def alarm_list(
    ctx: typer.Context,
    resolved: Annotated[
        bool, typer.Option("--resolved", help="Also resolved alarms (drift repaired)")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """List active fabric alarms: drift the audit could not repair, LLDP against the cabling."""
    path = "/v1/alarms?resolved=true" if resolved else "/v1/alarms"
    print_list(get_client(ctx).get(SERVICE, path)["alarms"], ALARM_FIELDS, fmt, column)


def switch_key_rotate(
    home: Annotated[
        Path | None, typer.Option(help="State directory (default $PASSNIC_HOME).")
    ] = None,
    database_url: Annotated[
        str,
        typer.Option(envvar="PASSNIC_DATABASE_URL", help="SQLAlchemy URL; default SQLite."),
    ] = "",
) -> None:
    """Re-encrypt every switch credential with a new key (run on the controller's machine;
    running workers follow without a restart)."""
    from passnic.cloud import Cloud
    from passnic.config import Settings, default_home

    settings = Settings(home=(home or default_home()).expanduser(), database_url=database_url)
    cloud = Cloud(settings)
    try:
        count = cloud.fabric.rotate_key()
    finally:
        cloud.close()
    typer.echo(f"Re-encrypted the credentials of {count} switch(es) with a new key.")


def trace(
    ctx: typer.Context,
    server: Annotated[str, typer.Argument(metavar="<server>", help="Name or id")],
    tag: Annotated[int | None, typer.Option("--tag", help="Send the frame tagged VLAN")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Every switch step")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Explain where a frame from the server's passthrough NIC goes."""
    query = "" if tag is None else f"?tag={tag}"
    result = get_client(ctx).get(SERVICE, f"/v1/servers/{_q(server)}/trace{query}")
    if fmt is not OutputFormat.table:
        print_show(result, fields("server_id", "name", "traces"), fmt)
        return
    if not result["traces"]:
        raise CliError(f"Server {server} has no NIC cabled to a managed switch port.")
    for t in result["traces"]:
        typer.echo(t["summary"])
        if verbose:
            for step in t.get("steps") or []:
                typer.echo(f"    {step}")


def fabric_report(ctx: typer.Context, fmt: FormatOption = OutputFormat.table) -> None:
    """Which servers share an L2 segment; servers reaching another project's VLAN flagged."""
    result = get_client(ctx).get(SERVICE, "/v1/report")
    if fmt is not OutputFormat.table:
        print_show(result, fields("segments", "servers"), fmt)
        return
    print_list(result["segments"], fields("vlan", "network", "servers"), fmt)
    flagged = [s for s in result["servers"] if s["flagged"]]
    for s in flagged:
        vlans = ",".join(str(v) for v in s["foreign_vlans"])
        typer.echo(f"FLAGGED: {s['name']} reaches VLAN {vlans} of another project")


def register(app: typer.Typer) -> None:
    for command in (
        switch_add,
        switch_list,
        switch_show,
        switch_delete,
        switch_port_list,
        link_set,
        link_list,
        fabric_audit,
        alarm_list,
        switch_key_rotate,
        trace,
        fabric_report,
    ):
        app.command(command.__name__.replace("_", "-"))(command)
