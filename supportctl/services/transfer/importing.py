"""Bulk ticket import from CSV: every row checked before anything is written, then one transaction.

The header names columns as `ticket export` writes them, so an export re-imports.
The rows stream from the file into a temporary table (COPY, in batches), so memory stays
flat however large the file; on the way Python checks only what SQL cannot: the CSV's
shape, UTF-8, NUL bytes, and the timestamps (ISO 8601 as Python reads it; PostgreSQL's
input would take `yesterday`). Every other check is set-based SQL over that table: the
required cells, lengths, statuses and priorities, tags, teams, agents, repeated external
ids, and each distinct email address once (email_validator's rules). Then INSERT … SELECT
writes the tickets (each with its team, given or routed, and its SLA policy and due
dates), then their `created` events. Any bad row and nothing is written; every bad row
is reported as `line N: column: problem`, N the physical line (the header is line 1).

Rows whose external id is already in the database are skipped, not refused, so
running an import again is harmless.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import text
from sqlalchemy.orm import Session

from supportctl.config import EARLIEST_NOW, parse_timestamp
from supportctl.db.database import cursor_of
from supportctl.domain.enums import Priority, Status
from supportctl.errors import InvalidInput
from supportctl.services import validation
from supportctl.services.sla.policy import Book, match_sql
from supportctl.services.sla.recompute import recompute
from supportctl.services.teams.routing import route_sql
from supportctl.services.tickets import changes
from supportctl.services.tickets.columns import EXPORT_COLUMNS

REQUIRED = ("title", "customer_email")
OPTIONAL = ("external_id", "description", "status", "priority", "category", "tags", "assignee_email", "team",
            "created_at")
IGNORED = tuple(c for c in EXPORT_COLUMNS if c not in REQUIRED + OPTIONAL)  # id, escalated, …
_KNOWN = frozenset(REQUIRED + OPTIONAL + IGNORED)
MAX_FIELD = changes.MAX_TEXT  # characters in one cell
# Bytes in one physical line: a file without line breaks (or /dev/zero) is refused, not read whole.
MAX_LINE = 4 * MAX_FIELD + 4096
_BATCH = 5000
# The cells in the order a row's problems are reported (the order of `ticket create`'s checks).
CELLS = ("title", "customer_email", "external_id", "description", "status", "priority", "category", "tags",
         "assignee_email", "team", "created_at")
_STAGED = {"line": "integer PRIMARY KEY", "bad": "boolean", "nul": "text[]",
           **{c: "timestamptz" if c == "created_at" else "text" for c in CELLS}}
_CHOICES = {"status": tuple(Status), "priority": tuple(Priority)}


def _address(text: str) -> tuple[str | None, str | None]:
    """(the address as stored, None) or (None, what is wrong with it)."""
    try:
        return validation.email(text), None
    except InvalidInput as exc:
        return None, f"{text!r} is not a valid email address: {exc.__cause__}"


class BadRows(InvalidInput):
    """Some rows are bad: `problems` lists every one; nothing was written."""

    def __init__(self, problems: list[str], rows: int) -> None:
        count = len({p.split(":", 1)[0] for p in problems})
        super().__init__(
            f"{count} bad row{'s' if count != 1 else ''} (of {rows}); nothing was imported",
            hint="fix them and run the import again",
        )
        self.problems = problems


# A row's problems are reported in this column order (the file's and the row's first).
_ORDER = {"file": -2, "row": -1, **{c: i for i, c in enumerate(CELLS)}, "model": len(CELLS)}


@dataclass
class Outcome:
    rows: int = 0  # data rows read (blank lines aside)
    imported: int = 0  # imported, or that would be with dry_run
    skipped: int = 0  # external id already in the database
    new_customers: int = 0
    problems: list[tuple[int, int, str]] = field(default_factory=list, repr=False)

    def bad(self, line: int, problem: str) -> None:
        self.problems.append((line, _ORDER[problem.split(":", 1)[0]], f"line {line}: {problem}"))


def _lines(stream: BinaryIO, outcome: Outcome) -> Iterator[str]:
    """The file's lines as text: BOM dropped, bytes that are not UTF-8 reported with their line."""
    for number, raw in enumerate(iter(lambda: stream.readline(MAX_LINE + 1), b""), 1):
        if len(raw) > MAX_LINE:
            raise InvalidInput(f"line {number} is longer than {MAX_LINE:,} bytes; nothing was imported",
                               hint="is it a CSV file? each row must fit in a line, its cells at most 16 MB")
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            outcome.bad(number, f"file: byte 0x{raw[exc.start]:02x} at position {exc.start + 1} is not UTF-8 "
                                "(save the file as UTF-8)")
            yield raw.decode("utf-8", "replace")


def _shown(column: str) -> str:
    """A column name as an error message may show it: one line, no terminal control codes, short."""
    text = column if column.isprintable() else repr(column)
    return text if len(text) <= 40 else text[:39] + "…"


def _listed(names: list[str], most: int = 10) -> str:
    """'a, b, c', or the first few and how many more: a header may name a million columns."""
    more = f" and {len(names) - most:,} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _header(reader, name: str) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{name} is empty; the first line must name the columns, e.g. title,customer_email") from None
    except csv.Error as exc:
        raise InvalidInput(f"{name}: line 1: not a CSV header: {exc}") from exc
    columns = [c.strip().lower() for c in header]
    present = set(columns)
    missing = [c for c in REQUIRED if c not in present]
    unknown = [_shown(h.strip()) or "(empty)" for h, c in zip(header, columns) if c not in _KNOWN]
    if missing:
        raise InvalidInput(
            f"{name}: line 1: the header lacks {', '.join(missing)}"
            + (f" and names unknown columns {_listed(unknown)}" if unknown else ""),
            hint="the first line must name the columns, as `supportctl ticket export` writes them",
        )
    if unknown:
        raise InvalidInput(
            f"{name}: line 1: unknown column{'s' if len(unknown) > 1 else ''} {_listed(unknown)}",
            hint=f"known: {','.join(REQUIRED + OPTIONAL)}; ignored: {','.join(IGNORED)}",
        )
    twice = sorted(_shown(c) for c, n in Counter(columns).items() if n > 1)
    if twice:
        raise InvalidInput(f"{name}: line 1: column {_listed(twice)} appears more than once")
    return columns


class _Stage:
    """The rows, as the file has them, copied into a temporary table a batch at a time; rows
    that are not rows (a wrong number of fields) by line and external id only, so an
    external id repeated on one is still found."""

    def __init__(self, session: Session, table: str, columns: dict[str, str]) -> None:
        self.session, self.table, self.names = session, table, list(columns)
        self.rows: list[tuple] = []
        typed = ", ".join(f"{c} {kind}" for c, kind in columns.items())
        session.execute(text(f"CREATE TEMPORARY TABLE {table} ({typed}) ON COMMIT DROP"))

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


def _stamp(value: str, now: datetime) -> tuple[datetime | None, str | None]:
    """created_at read as Python reads ISO 8601 (PostgreSQL's input would take `yesterday`)."""
    try:
        stamp = parse_timestamp(value)
    except InvalidInput:
        return None, f"{value!r} is not an ISO 8601 time, e.g. 2026-11-23T14:05:00Z"
    if stamp > now:
        return None, f"{value} is in the future"
    if stamp < EARLIEST_NOW:  # due dates and calendar walks count on from it
        return None, f"{value} is before {EARLIEST_NOW:%Y-%m-%d}"
    return stamp, None


def _read(session: Session, stream: BinaryIO, name: str, now: datetime, outcome: Outcome) -> set[str]:
    """Stream the rows into import_rows, checking only what SQL cannot: the CSV's shape,
    UTF-8, NUL bytes, the timestamps. Returns every distinct email cell, to check once each."""
    stage = _Stage(session, "import_rows", _STAGED)
    reader = csv.reader(_lines(stream, outcome), strict=True)
    header = _header(reader, name)
    at = [header.index(c) if c in header else None for c in CELLS]
    key_at, stamp_at = CELLS.index("external_id"), CELLS.index("created_at")
    email_at = [CELLS.index("customer_email"), CELLS.index("assignee_email")]
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
            outcome.bad(line, f"row: malformed CSV ({exc}); reading stopped here")
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
        stamp = None
        if values[stamp_at] is not None and "created_at" not in nul:
            stamp, problem = _stamp(values[stamp_at], now)
            if problem:
                outcome.bad(line, f"created_at: {problem}")
        values[stamp_at] = stamp.isoformat() if stamp else None
        emails.update(values[i] for i in email_at if values[i] is not None)
        if values[key_at] is not None:
            values[key_at] = values[key_at].strip()
        stage.add((line, False, "{" + ",".join(nul) + "}", *values))
    stage.flush()
    return emails


def _check_addresses(session: Session, emails: set[str]) -> None:
    """Each distinct address once (email_validator's rules are not SQL), into import_addresses."""
    stage = _Stage(session, "import_addresses", {"raw": "text PRIMARY KEY", "address": "text", "problem": "text"})
    for raw in emails:
        stage.add((raw, *_address(raw)))
    stage.flush()


# Every problem of a cell, one row each: (line, column, what, the cell). Set-based over the
# staging table; the messages are made from them in Python (_message).
_PROBLEMS = """
WITH r AS (SELECT * FROM import_rows WHERE NOT bad)
SELECT line, 'title', 'missing', NULL FROM r WHERE title IS NULL AND NOT 'title' = ANY(nul)
UNION ALL SELECT line, 'title', 'long', length(btrim(title))::text FROM r WHERE length(btrim(title)) > %(max_title)s
UNION ALL SELECT line, 'customer_email', 'missing', NULL FROM r WHERE customer_email IS NULL
    AND NOT 'customer_email' = ANY(nul)
UNION ALL SELECT r.line, 'customer_email', 'address', a.problem FROM r JOIN import_addresses a
    ON a.raw = r.customer_email WHERE a.problem IS NOT NULL
UNION ALL SELECT line, 'external_id', 'long', length(external_id)::text FROM r
    WHERE length(external_id) > %(max_external_id)s
UNION ALL SELECT line, 'status', 'choice', status FROM r WHERE lower(btrim(status)) <> ALL(%(statuses)s)
UNION ALL SELECT line, 'priority', 'choice', priority FROM r WHERE lower(btrim(priority)) <> ALL(%(priorities)s)
UNION ALL SELECT * FROM (
    SELECT line, 'tags', 'tag', (SELECT x FROM unnest(string_to_array(tags, ';')) WITH ORDINALITY AS u(x, o)
                                 WHERE length(btrim(x)) > %(max_tag)s ORDER BY o LIMIT 1) AS tag
    FROM r WHERE tags IS NOT NULL) AS t WHERE tag IS NOT NULL
UNION ALL SELECT r.line, 'assignee_email', 'address', a.problem FROM r JOIN import_addresses a
    ON a.raw = r.assignee_email WHERE a.problem IS NOT NULL
UNION ALL SELECT r.line, 'assignee_email', 'no agent', a.address FROM r JOIN import_addresses a
    ON a.raw = r.assignee_email WHERE a.address IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM agents g WHERE g.email = a.address)
UNION ALL SELECT r.line, 'team', CASE WHEN tm.id IS NULL THEN 'no team' ELSE 'inactive' END, r.team
    FROM r LEFT JOIN teams tm ON tm.slug = lower(btrim(r.team)) WHERE r.team IS NOT NULL AND NOT 'team' = ANY(r.nul)
    AND (tm.id IS NULL OR NOT tm.active)
UNION ALL SELECT r.line, 'model', 'inactive assignee', a.address FROM r JOIN import_addresses a
    ON a.raw = r.assignee_email JOIN agents g ON g.email = a.address
    WHERE NOT g.active AND coalesce(lower(btrim(r.status)), 'open') NOT IN ('resolved', 'closed')
"""


def _message(column: str, what: str, cell: str | None) -> str:
    if what == "missing":
        return f"{column}: must not be empty"
    if what == "long":
        limit = {"title": changes.MAX_TITLE, "external_id": changes.MAX_EXTERNAL_ID}[column]
        label = "external id" if column == "external_id" else column
        return f"{column}: {label} is {int(cell):,} characters long; at most {limit:,}"
    if what == "address":
        return f"{column}: {cell}"
    if what == "choice":
        return f"{column}: {cell!r} is not one of {', '.join(_CHOICES[column])}"
    if what == "tag":
        return f"tags: tag {cell!r} must be 1-{changes.MAX_TAG_LENGTH} characters without ';'"
    if what == "no agent":
        return f"assignee_email: {cell}: no agent has this email"
    if what == "no team":
        return f"team: {cell.strip()!r}: no team has this slug"
    if what == "inactive":
        return f"team: {cell.strip().lower()} is inactive: it gets no new tickets"
    # History may name agents who have left; open work may not.
    return f"assignee_email: {cell} is inactive (allowed only on resolved or closed tickets)"


def _check(session: Session, outcome: Outcome) -> None:
    with cursor_of(session) as cursor:
        cursor.execute(_PROBLEMS, {"max_title": changes.MAX_TITLE, "max_external_id": changes.MAX_EXTERNAL_ID,
                                   "max_tag": changes.MAX_TAG_LENGTH, "statuses": list(Status),
                                   "priorities": list(Priority)})
        found = cursor.fetchall()
    troubled = {line for line, *_ in outcome.problems} | {line for line, column, *_ in found if column != "model"}
    for line, column, what, cell in found:
        # Whether an assignee may have left is asked of a row that is otherwise sound.
        if column != "model" or line not in troubled:
            outcome.bad(line, _message(column, what, cell))
    for line, external_id, first in session.execute(text(_DUPLICATES)):
        outcome.bad(line, f"external_id: {external_id!r} is also on line {first}")


# The checked rows as they are stored: trimmed, lower-cased, defaults, one tag once.
_NORMALISE = """
UPDATE import_rows r SET
    title = btrim(r.title), status = coalesce(lower(btrim(r.status)), 'open'),
    priority = coalesce(lower(btrim(r.priority)), 'medium'), category = nullif(btrim(r.category), ''),
    tags = array_to_string(ARRAY(
        SELECT t FROM (SELECT btrim(x) AS t, min(o) AS o FROM unnest(string_to_array(r.tags, ';'))
                       WITH ORDINALITY AS u(x, o) WHERE btrim(x) <> '' GROUP BY 1) AS d ORDER BY o), ';'),
    customer_email = (SELECT a.address FROM import_addresses a WHERE a.raw = r.customer_email),
    assignee_email = (SELECT a.address FROM import_addresses a WHERE a.raw = r.assignee_email),
    team = lower(btrim(r.team)), created_at = coalesce(r.created_at, :now)
"""


_DUPLICATES = """
SELECT line, external_id, first_line FROM (
    SELECT line, external_id, min(line) OVER (PARTITION BY external_id) AS first_line
    FROM import_rows WHERE external_id IS NOT NULL) AS r
WHERE line <> first_line ORDER BY line
"""
_NEW = "NOT EXISTS (SELECT 1 FROM tickets t WHERE t.external_id = r.external_id)"
_COUNT = f"""
SELECT count(*) FILTER (WHERE {_NEW}),
       count(DISTINCT r.customer_email) FILTER (
           WHERE {_NEW} AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.email = r.customer_email))
FROM import_rows r
"""
_CUSTOMERS = f"""
INSERT INTO customers (email, name, created_at)
SELECT DISTINCT r.customer_email, split_part(r.customer_email, '@', 1), :now FROM import_rows r WHERE {_NEW}
ORDER BY 1
ON CONFLICT (email) DO NOTHING
"""
# Response counts as given by an assignment or by leaving `open`; resolved/closed/pending
# tickets carry their stamp (created_at, or now) as those times (docs/sla.md, "First response").
_TAGS = "coalesce(string_to_array(r.tags, ';'), '{}')"
# Each row's team (given, else routed), then its policy (given the team), then the ticket with
# that policy's due dates on the 24x7 clock (tickets measured on a calendar are walked after).
_TICKETS = f"""
WITH teamed AS (
    SELECT r.*, {_TAGS} AS tag_list, c.id AS customer_id, c.tier, c.company, a.id AS assignee_id,
           coalesce(tm.id, {route_sql("r.category", _TAGS, "c.tier", "c.company")}) AS team_id
    FROM import_rows r
    JOIN customers c ON c.email = r.customer_email
    LEFT JOIN agents a ON a.email = r.assignee_email
    LEFT JOIN teams tm ON tm.slug = r.team
    WHERE {_NEW}  -- skip known external ids before they take an id; ON CONFLICT covers a racing import
), measured AS (
    SELECT teamed.*, {match_sql("teamed.tier", "teamed.company", "ts.slug", "teamed.category", "teamed.tag_list")}
           AS policy_id
    FROM teamed LEFT JOIN teams ts ON ts.id = teamed.team_id
), inserted AS (
    INSERT INTO tickets (external_id, title, description, status, priority, category, tags, customer_id,
                         assignee_id, team_id, sla_policy_id, escalated, escalation_level, created_at, updated_at,
                         first_response_at, resolved_at, closed_at, paused_at, paused_seconds, response_due_at,
                         resolution_due_at)
    SELECT m.external_id, m.title, coalesce(m.description, ''), m.status, m.priority, m.category, m.tag_list,
           m.customer_id, m.assignee_id, m.team_id, m.policy_id, false, 0, m.created_at, :now,
           CASE WHEN m.status IN ('resolved', 'closed')
                  OR (p.first_response = 'any' AND (m.status <> 'open' OR m.assignee_id IS NOT NULL))
                THEN m.created_at END,
           CASE WHEN m.status IN ('resolved', 'closed') THEN m.created_at END,
           CASE WHEN m.status = 'closed' THEN m.created_at END,
           CASE WHEN m.status = 'pending' THEN m.created_at END,
           0, m.created_at + make_interval(secs => st.response_seconds),
           m.created_at + make_interval(secs => st.resolution_seconds)
    FROM measured m JOIN sla_policies p ON p.id = m.policy_id
    JOIN sla_targets st ON st.policy_id = m.policy_id AND st.priority = m.priority
    ORDER BY m.line
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, title, status, priority, external_id, created_at, customer_id, assignee_id, team_id, sla_policy_id
)
INSERT INTO imported SELECT * FROM inserted
"""
_EVENTS = """
INSERT INTO ticket_events (ticket_id, at, actor, kind, to_value)
SELECT i.id, :now, :actor, 'created', jsonb_strip_nulls(jsonb_build_object(
    'title', i.title, 'status', i.status, 'priority', i.priority, 'customer_email', c.email,
    'assignee_email', a.email, 'team', tm.slug, 'sla_policy', p.name, 'external_id', i.external_id,
    'source', 'import', 'created_at', to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
FROM imported i JOIN customers c ON c.id = i.customer_id LEFT JOIN agents a ON a.id = i.assignee_id
LEFT JOIN teams tm ON tm.id = i.team_id JOIN sla_policies p ON p.id = i.sla_policy_id
"""


def _write(session: Session, now: datetime, actor: str, outcome: Outcome) -> None:
    outcome.new_customers = session.execute(text(_CUSTOMERS), {"now": now}).rowcount
    session.execute(text(
        "CREATE TEMPORARY TABLE imported (id bigint, title text, status text, priority text, external_id text, "
        "created_at timestamptz, customer_id bigint, assignee_id bigint, team_id bigint, sla_policy_id bigint) "
        "ON COMMIT DROP"
    ))
    # Statistics that call tickets empty (a fresh table, or an autovacuum ANALYZE that ran
    # while our rows were uncommitted) make the planner rescan a table that grows as we
    # insert: the external-id check wants an index whatever they say.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    outcome.imported = session.execute(text(_TICKETS), {"now": now}).rowcount
    session.execute(text("RESET enable_seqscan"))
    # The events' foreign-key checks are planned from the same statistics; with tickets
    # "empty" they scan a whole index per row (measured: 100,000 rows took 97 s, not 7 s).
    # Our own ANALYZE counts our rows, and its lock keeps autovacuum off the table until
    # we commit. Through a function that runs as the owner (migration 0005), so roles that do
    # not own the table need no MAINTAIN.
    stale = session.scalar(text("SELECT reltuples < :n FROM pg_class WHERE oid = 'tickets'::regclass"),
                           {"n": outcome.imported})
    if outcome.imported >= 1000 and stale:
        session.execute(text("SELECT supportctl_analyze_tickets()"))
    session.execute(text(_EVENTS), {"now": now, "actor": actor})
    # Read after the INSERT, whose lock on tickets holds off an `sla` change until we commit.
    book = Book.load(session)
    if not book.all_24x7:  # tickets measured on a calendar: their due dates walked (sla/recompute.py)
        recompute(session, now, book, "t.id IN (SELECT id FROM imported)")


def import_csv(
    session: Session, now: datetime, actor: str, stream: BinaryIO, *, name: str = "the file", dry_run: bool = False
) -> Outcome:
    """Check every row of the CSV in stream, then write them all in the caller's transaction
    (or, with dry_run, only count what would be written). Raises BadRows, writing nothing."""
    outcome = Outcome()
    previous_limit = csv.field_size_limit(MAX_FIELD)
    try:
        emails = _read(session, stream, name, now, outcome)
    finally:
        csv.field_size_limit(previous_limit)
    _check_addresses(session, emails)
    _check(session, outcome)
    if outcome.problems:
        outcome.problems.sort(key=lambda p: p[:2])  # stable: a column's problems keep their order
        raise BadRows([message for *_, message in outcome.problems], outcome.rows)
    session.execute(text(_NORMALISE), {"now": now})
    good = outcome.rows
    if dry_run:
        outcome.imported, outcome.new_customers = session.execute(text(_COUNT)).one()
    else:
        _write(session, now, actor, outcome)
    outcome.skipped = good - outcome.imported
    return outcome
