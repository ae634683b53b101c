"""Bulk ticket import from CSV: every row checked before anything is written, then one transaction.

The header names columns as `ticket export` writes them, so an export re-imports.
Rows are validated (pydantic) as they stream from the file into a temporary table
(COPY, in batches), so memory stays flat however large the file; a repeated external
id is then found in SQL over that table, and INSERT … SELECT writes the tickets (each
with its team, given or routed, and its SLA policy and due dates), then their `created`
events. Any bad row and nothing is written; every bad row is reported
as `line N: column: problem`, N the physical line (the header is line 1).

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
from functools import lru_cache
from typing import BinaryIO

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from supportctl.config import EARLIEST_NOW, parse_timestamp
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
_STAGED = (
    "line", "ok", "external_id", "title", "description", "status", "priority", "category", "tags",
    "customer_email", "assignee_email", "team", "created_at",
)
_STAGED_TYPES = {"line": "integer PRIMARY KEY", "ok": "boolean", "created_at": "timestamptz"}
_CHOICES = {"status": tuple(Status), "priority": tuple(Priority)}
_TEXT = {"title": changes.title_text, "description": changes.description_text,
         "external_id": changes.external_id_text}


@lru_cache(maxsize=65536)  # imports repeat the same customers and agents
def _address(text: str) -> str:
    try:
        return validation.email(text)
    except InvalidInput as exc:
        raise ValueError(f"{text!r} is not a valid email address: {exc.__cause__}") from None


class ImportRow(BaseModel):
    """One CSV row; blank cells are left out, so the defaults apply (and a blank title or
    customer_email is missing; a blank team is routed). Validation context: `now`, `agents`
    (email -> active) and `teams` (slug -> active)."""

    model_config = ConfigDict(frozen=True)

    title: str
    customer_email: str
    external_id: str | None = None
    description: str = ""
    status: Status = Status.OPEN
    priority: Priority = Priority.MEDIUM
    category: str | None = None
    tags: list[str] = []
    assignee_email: str | None = None
    team: str | None = None
    created_at: datetime | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _cell(cls, value: str, info: ValidationInfo):
        name = info.field_name
        if "\x00" in value:
            raise ValueError("contains a NUL byte")
        if name in _TEXT:  # the limits `ticket create` has
            try:
                return _TEXT[name](value)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        if name in ("customer_email", "assignee_email"):
            address = _address(value)
            if name == "assignee_email" and address not in info.context["agents"]:
                raise ValueError(f"{address}: no agent has this email")
            return address
        if name == "team":
            slug = value.strip().lower()
            if slug not in info.context["teams"]:
                raise ValueError(f"{value.strip()!r}: no team has this slug")
            if not info.context["teams"][slug]:
                raise ValueError(f"{slug} is inactive: it gets no new tickets")
            return slug
        if name in ("status", "priority"):
            allowed = _CHOICES[name]
            if value.strip().lower() not in allowed:
                raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
            return value.strip().lower()
        if name == "tags":
            try:
                return changes.tags([t for t in value.split(";") if t.strip()])
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        if name == "created_at":
            try:
                stamp = parse_timestamp(value)
            except InvalidInput:
                raise ValueError(f"{value!r} is not an ISO 8601 time, e.g. 2026-11-23T14:05:00Z") from None
            if stamp > info.context["now"]:
                raise ValueError(f"{value} is in the future")
            if stamp < EARLIEST_NOW:  # due dates and calendar walks count on from it
                raise ValueError(f"{value} is before {EARLIEST_NOW:%Y-%m-%d}")
            return stamp
        return value.strip()

    @model_validator(mode="after")
    def _active_assignee(self, info: ValidationInfo) -> ImportRow:
        # History may name agents who have left; open work may not.
        if self.assignee_email and not info.context["agents"][self.assignee_email] and not self.status.is_done:
            raise ValueError(f"assignee_email: {self.assignee_email} is inactive "
                             "(allowed only on resolved or closed tickets)")
        return self


def _problems_of(exc: ValidationError) -> list[str]:
    found = []
    for error in exc.errors(include_url=False):
        problem = "must not be empty" if error["type"] == "missing" else error["msg"].removeprefix("Value error, ")
        found.append(f"{error['loc'][0]}: {problem}" if error["loc"] else problem)
    return found


class BadRows(InvalidInput):
    """Some rows are bad: `problems` lists every one; nothing was written."""

    def __init__(self, problems: list[str], rows: int) -> None:
        count = len({p.split(":", 1)[0] for p in problems})
        super().__init__(
            f"{count} bad row{'s' if count != 1 else ''} (of {rows}); nothing was imported",
            hint="fix them and run the import again",
        )
        self.problems = problems


@dataclass
class Outcome:
    rows: int = 0  # data rows read (blank lines aside)
    imported: int = 0  # imported, or that would be with dry_run
    skipped: int = 0  # external id already in the database
    new_customers: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list, repr=False)

    def bad(self, line: int, problem: str) -> None:
        self.problems.append((line, f"line {line}: {problem}"))


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
    """Rows copied into a temporary table a batch at a time; bad rows too (line and
    external id only), so an external id repeated on a bad row is still found."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: list[tuple] = []
        columns = ", ".join(f"{c} {_STAGED_TYPES.get(c, 'text')}" for c in _STAGED)
        session.execute(text(f"CREATE TEMPORARY TABLE import_rows ({columns}) ON COMMIT DROP"))

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
        columns = ", ".join(_STAGED)
        with self.session.connection().connection.dbapi_connection.cursor() as cursor:
            cursor.copy_expert(
                f"COPY import_rows ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NULL ({columns}))", buffer
            )
        self.rows.clear()


def _read(session: Session, stream: BinaryIO, name: str, now: datetime, outcome: Outcome) -> None:
    context = {"now": now, "agents": dict(session.execute(text("SELECT email, active FROM agents")).all()),
               "teams": dict(session.execute(text("SELECT slug, active FROM teams")).all())}
    stage = _Stage(session)
    reader = csv.reader(_lines(stream, outcome), strict=True)
    header = _header(reader, name)
    wanted = [(i, c) for i, c in enumerate(header) if c not in IGNORED]
    external = header.index("external_id") if "external_id" in header else None
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
        try:
            if len(cells) != len(header):
                raise ValueError(f"row: {len(cells)} fields, the header has {len(header)}")
            row = ImportRow.model_validate({c: cells[i] for i, c in wanted if cells[i].strip()}, context=context)
        except (ValueError, ValidationError) as exc:
            problems = _problems_of(exc) if isinstance(exc, ValidationError) else [str(exc)]
            for problem in problems:
                outcome.bad(line, problem)
            key = cells[external].strip() if external is not None and external < len(cells) else ""
            stage.add((line, False, key.replace("\x00", "")) + (None,) * (len(_STAGED) - 3))
            continue
        stamp = row.created_at or now
        stage.add((
            line, True, row.external_id, row.title, row.description, row.status.value, row.priority.value,
            row.category, ";".join(row.tags), row.customer_email, row.assignee_email, row.team,
            stamp.isoformat(),
        ))
    stage.flush()


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
        _read(session, stream, name, now, outcome)
    finally:
        csv.field_size_limit(previous_limit)
    for line, external_id, first in session.execute(text(_DUPLICATES)):
        outcome.bad(line, f"external_id: {external_id!r} is also on line {first}")
    if outcome.problems:
        outcome.problems.sort(key=lambda p: p[0])  # stable: a row's problems keep their column order
        raise BadRows([message for _, message in outcome.problems], outcome.rows)
    good = outcome.rows
    if dry_run:
        outcome.imported, outcome.new_customers = session.execute(text(_COUNT)).one()
    else:
        _write(session, now, actor, outcome)
    outcome.skipped = good - outcome.imported
    return outcome
