"""A ticket's SLA state at `now`: per metric, running, paused, met, met late or breached.

The rules are docs/sla.md's; the classification itself is domain.sla.metric_state. Two
spellings of one rule: `sla_state` in Python (any object with the ticket's fields), and
`sla_sql` in SQL for a whole list on the 24x7 clock, where the pause arithmetic is plain
addition. With a business-hours calendar a paused ticket's due time walks the calendar,
which only Python does (`needs_python`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportctl.db.query import iso_sql
from supportctl.domain import sla
from supportctl.services.sla.policy import Policy


def _metric(met_at: datetime | None, due_at: datetime, now: datetime, paused_since: datetime | None,
            policy: Policy, ticket: Any) -> dict:
    effective_due = due_at
    if paused_since is not None and met_at is None and due_at >= paused_since:
        # While pending the resolution clock stands still, so its due time moves with now.
        effective_due = policy.due_dates(
            ticket.created_at, ticket.priority,
            ticket.paused_seconds + int(policy.elapsed(paused_since, now).total_seconds()),
        )[1]
    state = sla.metric_state(met_at, effective_due, now, paused=paused_since is not None)
    return {"state": state, "due_at": effective_due, "remaining_seconds": int((effective_due - now).total_seconds())}


def sla_state(ticket: Any, policy: Policy, now: datetime) -> dict:
    """Both metrics at `now`: {"response": {state, due_at, remaining_seconds}, "resolution": {…}}.
    Only resolution pauses."""
    return {
        "response": _metric(ticket.first_response_at, ticket.response_due_at, now, None, policy, ticket),
        "resolution": _metric(ticket.resolved_at, ticket.resolution_due_at, now, ticket.paused_at, policy, ticket),
    }


def needs_python(policy: Policy) -> bool:
    return policy.calendar is not None


def _state_sql(met: str, due: str, paused: str | None) -> str:
    running = f"WHEN {paused} IS NOT NULL THEN 'paused' ELSE 'running'" if paused else "ELSE 'running'"
    return (f"CASE WHEN {met} IS NOT NULL THEN CASE WHEN {met} <= {due} THEN 'met' ELSE 'met_late' END "
            f"WHEN {due} < %(now)s THEN 'breached' {running} END")


def _metric_sql(met: str, due: str, paused: str | None) -> str:
    # row_to_json of a subselect: compact JSON with the keys in this order, as the rest of a row.
    return (f"(SELECT row_to_json(m) FROM (SELECT {_state_sql(met, due, paused)} AS state, "
            f"{iso_sql(due)} AS due_at, trunc(extract(epoch FROM {due} - %(now)s))::bigint AS remaining_seconds) m)")


def sla_sql(policy: Policy) -> str:
    """sla_state of the ticket `t` in SQL (24x7 only: see needs_python), as json."""
    if needs_python(policy):
        raise ValueError("a calendar's pause arithmetic is not written in SQL")
    # While pending (and not yet overdue when paused) the due time moves with now: created +
    # target + the time paused before + the whole seconds paused so far, as _metric counts them.
    paused_now = "greatest(trunc(extract(epoch FROM %(now)s - t.paused_at)), 0)"
    moving = (f"t.created_at + make_interval(secs => {policy.seconds_sql(1, 't.priority')} "
              f"+ t.paused_seconds + {paused_now})")
    resolution_due = (f"(CASE WHEN t.paused_at IS NOT NULL AND t.resolved_at IS NULL "
                      f"AND t.resolution_due_at >= t.paused_at THEN {moving} ELSE t.resolution_due_at END)")
    return (f"(SELECT row_to_json(s) FROM (SELECT {_metric_sql('t.first_response_at', 't.response_due_at', None)} "
            f"AS response, {_metric_sql('t.resolved_at', resolution_due, 't.paused_at')} AS resolution) s)")
