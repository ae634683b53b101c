"""The SLA policy and calendar as stored in the database, and the due dates they give (docs/sla.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportctl.db.models import SlaCalendar, SlaPolicy, Ticket
from supportctl.domain import sla
from supportctl.domain.calendar import BusinessCalendar
from supportctl.services.views import CalendarView


@dataclass(frozen=True)
class Policy:
    targets: dict[str, tuple[timedelta, timedelta]]  # priority -> (response, resolution)
    calendar: BusinessCalendar | None

    def due_dates(self, created_at: datetime, priority: str, paused_seconds: int = 0) -> tuple[datetime, datetime]:
        response, resolution = self.targets[priority]
        return sla.due_dates(created_at, response, resolution, self.calendar, timedelta(seconds=paused_seconds))

    def set_due_dates(self, ticket: Ticket) -> None:
        ticket.response_due_at, ticket.resolution_due_at = self.due_dates(
            ticket.created_at, ticket.priority, ticket.paused_seconds or 0
        )

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        return sla.elapsed(a, b, self.calendar)

    def response_target(self, priority: str) -> timedelta:
        return self.targets[priority][0]

    @classmethod
    def load(cls, session: Session) -> Policy:
        """Every host reads the same policy: it lives in the database, not in a local file."""
        rows = session.scalars(select(SlaPolicy)).all()
        targets = dict(sla.DEFAULT_POLICY)
        targets.update(
            {r.priority: (timedelta(seconds=r.response_seconds), timedelta(seconds=r.resolution_seconds)) for r in rows}
        )
        return cls(targets=targets, calendar=_calendar(session.get(SlaCalendar, 1)))


def _calendar(row: SlaCalendar | None) -> BusinessCalendar | None:
    if row is None:
        return None
    return BusinessCalendar.parse(row.timezone, row.hours, row.holidays)


def calendar_view(calendar: BusinessCalendar | None) -> CalendarView:
    if calendar is None:
        return CalendarView(clock="24x7", timezone=None, hours=None, holidays=[])
    return CalendarView(
        clock="business_hours", timezone=calendar.timezone, hours=calendar.hours_text,
        holidays=sorted(calendar.holidays),
    )
