"""Every command's output: the formats, the streamed path, atomic files, progress, notes.

The formats and their rules are docs/output.md's. Data goes to stdout, messages to
stderr. Two ways rows reach a format:

- rows already in Python (a page of `ticket list`, a command's result) go through
  `write_rows`: CSV/TSV/JSON by the standard library, tables by Rich with every cell
  a ``Text`` so ticket text is never read as markup;
- a query handed to `stream` is formatted by PostgreSQL itself, cell by cell
  (timestamps, tags, booleans, the formula guard), and copied out with ``COPY …
  TO STDOUT`` into one block writer, so a million rows never touch Python one by one.

SQLAlchemy is imported inside the streamed path only: this module is loaded by every
command, `--help` included.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import typer

from supportctl.db.query import Column, Kind, Query, fetch, iso_sql, json_cell
from supportctl.domain.timestamps import iso_z
from supportctl.errors import InvalidInput

# OWASP "CSV injection": a text cell starting with one of these is prefixed with '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BLOCK = 1 << 20  # bytes per write to the output
# C0 and C1 control characters but tab and newline: ESC starts terminal commands (an OSC
# title, a colour, a cursor move), and customers write ticket text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def choose_format(requested: Enum | str | None) -> str:
    """The format asked for, else table on a terminal and tsv on a pipe."""
    if requested is None:
        return "table" if sys.stdout.isatty() else "tsv"
    return requested.value if isinstance(requested, Enum) else requested


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
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
    if isinstance(value, Mapping):  # compact, as PostgreSQL's row_to_json writes it
        return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, (datetime, date, Enum)):
        return str(jsonable(value))
    return str(value)


def visible(text: str) -> str:
    """Text for a person's terminal: control characters shown as ``\\x1b``, never sent."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def formula_safe(value: Any, text: str) -> str:
    """The formula guard on a cell written from Python (`_guarded` is the same rule in SQL)."""
    if isinstance(value, (str, list, tuple)) and text.startswith(FORMULA_STARTS):
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
            out.write(_json(row, columns))
        out.write("\n]\n" if count else "]\n")
    elif fmt == "ndjson":
        for count, row in enumerate(rows, 1):
            out.write(_json(row, columns) + "\n")
    elif fmt in ("csv", "tsv"):
        # tsv as COPY's text format writes it (stream): escaped, never quoted.
        writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else _TsvWriter(out)
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


class _TsvWriter:
    _ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def writerow(self, texts: Sequence[str]) -> None:
        self.out.write("\t".join(t.translate(self._ESCAPES) for t in texts) + "\n")


def _json(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    """One object, compact, as PostgreSQL's row_to_json writes it on the streamed path."""
    return json.dumps(jsonable({c: row.get(c) for c in columns}), ensure_ascii=False, separators=(",", ":"))


# Columns of free text: cut with … to fit a terminal. Everything else (an email, a time,
# a status, a number) is shown whole or not at all.
FREE_TEXT = frozenset({"title", "name", "description", "reason", "away_reason", "body", "change", "changes",
                       "last_error", "comment", "lead_name", "event"})
_GAP = 2  # between two columns of a table
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
# SLA states that want a lead's eye, in the columns that hold states (`state`, `sla`,
# `sla_resolution`, …): `breached`, `met/breached`, `breached, due …`. A title that happens
# to say "breached" stays plain. Off a terminal, and under NO_COLOR, rich drops the colour.
_ALARM = {"breached": "red", "at_risk": "yellow"}


def _alarm(column: str, text: str) -> str:
    """The style of a cell: red when it holds a breached state, yellow an at-risk one."""
    if column not in ("state", "sla") and not column.startswith("sla_"):
        return ""
    states = set(text.split(",")[0].split("/"))
    return next((style for state, style in _ALARM.items() if state in states), "")


@dataclass
class Display:
    """How tables on a terminal show times: relative to `now` (the command's --now, else the
    clock), or as ISO 8601 with --absolute; in the default calendar's zone when it has one
    (a lead in Berlin reads Berlin times), else UTC."""

    now: datetime | None = None
    absolute: bool = False
    pager: bool = True  # a table longer than the terminal goes through $PAGER (--no-pager: never)
    zone: tzinfo | None = None


DISPLAY = Display()


def relative(text: str, now: datetime | None = None) -> str:
    """`3h ago`, `in 45m`, `now` for an ISO 8601 time within 30 days of now; the date beyond."""
    from supportctl.domain.durations import format_brief

    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    now = now or DISPLAY.now or datetime.now(moment.tzinfo)
    delta = now - moment
    if abs(delta.total_seconds()) < 60:
        return "now"
    if abs(delta.days) >= 30:
        return moment.astimezone(DISPLAY.zone or moment.tzinfo).date().isoformat()
    return f"{format_brief(delta)} ago" if delta.total_seconds() > 0 else f"in {format_brief(-delta)}"


def local(text: str) -> str:
    """An ISO 8601 UTC time in the display zone (`2026-12-01T17:28:44+01:00`), as is without one."""
    if DISPLAY.zone is None:
        return text
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(DISPLAY.zone).isoformat(timespec="seconds")


def _shown_cell(value: Any, terminal: bool) -> str:
    text = visible(cell(value))
    if terminal and isinstance(value, str) and _ISO.match(value):
        return local(value) if DISPLAY.absolute else relative(value)
    return text


def fit(columns: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> tuple[list[str], dict[str, int]]:
    """The columns a table of this width shows, and each one's width: the others whole, free
    text cut to what is left (at least 8 cells). Columns that cannot fit, the rightmost first,
    are left out."""
    from rich.cells import cell_len

    natural = {c: max([cell_len(c), *(cell_len(r[i]) for r in rows)]) for i, c in enumerate(columns)}
    least = {c: min(natural[c], 8) if c in FREE_TEXT else natural[c] for c in columns}
    shown = list(columns)

    def needs(names: list[str]) -> int:
        return sum(least[c] for c in names) + _GAP * (len(names) - 1)

    empty = {c for i, c in enumerate(columns) if not any(r[i] for r in rows)}
    while len(shown) > 1 and needs(shown) > width:
        # an empty column goes first, then the rightmost that cannot be cut
        for kind in ([c for c in shown[1:] if c in empty], [c for c in shown[1:] if c not in FREE_TEXT], shown[1:]):
            if kind:
                shown.remove(kind[-1])
                break
    widths = {c: natural[c] for c in shown}
    free = [c for c in shown if c in FREE_TEXT]
    spare = width - sum(natural[c] for c in shown if c not in FREE_TEXT) - _GAP * (len(shown) - 1)
    for n, c in enumerate(sorted(free, key=lambda c: natural[c])):  # the short ones first
        widths[c] = max(least[c], min(natural[c], spare // (len(free) - n)))
        spare -= widths[c]
    return shown, widths


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    terminal = out.isatty()
    texts = [[_shown_cell(row.get(c), terminal) for c in columns] for row in rows]
    # A table asked for on a pipe is never cut to 80 columns.
    width, height = _size(out) if terminal else (100_000, 25)
    console = Console(file=out, width=width, height=height, soft_wrap=False, no_color="NO_COLOR" in os.environ)
    shown, widths = fit(columns, texts, console.width) if terminal else (list(columns), {})
    table = Table(box=None, header_style="" if console.no_color else "bold", pad_edge=False)
    for column in shown:
        table.add_column(column, no_wrap=True, overflow="ellipsis", width=widths.get(column))
    at = [list(columns).index(c) for c in shown]
    for row in texts:
        table.add_row(*(Text(row[i], style=_alarm(columns[i], row[i])) for i in at))
    if terminal and DISPLAY.pager and len(texts) + 2 > console.height:
        _page(console, table, out)
    else:
        console.print(table)
    if len(shown) < len(columns):
        note(f"hidden to fit: {', '.join(c for c in columns if c not in shown)} (--columns, or a wider terminal)")


def _size(out: TextIO) -> tuple[int, int]:
    """The terminal's columns and lines ($COLUMNS and $LINES first). Rich takes TERM=dumb for
    80 x 25 whatever the window is; a dumb terminal is only one without colours."""
    try:
        size = os.get_terminal_size(out.fileno())
    except (OSError, ValueError):
        size = os.terminal_size((80, 24))
    return int(os.environ.get("COLUMNS") or size.columns), int(os.environ.get("LINES") or size.lines)


def _page(console: Any, table: Any, out: TextIO) -> None:
    """The table through $PAGER (default `less -FRX`: it quits at once when it fits, keeps colours)."""
    import subprocess

    with console.capture() as captured:
        console.print(table)
    text = captured.get()
    out.flush()
    try:
        subprocess.run(os.environ.get("PAGER") or "less -FRX", shell=True, input=text.encode(), check=False)
    except OSError:  # no pager to run: the table as it is
        out.write(text)


def write_record(record: Mapping[str, Any], fmt: str, *, raw: bool = False) -> None:
    """One object (ticket show, db status): key/value lines for people, one-element array for json."""
    if fmt in ("json", "ndjson", "csv", "tsv"):
        write_rows([record], list(record), fmt, raw=raw)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    terminal = sys.stdout.isatty()
    console = Console(file=sys.stdout, width=_size(sys.stdout)[0] if terminal else 100_000,
                      no_color="NO_COLOR" in os.environ)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="" if console.no_color else "bold")
    table.add_column(overflow="fold")
    for key, value in record.items():
        text = visible(cell(value))
        if terminal and isinstance(value, str) and _ISO.match(value):
            text = local(value) if DISPLAY.absolute else f"{local(value)} ({relative(value)})"
        table.add_row(Text(key), Text(text, style=_alarm(key, text)))
    console.print(table)


def on_terminal() -> bool:
    """Whether a person can answer a question: stdin and stderr are a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirmed(question: str, refusal: str, *, needed: bool, yes: bool, dry_run: bool) -> bool:
    """Whether a change of many rows may go ahead: not needed, --yes, a dry run, or a yes
    from the person at the terminal; off a terminal without --yes, exit 2 (nothing changed)."""
    if not needed or yes or dry_run:
        return True
    if on_terminal():
        return typer.confirm(question, err=True)
    from supportctl.errors import InvalidInput

    raise InvalidInput(refusal, hint="add --yes, or --dry-run to see what would change")


def note(message: str) -> None:
    """A message for the person at the terminal: stderr, never mixed with data. What stdout
    holds goes first, so a log of `cmd > log 2>&1` reads in the order things happened."""
    sys.stdout.flush()
    typer.echo(message, err=True)


# -- the streamed path: cells made by PostgreSQL ------------------------------------------


class BlockWriter:
    """Bytes gathered into large blocks before they reach `out` (one system call per block,
    whatever PYTHONUNBUFFERED says), counted for a progress display."""

    def __init__(self, out: BinaryIO, progress: Callable[[int], None] | None = None) -> None:
        self.out, self.progress = out, progress
        self.buffer = bytearray()
        self.written = 0

    def write(self, data: bytes | memoryview) -> int:
        self.buffer += data
        if len(self.buffer) >= BLOCK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self.out.write(self.buffer)
            self.written += len(self.buffer)
            self.buffer.clear()
            if self.progress is not None:
                self.progress(self.written)
        self.out.flush()


class JsonArray:
    """Lines of JSON objects (as COPY writes them) into one array: `[`, `,` between, `]`."""

    def __init__(self, sink: BlockWriter) -> None:
        self.sink, self.held, self.rows = sink, b"", False

    def write(self, data: bytes | memoryview) -> int:
        # A JSON text holds no raw newline, so every newline ends an object; the last one's
        # ",\n" is held back until it is known to be the last.
        text = self.held + bytes(data).replace(b"\n", b",\n")
        self.sink.write((b"[\n" if not self.rows else b"") + text[:-2])
        self.held, self.rows = text[-2:], True
        return len(data)

    def close(self) -> None:
        self.sink.write(b"\n]\n" if self.rows else b"[]\n")


def stream(cursor: Any, query: Query, fmt: str, out: BinaryIO, *, raw: bool = False,
           progress: Callable[[int], None] | None = None) -> int:
    """Write the rows of `query` in csv, tsv, json or ndjson, every cell made by PostgreSQL
    (docs/output.md), copied out with COPY into large blocks; returns how many rows."""
    sink = _blocks(out, progress)
    try:
        target = JsonArray(sink) if fmt == "json" else sink
        if fmt == "tsv":  # COPY's text format has no header before PostgreSQL 15: it is ours
            sink.write(("\t".join(query.names) + "\n").encode())
        cursor.copy_expert(copy_statement(cursor, query, fmt, raw=raw), target)
        if isinstance(target, JsonArray):
            target.close()
        sink.flush()
    finally:
        if sink is not out and not isinstance(sink, BlockWriter):
            sink.close()  # our own descriptor beside out's
    return cursor.rowcount


def _blocks(out: BinaryIO, progress: Callable[[int], None] | None) -> Any:
    """Where COPY's rows go, a row at a time: a C-level buffered writer of BLOCK bytes on out's
    own descriptor when it has one (a Python write per row costs a million rows seconds), else
    a BlockWriter (which also reports progress)."""
    if progress is None:
        try:
            descriptor = out.fileno()
        except (AttributeError, OSError, ValueError):  # no real file (tests)
            descriptor = None
        if descriptor is not None:
            out.flush()
            return open(os.dup(descriptor), "wb", buffering=BLOCK)
    return BlockWriter(out, progress)


def copy_statement(cursor: Any, query: Query, fmt: str, *, raw: bool = False) -> bytes:
    """The COPY … TO STDOUT that writes `query`'s rows in fmt, its parameters inlined (COPY takes
    none). bench/ hands the same statement to psql's \\copy as the floor."""
    if fmt in ("csv", "tsv"):
        sql = query.sql(lambda c: _text_cell(c, raw))
        # tsv is COPY's text format: \\, \t, \n, \r escaped, never quoted.
        options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT text, NULL ''"
    else:
        sql = f"SELECT row_to_json(r) FROM ({query.sql(json_cell)}) AS r"
        # A JSON text holds no control character (PostgreSQL escapes them all): with these as
        # delimiter and quote, no line is ever quoted and COPY writes the JSON as it is.
        options = r"FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02'"
    return b"COPY (" + cursor.mogrify(sql, query.params) + f") TO STDOUT WITH ({options}, ENCODING 'UTF8')".encode()


def write_query(cursor: Any, query: Query, fmt: str, *, raw: bool = False, limit: int = 0) -> int:
    """A read command's rows on stdout: a table drawn from the fetched rows, any other format
    streamed. With a limit, at most that many, and a note of how many there are in all.
    Returns how many rows were written."""
    from dataclasses import replace

    page = replace(query, order=f"{query.order} LIMIT {int(limit)}") if limit else query
    if fmt == "table":
        rows = fetch(cursor, page)
        write_rows(rows, query.names, fmt)
        count = len(rows)
    else:
        count = to_stdout(lambda out: stream(cursor, page, fmt, out, raw=raw))
    if limit and count == limit:
        cursor.execute(f"SELECT count(*) FROM ({query.sql()}) AS listed", query.params)
        total = cursor.fetchone()[0]
        if total > count:
            note(f"showing {count} of {total} (--limit 0 for all)")
    return count


# formula_safe's FORMULA_STARTS as SQL literals
_STARTS_SQL = ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS)


def _guarded(sql: str) -> str:
    """formula_safe in SQL; '' becomes NULL (an empty cell)."""
    value = f"nullif({sql}, '')"
    return f"CASE WHEN left({value}, 1) IN ({_STARTS_SQL}) THEN chr(39) || {value} ELSE {value} END"


def _text_cell(column: Column, raw: bool) -> str:
    if column.kind is Kind.TIME:
        return iso_sql(column.sql)
    if column.kind in (Kind.BOOL, Kind.JSON):
        return f"({column.sql})::text"  # a boolean as true/false, not COPY's t/f
    if column.kind is Kind.NUMBER:
        return column.sql
    text = f"array_to_string({column.sql}, ';')" if column.kind is Kind.TAGS else column.sql
    return f"nullif({text}, '')" if raw else _guarded(text)


# -- files -------------------------------------------------------------------------------


@contextmanager
def atomic_file(path: str) -> Iterator[BinaryIO]:
    """A file that appears at path only once complete: written beside it, synced, renamed.

    Only a regular file (or nothing) at path is replaced: a symlink, a FIFO, a device or
    a directory there is refused before anything is written, so `-o /dev/null` as root
    cannot swap the system's null device for a file. The new file gets the mode the
    user's umask gives. A failure, Ctrl-C or kill -9 leaves whatever was at path before
    (or nothing); the temporary file is removed on any failure Python lives to see.
    """
    target = Path(path)
    try:
        kind = stat.S_IFMT(os.lstat(target).st_mode)
    except FileNotFoundError:
        kind = stat.S_IFREG
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from exc
    if kind != stat.S_IFREG:
        what = _KINDS.get(kind, "not a regular file")
        raise InvalidInput(f"cannot write {path}: it is {what}; only a regular file is replaced",
                           hint="give the name of a new or regular file, or -o - for stdout")
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        handle = open(temp, "xb")  # O_EXCL: never through a link someone put at the temporary name
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    _sync_directory(target.parent)


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a FIFO",
          stat.S_IFCHR: "a device", stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Progress:
    """Bytes written so far (or items done of `total`), on one stderr line, at most four times a second."""

    def __init__(self, verb: str, total: int | None = None) -> None:
        self.verb, self.total = verb, total
        self.shown = time.monotonic()  # a quick run shows nothing
        self.showing = False

    def __call__(self, done: int) -> None:
        moment = time.monotonic()
        if moment - self.shown >= 0.25:
            self.shown, self.showing = moment, True
            amount = f"{done / 1_000_000:.1f} MB" if self.total is None else f"{done:,} of {self.total:,}"
            sys.stderr.write(f"\r{self.verb}… {amount}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.showing:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def to_stdout(write: Callable[[BinaryIO], int]) -> int:
    """Run `write` on stdout's bytes (a reader that goes away ends the command: see silence_stdout)."""
    sys.stdout.flush()
    out = sys.stdout.buffer
    count = write(out)
    out.flush()
    return count


def silence_stdout() -> None:
    """After a broken pipe (`| head`): stdout points at /dev/null, so the interpreter's last flush
    cannot complain too (the Python signal docs' note on SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (tests)
        pass
    finally:
        os.close(devnull)
