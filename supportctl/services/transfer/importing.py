"""Bulk ticket import, CSV or NDJSON: every row checked before anything is written.

reading.py streams the file into a temporary table. The checks are one set-based SQL
query over it: the required cells, lengths, statuses and priorities, tags, teams, agents,
policies, repeated external ids, and each distinct email address once (email_validator's
rules). Then INSERT … SELECT writes the tickets (each with its team, given or routed, its
SLA policy and due dates, and with NDJSON the state the object gives: §17), their history
and comments; the database's triggers start their SLA cycles. No notification is sent.

Without a batch size all of it is the caller's one transaction; with one, each batch of
rows is committed on its own (the checks still come first), so an import that dies can
be run again and carries on: a row whose ticket is there is skipped, keyed by its
external id (or, for a supportctl export, `sc-<id>`), or with update_existing changed
through the rules and history of `ticket update`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import text
from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of
from supportctl.domain.enums import Priority, Status
from supportctl.errors import InvalidInput, NotFound, Refused
from supportctl.services import validation
from supportctl.services.assignment import manual
from supportctl.services.notify import outbox
from supportctl.services.sla.policy import Book, match_sql
from supportctl.services.sla.recompute import recompute
from supportctl.services.teams.routing import route_sql
from supportctl.services.tickets import changes, queries
from supportctl.services.transfer import reading
from supportctl.services.transfer.mapping import Mapping
from supportctl.services.transfer.reading import MAX_FIELD, STATE, Outcome, Stage

FORMATS = ("csv", "ndjson")
_CHOICES = {"status": tuple(Status), "priority": tuple(Priority)}
# Problems that name something the database lacks: with NDJSON, exit 3 when they are all there is (§17).
_MISSING = ("no agent", "no team", "no policy")


class BadRows(InvalidInput):
    """Some rows are bad: `problems` lists every one; nothing was written."""

    def __init__(self, problems: list[str], rows: int, *, missing: bool = False) -> None:
        count = len({p.split(":", 1)[0] for p in problems})
        super().__init__(
            f"{count} bad row{'s' if count != 1 else ''} (of {rows}); nothing was imported",
            hint="add the agents and teams they name first" if missing else "fix them and run the import again",
        )
        self.problems = problems
        if missing:
            self.exit_code = NotFound.exit_code


def _address(raw: str) -> tuple[str | None, str | None]:
    """(the address as stored, None) or (None, what is wrong with it)."""
    try:
        return validation.email(raw), None
    except InvalidInput as exc:
        return None, f"{raw!r} is not a valid email address: {exc.__cause__}"


def _check_addresses(session: Session, emails: set[str], kept: bool) -> None:
    """Each distinct address once (email_validator's rules are not SQL), into import_addresses."""
    stage = Stage(session, "import_addresses", {"raw": "text PRIMARY KEY", "address": "text", "problem": "text"},
                  kept=kept)
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
    AND (tm.id IS NULL OR NOT tm.active) AND NOT (r.given IS NOT NULL AND tm.id IS NOT NULL)
UNION ALL SELECT line, 'sla_policy', 'no policy', sla_policy FROM r WHERE sla_policy IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM sla_policies p WHERE p.name = r.sla_policy)
UNION ALL SELECT r.line, 'comments[' || e.o || '].author', 'address', a.problem
    FROM r CROSS JOIN LATERAL jsonb_array_elements(r.comments) WITH ORDINALITY AS e(c, o)
    JOIN import_addresses a ON a.raw = e.c->>'author' WHERE r.comments IS NOT NULL AND a.problem IS NOT NULL
UNION ALL SELECT r.line, 'model', 'inactive assignee', a.address FROM r JOIN import_addresses a
    ON a.raw = r.assignee_email JOIN agents g ON g.email = a.address
    WHERE NOT g.active AND coalesce(lower(btrim(r.status)), 'open') NOT IN ('resolved', 'closed') AND r.given IS NULL
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
    if what == "no policy":
        return f"sla_policy: {cell!r}: no SLA policy has this name"
    if what == "inactive":
        return f"team: {cell.strip().lower()} is inactive: it gets no new tickets"
    # History may name agents who have left; open work may not.
    return f"assignee_email: {cell} is inactive (allowed only on resolved or closed tickets)"


_DUPLICATES = """
SELECT line, external_id, first_line FROM (
    SELECT line, external_id, min(line) OVER (PARTITION BY external_id) AS first_line
    FROM import_rows WHERE external_id IS NOT NULL) AS r
WHERE line <> first_line ORDER BY line
"""


def _check(session: Session, outcome: Outcome) -> int:
    """Record every problem SQL finds; returns how many name an agent, team or policy that is not there."""
    with cursor_of(session) as cursor:
        cursor.execute(_PROBLEMS, {"max_title": changes.MAX_TITLE, "max_external_id": changes.MAX_EXTERNAL_ID,
                                   "max_tag": changes.MAX_TAG_LENGTH, "statuses": list(Status),
                                   "priorities": list(Priority)})
        found = cursor.fetchall()
    troubled = {line for line, *_ in outcome.problems} | {line for line, column, *_ in found if column != "model"}
    missing = 0
    for line, column, what, cell in found:
        # Whether an assignee may have left is asked of a row that is otherwise sound.
        if column != "model" or line not in troubled:
            outcome.bad(line, _message(column, what, cell))
            missing += what in _MISSING
    for line, external_id, first in session.execute(text(_DUPLICATES)):
        outcome.bad(line, f"external_id: {external_id!r} is also on line {first}")
    return missing


# The checked rows as they are stored: trimmed, lower-cased, one tag once, addresses as
# stored. Defaults (open, medium, now) are the insert's: a blank cell is no change to a
# ticket that is there.
_NORMALISE = """
UPDATE import_rows r SET
    title = btrim(r.title), status = lower(btrim(r.status)), priority = lower(btrim(r.priority)),
    category = nullif(btrim(r.category), ''),
    tags = array_to_string(ARRAY(
        SELECT t FROM (SELECT btrim(x) AS t, min(o) AS o FROM unnest(string_to_array(r.tags, ';'))
                       WITH ORDINALITY AS u(x, o) WHERE btrim(x) <> '' GROUP BY 1) AS d ORDER BY o), ';'),
    customer_email = (SELECT a.address FROM import_addresses a WHERE a.raw = r.customer_email),
    assignee_email = (SELECT a.address FROM import_addresses a WHERE a.raw = r.assignee_email),
    team = lower(btrim(r.team))
"""
# The ticket a row names: its external id's, or the ticket `sc-<id>` names if that one has
# no external id of its own (a supportctl export's row: §17).
_TICKET_OF = queries.key_sql("r.external_id")
_NEW = f"{_TICKET_OF} IS NULL"
_IN_BATCH = "r.line BETWEEN :first AND :last"
_COUNT = f"""
SELECT count(*) FILTER (WHERE {_NEW}),
       count(DISTINCT r.customer_email) FILTER (
           WHERE {_NEW} AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.email = r.customer_email))
FROM import_rows r
"""
_CUSTOMERS = f"""
INSERT INTO customers (email, name, created_at)
SELECT DISTINCT r.customer_email, split_part(r.customer_email, '@', 1), :now FROM import_rows r
WHERE {_IN_BATCH} AND {_NEW}
ORDER BY 1
ON CONFLICT (email) DO NOTHING
"""
_TAGS = "coalesce(string_to_array(r.tags, ';'), '{}')"


def _taken(column: str, derived: str) -> str:
    """An NDJSON object's value for column when it names it (§17: taken, not recomputed), else derived."""
    return f"CASE WHEN '{column}' = ANY(m.given) THEN m.{column} ELSE {derived} END"


# Each row's team (given, else routed), then its policy (given, else matched given the team),
# then the ticket: the state an NDJSON object gives, the rest derived as for a new ticket:
# due dates on the 24x7 clock (tickets measured on a calendar are walked after), response
# counted by an assignment or by leaving `open`, resolved/closed/pending tickets carrying
# their created_at as those times (docs/sla.md, "First response"). Ids are drawn first, so
# each ticket is known by its row's line.
_TICKETS = f"""
WITH teamed AS (
    SELECT r.line, r.external_id, r.title, r.description, coalesce(r.status, 'open') AS status,
           coalesce(r.priority, 'medium') AS priority, r.category, coalesce(r.created_at, :now) AS created_at,
           coalesce(r.given, '{{}}') AS given, {", ".join(f"r.{c}" for c in STATE)},
           {_TAGS} AS tag_list, c.id AS customer_id, c.tier, c.company, a.id AS assignee_id,
           CASE WHEN 'team' = ANY(r.given) THEN tm.id
                ELSE coalesce(tm.id, {route_sql("r.category", _TAGS, "c.tier", "c.company")}) END AS team_id,
           nextval(pg_get_serial_sequence('tickets', 'id')) AS id
    FROM import_rows r
    JOIN customers c ON c.email = r.customer_email
    LEFT JOIN agents a ON a.email = r.assignee_email
    LEFT JOIN teams tm ON tm.slug = r.team
    WHERE {_IN_BATCH} AND {_NEW}  -- known ones skipped before they take an id; ON CONFLICT covers a racer
), measured AS (
    SELECT teamed.*, CASE
        WHEN 'sla_policy' = ANY(teamed.given) THEN (SELECT p.id FROM sla_policies p WHERE p.name = teamed.sla_policy
                                                  ORDER BY p.removed_at IS NOT NULL, p.id DESC LIMIT 1)
        ELSE {match_sql("teamed.tier", "teamed.company", "ts.slug", "teamed.category", "teamed.tag_list")} END
        AS policy_id
    FROM teamed LEFT JOIN teams ts ON ts.id = teamed.team_id
), inserted AS (
    INSERT INTO tickets (id, external_id, title, description, status, priority, category, tags, customer_id,
                         assignee_id, team_id, sla_policy_id, escalated, escalation_level, last_escalated_at,
                         created_at, updated_at, first_response_at, resolved_at, closed_at, reopened_at, paused_at,
                         paused_seconds, response_due_at, resolution_due_at, next_reply_started_at,
                         next_reply_due_at, next_reply_met_at, next_reply_paused_seconds)
    SELECT m.id, m.external_id, m.title, coalesce(m.description, ''), m.status, m.priority, m.category, m.tag_list,
           m.customer_id, m.assignee_id, m.team_id, m.policy_id, {_taken("escalated", "false")},
           {_taken("escalation_level", "0")}, {_taken("last_escalated_at", "NULL")}, m.created_at,
           {_taken("updated_at", ":now")},
           {_taken("first_response_at", '''CASE WHEN m.status IN ('resolved', 'closed')
               OR (p.first_response = 'any' AND (m.status <> 'open' OR m.assignee_id IS NOT NULL))
               THEN m.created_at END''')},
           {_taken("resolved_at", "CASE WHEN m.status IN ('resolved', 'closed') THEN m.created_at END")},
           {_taken("closed_at", "CASE WHEN m.status = 'closed' THEN m.created_at END")},
           {_taken("reopened_at", "NULL")},
           {_taken("paused_at", "CASE WHEN m.status = 'pending' THEN m.created_at END")},
           {_taken("paused_seconds", "0")},
           {_taken("response_due_at", "m.created_at + make_interval(secs => st.response_seconds)")},
           {_taken("resolution_due_at", "m.created_at + make_interval(secs => st.resolution_seconds)")},
           {_taken("next_reply_started_at", "NULL")}, {_taken("next_reply_due_at", "NULL")},
           {_taken("next_reply_met_at", "NULL")}, {_taken("next_reply_paused_seconds", "0")}
    FROM measured m JOIN sla_policies p ON p.id = m.policy_id
    JOIN sla_targets st ON st.policy_id = m.policy_id AND st.priority = m.priority
    ORDER BY m.line
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, title, status, priority, external_id, created_at, customer_id, assignee_id, team_id, sla_policy_id
)
INSERT INTO imported SELECT i.*, m.line, m.given FROM inserted i JOIN measured m ON m.id = i.id
"""
_EVENTS = """
INSERT INTO ticket_events (ticket_id, at, actor, kind, to_value)
SELECT i.id, :now, :actor, 'created', jsonb_strip_nulls(jsonb_build_object(
    'title', i.title, 'status', i.status, 'priority', i.priority, 'customer_email', c.email,
    'assignee_email', a.email, 'team', tm.slug, 'sla_policy', p.name, 'external_id', i.external_id,
    'source', 'import', 'created_at', to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
FROM imported i JOIN customers c ON c.id = i.customer_id LEFT JOIN agents a ON a.id = i.assignee_id
LEFT JOIN teams tm ON tm.id = i.team_id JOIN sla_policies p ON p.id = i.sla_policy_id
ORDER BY i.id
"""
# What an NDJSON object gave, as it gave it (the description and comments aside: they are the ticket's).
_IMPORTED_EVENTS = """
INSERT INTO ticket_events (ticket_id, at, actor, kind, to_value)
SELECT i.id, :now, :actor, 'imported',
       jsonb_strip_nulls(to_jsonb(r) - 'line' - 'bad' - 'nul' - 'given' - 'description' - 'comments' - 'tags'
                         || jsonb_build_object('tags', string_to_array(r.tags, ';')))
       || jsonb_build_object('comments', coalesce(jsonb_array_length(r.comments), 0))
FROM imported i JOIN import_rows r ON r.line = i.line WHERE cardinality(i.given) > 0
ORDER BY i.id
"""
_COMMENTS = """
INSERT INTO comments (ticket_id, author_email, author_kind, body, internal, created_at)
SELECT i.id, a.address,
       coalesce(e.c->>'author_kind',
                CASE WHEN EXISTS (SELECT 1 FROM agents g WHERE g.email = a.address) THEN 'agent' ELSE 'customer' END),
       e.c->>'body', (e.c->>'internal')::boolean, (e.c->>'created_at')::timestamptz
FROM imported i JOIN import_rows r ON r.line = i.line
CROSS JOIN LATERAL jsonb_array_elements(r.comments) WITH ORDINALITY AS e(c, o)
JOIN import_addresses a ON a.raw = e.c->>'author'
WHERE r.comments IS NOT NULL
ORDER BY i.id, e.o
"""


def _insert(session: Session, now: datetime, actor: str, first: int, last: int) -> tuple[int, int]:
    """The batch's new rows as tickets: (tickets, new customers)."""
    batch = {"now": now, "first": first, "last": last}
    customers = session.execute(text(_CUSTOMERS), batch).rowcount
    session.execute(text(
        "CREATE TEMPORARY TABLE imported (id bigint, title text, status text, priority text, external_id text, "
        "created_at timestamptz, customer_id bigint, assignee_id bigint, team_id bigint, sla_policy_id bigint, "
        "line integer, given text[]) ON COMMIT DROP"
    ))
    # Statistics that call tickets empty (a fresh table, or an autovacuum ANALYZE that ran
    # while our rows were uncommitted) make the planner rescan a table that grows as we
    # insert: the external-id check wants an index whatever they say.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    imported = session.execute(text(_TICKETS), batch).rowcount
    session.execute(text("RESET enable_seqscan"))
    # The events' foreign-key checks are planned from the same statistics; with tickets
    # "empty" they scan a whole index per row (measured: 100,000 rows took 97 s, not 7 s).
    # Our own ANALYZE counts our rows, and its lock keeps autovacuum off the table until
    # we commit. Through a function that runs as the owner (migration 0005), so roles that do
    # not own the table need no MAINTAIN.
    stale = session.scalar(text("SELECT reltuples < :n FROM pg_class WHERE oid = 'tickets'::regclass"),
                           {"n": imported})
    if imported >= 1000 and stale:
        session.execute(text("SELECT supportctl_analyze_tickets()"))
    session.execute(text(_EVENTS), batch | {"actor": actor})
    session.execute(text(_IMPORTED_EVENTS), batch | {"actor": actor})
    session.execute(text(_COMMENTS))
    # Read after the INSERT, whose lock on tickets holds off an `sla` change until we commit.
    book = Book.load(session)
    if not book.all_24x7:  # tickets measured on a calendar: their due dates walked (sla/recompute.py)
        recompute(session, now, book,
                  "t.id IN (SELECT id FROM imported WHERE NOT 'resolution_due_at' = ANY(given))")
    session.execute(text("DROP TABLE imported"))
    return imported, customers


# -- --update-existing: the rows whose ticket is there, through ticket update's rules --

_UPDATABLE = ("title", "priority", "category", "tags", "team", "assignee_email", "status")
_THERE = f"""
SELECT r.line, t.id, r.given, {", ".join(f"r.{c}" for c in _UPDATABLE)},
       t.title, t.priority, t.category, t.tags, tm.slug, a.email, t.status
FROM (SELECT r.*, {_TICKET_OF} AS ticket_id FROM import_rows r WHERE {_IN_BATCH}) AS r
JOIN tickets t ON t.id = r.ticket_id LEFT JOIN teams tm ON tm.id = t.team_id LEFT JOIN agents a ON a.id = t.assignee_id
ORDER BY r.line
"""


@dataclass(frozen=True)
class _Update:
    line: int
    ticket_id: int
    wanted: dict[str, object]  # what differs: field -> the row's value

    def apply(self, session: Session, now: datetime, actor: str, tags: list[str]) -> None:
        """In the order of a bulk change (docs/bulk.md): fields, then the assignee, then the status."""
        w = self.wanted
        fields = {k: w[k] for k in ("title", "priority") if k in w}
        if "category" in w:
            fields["category"] = w["category"] or ""  # empty clears it
        if "tags" in w:
            new = list(w["tags"])
            fields["add_tags"] = [t for t in new if t not in tags]
            fields["remove_tags"] = [t for t in tags if t not in new]
        if "team" in w:
            fields["team" if w["team"] else "no_team"] = w["team"] or True
        try:
            if fields:
                changes.update(session, now, actor, self.ticket_id, **fields)
            if "assignee_email" in w:
                if w["assignee_email"]:
                    manual.assign_to(session, now, actor, self.ticket_id, w["assignee_email"])
                else:
                    manual.unassign(session, now, actor, self.ticket_id)
            if "status" in w:
                changes.update(session, now, actor, self.ticket_id, status=w["status"])
        except (Refused, NotFound) as exc:
            raise type(exc)(f"line {self.line}: ticket {self.ticket_id}: {exc.message}", hint=exc.hint) from exc


def _updates(session: Session, first: int, last: int) -> tuple[list[_Update], dict[int, list[str]]]:
    """The rows of the batch whose ticket is there and that change it: a field the row gives
    (an NDJSON key, a CSV cell that is not blank) with a value the ticket does not have."""
    found, tags_of = [], {}
    for line, ticket_id, given, *values in session.execute(text(_THERE), {"first": first, "last": last}):
        row, current = values[:len(_UPDATABLE)], values[len(_UPDATABLE):]
        wanted = {}
        for column, value, now_value in zip(_UPDATABLE, row, current):
            if given is not None and column not in given or given is None and value is None:
                continue
            if column == "tags":
                value = value.split(";") if value else []
                now_value = list(now_value)
            if column == "category":
                value = value or None
            if value != now_value:
                wanted[column] = value
        if wanted:
            found.append(_Update(line, ticket_id, wanted))
            tags_of[ticket_id] = list(current[_UPDATABLE.index("tags")])
    return found, tags_of


def _batches(session: Session, size: int | None, rows: int) -> list[tuple[int, int, int]]:
    """(first line, last line, rows) of each batch of `size` rows; one for all without a size."""
    if not size:
        return [(0, 2**31 - 1, rows)]
    return [tuple(b) for b in session.execute(text(
        "SELECT min(line), max(line), count(*) FROM (SELECT line, (row_number() OVER (ORDER BY line) - 1) / :size "
        "AS b FROM import_rows) AS s GROUP BY b ORDER BY b"), {"size": size})]


def import_file(
    session: Session, now: datetime, actor: str, stream: BinaryIO, *, fmt: str = "csv", name: str = "the file",
    dry_run: bool = False, update_existing: bool = False, batch_size: int | None = None,
    mapping: Mapping = Mapping(), commit: Callable[[], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Check every row of the file in stream, then write them in the caller's transaction, or
    with batch_size each batch in its own (`commit` ends one and begins the next). With
    dry_run only count what would be written. Raises BadRows, writing nothing."""
    if fmt not in FORMATS:
        raise InvalidInput(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if batch_size is not None and batch_size < 1:
        raise InvalidInput("--batch-size must be 1 or more")
    batched = bool(batch_size) and not dry_run and commit is not None
    outcome = Outcome()
    stage = reading.stage_for(session, fmt, kept=batched)
    previous_limit = csv.field_size_limit(MAX_FIELD)
    try:
        if fmt == "csv":
            emails = reading.read_csv(stage, stream, name, now, outcome, mapping)
        else:
            emails = reading.read_ndjson(stage, stream, now, outcome, mapping)
    finally:
        csv.field_size_limit(previous_limit)
    _check_addresses(session, emails, batched)
    missing = _check(session, outcome)
    if outcome.problems:
        outcome.problems.sort(key=lambda p: p[:2])  # stable: a column's problems keep their order
        raise BadRows([message for *_, message in outcome.problems], outcome.rows,
                      missing=fmt == "ndjson" and missing == len(outcome.problems))
    session.execute(text(_NORMALISE))
    outbox.mute(session)  # a migration mails nobody, updates included
    try:
        _write(session, now, actor, outcome, dry_run=dry_run, update_existing=update_existing,
               batches=_batches(session, batch_size if batched else None, outcome.rows), commit=commit if batched else None,
               progress=progress)
    finally:
        if batched:
            session.rollback()  # what a failed batch left
            session.execute(text("DROP TABLE IF EXISTS pg_temp.import_rows, pg_temp.import_addresses"))
    return outcome


def _write(session: Session, now: datetime, actor: str, outcome: Outcome, *, dry_run: bool, update_existing: bool,
           batches: list[tuple[int, int, int]], commit: Callable[[], None] | None,
           progress: Callable[[int, int], None] | None) -> None:
    if dry_run:
        outcome.imported, outcome.new_customers = session.execute(text(_COUNT)).one()
    if commit is not None:
        commit()  # the checked rows stay staged; nothing is written yet
    done = 0
    for first, last, rows in batches:
        if not dry_run:
            imported, customers = _insert(session, now, actor, first, last)
            outcome.imported += imported
            outcome.new_customers += customers
        if update_existing:
            found, tags_of = _updates(session, first, last)
            outcome.updated += len(found)
            for update in found if not dry_run else ():
                update.apply(session, now, actor, tags_of[update.ticket_id])
        if commit is not None:
            commit()
        if progress is not None:
            done += rows
            progress(done, outcome.rows)
    outcome.skipped = outcome.rows - outcome.imported - outcome.updated
