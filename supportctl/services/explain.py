"""`sla explain`: the policy, calendar, pauses and arithmetic behind a ticket's due times.

Everything is recomputed from the rules (domain.sla.explain_due) and set beside what
the ticket stores, so a lead can redo the sum by hand and see when the two differ.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from supportctl.domain import sla
from supportctl.services import policy as sla_policy
from supportctl.services.sla_admin import calendar_view, format_target
from supportctl.services.ticket_views import sla_view
from supportctl.services.tickets import get_model
from supportctl.services.views import Explanation, MetricExplanation, MetricView


def explain(session: Session, ticket_id: int, now: datetime) -> Explanation:
    ticket = get_model(session, ticket_id)
    policy = sla_policy.load(session)
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


def render(e: Explanation) -> list[str]:
    """The explanation as plain lines for a person."""
    lines = [
        f"ticket {e.id}: {e.title}",
        f"  {e.priority}, {e.status}, created {_iso(e.created_at)}",
        f"policy: {e.priority} -> response {e.response.target}, resolution {e.resolution.target}",
    ]
    if e.clock == "24x7":
        lines.append("calendar: none, the SLA clock runs 24x7")
    else:
        holidays = f"; holidays: {', '.join(d.isoformat() for d in e.holidays)}" if e.holidays else "; no holidays"
        lines.append(f"calendar: {e.timezone}, {e.hours}{holidays}")
    lines.append(_pauses(e))
    for m in (e.response, e.resolution):
        lines += ["", f"{m.metric}:"] + [f"  {step}" for step in m.steps]
        if m.stored_due_at != m.due_at:
            lines.append(
                f"  the ticket carries {_iso(m.stored_due_at)}: set under an earlier policy or calendar"
                " (resolved and closed tickets keep their due dates)"
            )
        lines.append(f"  now: {_state(m, e)}")
    return lines


def _pauses(e: Explanation) -> str:
    done = f"{format_target(timedelta(seconds=e.paused_seconds))} of business time in pending" if e.paused_seconds else ""
    if e.paused_since is None:
        return f"pauses: {done}, not paused now" if done else "pauses: never pending, no pause"
    current = f"pending since {_iso(e.paused_since)}: the resolution clock stands still"
    return f"pauses: {done} before this pause; {current}" if done else f"pauses: {current}"


def _state(m: MetricExplanation, e: Explanation) -> str:
    if m.met_at is not None:
        verdict = "on time" if m.state == "met" else f"late by {format_target(m.met_at - m.stored_due_at)}"
        return f"{m.state}: met at {_iso(m.met_at)}, {verdict}"
    left = timedelta(seconds=m.remaining_seconds)
    if m.state == "breached":
        text = f"breached: due {_iso(m.effective_due_at)}, overdue by {format_target(-left)}"
        if e.paused_since is not None and m.metric == "resolution":
            text += " (it was already overdue when paused, so the pause does not stop the breach)"
        return text
    if m.state == "paused":
        return (f"paused: if work resumed now, due {_iso(m.effective_due_at)}"
                f" ({format_target(left)} left, the pause so far added to the target)")
    return f"running: due {_iso(m.effective_due_at)}, {format_target(left)} left"


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
