"""`sla explain`: the policy, calendar, pauses and arithmetic behind a ticket's due times.

Everything is recomputed from the rules (domain.sla.explain_due) and set beside what
the ticket stores, so a lead can redo the sum by hand and see when the two differ.
The text a person reads is drawn from this view by cli/explain.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from supportctl.domain import policies, sla
from supportctl.domain.durations import format_target
from supportctl.services import validation
from supportctl.services.sla.policy import Book
from supportctl.services.sla.state import INPUTS, sla_state
from supportctl.services.views import Explanation, MetricExplanation

_FIELDS = ("id", "title", "status", "category", "tags", "resolved_at", *(
    f for f in INPUTS if f not in ("resolved_at",)))


def explain(cursor: Any, ticket_id: int, now: datetime) -> Explanation:
    cursor.execute(f"SELECT {', '.join('t.' + f for f in _FIELDS)}, c.tier, c.company FROM tickets t "
                   "JOIN customers c ON c.id = t.customer_id WHERE t.id = %s", (ticket_id,))
    row = cursor.fetchone()
    if row is None:
        raise validation.no_ticket(ticket_id)
    ticket = SimpleNamespace(**dict(zip((*_FIELDS, "tier", "company"), row)))
    validation.not_yet(ticket_id, ticket.created_at, now)
    book = Book.read(cursor)
    policy = book.policies[ticket.sla_policy_id]
    clock = book.clock_of(ticket)
    targets = policy.targets[ticket.priority]
    paused = timedelta(seconds=ticket.paused_seconds or 0)
    response_due, resolution_due = clock.due_dates(ticket.created_at, ticket.priority, ticket.paused_seconds or 0,
                                                  ticket.reopened_at)
    state = sla_state(ticket, clock, now)
    calendar = clock.calendar
    steps = book.trace(book.facts(ticket.tier, ticket.company, ticket.team_id, ticket.category, ticket.tags))
    match = policies.explained(steps)
    chosen = next(s.rule.name for s in steps if s.matched)
    if chosen != policy.name:
        match.append(f"the ticket is measured by {policy.name}: chosen when it was created or last changed, "
                     "under the policies of then")

    def metric(name: str, start: datetime, target: timedelta, pause: timedelta, due: datetime, stored: datetime,
               met_at: datetime | None, now_state: dict, since: str = "created") -> MetricExplanation:
        lines = []
        if pause:
            lines.append(
                f"{format_target(target)} {name} target + {format_target(pause)} paused (business time)"
                f" = {format_target(target + pause)}"
            )
        lines += sla.explain_due(start, target + pause, calendar, since)
        return MetricExplanation(
            metric=name, target=format_target(target), target_seconds=int(target.total_seconds()),
            paused_seconds=int(pause.total_seconds()), due_at=due, stored_due_at=stored, state=now_state["state"],
            effective_due_at=now_state["due_at"], remaining_seconds=now_state["remaining_seconds"], met_at=met_at,
            steps=lines,
        )

    next_reply = None
    if ticket.next_reply_started_at is not None:
        reply_paused = timedelta(seconds=ticket.next_reply_paused_seconds or 0)
        next_reply = metric(
            "next_reply", ticket.next_reply_started_at, targets.next_reply, reply_paused,
            clock.next_reply_due(ticket.next_reply_started_at, ticket.priority, ticket.next_reply_paused_seconds),
            ticket.next_reply_due_at, ticket.next_reply_met_at, state["next_reply"], "customer wrote")
    return Explanation(
        id=ticket.id, title=ticket.title, priority=ticket.priority, status=ticket.status,
        created_at=ticket.created_at, policy=policy.name, match=match,
        clock="business_hours" if calendar else "24x7", calendar=clock.calendar_name,
        timezone=calendar.timezone if calendar else None, hours=calendar.hours_text if calendar else None,
        holidays=sorted(calendar.holidays) if calendar else [], paused_seconds=int(paused.total_seconds()),
        paused_since=ticket.paused_at,
        response=metric("response", ticket.created_at, targets.response, timedelta(0), response_due,
                        ticket.response_due_at, ticket.first_response_at, state["response"]),
        resolution=metric("resolution", ticket.reopened_at or ticket.created_at, targets.resolution, paused,
                          resolution_due, ticket.resolution_due_at, ticket.resolved_at, state["resolution"],
                          "reopened" if ticket.reopened_at else "created"),
        next_reply=next_reply,
    )
