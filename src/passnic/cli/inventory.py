"""The StarlingX ``system`` inventory commands, over Passnic's sysinv-shaped REST API.

Names, arguments, column labels and row labels follow cgts-client (research §3), so the
StarlingX procedure reads the same with ``passnic`` in place of ``system``. Plain list and show
commands are generated from the tables below; only commands with real logic are written out.

Paths are written with their API version (``/v1/...``) relative to the ``platform`` catalog
URL; see ``client.join_url``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

import typer

from passnic.cli.client import CliError, CloudClient
from passnic.cli.output import (
    ColumnOption,
    Field,
    FormatOption,
    LongFormatOption,
    OutputFormat,
    fields,
    print_list,
    print_show,
    sort_key,
)
from passnic.cli.state import get_client

SERVICE = "platform"
Obj = dict[str, Any]

HostArg = Annotated[
    str, typer.Argument(metavar="<hostname or id>", help="Name, id or UUID of host")
]
IfArg = Annotated[
    str, typer.Argument(metavar="<interface name or uuid>", help="Name or UUID of interface")
]
DatanetArg = Annotated[
    str, typer.Argument(metavar="<datanetwork name or uuid>", help="Name, UUID or id")
]
IfdnArg = Annotated[
    str, typer.Argument(metavar="<interface datanetwork uuid>", help="UUID of the assignment")
]


# ---- finding things ----------------------------------------------------------------------


def _items(body: Any, key: str) -> list[Obj]:
    if isinstance(body, dict):
        body = body.get(key, [])
    return [i for i in body or [] if isinstance(i, dict)]


def _all_items(client: CloudClient, collection: str) -> list[Obj]:
    """Every item of ``/v1/{collection}``, page after page: a page holds at most the server's
    maximum, and a ``next`` address says more follow."""
    body = client.get(SERVICE, f"/v1/{collection}")
    items = _items(body, collection)
    while isinstance(body, dict) and body.get("next") and items:
        marker = quote(str(items[-1].get("uuid", "")), safe="")
        body = client.get(SERVICE, f"/v1/{collection}?marker={marker}")
        page = _items(body, collection)
        if not page:
            break
        items += page
    return items


def _match(items: Sequence[Obj], ident: str, keys: Sequence[str]) -> Obj | None:
    for item in items:
        if any(str(item.get(k)) == ident for k in keys if item.get(k) is not None):
            return item
    return None


def _find_top(
    client: CloudClient, collection: str, ident: str, keys: Sequence[str], missing: str
) -> Obj:
    """GET /v1/{collection}/{ident}, which Passnic resolves by name, id or uuid; a list scan is
    the fallback for servers that resolve only some. ``missing`` is the error when neither
    finds it."""
    try:
        return dict(client.get(SERVICE, f"/v1/{collection}/{quote(ident, safe='')}"))
    except CliError as exc:
        if exc.status not in (400, 404):
            raise
    found = _match(_all_items(client, collection), ident, keys)
    if found is None:
        raise CliError(missing)
    return found


def find_host(client: CloudClient, ident: str) -> Obj:
    return _find_top(client, "ihosts", ident, _HOST_KEYS, f"host not found: {ident}")


def find_datanetwork(client: CloudClient, ident: str) -> Obj:
    keys = ("name", "uuid", "id")
    return _find_top(client, "datanetworks", ident, keys, f"DataNetwork not found: {ident}")


_HOST_KEYS = ("hostname", "uuid", "id")


def host_collection(client: CloudClient, host: Mapping[str, Any], collection: str) -> list[Obj]:
    return _items(client.get(SERVICE, f"/v1/ihosts/{host['uuid']}/{collection}"), collection)


@dataclass(frozen=True)
class HostChild:
    """Something a host has, listed under /v1/ihosts/{host}/{collection}; operators name it by
    name or uuid, which only the host's list can resolve (names are unique per host)."""

    collection: str
    noun: str
    name_key: str = "name"

    def find(self, client: CloudClient, host: Mapping[str, Any], ident: str) -> Obj:
        items = host_collection(client, host, self.collection)
        found = _match(items, ident, (self.name_key, "uuid"))
        if found is None:
            kind = self.noun.lower()
            raise CliError(f"{self.noun} not found: host {host.get('hostname')} {kind} {ident}")
        return found


PORTS = HostChild("ports", "Port")
ETHERNET_PORTS = HostChild("ethernet_ports", "Ethernet port")
INTERFACES = HostChild("iinterfaces", "Interface", name_key="ifname")


# ---- tables ------------------------------------------------------------------------------


def _bool(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda obj: bool(obj.get(key))


def present(obj: Mapping[str, Any], candidates: Sequence[Field]) -> tuple[Field, ...]:
    """The optional rows whose key the server sent (``system`` shows them only then)."""
    return tuple(f for f in candidates if not isinstance(f.getter, str) or f.getter in obj)


HOST_COLUMNS = fields(
    "id", "hostname", "personality", "administrative", "operational", "availability"
)
_HOST_ROWS = fields(
    "action",
    "administrative",
    "availability",
    "created_at",
    "hostname",
    "id",
    "operational",
    "personality",
    "subfunctions",
    "updated_at",
    "uuid",
)
_HOST_OPTIONAL = fields(
    "capabilities",
    "disk_gb",
    "invprovision",
    "memory_mb",
    "mgmt_mac",
    "passthrough",
    "task",
    "vcpus",
    "vim_progress_status",
)


def host_rows(obj: Mapping[str, Any]) -> Sequence[Field]:
    """``system host-show`` sorts its rows by name."""
    return sorted(_HOST_ROWS + present(obj, _HOST_OPTIONAL), key=lambda f: f.label)


PORT_COLUMNS = fields(
    "uuid",
    "name",
    "type",
    ("pci address", "pciaddr"),
    ("device", "dev_id"),
    ("processor", "numa_node"),
    ("accelerated", "dpdksupport"),
    ("device type", "pdevice"),
)
PORT_ROWS = fields(
    "name",
    "namedisplay",
    "type",
    "pciaddr",
    "dev_id",
    ("processor", "numa_node"),
    "sriov_totalvfs",
    "sriov_numvfs",
    "sriov_vfs_pci_address",
    "sriov_vf_driver",
    "sriov_vf_pdevice_id",
    "driver",
    "pclass",
    "pvendor",
    "pdevice",
    "capabilities",
    "uuid",
    "host_uuid",
    "interface_uuid",
    ("accelerated", "dpdksupport"),
    "numchannels",
    "maxchannels",
    "sriov_vf_numchannels",
    "sriov_vf_maxchannels",
    "created_at",
    "updated_at",
)
ETHERNET_PORT_COLUMNS = fields(
    "uuid",
    "name",
    ("mac address", "mac"),
    ("pci address", "pciaddr"),
    ("processor", "numa_node"),
    ("auto neg", "autoneg"),
    ("device type", "pdevice"),
    ("boot i/f", _bool("bootp")),
)
ETHERNET_PORT_ROWS = fields(
    "name",
    "namedisplay",
    "mac",
    "pciaddr",
    ("processor", "numa_node"),
    "autoneg",
    ("bootp", _bool("bootp")),
    "pclass",
    "pvendor",
    "pdevice",
    "link_mode",
    "capabilities",
    "uuid",
    "host_uuid",
    "interface_uuid",
    "created_at",
    "updated_at",
)
INTERFACE_COLUMNS = fields(
    "uuid",
    ("name", "ifname"),
    ("class", "ifclass"),
    ("type", "iftype"),
    ("vlan id", "vlan_id"),
    "ports",
    ("uses i/f", "uses"),
    ("used by i/f", "used_by"),
    "attributes",
)
_INTERFACE_ROWS = fields(
    "ifname",
    "iftype",
    "ports",
    "imac",
    "imtu",
    "ifclass",
    "ptp_role",
    "aemode",
    "schedpolicy",
    "txhashpolicy",
    "primary_reselect",
    "uuid",
    "ihost_uuid",
    "vlan_id",
    "uses",
    "used_by",
    "created_at",
    "updated_at",
    "sriov_numvfs",
    "sriov_vf_driver",
    "max_tx_rate",
    "max_rx_rate",
    "ovs_access",
    "channels",
    "sriov_vf_channels",
)
# Passnic adds ``monitoring`` (host interface monitoring, refused for pci-passthrough).
_INTERFACE_OPTIONAL = fields(
    "ipv4_mode",
    "ipv6_mode",
    "ipv4_pool",
    "ipv6_pool",
    ("accelerated", "dpdksupport"),
    "monitoring",
)


def interface_rows(obj: Mapping[str, Any]) -> Sequence[Field]:
    return _INTERFACE_ROWS + present(obj, _INTERFACE_OPTIONAL)


DATANETWORK_COLUMNS = fields("uuid", "name", "network_type", "mtu")
_DATANETWORK_ROWS = fields("id", "uuid", "name", "network_type", "mtu", "description")
_VXLAN_ROWS = fields("multicast_group", "port_num", "ttl", "mode")


def datanetwork_rows(obj: Mapping[str, Any]) -> Sequence[Field]:
    return _DATANETWORK_ROWS + (_VXLAN_ROWS if obj.get("network_type") == "vxlan" else ())


IFDN_FIELDS = fields("hostname", "uuid", "ifname", "datanetwork_name")


# ---- enrichment: what system's client computes itself -------------------------------------


def _none_class(iface: Mapping[str, Any]) -> bool:
    return iface.get("ifclass") in (None, "", "none")


def with_port_names(iface: Mapping[str, Any], host_ports: Sequence[Obj]) -> Obj:
    """``ports`` as the list of port names ``system`` prints. The API may embed names already;
    otherwise they come from the host's ports, which name their interface."""
    out = dict(iface)
    embedded = iface.get("ports")
    if isinstance(embedded, list) and all(isinstance(p, str) for p in embedded):
        return out
    names = [p.get("name") for p in host_ports if p.get("interface_uuid") == iface.get("uuid")]
    out["ports"] = sorted(str(n) for n in names if n is not None)
    return out


def interface_attributes(iface: Mapping[str, Any]) -> str:
    """The host-if-list ``attributes`` cell, built as cgts-client builds it."""
    attrs = [f"MTU={iface.get('imtu')}"]
    if iface.get("iftype") == "ae":
        mode = iface.get("aemode")
        attrs.append(f"AE_MODE={mode}")
        if mode in ("balanced", "802.3ad"):
            attrs.append(f"AE_XMIT_POLICY={iface.get('txhashpolicy')}")
        if mode == "active_standby" and iface.get("primary_reselect"):
            attrs.append(f"primary_reselect={iface.get('primary_reselect')}")
    if iface.get("ifclass") == "data" and "dpdksupport" in iface:
        support = iface["dpdksupport"]
        accelerated = False not in support if isinstance(support, list) else bool(support)
        attrs.append(f"accelerated={accelerated}")
    for key in ("max_tx_rate", "max_rx_rate", "channels", "sriov_vf_channels"):
        if iface.get(key):
            attrs.append(f"{key}={iface[key]}")
    if iface.get("monitoring"):
        attrs.append("monitoring=True")
    return ",".join(attrs)


def _sorted(items: Sequence[Obj], key: str) -> list[Obj]:
    return sorted(items, key=lambda i: sort_key(i.get(key)))


# ---- generated list and show commands ----------------------------------------------------


@dataclass(frozen=True)
class HostChildCommands:
    """A ``<stem>-list <host>`` and ``<stem>-show <host> <name or uuid>`` pair."""

    stem: str
    child: HostChild
    columns: Sequence[Field]
    rows: Sequence[Field]
    sort_by: str
    noun: str


HOST_CHILD_COMMANDS = (
    HostChildCommands("host-port", PORTS, PORT_COLUMNS, PORT_ROWS, "name", "host port"),
    HostChildCommands(
        "host-ethernet-port",
        ETHERNET_PORTS,
        ETHERNET_PORT_COLUMNS,
        ETHERNET_PORT_ROWS,
        "name",
        "host ethernet port",
    ),
)


def _child_list(spec: HostChildCommands) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        host: HostArg,
        fmt: FormatOption = OutputFormat.table,
        column: ColumnOption = None,
    ) -> None:
        client = get_client(ctx)
        items = host_collection(client, find_host(client, host), spec.child.collection)
        print_list(_sorted(items, spec.sort_by), spec.columns, fmt, column)

    command.__doc__ = f"List {spec.noun}s."
    return command


def _child_show(spec: HostChildCommands) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        host: HostArg,
        name: Annotated[str, typer.Argument(metavar="<port name or uuid>")],
        fmt: FormatOption = OutputFormat.table,
        column: ColumnOption = None,
    ) -> None:
        client = get_client(ctx)
        item = spec.child.find(client, find_host(client, host), name)
        print_show(item, spec.rows, fmt, column)

    command.__doc__ = f"Show {spec.noun} attributes."
    return command


# ---- LLDP ----------------------------------------------------------------------------------

#: StarlingX's labels (cgts-client's host-lldp-neighbor-list and host-lldp-agent-list)
LLDP_NEIGHBOUR_COLUMNS = fields(
    "uuid",
    ("local_port", "port_name"),
    ("remote_port", "port_identifier"),
    "chassis_id",
    "system_name",
    "system_description",
    "management_address",
)
LLDP_AGENT_COLUMNS = fields(
    "uuid",
    ("local_port", "port_name"),
    "status",
    "chassis_id",
    ("port_id", "port_identifier"),
    "system_name",
    "system_description",
)


def host_lldp_neighbor_list(
    ctx: typer.Context,
    host: HostArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """List host lldp neighbors: what each port hears (the switch and its port)."""
    client = get_client(ctx)
    items = host_collection(client, find_host(client, host), "lldp_neighbours")
    print_list(_sorted(items, "port_name"), LLDP_NEIGHBOUR_COLUMNS, fmt, column)


def host_lldp_agent_list(
    ctx: typer.Context,
    host: HostArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """List host lldp agents: the host agent's LLDP receiver on each port."""
    client = get_client(ctx)
    items = host_collection(client, find_host(client, host), "lldp_agents")
    print_list(_sorted(items, "port_name"), LLDP_AGENT_COLUMNS, fmt, column)


# ---- hosts -------------------------------------------------------------------------------


def host_list(
    ctx: typer.Context, fmt: FormatOption = OutputFormat.table, column: ColumnOption = None
) -> None:
    """List hosts."""
    hosts = _all_items(get_client(ctx), "ihosts")
    print_list(_sorted(hosts, "id"), HOST_COLUMNS, fmt, column)


def host_show(
    ctx: typer.Context,
    host: HostArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Show host attributes."""
    obj = find_host(get_client(ctx), host)
    print_show(obj, host_rows(obj), fmt, column)


def host_action(ctx: typer.Context, host: str, action: str) -> Obj:
    """Lock and unlock are a JSON-patch of ``/action`` on the host (cgts-client's protocol)."""
    client = get_client(ctx)
    target = find_host(client, host)
    patch = [{"op": "replace", "path": "/action", "value": action}]
    return dict(client.patch(SERVICE, f"/v1/ihosts/{target['uuid']}", patch))


ForceOption = Annotated[bool, typer.Option("-f", "--force", help="Force the operation.")]


def _no_stray_value(ctx: typer.Context, force: bool) -> None:
    """Extra words after the host (the command accepts them only to explain them): with -f
    given, the operator most likely meant an output format, as `openstack ... -f value`."""
    stray = list(ctx.args)
    if not stray:
        return
    words = " ".join(stray)
    if force:
        raise typer.BadParameter(
            f"unexpected {words!r}: in {ctx.command.name} -f means --force (as in StarlingX's "
            f"system CLI) and takes no value; for the output format use --format {stray[0]}"
        )
    raise typer.BadParameter(f"unexpected extra argument(s): {words}")


def host_lock(
    ctx: typer.Context,
    host: HostArg,
    force: ForceOption = False,
    unsafe: Annotated[
        bool, typer.Option("-u", "--unsafe", help="With --force: skip safety checks.")
    ] = False,
    fmt: LongFormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Lock a host.

    As in StarlingX, -f means --force here; the output format is --format (long form only).
    """
    _no_stray_value(ctx, force)
    if unsafe and not force:
        raise CliError("--unsafe is only valid together with --force")
    action = "force-unsafe-lock" if unsafe else "force-lock" if force else "lock"
    obj = host_action(ctx, host, action)
    print_show(obj, host_rows(obj), fmt, column)


def host_unlock(
    ctx: typer.Context,
    host: HostArg,
    force: ForceOption = False,
    fmt: LongFormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Unlock a host.

    As in StarlingX, -f means --force here; the output format is --format (long form only).
    """
    _no_stray_value(ctx, force)
    obj = host_action(ctx, host, "force-unlock" if force else "unlock")
    print_show(obj, host_rows(obj), fmt, column)


PersonalityChoice = Literal["controller", "worker", "storage"]


def host_add(
    ctx: typer.Context,
    hostname: Annotated[str, typer.Option("-n", "--hostname", help="Hostname of the host.")],
    personality: Annotated[
        PersonalityChoice, typer.Option("-p", "--personality", help="Personality of the host.")
    ],
    mgmt_mac: Annotated[
        str | None,
        typer.Option("-m", "--mgmt_mac", "--mgmt-mac", help="MAC address of the management NIC."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Add a new host (locked and offline until its agent reports)."""
    body = {"hostname": hostname, "personality": personality, "mgmt_mac": mgmt_mac}
    obj = get_client(ctx).post(SERVICE, "/v1/ihosts", {k: v for k, v in body.items() if v})
    print_show(obj, host_rows(obj), fmt, column)


def host_update(
    ctx: typer.Context,
    host: HostArg,
    attributes: Annotated[
        list[str],
        typer.Argument(
            metavar="<attribute=value>...",
            help="Attributes to update: hostname, personality, mgmt_mac.",
        ),
    ],
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Update host attributes (the host must be locked)."""
    values: dict[str, Any] = {}
    for pair in attributes:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"Attributes must be attribute=value: {pair!r}")
        values[key] = value
    client = get_client(ctx)
    target = find_host(client, host)
    obj = dict(client.patch(SERVICE, f"/v1/ihosts/{target['uuid']}", replace_ops(values)))
    print_show(obj, host_rows(obj), fmt, column)


def host_delete(
    ctx: typer.Context,
    hosts: Annotated[
        list[str], typer.Argument(metavar="<hostname or id>...", help="Name or ID of host")
    ],
) -> None:
    """Delete host(s): each must be locked and hold no servers."""
    client = get_client(ctx)
    for host in hosts:
        client.delete(SERVICE, f"/v1/ihosts/{find_host(client, host)['uuid']}")
        typer.echo(f"Deleted host {host}")


# ---- interfaces --------------------------------------------------------------------------


def host_if_list(
    ctx: typer.Context,
    host: HostArg,
    all_: Annotated[
        bool,
        typer.Option("-a", "--all", help="Include interfaces with no class that nothing uses."),
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """List interfaces."""
    client = get_client(ctx)
    target = find_host(client, host)
    ports = host_collection(client, target, PORTS.collection)
    rows = []
    for iface in host_collection(client, target, INTERFACES.collection):
        if not all_ and _none_class(iface) and not iface.get("used_by"):
            continue
        row = with_port_names(iface, ports)
        row["attributes"] = interface_attributes(row)
        rows.append(row)
    print_list(_sorted(rows, "uuid"), INTERFACE_COLUMNS, fmt, column)


def _show_interface(
    client: CloudClient,
    host: Mapping[str, Any],
    iface: Mapping[str, Any],
    fmt: OutputFormat,
    column: Sequence[str] | None,
) -> None:
    obj = with_port_names(iface, host_collection(client, host, PORTS.collection))
    print_show(obj, interface_rows(obj), fmt, column)


def host_if_show(
    ctx: typer.Context,
    host: HostArg,
    interface: IfArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Show interface attributes."""
    client = get_client(ctx)
    target = find_host(client, host)
    _show_interface(client, target, INTERFACES.find(client, target, interface), fmt, column)


AeModeChoice = Literal["balanced", "active_standby", "802.3ad"]
TxHashChoice = Literal["layer2", "layer2+3", "layer3+4"]
Ipv4ModeChoice = Literal["disabled", "static", "pool"]
Ipv6ModeChoice = Literal["disabled", "static", "link-local", "pool"]
VfDriverChoice = Literal["netdevice", "vfio"]
PtpRoleChoice = Literal["master", "slave", "none"]
ReselectChoice = Literal["always", "better", "failure"]
TrueFalse = Literal["true", "false"]
IfClassChoice = Literal["platform", "data", "pci-passthrough", "pci-sriov", "none"]
IFTYPES = ("ae", "vlan", "virtual", "vf", "ethernet")


AeMode = Annotated[AeModeChoice | None, typer.Option("-a", "--aemode", help="AE mode.")]
TxHash = Annotated[
    TxHashChoice | None, typer.Option("-x", "--txhashpolicy", help="Balanced tx hash policy.")
]
Mtu = Annotated[int | None, typer.Option("-m", "--imtu", help="MTU of the interface.")]
Ipv4Mode = Annotated[Ipv4ModeChoice | None, typer.Option("--ipv4-mode", help="IPv4 address mode.")]
Ipv6Mode = Annotated[Ipv6ModeChoice | None, typer.Option("--ipv6-mode", help="IPv6 address mode.")]
Ipv4Pool = Annotated[str | None, typer.Option("--ipv4-pool", help="IPv4 pool name or uuid.")]
Ipv6Pool = Annotated[str | None, typer.Option("--ipv6-pool", help="IPv6 pool name or uuid.")]
NumVfs = Annotated[int | None, typer.Option("-N", "--num-vfs", help="Number of SR-IOV VFs.")]
VfDriver = Annotated[VfDriverChoice | None, typer.Option("--vf-driver", help="SR-IOV VF driver.")]
PtpRole = Annotated[PtpRoleChoice | None, typer.Option("--ptp-role", help="PTP role.")]
MaxTx = Annotated[int | None, typer.Option("-t", "--max-tx-rate", help="Max tx rate (Mbps).")]
MaxRx = Annotated[int | None, typer.Option("-r", "--max-rx-rate", help="Max rx rate (Mbps).")]
Reselect = Annotated[
    ReselectChoice | None,
    typer.Option("--primary-reselect", help="AE active_standby primary reselect."),
]


def _tristate(value: TrueFalse | None) -> bool | None:
    return None if value is None else value == "true"


def replace_ops(values: Mapping[str, Any]) -> list[Obj]:
    """A JSON-patch of ``replace`` ops for the given fields only, in the given order."""
    return [
        {"op": "replace", "path": f"/{k}", "value": v} for k, v in values.items() if v is not None
    ]


def host_if_modify(
    ctx: typer.Context,
    host: HostArg,
    interface: IfArg,
    ifname: Annotated[
        str | None, typer.Option("-n", "--ifname", help="New interface name.")
    ] = None,
    imtu: Mtu = None,
    aemode: AeMode = None,
    txhashpolicy: TxHash = None,
    ifclass: Annotated[
        str | None,
        typer.Option("-c", "--ifclass", help="Interface class (validated by the server)."),
    ] = None,
    ipv4_mode: Ipv4Mode = None,
    ipv6_mode: Ipv6Mode = None,
    ipv4_pool: Ipv4Pool = None,
    ipv6_pool: Ipv6Pool = None,
    num_vfs: NumVfs = None,
    vf_driver: VfDriver = None,
    ptp_role: PtpRole = None,
    max_tx_rate: MaxTx = None,
    max_rx_rate: MaxRx = None,
    primary_reselect: Reselect = None,
    ovs_access: Annotated[
        TrueFalse | None, typer.Option("--ovs-access", help="OVS access (true/false).")
    ] = None,
    channels: Annotated[int | None, typer.Option("--channels", help="Number of channels.")] = None,
    vf_channels: Annotated[
        int | None, typer.Option("--vf-channels", help="Number of VF channels.")
    ] = None,
    monitoring: Annotated[
        TrueFalse | None,
        typer.Option(
            "--monitoring",
            help="Host interface monitoring (true/false); refused for pci-passthrough.",
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Modify interface attributes.

    Sends only the options given, as JSON-patch replace ops; the server validates them.
    """
    client = get_client(ctx)
    target = find_host(client, host)
    iface = INTERFACES.find(client, target, interface)
    ports = host_collection(client, target, PORTS.collection)
    changes = {
        "ifname": ifname,
        "imtu": imtu,
        "aemode": aemode,
        "txhashpolicy": txhashpolicy,
        "ifclass": ifclass,
        "ipv4_mode": ipv4_mode,
        "ipv6_mode": ipv6_mode,
        "ipv4_pool": ipv4_pool,
        "ipv6_pool": ipv6_pool,
        "sriov_numvfs": num_vfs,
        "sriov_vf_driver": vf_driver,
        "ptp_role": ptp_role,
        "max_tx_rate": max_tx_rate,
        "max_rx_rate": max_rx_rate,
        "primary_reselect": primary_reselect,
        "ovs_access": _tristate(ovs_access),
        "channels": channels,
        "sriov_vf_channels": vf_channels,
        "monitoring": _tristate(monitoring),
    }
    # `-c none` gives an ethernet interface its port's name back, as cgts-client does.
    if ifclass == "none" and ifname is None and iface.get("iftype") not in ("ae", "vlan"):
        names = with_port_names(iface, ports)["ports"]
        if names:
            changes["ifname"] = names[0]
    patch = replace_ops(changes)
    if not patch:
        raise CliError("Nothing to modify: give at least one option.")
    updated = client.patch(SERVICE, f"/v1/iinterfaces/{iface['uuid']}", patch)
    obj = with_port_names(updated, ports)
    print_show(obj, interface_rows(obj), fmt, column)


def host_if_add(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(metavar="<hostname or id>", help="Name or ID of host")],
    ifname: Annotated[str, typer.Argument(metavar="<interface name>", help="Name of interface")],
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="[<iftype>] <portsorifaces>...",
            help=f"Optional type ({', '.join(IFTYPES)}), then port or interface names.",
        ),
    ],
    aemode: AeMode = None,
    txhashpolicy: TxHash = None,
    vlan_id: Annotated[
        int | None, typer.Option("-V", "--vlan_id", "--vlan-id", help="VLAN id.")
    ] = None,
    imtu: Mtu = None,
    ifclass: Annotated[
        IfClassChoice | None, typer.Option("-c", "--ifclass", help="Interface class.")
    ] = None,
    ipv4_mode: Ipv4Mode = None,
    ipv6_mode: Ipv6Mode = None,
    ipv4_pool: Ipv4Pool = None,
    ipv6_pool: Ipv6Pool = None,
    num_vfs: NumVfs = None,
    vf_driver: VfDriver = None,
    ptp_role: PtpRole = None,
    max_tx_rate: MaxTx = None,
    max_rx_rate: MaxRx = None,
    primary_reselect: Reselect = None,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Add an interface.

    ae, vlan and vf interfaces are built on the named interfaces; ethernet (the default) on the
    named ports; a virtual interface on nothing.
    """
    iftype: str | None = None
    if args[0] in IFTYPES and (len(args) > 1 or args[0] == "virtual"):
        iftype, args = args[0], args[1:]
    client = get_client(ctx)
    target = find_host(client, host)
    body: Obj = {"ihost_uuid": target["uuid"], "ifname": ifname}
    if iftype is not None:
        body["iftype"] = iftype
    if iftype in ("ae", "vlan", "vf"):
        body["uses"] = list(args)
    elif iftype != "virtual":
        body["ports"] = list(args)
    optional = {
        "imtu": imtu,
        "ifclass": ifclass,
        "aemode": aemode,
        "txhashpolicy": txhashpolicy,
        "vlan_id": vlan_id,
        "ptp_role": ptp_role,
        "ipv4_mode": ipv4_mode,
        "ipv6_mode": ipv6_mode,
        "ipv4_pool": ipv4_pool,
        "ipv6_pool": ipv6_pool,
        "sriov_numvfs": num_vfs,
        "sriov_vf_driver": vf_driver,
        "max_tx_rate": max_tx_rate,
        "max_rx_rate": max_rx_rate,
        "primary_reselect": primary_reselect,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    created = client.post(SERVICE, "/v1/iinterfaces", body)
    _show_interface(client, target, created, fmt, column)


def host_if_delete(ctx: typer.Context, host: HostArg, interface: IfArg) -> None:
    """Delete an interface."""
    client = get_client(ctx)
    iface = INTERFACES.find(client, find_host(client, host), interface)
    client.delete(SERVICE, f"/v1/iinterfaces/{iface['uuid']}")
    typer.echo(f"Deleted interface: host {host} if {interface}")


# ---- data networks -----------------------------------------------------------------------


def datanetwork_list(
    ctx: typer.Context, fmt: FormatOption = OutputFormat.table, column: ColumnOption = None
) -> None:
    """List datanetworks."""
    items = _items(get_client(ctx).get(SERVICE, "/v1/datanetworks"), "datanetworks")
    print_list(_sorted(items, "name"), DATANETWORK_COLUMNS, fmt, column)


def datanetwork_show(
    ctx: typer.Context,
    datanetwork: DatanetArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Show datanetwork details."""
    obj = find_datanetwork(get_client(ctx), datanetwork)
    print_show(obj, datanetwork_rows(obj), fmt, column)


def datanetwork_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="<datanetwork_name>")],
    network_type: Annotated[
        Literal["flat", "vlan", "vxlan"],
        typer.Argument(metavar="<network_type>", help="flat, vlan or vxlan"),
    ],
    description: Annotated[
        str | None, typer.Option("-d", "--description", help="Description.")
    ] = None,
    mtu: Annotated[int, typer.Option("-m", "--mtu", help="MTU of the datanetwork.")] = 1500,
    port_num: Annotated[
        int | None, typer.Option("-p", "--port_num", "--port-num", help="VXLAN UDP port.")
    ] = None,
    multicast_group: Annotated[
        str | None,
        typer.Option("-g", "--multicast_group", "--multicast-group", help="VXLAN multicast group."),
    ] = None,
    ttl: Annotated[int | None, typer.Option("-t", "--ttl", help="VXLAN time-to-live.")] = None,
    mode: Annotated[
        Literal["dynamic", "static"] | None,
        typer.Option("-M", "--mode", help="VXLAN mode [default: dynamic for vxlan]."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Add a datanetwork.

    mtu is always sent (default 1500), as ``system`` does; mode (default dynamic) only for vxlan,
    because Passnic refuses vxlan attributes on flat and vlan networks.
    """
    if mode is None and network_type == "vxlan":
        mode = "dynamic"
    body = {
        "name": name,
        "network_type": network_type,
        "mtu": mtu,
        "description": description,
        "multicast_group": multicast_group,
        "port_num": port_num,
        "ttl": ttl,
        "mode": mode,
    }
    client = get_client(ctx)
    created = client.post(
        SERVICE, "/v1/datanetworks", {k: v for k, v in body.items() if v is not None}
    )
    print_show(created, datanetwork_rows(created), fmt, column)


def datanetwork_modify(
    ctx: typer.Context,
    datanetwork: DatanetArg,
    mtu: Annotated[int | None, typer.Option("-m", "--mtu", help="MTU of the datanetwork.")] = None,
    description: Annotated[
        str | None, typer.Option("-d", "--description", help="Description.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Modify a datanetwork's mtu or description."""
    patch = replace_ops({"mtu": mtu, "description": description})
    if not patch:
        raise CliError("Nothing to modify: give --mtu and/or --description.")
    client = get_client(ctx)
    target = find_datanetwork(client, datanetwork)
    updated = client.patch(SERVICE, f"/v1/datanetworks/{target['uuid']}", patch)
    print_show(updated, datanetwork_rows(updated), fmt, column)


def datanetwork_delete(ctx: typer.Context, datanetwork: DatanetArg) -> None:
    """Delete a datanetwork."""
    client = get_client(ctx)
    target = find_datanetwork(client, datanetwork)
    client.delete(SERVICE, f"/v1/datanetworks/{target['uuid']}")
    typer.echo(f"Deleted DataNetwork: {datanetwork}")


# ---- interface data network assignments --------------------------------------------------


class HostNames:
    """hostname by host id/uuid, fetched once each: assignments carry only ``forihostid``."""

    def __init__(self, client: CloudClient, *known: Mapping[str, Any]) -> None:
        self.client = client
        self.cache: dict[str, str] = {}
        for host in known:
            self._remember(host)

    def _remember(self, host: Mapping[str, Any]) -> None:
        for key in _HOST_KEYS:
            if host.get(key) is not None:
                self.cache[str(host[key])] = str(host.get("hostname"))

    def fill(self, ifdn: Mapping[str, Any]) -> Obj:
        out = dict(ifdn)
        if out.get("hostname"):
            return out
        ref = out.get("forihostid", out.get("ihost_uuid"))
        if ref is None:
            out["hostname"] = None
            return out
        if str(ref) not in self.cache:
            self._remember(find_host(self.client, str(ref)))
        out["hostname"] = self.cache.get(str(ref))
        return out


def interface_datanetwork_assign(
    ctx: typer.Context,
    host: HostArg,
    interface: IfArg,
    datanetwork: DatanetArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Assign a datanetwork to an interface."""
    client = get_client(ctx)
    target = find_host(client, host)
    iface = INTERFACES.find(client, target, interface)
    dn = find_datanetwork(client, datanetwork)
    body = {"interface_uuid": iface["uuid"], "datanetwork_uuid": dn["uuid"]}
    created = client.post(SERVICE, "/v1/interface_datanetworks", body)
    print_show(HostNames(client, target).fill(created), IFDN_FIELDS, fmt, column)


def interface_datanetwork_list(
    ctx: typer.Context,
    host: HostArg,
    interface: Annotated[
        str | None,
        typer.Argument(metavar="[<interface name or uuid>]", help="Only this interface."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """List datanetwork interfaces."""
    client = get_client(ctx)
    target = find_host(client, host)
    if interface is None:
        path = f"/v1/ihosts/{target['uuid']}/interface_datanetworks"
    else:
        iface = INTERFACES.find(client, target, interface)
        path = f"/v1/iinterfaces/{iface['uuid']}/interface_datanetworks"
    names = HostNames(client, target)
    items = [names.fill(i) for i in _items(client.get(SERVICE, path), "interface_datanetworks")]
    print_list(_sorted(items, "uuid"), IFDN_FIELDS, fmt, column)


def interface_datanetwork_show(
    ctx: typer.Context,
    assignment: IfdnArg,
    fmt: FormatOption = OutputFormat.table,
    column: ColumnOption = None,
) -> None:
    """Show interface datanetwork details."""
    client = get_client(ctx)
    obj = client.get(SERVICE, f"/v1/interface_datanetworks/{quote(assignment, safe='')}")
    print_show(HostNames(client).fill(obj), IFDN_FIELDS, fmt, column)


def interface_datanetwork_remove(ctx: typer.Context, assignment: IfdnArg) -> None:
    """Remove an assigned datanetwork from an interface."""
    get_client(ctx).delete(SERVICE, f"/v1/interface_datanetworks/{quote(assignment, safe='')}")
    typer.echo(f"Deleted Interface DataNetwork: {assignment}")


# ---- registration ------------------------------------------------------------------------

COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("host-list", host_list),
    ("host-show", host_show),
    ("host-add", host_add),
    ("host-update", host_update),
    ("host-delete", host_delete),
    ("host-lock", host_lock),
    ("host-unlock", host_unlock),
    *(
        pair
        for spec in HOST_CHILD_COMMANDS
        for pair in (
            (f"{spec.stem}-list", _child_list(spec)),
            (f"{spec.stem}-show", _child_show(spec)),
        )
    ),
    ("host-lldp-neighbor-list", host_lldp_neighbor_list),
    ("host-lldp-agent-list", host_lldp_agent_list),
    ("host-if-list", host_if_list),
    ("host-if-show", host_if_show),
    ("host-if-add", host_if_add),
    ("host-if-modify", host_if_modify),
    ("host-if-delete", host_if_delete),
    ("datanetwork-add", datanetwork_add),
    ("datanetwork-list", datanetwork_list),
    ("datanetwork-show", datanetwork_show),
    ("datanetwork-modify", datanetwork_modify),
    ("datanetwork-delete", datanetwork_delete),
    ("interface-datanetwork-assign", interface_datanetwork_assign),
    ("interface-datanetwork-remove", interface_datanetwork_remove),
    ("interface-datanetwork-list", interface_datanetwork_list),
    ("interface-datanetwork-show", interface_datanetwork_show),
)


#: Commands whose -f means --force: they take stray words to explain `-f value` (see
#: _no_stray_value) instead of click's bare "unexpected extra argument".
FORCE_COMMANDS = (host_lock, host_unlock)


def register(app: typer.Typer) -> None:
    for name, function in COMMANDS:
        extra = {"allow_extra_args": True} if function in FORCE_COMMANDS else None
        app.command(name, context_settings=extra)(function)
