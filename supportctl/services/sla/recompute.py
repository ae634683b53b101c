"""Recomputing due dates after an SLA policy, its targets or a calendar changed.

A change recomputes the due dates of the unresolved tickets it concerns (status not
resolved/closed) in the caller's transaction, so no reader ever sees the new policy next
to old due dates. Resolved and closed tickets keep theirs: they are history, and their
met/met_late verdict should not move after the fact.

Two ways to recompute, one rule (each ticket's Clock, sla/policy.py):
- tickets measured 24x7 (no calendar for their policy, their team or `default`): one
  set-based UPDATE, ``start + target`` (+ the paused time), fast on millions of rows;
- tickets measured on a calendar: read in batches through a server-side cursor and their
  due dates walked in Python, then written back one UPDATE per batch.

Pauses: ``paused_seconds`` is business time measured under the calendar in force when
each pause ended. A calendar change keeps it as is (those hours were measured and are not
re-measured); a pause still running is measured when it ends, under the calendar in
force then. The new due date is target + paused_seconds walked on the new calendar from
created_at (from reopened_at for a reopened ticket's resolution, from the cycle's start
for a running next reply).

While a change runs, other writers of tickets wait (see lock_tickets), so no ticket is
written with due dates from a policy that is no longer in force. Tickets get no history
event for new due dates (the change is the policy's, not the ticket's), but the
``updated_at`` of those whose due dates moved does, so incremental exports pick them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from supportctl.db.bulk import unnest
from supportctl.db.database import cursor_of
from supportctl.domain.lifecycle import DONE
from supportctl.errors import InvalidInput
from supportctl.services.sla.policy import Book

BATCH_SIZE = 2000
# An interactive admin command: wait a while for ticket writers in flight (a cron
# batch, a slow import) to finish, then give up (exit 6, nothing changed) rather than hang.
LOCK_TIMEOUT = "30s"
_DONE = ", ".join(f"'{s}'" for s in DONE)


@dataclass(frozen=True)
class Recomputed:
    tickets: int  # unresolved tickets in scope, all recomputed
    changed: int  # of which the due dates moved (only those are written)


def lock_tickets(session: Session) -> None:
    """Hold off every other writer of tickets until this change commits.

    Ticket commands and cron runs lock their tickets (FOR UPDATE, ROW SHARE) before they
    read the policy, and EXCLUSIVE conflicts with that: whoever read the old policy
    finishes first and is recomputed here; whoever comes later reads the new one.
    Readers (lists, reports, exports) are not blocked. Taken before this command reads
    the policy, so two changes at once apply one after the other, none lost.
    """
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    # As the owner (migration 0005): LOCK TABLE would otherwise need UPDATE on all of tickets.
    session.execute(text("SELECT supportctl_lock_tickets()"))


def scope_of_calendar(name: str) -> tuple[str, dict]:
    """The tickets measured on calendar `name` (now, or until it was cleared): those whose policy
    names it, or whose policy names none and whose team does (or, for `default`, neither does)."""
    return ("(k.pc = %(cal)s OR (k.pc IS NULL AND (k.tc = %(cal)s OR (%(cal)s = 'default' AND k.tc IS NULL))))",
            {"cal": name})


def recompute(session: Session, now: datetime, book: Book, scope: str = "true", params: dict | None = None,
              ) -> Recomputed:
    """Due dates of the unresolved tickets `scope` picks (SQL over the ticket `t` and `k.pc`,
    `k.tc`: the calendars its policy and its team name), under `book` as read after the change.

    The caller holds the tickets lock (lock_tickets).
    """
    session.flush()
    cursor = cursor_of(session)
    picked = _PICKED.format(done=_DONE, scope=scope)
    params = {**(params or {}), "now": now}
    cursor.execute(f"SELECT count(*) {picked}", params)
    tickets = cursor.fetchone()[0]
    changed = _recompute_24x7(cursor, picked, params) + _recompute_walk(session, cursor, book, picked, params)
    session.expire_all()  # rows changed underneath the identity map
    return Recomputed(tickets, changed)


_PICKED = (
    "FROM tickets t JOIN sla_targets st ON st.policy_id = t.sla_policy_id AND st.priority = t.priority "
    "CROSS JOIN LATERAL (SELECT (SELECT sp.calendar FROM sla_policies sp WHERE sp.id = t.sla_policy_id) AS pc, "
    "(SELECT tc.calendar FROM teams tc WHERE tc.id = t.team_id) AS tc) AS k "
    "WHERE t.status NOT IN ({done}) AND ({scope})"
)
# The calendar a picked ticket is measured on (Book.calendar_of), or NULL: 24x7.
_CALENDAR = "coalesce(k.pc, k.tc, (SELECT c.name FROM sla_calendars c WHERE c.name = 'default'))"
_RUNNING_REPLY = "t.next_reply_started_at IS NOT NULL AND t.next_reply_met_at IS NULL"


def _plus(start: str, target: str, *more: str) -> str:
    return f"{start} + make_interval(secs => {' + '.join((f'st.{target}_seconds', *more))})"


def _recompute_24x7(cursor, picked: str, params: dict) -> int:
    running = _plus("t.next_reply_started_at", "next_reply", "t.next_reply_paused_seconds")
    reply = f"CASE WHEN {_RUNNING_REPLY} THEN {running} ELSE t.next_reply_due_at END"
    cursor.execute(
        "UPDATE tickets u SET response_due_at = d.response, resolution_due_at = d.resolution, "
        "next_reply_due_at = d.reply, updated_at = %(now)s "
        f"FROM (SELECT t.id, {_plus('t.created_at', 'response')} AS response, "
        f"{_plus('coalesce(t.reopened_at, t.created_at)', 'resolution', 't.paused_seconds')} AS resolution, "
        f"{reply} AS reply "
        f"{picked} AND {_CALENDAR} IS NULL) AS d "
        "WHERE u.id = d.id AND (u.response_due_at, u.resolution_due_at, u.next_reply_due_at) "
        "IS DISTINCT FROM (d.response, d.resolution, d.reply)",
        params,
    )
    return cursor.rowcount


_WALKED = ("id", "created_at", "reopened_at", "priority", "paused_seconds", "sla_policy_id", "team_id",
           "response_due_at", "resolution_due_at", "next_reply_started_at", "next_reply_met_at",
           "next_reply_paused_seconds", "next_reply_due_at")


def _recompute_walk(session: Session, cursor, book: Book, picked: str, params: dict) -> int:
    reader = session.connection().connection.dbapi_connection.cursor(name="recompute_walk")
    reader.itersize = BATCH_SIZE
    reader.execute(f"SELECT {', '.join('t.' + c for c in _WALKED)} {picked} AND {_CALENDAR} IS NOT NULL "
                   "ORDER BY t.id", params)
    changed = 0
    while batch := reader.fetchmany(BATCH_SIZE):
        changes = []
        for (ticket_id, created_at, reopened_at, priority, paused, policy_id, team_id, response_due_at,
             resolution_due_at, reply_started, reply_met, reply_paused, reply_due_at) in batch:
            clock = book.clock(policy_id, team_id)
            try:
                due = clock.due_dates(created_at, priority, paused, reopened_at)
                reply = (clock.next_reply_due(reply_started, priority, reply_paused)
                         if reply_started is not None and reply_met is None else reply_due_at)
            except ValueError as exc:  # e.g. a target this calendar reaches only in decades
                raise InvalidInput(f"ticket {ticket_id}: {exc}; nothing was changed") from None
            if (*due, reply) != (response_due_at, resolution_due_at, reply_due_at):
                changes.append((ticket_id, *due, reply))
        if changes:
            _write(cursor, params["now"], changes)
            changed += len(changes)
    reader.close()
    return changed


_DUE = (("id", "bigint"), ("response", "timestamptz"), ("resolution", "timestamptz"), ("reply", "timestamptz"))


def _write(cursor, now: datetime, changes: list[tuple]) -> None:
    """One UPDATE per batch, the new due dates as one array per column (db/bulk.py)."""
    rows, params = unnest("d", _DUE, changes)
    cursor.execute(f"UPDATE tickets t SET response_due_at = d.response, resolution_due_at = d.resolution, "
                   f"next_reply_due_at = d.reply, updated_at = %(now)s FROM {rows} WHERE t.id = d.id",
                   {**params, "now": now})
