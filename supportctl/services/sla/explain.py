"""`sla explain`: the policy, calendar, pauses and arithmetic behind a ticket's due times.

Everything is recomputed from the rules (domain.sla.explain_due) and set beside what
the ticket stores, so a lead can redo the sum by hand and see when the two differ.
The text a person reads is drawn from this view by cli/explain.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from supportctl.domain import sla
from supportctl.domain.durations import format_target
from supportctl.services import lookup
from supportctl.services.sla.policy import Policy, calendar_view
from supportctl.services.sla.state import sla_view
from supportctl.services.views import Explanation, MetricExplanation, MetricView


def explain(session: Session, ticket_id: int, now: datetime) -> Explanation:
    ticket = lookup.ticket(session, ticket_id)
    policy = Policy.load(session)
    response_target, resolution_target = policy.targets[ticket.priority]
    paused = timedelta(seconds=ticket.paused_seconds or 0)
    response_due, resolution_due = policy.due_dates(ticket.created_at, ticket.priority, ticket.paused_seconds or 0)
    state = sla_view(ticket, policy, now)
    calendar = calendar_view(policy.calendar)

    def metric(name: str, target: timedelta, pause: timedelta, due: datetime, stored: datetime,
               met_at: datetime | None, now_view: MetricView) -> MetricExplanation:
        steps = []
        if pause:
            steps.append(
                f"{format_target(target)} {name} target + {format_target(pause)} paused (business time)"
                f" = {format_target(target + pause)}"
            )
        steps += sla.explain_due(ticket.created_at, target + pause, policy.calendar)
        return MetricExplanation(
            metric=name, target=format_target(target), target_seconds=int(target.total_seconds()),
            paused_seconds=int(pause.total_seconds()), due_at=due, stored_due_at=stored, state=now_view.state,
            effective_due_at=now_view.due_at, remaining_seconds=now_view.remaining_seconds, met_at=met_at,
            steps=steps,
        )

    return Explanation(
        id=ticket.id, title=ticket.title, priority=ticket.priority, status=ticket.status,
        created_at=ticket.created_at, clock=calendar.clock, timezone=calendar.timezone, hours=calendar.hours,
        holidays=calendar.holidays, paused_seconds=int(paused.total_seconds()), paused_since=ticket.paused_at,
        response=metric("response", response_target, timedelta(0), response_due, ticket.response_due_at,
                        ticket.first_response_at, state.response),
        resolution=metric("resolution", resolution_target, paused, resolution_due, ticket.resolution_due_at,
                          ticket.resolved_at, state.resolution),
    )
