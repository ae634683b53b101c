"""Changing the SLA: targets per priority, the business-hours calendar, and the due dates they give.

A change of policy or calendar recomputes the due dates of every unresolved ticket
(status not resolved/closed) in the caller's transaction, so no reader ever sees the
new policy next to old due dates. Resolved and closed tickets keep theirs: they are
history, and their met/met_late verdict should not move after the fact.

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

While a change runs, other writers of tickets wait (see _lock), so no ticket is
written with due dates from a policy that is no longer in force. Tickets get no
history event (the change is the policy's, not the ticket's), but the ``updated_at``
of those whose due dates moved does, so incremental exports pick the new dates up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Text,
    column,
    delete,
    func,
    or_,
    select,
    text,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from supportctl.db.models import SlaCalendar, SlaPolicy, Ticket
from supportctl.domain.calendar import BusinessCalendar
from supportctl.domain.durations import format_duration, parse_duration
from supportctl.domain.enums import Priority
from supportctl.errors import InvalidInput
from supportctl.services import policy as sla_policy
from supportctl.services import validation
from supportctl.services.policy import Policy
from supportctl.services.ticket_queries import DONE
from supportctl.services.views import CalendarView, PolicyView

BATCH_SIZE = 2000
# An interactive admin command: wait a while for ticket writers in flight (a cron
# batch, a slow import) to finish, then give up (exit 6, nothing changed) rather than hang.
LOCK_TIMEOUT = "30s"
MAX_TARGET = timedelta(days=366)


def format_target(td: timedelta) -> str:
    """``24h``, ``72h``, ``1h30m``: hours, never days, as PRODUCT.md writes targets.

    "1d" of business time reads like one business day when it means 24 open hours.
    """
    seconds = int(td.total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    text = (f"{hours}h" if hours else "") + (format_duration(timedelta(seconds=rest)) if rest else "")
    return ("-" if seconds < 0 else "") + (text or "0m")


def _policy_view(priority: str, response: timedelta, resolution: timedelta) -> PolicyView:
    return PolicyView(
        priority=priority,
        response=format_target(response),
        resolution=format_target(resolution),
        response_seconds=int(response.total_seconds()),
        resolution_seconds=int(resolution.total_seconds()),
    )


def policy_rows(session: Session) -> list[PolicyView]:
    """The targets of every priority, highest priority first."""
    targets = sla_policy.load(session).targets
    return [_policy_view(p.value, *targets[p.value]) for p in reversed(Priority)]


def _duration(text: str | None, flag: str) -> timedelta | None:
    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise InvalidInput(f"{flag}: {exc}") from None
    if value > MAX_TARGET:  # a typo, and a walk of years of business days per ticket
        raise InvalidInput(f"{flag}: an SLA target of {text!r} is too long (at most {format_duration(MAX_TARGET)})")
    return value


def set_targets(
    session: Session, now: datetime, priority: str, *, response: str | None = None, resolution: str | None = None
) -> tuple[PolicyView, PolicyView, Recomputed]:
    """Change one priority's targets; returns (before, after, tickets recomputed)."""
    level = validation.choice(Priority, priority, "priority").value
    new_response, new_resolution = _duration(response, "--response"), _duration(resolution, "--resolution")
    if new_response is None and new_resolution is None:
        raise InvalidInput("give --response DURATION, --resolution DURATION or both (e.g. --response 4h)")
    _lock(session)
    current = sla_policy.load(session)
    old_response, old_resolution = current.targets[level]
    after = (new_response or old_response, new_resolution or old_resolution)
    row = {"priority": level, "response_seconds": int(after[0].total_seconds()),
           "resolution_seconds": int(after[1].total_seconds()), "updated_at": now}
    session.execute(
        insert(SlaPolicy).values(row).on_conflict_do_update(index_elements=[SlaPolicy.priority], set_=row)
    )
    changed = Policy(targets={**current.targets, level: after}, calendar=current.calendar)
    count = recompute(session, now, changed, priorities=[level])
    return _policy_view(level, old_response, old_resolution), _policy_view(level, *after), count


def calendar_view(calendar: BusinessCalendar | None) -> CalendarView:
    if calendar is None:
        return CalendarView(clock="24x7", timezone=None, hours=None, holidays=[])
    return CalendarView(
        clock="business_hours", timezone=calendar.timezone, hours=calendar.hours_text,
        holidays=sorted(calendar.holidays),
    )


def calendar_show(session: Session) -> CalendarView:
    return calendar_view(sla_policy.load(session).calendar)


def calendar_set(
    session: Session, now: datetime, *, timezone: str, hours: str, holidays: list[str] | tuple[str, ...] = ()
) -> tuple[CalendarView, Recomputed]:
    """Replace the calendar (zone, weekly hours, holidays); returns it and the tickets recomputed."""
    try:
        calendar = BusinessCalendar.parse(timezone, hours, holidays)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    view = calendar_view(calendar)
    _lock(session)
    row = {"id": 1, "timezone": view.timezone, "hours": view.hours, "holidays": view.holidays, "updated_at": now}
    session.execute(insert(SlaCalendar).values(row).on_conflict_do_update(index_elements=[SlaCalendar.id], set_=row))
    current = sla_policy.load(session)
    return view, recompute(session, now, Policy(targets=current.targets, calendar=calendar))


def calendar_clear(session: Session, now: datetime) -> tuple[bool, Recomputed]:
    """Back to 24x7; returns (whether a calendar was set, tickets recomputed)."""
    _lock(session)
    removed = session.execute(delete(SlaCalendar).where(SlaCalendar.id == 1)).rowcount > 0
    current = sla_policy.load(session)
    return removed, recompute(session, now, Policy(targets=current.targets, calendar=None))


@dataclass(frozen=True)
class Recomputed:
    tickets: int  # unresolved tickets in scope, all recomputed
    changed: int  # of which the due dates moved (only those are written)


def _lock(session: Session) -> None:
    """Hold off every other writer of tickets until this change commits.

    Ticket commands and cron runs lock their tickets (FOR UPDATE, ROW SHARE) before they
    read the policy, and EXCLUSIVE conflicts with that: whoever read the old policy
    finishes first and is recomputed here; whoever comes later reads the new one.
    Readers (lists, reports, exports) are not blocked. Taken before this command reads
    the policy, so two changes at once apply one after the other, none lost.
    """
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(text("LOCK TABLE tickets IN EXCLUSIVE MODE"))


def recompute(session: Session, now: datetime, policy: Policy, priorities: list[str] | None = None) -> Recomputed:
    """Due dates of unresolved tickets (of these priorities, or all) under `policy`.

    The caller holds the tickets lock (_lock).
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
            due = policy.due_dates(created_at, priority, paused)
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
