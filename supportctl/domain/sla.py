"""SLA due-date rules: one clock abstraction over "24x7" and business hours.

Services never branch on whether a team has a calendar: they call
`add_target` / `elapsed` with ``calendar=None`` for a round-the-clock team,
and get plain datetime arithmetic. Every function takes the times it needs;
nothing here reads the clock, so due dates are reproducible in tests and in
`explain` output months later.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from supportctl.domain.calendar import DAY_NAMES, BusinessCalendar
from supportctl.domain.durations import format_duration, format_target
from supportctl.domain.timestamps import as_utc, iso_z

__all__ = [
    "DEFAULT_POLICY",
    "METRIC_STATES",
    "add_target",
    "due_dates",
    "elapsed",
    "explain_due",
    "metric_state",
]

# (first response, resolution) targets per priority, used when a team has not
# configured its own policy.
DEFAULT_POLICY: dict[str, tuple[timedelta, timedelta]] = {
    "critical": (timedelta(hours=1), timedelta(hours=8)),
    "high": (timedelta(hours=4), timedelta(hours=24)),
    "medium": (timedelta(hours=24), timedelta(hours=72)),
    "low": (timedelta(hours=72), timedelta(hours=168)),
}

METRIC_STATES = ("met", "met_late", "breached", "paused", "running")


def add_target(start: datetime, target: timedelta, calendar: BusinessCalendar | None) -> datetime:
    """The UTC instant when `target` of SLA time has run from `start`."""
    start_utc = as_utc(start, "start")
    if target < timedelta(0):
        raise ValueError("an SLA target cannot be negative")
    if calendar is None:
        return start_utc + target
    return calendar.add(start_utc, target)


def elapsed(a: datetime, b: datetime, calendar: BusinessCalendar | None) -> timedelta:
    """SLA time that ran in [a, b): open time with a calendar, all of it without."""
    a_utc, b_utc = as_utc(a, "a"), as_utc(b, "b")
    if calendar is None:
        return max(b_utc - a_utc, timedelta(0))
    return calendar.open_time_between(a_utc, b_utc)


def due_dates(
    created_at: datetime,
    response_target: timedelta,
    resolution_target: timedelta,
    calendar: BusinessCalendar | None,
    paused: timedelta = timedelta(0),
    reopened_at: datetime | None = None,
) -> tuple[datetime, datetime]:
    """(response due, resolution due) for a ticket created at `created_at`; a reopened
    ticket's resolution clock is a new cycle that runs from `reopened_at`.

    `paused` is the SLA time (business time, via `elapsed`) the ticket has
    spent pending. Adding it to the target before walking the calendar is
    exact: pushing the due date by N open hours is the same as asking for
    target + N open hours from creation. Adding it to the due *instant*
    instead would be wrong whenever the shift crosses a closed period.
    """
    if paused < timedelta(0):
        raise ValueError("paused time cannot be negative")
    return (
        add_target(created_at, response_target, calendar),
        add_target(reopened_at or created_at, resolution_target + paused, calendar),
    )


def metric_state(met_at: datetime | None, due_at: datetime, now: datetime, paused: bool) -> str:
    """Classify one SLA metric as one of METRIC_STATES.

    A pause never hides a breach: once overdue, a pending ticket reads
    'breached', so parking overdue tickets in `pending` cannot game reports.
    """
    if met_at is not None:
        return "met" if met_at <= due_at else "met_late"
    if due_at < now:
        return "breached"
    return "paused" if paused else "running"


def explain_due(
    start: datetime, target: timedelta, calendar: BusinessCalendar | None, since: str = "created"
) -> list[str]:
    """Lines showing how a due time was reached, checkable by hand.

    One line per local day between start and due: the open time counted that
    day and the running total, or why the day counted nothing. `since` names the start.
    """
    due = add_target(start, target, calendar)
    if calendar is None:
        return [f"{since} {iso_z(start)} + {format_duration(target)} (24x7) = {iso_z(due)}"]

    zone, tz = calendar.zone, calendar.timezone
    local_start = start.astimezone(zone)
    by_day: dict[date, list[tuple[datetime, datetime]]] = {}
    for s, e in calendar.open_intervals(start, due):
        by_day.setdefault(s.astimezone(zone).date(), []).append((s, e))

    lines = [
        f"{since} {_day(local_start.date())} {_hm(local_start)} {tz}"
        f" + {format_target(target)} of business hours ({calendar.hours_text})"
    ]
    counted = timedelta(0)
    day = local_start.date()
    last_day = max(by_day, default=due.astimezone(zone).date())
    while day <= last_day:
        label = _day(day)
        if day in by_day:
            spans = by_day[day]
            today = sum((e - s for s, e in spans), timedelta(0))
            counted += today
            shown = ", ".join(
                f"{_hm(s.astimezone(zone), day)}–{_hm(_wall_before(e, zone), day)}" for s, e in spans
            )
            total = f"{format_target(counted)} of {format_target(target)}"
            line = f"{label} {shown}: {format_target(today)} counted ({total})"
            if day == last_day:
                line += f" → due {_hm(due.astimezone(zone), day)}"
            lines.append(line)
        elif day in calendar.holidays:
            lines.append(f"{label}: holiday")
        elif not calendar.hours[day.weekday()]:
            lines.append(f"{label}: closed")
        elif day == local_start.date():
            lines.append(f"{label}: no open time after {_hm(local_start)}")
        else:
            lines.append(f"{label}: no open time counted")
        day += timedelta(days=1)
    local_due = due.astimezone(zone)
    lines.append(f"due {_day(local_due.date())} {_hm(local_due)} {tz} = {iso_z(due)}")
    return lines


def _wall_before(instant: datetime, zone) -> datetime:
    """The wall time an interval ending at `instant` ends at: read on the clock of just before
    it, so an interval that ends where the clock jumps 02:00 -> 03:00 ends at 02:00, not 03:00."""
    offset = (instant - timedelta(microseconds=1)).astimezone(zone).utcoffset()
    return (instant + offset).replace(tzinfo=None)


def _day(value: date) -> str:
    # Our own names, not strftime("%a"), so output doesn't depend on the locale.
    return f"{DAY_NAMES[value.weekday()].title()} {value.isoformat()}"


def _hm(local: datetime, day: date | None = None) -> str:
    """Local HH:MM (seconds only if present); the midnight ending `day` is 24:00."""
    if day is not None and local.date() > day and local.time() == time(0):
        return "24:00"
    return f"{local:%H:%M}" + (f":{local:%S}" if local.second else "")
