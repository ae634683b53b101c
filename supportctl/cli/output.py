"""Every read command's output: table, tsv, csv, json, ndjson (PRODUCT.md §7).

Data goes to stdout, messages to stderr. CSV/TSV/JSON are written with the
standard library; Rich draws only tables and only when asked, with every cell a
``Text`` so ticket text is never read as markup.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from enum import Enum
from typing import Any, TextIO

import typer

FORMATS = ("table", "tsv", "csv", "json", "ndjson")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FormatOption = typer.Option(
    "--format",
    "-f",
    help="table, tsv, csv, json or ndjson. Default: table on a terminal, tsv when piped.",
    show_default=False,
)
RawOption = typer.Option(
    "--raw", help="Write csv/tsv cells verbatim, without the spreadsheet formula guard."
)


def choose_format(requested: str | None) -> str:
    if requested is None:
        return "table" if sys.stdout.isatty() else "tsv"
    fmt = requested.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{requested!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    return fmt


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a Z: 2026-11-23T14:05:00Z."""
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def cell(value: Any) -> str:
    """A value as text for table, tsv and csv cells."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(jsonable(value), ensure_ascii=False)
    if isinstance(value, (datetime, date, Enum)):
        return str(jsonable(value))
    return str(value)


def formula_safe(value: Any, text: str) -> str:
    """OWASP CSV injection guard: text that a spreadsheet would run as a formula gets a '."""
    if isinstance(value, (str, list, tuple)) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def write_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    raw: bool = False,
    out: TextIO | None = None,
) -> int:
    """Write rows in fmt; returns how many. JSON stays one valid array even when empty."""
    out = out or sys.stdout
    count = 0
    if fmt == "json":
        out.write("[")
        for count, row in enumerate(rows, 1):
            out.write(",\n" if count > 1 else "\n")
            out.write(json.dumps(jsonable({c: row.get(c) for c in columns}), ensure_ascii=False))
        out.write("\n]\n" if count else "]\n")
    elif fmt == "ndjson":
        for count, row in enumerate(rows, 1):
            out.write(json.dumps(jsonable({c: row.get(c) for c in columns}), ensure_ascii=False) + "\n")
    elif fmt in ("csv", "tsv"):
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(columns)
        for count, row in enumerate(rows, 1):
            values = [row.get(c) for c in columns]
            texts = [cell(v) for v in values]
            if not raw:
                texts = [formula_safe(v, t) for v, t in zip(values, texts)]
            writer.writerow(texts)
    else:
        materialised = list(rows)
        count = len(materialised)
        _table(materialised, columns, out)
    return count


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell(row.get(c))) for c in columns))
    # A table asked for on a pipe is never cut to 80 columns.
    console = Console(file=out, width=None if out.isatty() else 100_000, soft_wrap=False)
    console.print(table)


def write_record(record: Mapping[str, Any], fmt: str, *, raw: bool = False) -> None:
    """One object (ticket show, db status): key/value lines for people, one-element array for json."""
    if fmt in ("json", "ndjson", "csv", "tsv"):
        write_rows([record], list(record), fmt, raw=raw)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in record.items():
        table.add_row(Text(key), Text(cell(value)))
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 100_000).print(table)


def note(message: str) -> None:
    """A message for the person at the terminal: stderr, never mixed with data."""
    typer.echo(message, err=True)
