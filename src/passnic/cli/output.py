"""Print results the way the ``system`` and ``openstack`` CLIs do, so their docs' recipes work.

List tables take column labels; show tables are ``Property``/``Value`` rows in a fixed order.
Values print as Python prints them (``None``, ``True``, ``['enp0s3']``) because that is what
``system`` shows and what people grep for. When stdout is not a terminal nothing is wrapped or
truncated, so ``... | grep sriov_totalvfs`` always sees a whole row on one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from passnic.cli.client import CliError

if TYPE_CHECKING:  # rich and yaml are imported when something is printed (fast start-up)
    from rich.console import Console
    from rich.table import Table

# A field is a JSON key or a function of the whole object (for computed columns).
Getter = str | Callable[[Mapping[str, Any]], Any]

NO_WRAP_WIDTH = 10000


@dataclass(frozen=True)
class Field:
    """One column of a list table or one row of a show table."""

    label: str
    getter: Getter

    def get(self, obj: Mapping[str, Any]) -> Any:
        if isinstance(self.getter, str):
            return obj.get(self.getter)
        return self.getter(obj)


def fields(*specs: str | tuple[str, Getter]) -> tuple[Field, ...]:
    """Shorthand: ``"name"`` is a field whose label is its key; ``("label", getter)`` renames."""
    return tuple(Field(s, s) if isinstance(s, str) else Field(*s) for s in specs)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    value = "value"


_FORMAT_HELP = "Output format: table, json, yaml or value (space-separated values)."
_COLUMN_HELP = "Only this column (or show row); repeat for more."

FormatOption = Annotated[OutputFormat, typer.Option("-f", "--format", help=_FORMAT_HELP)]
# host-lock/host-unlock keep -f for --force as StarlingX does, so their format is long-only.
LongFormatOption = Annotated[OutputFormat, typer.Option("--format", help=_FORMAT_HELP)]
ColumnOption = Annotated[list[str] | None, typer.Option("--column", help=_COLUMN_HELP)]


def format_value(value: Any) -> str:
    """Python's own rendering, as ``system`` prints: None, True, ['enp0s3'], {}."""
    return str(value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _select(available: Sequence[Field], wanted: Sequence[str] | None) -> Sequence[Field]:
    """Keep the fields named by ``--column``, in table order (as cliff does)."""
    if not wanted:
        return available
    labels = {f.label for f in available}
    unknown = [w for w in wanted if w not in labels]
    if unknown:
        known = ", ".join(f.label for f in available)
        raise CliError(f"No such column: {', '.join(unknown)}. Columns are: {known}")
    return [f for f in available if f.label in wanted]


def make_console() -> Console:
    """A console on the current stdout; a very wide one when it is not a terminal so Rich never
    folds a cell."""
    from rich.console import Console

    tty = sys.stdout.isatty()
    return Console(
        file=sys.stdout,
        width=None if tty else NO_WRAP_WIDTH,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=not tty,
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], console: Console) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    wrap = console.is_terminal
    table = Table(box=box.ASCII2, show_edge=True, header_style="bold", highlight=False)
    for header in headers:
        table.add_column(header, no_wrap=not wrap, overflow="fold" if wrap else "ignore")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def _emit(data: Any, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(_jsonable(data), indent=2) + "\n")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(_jsonable(data), sort_keys=False, default_flow_style=False))


def print_list(
    items: Iterable[Mapping[str, Any]],
    columns: Sequence[Field],
    fmt: OutputFormat = OutputFormat.table,
    selected: Sequence[str] | None = None,
) -> None:
    cols = _select(columns, selected)
    rows = [[c.get(item) for c in cols] for item in items]
    if fmt is OutputFormat.table:
        console = make_console()
        text_rows = ([format_value(v) for v in row] for row in rows)
        console.print(_table([c.label for c in cols], text_rows, console))
    elif fmt is OutputFormat.value:
        for row in rows:
            sys.stdout.write(" ".join(format_value(v) for v in row) + "\n")
    else:
        _emit([dict(zip((c.label for c in cols), row, strict=True)) for row in rows], fmt)


def print_show(
    obj: Mapping[str, Any],
    rows: Sequence[Field],
    fmt: OutputFormat = OutputFormat.table,
    selected: Sequence[str] | None = None,
) -> None:
    chosen = _select(rows, selected)
    pairs = [(r.label, r.get(obj)) for r in chosen]
    if fmt is OutputFormat.table:
        console = make_console()
        text_rows = ([label, format_value(v)] for label, v in pairs)
        console.print(_table(["Property", "Value"], text_rows, console))
    elif fmt is OutputFormat.value:
        for _, value in pairs:
            sys.stdout.write(format_value(value) + "\n")
    else:
        _emit(dict(pairs), fmt)


def sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before text, numerically; None last. Lets one sort serve ids, names and uuids."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if value is None:
        return (2, "")
    return (1, str(value))
