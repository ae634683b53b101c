"""An import file, CSV or NDJSON, streamed into the staging table `import_rows`.

Python checks here only what SQL cannot: the file's shape (CSV quoting, JSON syntax and
types), UTF-8, NUL bytes, and the timestamps (ISO 8601 as Python reads it; PostgreSQL's
input would take `yesterday`). The rows go into the table by COPY, a batch at a time, so
memory stays flat however large the file; importing.py checks the rest in SQL. A problem
is recorded as `line N: column: problem`, N the physical line (a CSV header is line 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import text
from sqlalchemy.orm import Session

from supportctl.config import EARLIEST_NOW, parse_timestamp
from supportctl.db.database import cursor_of
from supportctl.errors import InvalidInput, csv_words, not_utf8
from supportctl.services.tickets import changes
from supportctl.services.tickets.columns import EXPORT_COLUMNS
from supportctl.services.transfer.mapping import Mapping

# The cells every import may give, in the order a row's problems are reported (the order
# of `ticket create`'s checks).
CELLS = ("title", "customer_email", "external_id", "description", "status", "priority", "category", "tags",
         "assignee_email", "team", "created_at")
REQUIRED = ("title", "customer_email")
# What an NDJSON object may add (§17): the ticket's state, taken as given instead of derived.
DUE_TIMES = ("response_due_at", "resolution_due_at", "next_reply_due_at")
STATE_TIMES = ("updated_at", "first_response_at", "resolved_at", "closed_at", "reopened_at", "paused_at",
               "last_escalated_at", "next_reply_started_at", "next_reply_met_at", *DUE_TIMES)
STATE_COUNTS = ("escalation_level", "paused_seconds", "next_reply_paused_seconds")
STATE = (*STATE_TIMES, *STATE_COUNTS, "escalated", "sla_policy")
# Export columns an import does not take (`id` keys a row that has no external id: sc-<id>).
IGNORED = tuple(c for c in EXPORT_COLUMNS if c not in CELLS)
_IGNORED_KEYS = frozenset(c for c in IGNORED if c not in STATE) | {"sla", "history"}  # `ticket list/show` json
MAX_FIELD = changes.MAX_TEXT  # characters in one cell
# Bytes in one physical line: a file without line breaks (or /dev/zero) is refused, not read whole.
MAX_LINE = 4 * MAX_FIELD + 4096
_BATCH = 5000
STAGED = {"line": "integer PRIMARY KEY", "bad": "boolean", "nul": "text[]",
          **{c: "timestamptz" if c == "created_at" else "text" for c in CELLS},
          # the fields an NDJSON object names (NULL for CSV rows: their blank cells are not given)
          "given": "text[]",
          **{c: "timestamptz" for c in STATE_TIMES}, **{c: "integer" for c in STATE_COUNTS},
          "escalated": "boolean", "sla_policy": "text", "comments": "jsonb"}
_CSV_STAGED = ("line", "bad", "nul", *CELLS)
# A row's problems are reported in this column order (the file's and the row's first).
_ORDER = {"file": -2, "row": -1, **{c: i for i, c in enumerate((*CELLS, *STATE, "comments"))}, "model": 99}


@dataclass
class Outcome:
    rows: int = 0  # data rows read (blank lines aside)
    imported: int = 0  # imported, or that would be with dry_run
    skipped: int = 0  # already there
    updated: int = 0  # already there and changed (--update-existing)
    new_customers: int = 0
    ignored: list[str] = field(default_factory=list)  # columns a --map leaves unnamed
    problems: list[tuple[int, int, str]] = field(default_factory=list, repr=False)

    def bad(self, line: int, problem: str) -> None:
        column = problem.split(":", 1)[0].split("[", 1)[0]
        self.problems.append((line, _ORDER.get(column, 99), f"line {line}: {problem}"))


class Stage:
    """Rows copied into a temporary table a batch at a time. `kept` tables outlive the
    transaction (an import in batches); the others go at commit."""

    def __init__(self, session: Session, table: str, columns: dict[str, str], copied: tuple[str, ...] | None = None,
                 *, kept: bool = False) -> None:
        self.session, self.table, self.names = session, table, list(copied or columns)
        self.rows: list[tuple] = []
        typed = ", ".join(f"{c} {kind}" for c, kind in columns.items())
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))  # a kept one a failed run left
        session.execute(text(f"CREATE TEMPORARY TABLE {table} ({typed})" + ("" if kept else " ON COMMIT DROP")))

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        buffer = io.StringIO()
        # Every cell quoted (so `\.` is data, never the end-of-data mark); FORCE_NULL reads "" as NULL.
        csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(self.rows)
        buffer.seek(0)
        columns = ", ".join(self.names)
        with cursor_of(self.session) as cursor:
            cursor.copy_expert(
                f"COPY {self.table} ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NULL ({columns}))", buffer
            )
        self.rows.clear()


def _lines(stream: BinaryIO, outcome: Outcome) -> Iterator[str]:
    """The file's lines as text: BOM dropped, bytes that are not UTF-8 reported with their line."""
    for number, raw in enumerate(iter(lambda: stream.readline(MAX_LINE + 1), b""), 1):
        if len(raw) > MAX_LINE:
            raise InvalidInput(f"line {number} is longer than {MAX_LINE:,} bytes; nothing was imported",
                               hint="each row must fit in a line, its cells at most 16 MB")
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            outcome.bad(number, f"file: {not_utf8(exc)}")
            yield raw.decode("utf-8", "replace")


def _shown(column: str) -> str:
    """A column name as an error message may show it: one line, no terminal control codes, short."""
    shown = column if column.isprintable() else repr(column)
    return shown if len(shown) <= 40 else shown[:39] + "…"


def _listed(names: list[str], most: int = 10) -> str:
    """'a, b, c', or the first few and how many more: a header may name a million columns."""
    more = f" and {len(names) - most:,} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _stamp(value: str, now: datetime, *, future: bool = False) -> tuple[datetime | None, str | None]:
    """A time read as Python reads ISO 8601; only a due time may be after now."""
    try:
        stamp = parse_timestamp(value)
    except InvalidInput:
        return None, f"{value!r} is not an ISO 8601 time, e.g. 2026-11-23T14:05:00Z"
    if stamp > now and not future:
        return None, f"{value} is in the future"
    if stamp < EARLIEST_NOW:  # due dates and calendar walks count on from it
        return None, f"{value} is before {EARLIEST_NOW:%Y-%m-%d}"
    return stamp, None


def _sc(key: str | None, ticket_id: Any) -> str | None:
    """A row's external id; a supportctl export's row without one is keyed by its id (§17)."""
    if key is None and isinstance(ticket_id, (str, int)) and not isinstance(ticket_id, bool):
        digits = str(ticket_id).strip()
        return f"sc-{digits}" if digits.isdigit() else None
    return key


# -- CSV --

def _header(reader, name: str, mapping: Mapping, outcome: Outcome) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{name} is empty; the first line must name the columns, e.g. title,customer_email") from None
    except csv.Error as exc:
        raise InvalidInput(f"{name}: line 1: not a CSV header: {csv_words(exc)}",
                           hint="for NDJSON give --format ndjson") from exc
    columns = [mapping.column(c).strip().lower() for c in header]
    known = set(CELLS + IGNORED)
    present = set(columns)
    missing = [c for c in REQUIRED if c not in present]
    unknown = [_shown(h.strip()) or "(empty)" for h, c in zip(header, columns) if c not in known]
    if missing:
        raise InvalidInput(
            f"{name}: line 1: the header lacks {', '.join(missing)}"
            + (f" and names unknown columns {_listed(unknown)}" if unknown else ""),
            hint="name them in the --map file" if mapping.given
            else "the first line must name the columns, as `supportctl ticket export` writes them",
        )
    if unknown and not mapping.given:
        raise InvalidInput(
            f"{name}: line 1: unknown column{'s' if len(unknown) > 1 else ''} {_listed(unknown)}",
            hint=f"known: {','.join(CELLS)}; ignored: {','.join(IGNORED)}; or give --map FILE",
        )
    outcome.ignored = unknown
    twice = sorted(_shown(c) for c, n in Counter(c for c in columns if c in known).items() if n > 1)
    if twice:
        raise InvalidInput(f"{name}: line 1: column {_listed(twice)} appears more than once")
    return columns


def read_csv(stage: Stage, stream: BinaryIO, name: str, now: datetime, outcome: Outcome, mapping: Mapping
             ) -> set[str]:
    """Stream the CSV's rows into the stage. Returns every distinct email cell, to check once each."""
    reader = csv.reader(_lines(stream, outcome), strict=True)
    header = _header(reader, name, mapping, outcome)
    at = [header.index(c) if c in header else None for c in CELLS]
    id_at = header.index("id") if "id" in header else None
    key_at, stamp_at, tags_at = CELLS.index("external_id"), CELLS.index("created_at"), CELLS.index("tags")
    email_at = [CELLS.index("customer_email"), CELLS.index("assignee_email")]
    mapped = [(i, c) for i, c in enumerate(CELLS) if c in mapping.values]
    external = at[key_at]
    emails: set[str] = set()
    while True:
        line = reader.line_num + 1  # where the next row starts; quoted fields may span lines
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            outcome.rows += 1
            outcome.bad(line, f"row: malformed CSV ({csv_words(exc)}); reading stopped here")
            break
        if not cells or cells == [""]:  # a blank line
            continue
        outcome.rows += 1
        if len(cells) != len(header):
            outcome.bad(line, f"row: {len(cells)} fields, the header has {len(header)}")
            key = cells[external].strip() if external is not None and external < len(cells) else ""
            stage.add((line, True, "{}", *(key.replace("\x00", "") or None if c == "external_id" else None
                                          for c in CELLS)))
            continue
        # A blank cell is no value: the column's default applies (a blank team is routed).
        values = [cells[i] if i is not None and cells[i].strip() else None for i in at]
        nul = []
        for column, value in zip(CELLS, values):
            if value is not None and "\x00" in value:
                outcome.bad(line, f"{column}: contains a NUL byte")
                nul.append(column)
        if nul:
            values = [v.replace("\x00", "") if v is not None else None for v in values]
        for i, column in mapped:
            if values[i] is not None:
                values[i] = mapping.value(column, values[i])
        if values[tags_at] is not None:
            values[tags_at] = mapping.tags(values[tags_at])
        stamp = None
        if values[stamp_at] is not None and "created_at" not in nul:
            stamp, problem = _stamp(values[stamp_at], now)
            if problem:
                outcome.bad(line, f"created_at: {problem}")
        values[stamp_at] = stamp.isoformat() if stamp else None
        emails.update(values[i] for i in email_at if values[i] is not None)
        if values[key_at] is not None:
            values[key_at] = values[key_at].strip()
        elif id_at is not None:
            values[key_at] = _sc(None, cells[id_at])
        stage.add((line, False, "{" + ",".join(nul) + "}", *values))
    stage.flush()
    return emails


# -- NDJSON --

class _Row:
    """One NDJSON object's values as staged, with its problems recorded as they are found."""

    def __init__(self, line: int, now: datetime, outcome: Outcome, mapping: Mapping) -> None:
        self.line, self.now, self.outcome, self.mapping = line, now, outcome, mapping
        self.nul: list[str] = []

    def bad(self, column: str, problem: str) -> None:
        self.outcome.bad(self.line, f"{column}: {problem}")

    def text(self, column: str, value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and column == "external_id":
            value = str(value)  # other systems' ids are often numbers
        if value is not None and not isinstance(value, str):
            self.bad(column, f"must be text, not {json.dumps(value)[:40]}")
            return None
        if value is None or not value.strip():
            return None
        if "\x00" in value:
            self.bad(column, "contains a NUL byte")
            self.nul.append(column)
            value = value.replace("\x00", "")
        return self.mapping.value(column, value) if column in self.mapping.values else value

    def tags(self, value: Any) -> str | None:
        if isinstance(value, str):
            return self.text("tags", self.mapping.tags(value))
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            self.bad("tags", "must be a list of text")
            return None
        for tag in value:
            if ";" in tag or "\x00" in tag:
                self.bad("tags", f"tag {tag!r} must be 1-{changes.MAX_TAG_LENGTH} characters without ';'")
                return None
        return ";".join(value) or None

    def time(self, column: str, value: Any) -> str | None:
        if value is None:
            if column in ("response_due_at", "resolution_due_at"):
                self.bad(column, "must be a time, e.g. 2026-11-23T14:05:00Z")
            return None
        if not isinstance(value, str):
            self.bad(column, f"{json.dumps(value)[:40]} is not an ISO 8601 time, e.g. 2026-11-23T14:05:00Z")
            return None
        stamp, problem = _stamp(value, self.now, future=column in DUE_TIMES)
        if problem:
            self.bad(column, problem)
        return stamp.isoformat() if stamp else None

    def count(self, column: str, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            self.bad(column, f"{json.dumps(value)[:40]} is not a whole number of 0 or more")
            return None
        return value

    def comment(self, where: str, comment: Any) -> dict | None:
        """One comment as staged, or None when it is bad (recorded)."""
        if not isinstance(comment, dict):
            self.bad(where, "must be an object with author, body, internal, created_at")
            return None
        author, body = comment.get("author"), comment.get("body")
        internal, kind, written = comment.get("internal", False), comment.get("author_kind"), comment.get("created_at")
        if not isinstance(author, str) or not author.strip():
            self.bad(f"{where}.author", "must be an email address")
        elif not isinstance(body, str) or not body.strip() or "\x00" in body:
            self.bad(f"{where}.body", "must be text, not empty, without NUL bytes")
        elif not isinstance(internal, bool):
            self.bad(f"{where}.internal", "must be true or false")
        elif kind not in (None, "agent", "customer"):
            self.bad(f"{where}.author_kind", "must be agent or customer")
        elif not isinstance(written, str):
            self.bad(f"{where}.created_at", "must be an ISO 8601 time, e.g. 2026-11-23T14:05:00Z")
        else:
            stamp, problem = _stamp(written, self.now)
            if not problem:
                return {"author": author, "author_kind": kind, "body": body, "internal": internal,
                        "created_at": stamp.isoformat()}
            self.bad(f"{where}.created_at", problem)
        return None

    def comments(self, value: Any, emails: set[str]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, list):
            self.bad("comments", "must be a list of objects")
            return None
        kept = []
        for n, comment in enumerate(value, 1):
            checked = self.comment(f"comments[{n}]", comment)
            if checked:
                emails.add(checked["author"])
            kept.append(checked or {})  # a placeholder keeps the others' numbers for the SQL checks
        return json.dumps(kept)


def read_ndjson(stage: Stage, stream: BinaryIO, now: datetime, outcome: Outcome, mapping: Mapping) -> set[str]:
    """Stream the NDJSON objects (one a line) into the stage. Returns every distinct email, to check once each."""
    emails: set[str] = set()
    known = frozenset(CELLS + STATE + ("comments",))
    unknown: set[str] = set()
    for line, raw in enumerate(_lines(stream, outcome), 1):
        if not raw.strip():
            continue
        outcome.rows += 1
        try:
            source = json.loads(raw)
        except json.JSONDecodeError as exc:
            source = exc
        if not isinstance(source, dict):
            shape = f"not JSON ({source.msg} at column {source.colno})" if isinstance(source, Exception) \
                else "not a JSON object"
            outcome.bad(line, f"row: {shape}")
            stage.add((line, True, "{}", *([None] * (len(STAGED) - 3))))
            continue
        fields = {}
        for key, value in source.items():
            name = mapping.column(key)
            if name in known or name in ("id",):
                fields[name] = value
            elif name not in _IGNORED_KEYS:
                if mapping.given:
                    unknown.add(_shown(key))
                else:
                    outcome.bad(line, f"row: unknown key {_shown(key)!r}")
        stage.add(_staged(_Row(line, now, outcome, mapping), fields, emails))
    outcome.ignored = sorted(unknown)
    stage.flush()
    return emails


def _staged(row: _Row, fields: dict[str, Any], emails: set[str]) -> tuple:
    cells = []
    for column in CELLS:
        value = fields.get(column)
        if column == "tags":
            cells.append(row.tags(value))
        elif column == "created_at":
            cells.append(row.time(column, value) if value is not None else None)
        else:
            cells.append(row.text(column, value))
    for i in (CELLS.index("customer_email"), CELLS.index("assignee_email")):
        if cells[i] is not None:
            emails.add(cells[i])
    key = CELLS.index("external_id")
    cells[key] = _sc(cells[key].strip() if cells[key] else None, fields.get("id"))
    if fields.get("sla_policy") is None:
        fields.pop("sla_policy", None)  # no name: the policy is matched, as for a new ticket
    state = []
    for column in STATE:
        value = fields.get(column)
        if column not in fields:
            state.append(None)
        elif column in STATE_TIMES:
            state.append(row.time(column, value))
        elif column in STATE_COUNTS:
            state.append(row.count(column, value))
        elif column == "escalated":
            if not isinstance(value, bool):
                row.bad(column, "must be true or false")
            state.append(value if isinstance(value, bool) else None)
        else:
            state.append(row.text(column, value))
    given = "{" + ",".join(c for c in (*CELLS, *STATE) if c in fields) + "}"
    comments = row.comments(fields.get("comments"), emails)
    return (row.line, False, "{" + ",".join(row.nul) + "}", *cells, given, *state, comments)


def stage_for(session: Session, fmt: str, *, kept: bool) -> Stage:
    """The staging table of a file in fmt (csv rows fill its first columns only)."""
    return Stage(session, "import_rows", STAGED, _CSV_STAGED if fmt == "csv" else None, kept=kept)
