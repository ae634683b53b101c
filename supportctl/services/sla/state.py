"""A ticket's SLA state at `now`: per metric, running, paused, met, met late or breached.

The rules are docs/sla.md's; the classification itself is domain.sla.metric_state. Two
spellings of one rule: `sla_state` in Python (any object with the ticket's fields and its
Clock), and `sla_sql` in SQL for a whole list when every clock runs 24x7, where the pause
arithmetic is plain addition. With a business-hours calendar a paused ticket's due time
walks the calendar, which only Python does (`needs_python`).

next_reply has no state until a customer's comment starts a cycle: then its object holds
`null`s until one does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportctl.db.query import iso_sql
from supportctl.domain import sla
from supportctl.services.sla.policy import Book, Clock

# What sla_state reads of a ticket.
INPUTS = ("created_at", "reopened_at", "priority", "paused_seconds", "first_response_at", "response_due_at",
          "resolved_at", "resolution_due_at", "paused_at", "sla_policy_id", "team_id", "next_reply_started_at",
          "next_reply_due_at", "next_reply_met_at", "next_reply_paused_seconds")
_NONE = {"state": None, "due_at": None, "remaining_seconds": None}


def sla_state(ticket: Any, clock: Clock, now: datetime) -> dict:
    """Every metric at `now`: {"response": {state, due_at, remaining_seconds}, "resolution": {…},
    "next_reply": {…}}. Resolution and a running next reply pause while the ticket is pending."""
    paused_at = ticket.paused_at

    def paused_so_far(since: datetime) -> int:
        return int(clock.elapsed(since, now).total_seconds())

    def resolution_due(extra: int) -> datetime:
        return clock.due_dates(ticket.created_at, ticket.priority, ticket.paused_seconds + extra,
                               ticket.reopened_at)[1]

    def next_reply_due(extra: int) -> datetime:
        return clock.next_reply_due(ticket.next_reply_started_at, ticket.priority,
                                    ticket.next_reply_paused_seconds + extra)

    def metric(met_at, due_at, paused_since, moved, since=None) -> dict:
        effective_due = due_at
        if paused_since is not None and met_at is None and due_at >= paused_since:
            # While pending the clock stands still, so the due time moves with now.
            effective_due = moved(paused_so_far(since or paused_since))
        state = sla.metric_state(met_at, effective_due, now, paused=paused_since is not None)
        return {"state": state, "due_at": effective_due,
                "remaining_seconds": int((effective_due - now).total_seconds())}

    state = {
        "response": metric(ticket.first_response_at, ticket.response_due_at, None, None),
        "resolution": metric(ticket.resolved_at, ticket.resolution_due_at, paused_at, resolution_due),
        "next_reply": dict(_NONE),
    }
    if ticket.next_reply_started_at is not None:
        # A cycle started while pending counts from the end of the pause.
        since = max(paused_at, ticket.next_reply_started_at) if paused_at is not None else None
        state["next_reply"] = metric(ticket.next_reply_met_at, ticket.next_reply_due_at, paused_at, next_reply_due,
                                     since)
    return state


def needs_python(book: Book) -> bool:
    return not book.all_24x7


def _state_sql(met: str, due: str, paused: str | None) -> str:
    running = f"WHEN {paused} IS NOT NULL THEN 'paused' ELSE 'running'" if paused else "ELSE 'running'"
    return (f"CASE WHEN {met} IS NOT NULL THEN CASE WHEN {met} <= {due} THEN 'met' ELSE 'met_late' END "
            f"WHEN {due} < %(now)s THEN 'breached' {running} END")


def _metric_sql(met: str, due: str, paused: str | None) -> str:
    # row_to_json of a subselect: compact JSON with the keys in this order, as the rest of a row.
    return (f"(SELECT row_to_json(m) FROM (SELECT {_state_sql(met, due, paused)} AS state, "
            f"{iso_sql(due)} AS due_at, trunc(extract(epoch FROM {due} - %(now)s))::bigint AS remaining_seconds) m)")


def _target_sql(metric: str) -> str:
    return (f"(SELECT st.{metric}_seconds FROM sla_targets st "
            "WHERE st.policy_id = t.sla_policy_id AND st.priority = t.priority)")


def _paused_now(since: str) -> str:
    return f"greatest(trunc(extract(epoch FROM %(now)s - {since})), 0)"


def sla_sql(book: Book) -> str:
    """sla_state of the ticket `t` in SQL (24x7 only: see needs_python), as json."""
    if needs_python(book):
        raise ValueError("a calendar's pause arithmetic is not written in SQL")
    # While pending (and not yet overdue when paused) the due time moves with now: start +
    # target + the time paused before + the whole seconds paused so far, as sla_state counts them.
    moving = (f"t.created_at + make_interval(secs => {_target_sql('resolution')} "
              f"+ t.paused_seconds + {_paused_now('t.paused_at')})")
    resolution_due = (f"(CASE WHEN t.paused_at IS NOT NULL AND t.resolved_at IS NULL "
                      f"AND t.resolution_due_at >= t.paused_at THEN {moving} ELSE t.resolution_due_at END)")
    reply_moving = (f"t.next_reply_started_at + make_interval(secs => {_target_sql('next_reply')} "
                    f"+ t.next_reply_paused_seconds + {_paused_now('greatest(t.paused_at, t.next_reply_started_at)')})")
    reply_due = (f"(CASE WHEN t.paused_at IS NOT NULL AND t.next_reply_met_at IS NULL "
                 f"AND t.next_reply_due_at >= t.paused_at THEN {reply_moving} ELSE t.next_reply_due_at END)")
    next_reply = (f"CASE WHEN t.next_reply_started_at IS NULL THEN json_build_object('state', NULL, 'due_at', NULL, "
                  f"'remaining_seconds', NULL) ELSE {_metric_sql('t.next_reply_met_at', reply_due, 't.paused_at')} END")
    return (f"(SELECT row_to_json(s) FROM (SELECT {_metric_sql('t.first_response_at', 't.response_due_at', None)} "
            f"AS response, {_metric_sql('t.resolved_at', resolution_due, 't.paused_at')} AS resolution, "
            f"{next_reply} AS next_reply) s)")
