"""Reading tickets: the list (and export) query, and one ticket with its comments and history.

SQL over any DB-API cursor (the read path's, or a write transaction's), never the ORM:
the field names are tickets/columns.py's, the formats cli/output.py's. The SLA state is
computed in SQL (sla/state.py), except when a business-hours calendar is in use, when
`Listing.rows` computes it in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportctl.db.query import Column, Kind, Query, fetch
from supportctl.errors import InvalidInput, NotFound
from supportctl.services import validation
from supportctl.services.sla import state
from supportctl.services.sla.policy import Book
from supportctl.services.tickets import filters
from supportctl.services.tickets.filters import TicketFilter

# A list counts its matches only this far: an exact count of 100,000 matches costs far
# more than the page itself, and "more than 10,000" tells a person as much.
COUNT_CAP = 10_000

FROM = ("FROM tickets t JOIN customers c ON c.id = t.customer_id LEFT JOIN agents a ON a.id = t.assignee_id "
        "LEFT JOIN teams tm ON tm.id = t.team_id JOIN sla_policies sp ON sp.id = t.sla_policy_id")
_TIMES = ("created_at", "updated_at", "first_response_at", "resolved_at", "closed_at", "response_due_at",
          "resolution_due_at")
_CLOCKS = ("reopened_at", "paused_at", "last_escalated_at", "next_reply_started_at", "next_reply_due_at",
           "next_reply_met_at")
FIELDS: dict[str, Column] = {c.name: c for c in (
    Column("id", "t.id", Kind.NUMBER),
    Column("external_id", "t.external_id"),
    Column("title", "t.title"),
    Column("description", "t.description"),
    Column("status", "t.status"),
    Column("priority", "t.priority"),
    Column("category", "t.category"),
    Column("tags", "t.tags", Kind.TAGS),
    Column("customer_email", "c.email"),
    Column("assignee_email", "a.email"),
    Column("team", "tm.slug"),
    Column("sla_policy", "sp.name"),
    Column("escalated", "t.escalated", Kind.BOOL),
    Column("escalation_level", "t.escalation_level", Kind.NUMBER),
    *(Column(name, f"t.{name}", Kind.TIME) for name in _TIMES),
    *(Column(name, f"t.{name}", Kind.TIME) for name in _CLOCKS),
    Column("paused_seconds", "t.paused_seconds", Kind.NUMBER),
    Column("next_reply_paused_seconds", "t.next_reply_paused_seconds", Kind.NUMBER),
)}
_STAMPS = frozenset(_TIMES + _CLOCKS)


@dataclass(frozen=True)
class Listing:
    """The query of a list; `rows` when the SLA state must be computed in Python first."""

    query: Query
    compute: Callable[[list[dict]], list[dict]] | None = None

    @property
    def streams(self) -> bool:
        return self.compute is None

    def rows(self, cursor: Any) -> list[dict]:
        rows = fetch(cursor, self.query)
        return self.compute(rows) if self.compute else rows


def listing(cursor: Any, f: TicketFilter, now: datetime, columns: list[str], *, sort: str = "-created_at",
            limit: int = 0, sla_text: bool = False) -> Listing:
    """The tickets `f` picks with `columns` (names of tickets/columns.py), in `sort` order, at most `limit`
    (0: all). Every value is checked before any row is read. With `sla_text` the sla column is
    what a person reads in a table or a pipe, `met/running` (response/resolution), not the object."""
    if limit < 0:
        raise InvalidInput("--limit must be 0 (all) or more")
    where, params = filters.where(cursor, f, now)
    order = filters.order_by(sort) + (f" LIMIT {int(limit)}" if limit else "")
    selected, compute = [], None
    book = Book.read(cursor) if "sla" in columns else None
    for name in columns:
        if name != "sla":
            selected.append(FIELDS[name])
        elif not state.needs_python(book) and sla_text:
            selected.append(Column("sla", f"(SELECT (s->'response'->>'state') || '/' || (s->'resolution'->>'state') "
                                          f"FROM (SELECT {state.sla_sql(book)} AS s) AS x)"))
        elif not state.needs_python(book):
            selected.append(Column("sla", state.sla_sql(book), Kind.JSON))
        else:  # the inputs, turned into the state in Python
            inputs = ", ".join(f"'{n}', t.{n}" for n in state.INPUTS)
            selected.append(Column("sla", f"json_build_object({inputs})", Kind.JSON))
            compute = _python_sla(book, now, sla_text)
    return Listing(Query(tuple(selected), f"{FROM} {where}", params, order), compute)


def count(cursor: Any, f: TicketFilter, now: datetime) -> int:
    """How many tickets `f` picks, counted up to COUNT_CAP + 1."""
    where, params = filters.where(cursor, f, now)
    cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM tickets t {where} LIMIT {COUNT_CAP + 1}) AS m", params)
    return cursor.fetchone()[0]


def one(cursor: Any, ticket_id: int, now: datetime, columns: list[str], *, sla_text: bool = False) -> dict:
    """One ticket with `columns`, or NotFound."""
    found = listing(cursor, TicketFilter(ids=(ticket_id,)), now, columns, sort="id", sla_text=sla_text)
    [ticket] = found.rows(cursor) or [None]
    if ticket is None:
        raise validation.no_ticket(ticket_id)
    return ticket


def key_sql(key: str) -> str:
    """SQL for the ticket an external id names: the one that carries it, else, for `sc-<id>` (how
    an export writes a ticket that has none), ticket <id> if it has no external id of its own."""
    return f"""coalesce((SELECT t.id FROM tickets t WHERE t.external_id = {key}),
    (SELECT t.id FROM tickets t WHERE t.external_id IS NULL AND t.id = CASE
        WHEN {key} ~ '^sc-[0-9]{{1,18}}$' THEN substr({key}, 4)::bigint END))"""


def by_external_id(cursor: Any, external_id: str) -> int:
    """The id of the ticket with this external id (or `sc-<id>`), or NotFound."""
    cursor.execute(f"SELECT {key_sql('%(key)s')}", {"key": external_id})
    [ticket_id] = cursor.fetchone()
    if ticket_id is None:
        raise NotFound(f"no ticket with external id {external_id!r}", hint="see `supportctl ticket list`")
    return ticket_id


def detail(cursor: Any, ticket_id: int, now: datetime, columns: list[str]) -> dict:
    """One ticket as `ticket show` has it: `columns`, then its comments and history."""
    ticket = one(cursor, ticket_id, now, columns)  # columns hold created_at
    validation.not_yet(ticket_id, datetime.fromisoformat(ticket["created_at"]), now)
    comments = Query((Column("id", "id", Kind.NUMBER), Column("author", "author_email"), Column("author_kind", "author_kind"),
                      Column("internal", "internal", Kind.BOOL), Column("body", "body"),
                      Column("created_at", "created_at", Kind.TIME)),
                     "FROM comments WHERE ticket_id = %(id)s ORDER BY id", {"id": ticket_id})
    history = Query((Column("at", "at", Kind.TIME), Column("actor", "actor"), Column("kind", "kind"),
                     Column("from", "from_value", Kind.JSON), Column("to", "to_value", Kind.JSON)),
                    "FROM ticket_events WHERE ticket_id = %(id)s ORDER BY id", {"id": ticket_id})
    return {**ticket, "comments": fetch(cursor, comments), "history": fetch(cursor, history)}


class _Fields:
    """A fetched row's SLA inputs as attributes, times as datetimes (what sla_state reads)."""

    def __init__(self, inputs: dict) -> None:
        for name, value in inputs.items():
            setattr(self, name, datetime.fromisoformat(value) if name in _STAMPS and value else value)


def _python_sla(book: Book, now: datetime, text: bool) -> Callable[[list[dict]], list[dict]]:
    def compute(rows: list[dict]) -> list[dict]:
        from supportctl.domain.timestamps import iso_z

        for row in rows:
            fields = _Fields(row["sla"])
            metrics = state.sla_state(fields, book.clock_of(fields), now)
            row["sla"] = f"{metrics['response']['state']}/{metrics['resolution']['state']}" if text else {
                m: {**v, "due_at": iso_z(v["due_at"]) if v["due_at"] else None} for m, v in metrics.items()}
        return rows
    return compute
