"""The SLA policy and calendar as stored in the database, and the due dates they give (docs/sla.md).

Read through a plain DB-API cursor, so the read path (no SQLAlchemy) and the write
transactions (`Policy.load(session)`) share one loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from supportctl.domain import sla
from supportctl.domain.calendar import BusinessCalendar
from supportctl.domain.durations import format_target
from supportctl.domain.enums import Priority

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from supportctl.db.models import Ticket


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

    def seconds_sql(self, which: int, priority_sql: str) -> str:
        """A CASE giving the target in seconds (0 = response, 1 = resolution) of the priority in
        `priority_sql`: the policy's numbers written into SQL (they are ours, not user text)."""
        cases = " ".join(f"WHEN '{p.value}' THEN {int(self.targets[p.value][which].total_seconds())}"
                         for p in Priority)
        return f"(CASE {priority_sql} {cases} END)"

    def rows(self) -> list[dict]:
        """`sla policy`: the targets of every priority, highest priority first."""
        return [target_row(p.value, *self.targets[p.value]) for p in reversed(Priority)]

    @classmethod
    def read(cls, cursor: Any) -> Policy:
        """Every host reads the same policy: it lives in the database, not in a local file."""
        cursor.execute("SELECT priority, response_seconds, resolution_seconds FROM sla_policies")
        targets = dict(sla.DEFAULT_POLICY)
        targets.update({p: (timedelta(seconds=r), timedelta(seconds=s)) for p, r, s in cursor.fetchall()})
        cursor.execute("SELECT timezone, hours, holidays FROM sla_calendar WHERE id = 1")
        row = cursor.fetchone()
        return cls(targets=targets, calendar=BusinessCalendar.parse(*row) if row else None)

    @classmethod
    def load(cls, session: Session) -> Policy:
        """The policy inside a write transaction (the session's own connection)."""
        from supportctl.db.database import cursor_of

        return cls.read(cursor_of(session))


def target_row(priority: str, response: timedelta, resolution: timedelta) -> dict:
    """One `sla policy` row: targets as written (``4h``) and in seconds, for scripts."""
    return {"priority": priority, "response": format_target(response), "resolution": format_target(resolution),
            "response_seconds": int(response.total_seconds()), "resolution_seconds": int(resolution.total_seconds())}


def calendar_row(calendar: BusinessCalendar | None) -> dict:
    """The calendar as `sla calendar show` has it; ``clock`` is ``24x7`` (the rest empty) without one."""
    if calendar is None:
        return {"clock": "24x7", "timezone": None, "hours": None, "holidays": []}
    return {"clock": "business_hours", "timezone": calendar.timezone, "hours": calendar.hours_text,
            "holidays": [d.isoformat() for d in sorted(calendar.holidays)]}
