"""`sla explain`: the policy, calendar, pauses and arithmetic behind a ticket's due times.

Everything is recomputed from the rules (domain.sla.explain_due) and set beside what
the ticket stores, so a lead can redo the sum by hand and see when the two differ.
The text a person reads is drawn from this view by cli/explain.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from supportctl.domain import sla
from supportctl.domain.durations import format_target
from supportctl.services import validation
from supportctl.services.sla.policy import Policy
from supportctl.services.sla.state import sla_state
from supportctl.services.views import Explanation, MetricExplanation

_FIELDS = ("id", "title", "priority", "status", "created_at", "paused_seconds", "paused_at", "first_response_at",
           "resolved_at", "response_due_at", "resolution_due_at")


def explain(cursor: Any, ticket_id: int, now: datetime) -> Explanation:
    cursor.execute(f"SELECT {', '.join(_FIELDS)} FROM tickets WHERE id = %s", (ticket_id,))
    row = cursor.fetchone()
    if row is None:
        raise validation.no_ticket(ticket_id)
    ticket = SimpleNamespace(**dict(zip(_FIELDS, row)))
    policy = Policy.read(cursor)
    response_target, resolution_target = policy.targets[ticket.priority]
    paused = timedelta(seconds=ticket.paused_seconds or 0)
    response_due, resolution_due = policy.due_dates(ticket.created_at, ticket.priority, ticket.paused_seconds or 0)
    state = sla_state(ticket, policy, now)
    calendar = policy.calendar

    def metric(name: str, target: timedelta, pause: timedelta, due: datetime, stored: datetime,
               met_at: datetime | None, now_state: dict) -> MetricExplanation:
        steps = []
        if pause:
            steps.append(
                f"{format_target(target)} {name} target + {format_target(pause)} paused (business time)"
                f" = {format_target(target + pause)}"
            )
        steps += sla.explain_due(ticket.created_at, target + pause, calendar)
        return MetricExplanation(
            metric=name, target=format_target(target), target_seconds=int(target.total_seconds()),
            paused_seconds=int(pause.total_seconds()), due_at=due, stored_due_at=stored, state=now_state["state"],
            effective_due_at=now_state["due_at"], remaining_seconds=now_state["remaining_seconds"], met_at=met_at,
            steps=steps,
        )

    return Explanation(
        id=ticket.id, title=ticket.title, priority=ticket.priority, status=ticket.status,
        created_at=ticket.created_at, clock="business_hours" if calendar else "24x7",
        timezone=calendar.timezone if calendar else None, hours=calendar.hours_text if calendar else None,
        holidays=sorted(calendar.holidays) if calendar else [], paused_seconds=int(paused.total_seconds()),
        paused_since=ticket.paused_at,
        response=metric("response", response_target, timedelta(0), response_due, ticket.response_due_at,
                        ticket.first_response_at, state["response"]),
        resolution=metric("resolution", resolution_target, paused, resolution_due, ticket.resolution_due_at,
                          ticket.resolved_at, state["resolution"]),
    )
