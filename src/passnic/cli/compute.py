"""PCI alias commands: StarlingX keeps aliases in Nova's configuration; Passnic serves them
from the compute API (``/os-pci-aliases``) so an admin manages them like any resource."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from passnic.cli.output import (
    ColumnOption,
    FormatOption,
    OutputFormat,
    fields,
    print_list,
    print_show,
)
from passnic.cli.state import get_client

SERVICE = "compute"
ALIASES = "/os-pci-aliases"
ALIAS_FIELDS = fields(
    "name", "vendor_id", "product_id", "device_type", "numa_policy", "created_at", "updated_at"
)
NameArg = Annotated[str, typer.Argument(metavar="<alias name>", help="Name of the PCI alias")]


def pci_alias_create(
    ctx: typer.Context,
    name: NameArg,
    vendor_id: Annotated[str, typer.Option("--vendor-id", help="PCI vendor id, e.g. 8086")],
    product_id: Annotated[str, typer.Option("--product-id", help="PCI device id, e.g. 10d3")],
    device_type: Annotated[
        str, typer.Option("--device-type", help="type-PCI, type-PF or type-VF")
    ] = "type-PCI",
    numa_policy: Annotated[
        str, typer.Option("--numa-policy", help="required, preferred, legacy or socket")
    ] = "legacy",
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Define a PCI alias that flavors name in pci_passthrough:alias."""
    body = {
        "pci_alias": {
            "name": name,
            "vendor_id": vendor_id,
            "product_id": product_id,
            "device_type": device_type,
            "numa_policy": numa_policy,
        }
    }
    alias = get_client(ctx).post(SERVICE, ALIASES, json=body)["pci_alias"]
    print_show(alias, ALIAS_FIELDS, fmt, column)


def pci_alias_list(
    ctx: typer.Context, fmt: FormatOption = OutputFormat.table, column: ColumnOption = None
) -> None:
    """List PCI aliases."""
    aliases = get_client(ctx).get(SERVICE, ALIASES)["pci_aliases"]
    print_list(sorted(aliases, key=lambda a: a["name"]), ALIAS_FIELDS[:5], fmt, column)


def pci_alias_show(
    ctx: typer.Context,
    name: NameArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Show a PCI alias."""
    alias = get_client(ctx).get(SERVICE, f"{ALIASES}/{quote(name, safe='')}")["pci_alias"]
    print_show(alias, ALIAS_FIELDS, fmt, column)


def pci_alias_delete(ctx: typer.Context, name: NameArg) -> None:
    """Delete a PCI alias (refused while a flavor names it)."""
    get_client(ctx).delete(SERVICE, f"{ALIASES}/{quote(name, safe='')}")
    typer.echo(f"Deleted PCI alias: {name}")


def register(app: typer.Typer) -> None:
    for command in (pci_alias_create, pci_alias_list, pci_alias_show, pci_alias_delete):
        app.command(command.__name__.replace("_", "-"))(command)
