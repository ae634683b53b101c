"""Recomputing due dates after the SLA policy or calendar changed.

A change recomputes the due dates of every unresolved ticket (status not
resolved/closed) in the caller's transaction, so no reader ever sees the new policy
next to old due dates. Resolved and closed tickets keep theirs: they are history, and
their met/met_late verdict should not move after the fact.

Two ways to recompute, one rule (domain.sla.due_dates):
- 24x7 (no calendar): one set-based UPDATE, ``created_at + target`` (+ the paused
  time for resolution), fast on millions of rows;
- with a calendar: tickets are read in batches through a server-side cursor and
  their due dates walked in Python, then written back one UPDATE per batch.

Pauses: ``paused_seconds`` is business time measured under the calendar in force
when each pause ended. A calendar change keeps it as is (those hours were measured
and are not re-measured); a pause still running is measured when it ends, under the
calendar in force then. The new due date is target + paused_seconds walked on the
new calendar from created_at.

While a change runs, other writers of tickets wait (see lock_tickets), so no ticket is
written with due dates from a policy that is no longer in force. Tickets get no
history event (the change is the policy's, not the ticket's), but the ``updated_at``
of those whose due dates moved does, so incremental exports pick the new dates up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Text,
    column,
    func,
    or_,
    select,
    text,
    update,
    values,
)
from sqlalchemy.orm import Session

from supportctl.db.models import Ticket
from supportctl.domain.lifecycle import DONE
from supportctl.errors import InvalidInput
from supportctl.services.sla.policy import Policy

BATCH_SIZE = 2000
# An interactive admin command: wait a while for ticket writers in flight (a cron
# batch, a slow import) to finish, then give up (exit 6, nothing changed) rather than hang.
LOCK_TIMEOUT = "30s"


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


def recompute(session: Session, now: datetime, policy: Policy, priorities: list[str] | None = None) -> Recomputed:
    """Due dates of unresolved tickets (of these priorities, or all) under `policy`.

    The caller holds the tickets lock (lock_tickets).
    """
    session.flush()
    scope = [Ticket.status.not_in(DONE)]
    if priorities is not None:
        scope.append(Ticket.priority.in_(priorities))
    if policy.calendar is None:
        tickets = session.scalar(select(func.count()).select_from(Ticket).where(*scope))
        result = Recomputed(tickets, _recompute_24x7(session, now, policy, scope))
    else:
        result = _recompute_walk(session, now, policy, scope)
    session.expire_all()  # rows changed underneath the identity map
    return result


def _seconds(expression):
    return func.make_interval(0, 0, 0, 0, 0, 0, expression)


def _recompute_24x7(session: Session, now: datetime, policy: Policy, scope: list) -> int:
    targets = values(
        column("priority", Text), column("response_seconds", Integer), column("resolution_seconds", Integer),
        name="targets",
    ).data([(p, int(r.total_seconds()), int(s.total_seconds())) for p, (r, s) in policy.targets.items()])
    response_due = Ticket.created_at + _seconds(targets.c.response_seconds)
    resolution_due = Ticket.created_at + _seconds(targets.c.resolution_seconds + Ticket.paused_seconds)
    result = session.execute(
        update(Ticket)
        .where(
            Ticket.priority == targets.c.priority,
            *scope,
            or_(Ticket.response_due_at != response_due, Ticket.resolution_due_at != resolution_due),
        )
        .values(response_due_at=response_due, resolution_due_at=resolution_due, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _recompute_walk(session: Session, now: datetime, policy: Policy, scope: list) -> Recomputed:
    rows = session.execute(
        select(Ticket.id, Ticket.created_at, Ticket.priority, Ticket.paused_seconds,
               Ticket.response_due_at, Ticket.resolution_due_at)
        .where(*scope)
        .order_by(Ticket.id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    tickets = changed = 0
    for batch in rows.partitions():
        tickets += len(batch)
        changes = []
        for ticket_id, created_at, priority, paused, response_due_at, resolution_due_at in batch:
            try:
                due = policy.due_dates(created_at, priority, paused)
            except ValueError as exc:  # e.g. a target this calendar reaches only in decades
                raise InvalidInput(f"ticket {ticket_id}: {exc}; nothing was changed") from None
            if due != (response_due_at, resolution_due_at):
                changes.append((ticket_id, *due))
        if changes:
            _write(session, now, changes)
            changed += len(changes)
    return Recomputed(tickets, changed)


def _write(session: Session, now: datetime, changes: list[tuple[int, datetime, datetime]]) -> None:
    """One UPDATE … FROM (VALUES …) per batch, not one round trip per ticket."""
    due = values(
        column("id", BigInteger), column("response_due_at", DateTime(timezone=True)),
        column("resolution_due_at", DateTime(timezone=True)), name="due",
    ).data(changes)
    session.execute(
        update(Ticket)
        .where(Ticket.id == due.c.id)
        .values(response_due_at=due.c.response_due_at, resolution_due_at=due.c.resolution_due_at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
