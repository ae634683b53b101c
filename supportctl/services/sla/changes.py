"""Changing the SLA: targets per priority and the business-hours calendar (docs/sla.md).

Each change takes the tickets lock first and recomputes the due dates of unresolved
tickets in the same transaction (sla/recompute.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from supportctl.db.models import SlaCalendar, SlaPolicy
from supportctl.domain.calendar import BusinessCalendar
from supportctl.domain.durations import format_duration, parse_duration
from supportctl.domain.enums import Priority
from supportctl.domain.sla import add_target
from supportctl.errors import InvalidInput
from supportctl.services import validation
from supportctl.services.sla.policy import Policy, calendar_row, target_row
from supportctl.services.sla.recompute import Recomputed, lock_tickets, recompute

MAX_TARGET = timedelta(days=366)


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
) -> tuple[dict, dict, Recomputed]:
    """Change one priority's targets; returns (before, after, tickets recomputed)."""
    level = validation.choice(Priority, priority, "priority").value
    new_response, new_resolution = _duration(response, "--response"), _duration(resolution, "--resolution")
    if new_response is None and new_resolution is None:
        raise InvalidInput("give --response DURATION, --resolution DURATION or both (e.g. --response 4h)")
    unlocked = Policy.load(session)  # checked before the lock, read again under it
    old_response, old_resolution = unlocked.targets[level]
    _reachable(unlocked.calendar, now, new_response or old_response, new_resolution or old_resolution)
    lock_tickets(session)
    current = Policy.load(session)
    old_response, old_resolution = current.targets[level]
    after = (new_response or old_response, new_resolution or old_resolution)
    row = {"priority": level, "response_seconds": int(after[0].total_seconds()),
           "resolution_seconds": int(after[1].total_seconds()), "updated_at": now}
    session.execute(
        insert(SlaPolicy).values(row).on_conflict_do_update(index_elements=[SlaPolicy.priority], set_=row)
    )
    changed = Policy(targets={**current.targets, level: after}, calendar=current.calendar)
    count = recompute(session, now, changed, priorities=[level])
    return target_row(level, old_response, old_resolution), target_row(level, *after), count


def _reachable(calendar: BusinessCalendar | None, now: datetime, *targets: timedelta) -> None:
    """Refuse (exit 2, before any lock) a calendar and targets whose due times it cannot reach."""
    try:
        for target in targets:
            add_target(now, target, calendar)
    except ValueError as exc:
        raise InvalidInput(f"the SLA targets cannot be met on this calendar: {exc}") from None


def calendar_set(
    session: Session, now: datetime, *, timezone: str, hours: str, holidays: list[str] | tuple[str, ...] = ()
) -> tuple[dict, Recomputed]:
    """Replace the calendar (zone, weekly hours, holidays); returns it and the tickets recomputed."""
    try:
        calendar = BusinessCalendar.parse(timezone, hours, holidays)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    view = calendar_row(calendar)
    _reachable(calendar, now, *(t for pair in Policy.load(session).targets.values() for t in pair))
    lock_tickets(session)
    row = {"id": 1, "timezone": calendar.timezone, "hours": calendar.hours_text,
           "holidays": sorted(calendar.holidays), "updated_at": now}
    session.execute(insert(SlaCalendar).values(row).on_conflict_do_update(index_elements=[SlaCalendar.id], set_=row))
    current = Policy.load(session)
    return view, recompute(session, now, Policy(targets=current.targets, calendar=calendar))


def calendar_clear(session: Session, now: datetime) -> tuple[bool, Recomputed]:
    """Back to 24x7; returns (whether a calendar was set, tickets recomputed)."""
    lock_tickets(session)
    removed = session.execute(delete(SlaCalendar).where(SlaCalendar.id == 1)).rowcount > 0
    current = Policy.load(session)
    return removed, recompute(session, now, Policy(targets=current.targets, calendar=None))


