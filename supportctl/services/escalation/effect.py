"""What every escalation does (docs/workflow.md, "Escalation"), one statement for one ticket
or a batch: the priority one level up (unless critical), `escalated`, the level + 1, the due
dates of the new priority, an `escalated` event, and the ticket_escalated mail to every
active lead and the (active) assignee.

The due dates are the ticket's clock's (its policy on its calendar, sla/policy.py, a
business-hours walk included), computed in Python per ticket; the rest is set-based SQL over arrays (db/bulk.py), so `ticket
escalate` and a 2000-ticket batch of `queue escalate` share one path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from supportctl.db.bulk import unnest
from supportctl.domain.enums import Priority, Role
from supportctl.domain.timestamps import iso_z
from supportctl.services.sla.policy import Clock


@dataclass(frozen=True)
class Escalation:
    """One escalated ticket: `ticket escalate` / `queue escalate` rows."""

    id: int
    title: str
    previous_priority: str
    priority: str
    escalation_level: int
    metric: str
    reason: str
    reassigned_to: str | None = None
    response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    next_reply_due_at: datetime | None = None  # of a running next-reply cycle
    actor: str | None = None  # a ladder step's (docs/escalation.md); None: the run's
    notify_at: datetime | None = None  # the mails' first attempt (quiet hours); None: now

    def row(self) -> dict:
        return {"id": self.id, "title": self.title, "previous_priority": self.previous_priority,
                "priority": self.priority, "escalation_level": self.escalation_level, "metric": self.metric,
                "reason": self.reason, "reassigned_to": self.reassigned_to}

    def reassigned(self, email: str) -> Escalation:
        return replace(self, reassigned_to=email)


def plan(ticket: Any, clock: Clock, metric: str, reason: str, **given: Any) -> Escalation:
    """The escalation of `ticket` (anything with id, title, priority, escalation_level,
    created_at, reopened_at, paused_seconds and the next_reply_* fields) on its clock, not yet written."""
    priority = Priority(ticket.priority).raised().value
    response_due, resolution_due = clock.due_dates(ticket.created_at, priority, ticket.paused_seconds or 0,
                                                  ticket.reopened_at)
    reply_due = None
    if ticket.next_reply_started_at is not None and ticket.next_reply_met_at is None:
        reply_due = clock.next_reply_due(ticket.next_reply_started_at, priority, ticket.next_reply_paused_seconds or 0)
    return Escalation(ticket.id, ticket.title, ticket.priority, priority, ticket.escalation_level + 1, metric,
                      reason, response_due_at=response_due, resolution_due_at=resolution_due,
                      next_reply_due_at=reply_due, **given)


def breach_reason(metric: str, due: datetime) -> str:
    return f"{metric} SLA breached (due {iso_z(due)})"


_COLUMNS = (("id", "bigint"), ("previous_priority", "text"), ("priority", "text"), ("level", "integer"),
            ("metric", "text"), ("reason", "text"), ("response_due", "timestamptz"), ("resolution_due", "timestamptz"),
            ("reply_due", "timestamptz"), ("actor", "text"), ("notify_at", "timestamptz"))


def apply(cursor: Any, now: datetime, actor: str, escalations: list[Escalation]) -> None:
    """Write the escalations (their tickets locked by the caller) in one statement."""
    if not escalations:
        return
    batch, params = unnest("e", _COLUMNS, [
        (e.id, e.previous_priority, e.priority, e.escalation_level, e.metric, e.reason, e.response_due_at,
         e.resolution_due_at, e.next_reply_due_at, e.actor, e.notify_at) for e in escalations
    ])
    cursor.execute(_APPLY.format(batch=batch), {**params, "now": now, "actor": actor, "lead": Role.LEAD.value})


_APPLY = """
WITH e AS (SELECT * FROM {batch}),
changed AS (
    UPDATE tickets t SET priority = e.priority, escalation_level = e.level, response_due_at = e.response_due,
                         resolution_due_at = e.resolution_due, escalated = true, last_escalated_at = %(now)s,
                         next_reply_due_at = coalesce(e.reply_due, t.next_reply_due_at),
                         updated_at = %(now)s
    FROM e WHERE t.id = e.id
),
logged AS (
    INSERT INTO ticket_events (ticket_id, at, actor, kind, from_value, to_value)
    SELECT e.id, %(now)s, coalesce(e.actor, %(actor)s), 'escalated',
           jsonb_build_object('priority', e.previous_priority, 'escalation_level', e.level - 1),
           jsonb_build_object('priority', e.priority, 'escalation_level', e.level, 'metric', e.metric,
                              'reason', e.reason)
    FROM e ORDER BY e.n
)
INSERT INTO notifications (created_at, recipient, template, data, status, attempts, next_attempt_at)
SELECT %(now)s, r.email, 'ticket_escalated', jsonb_build_object(
           'ticket_id', e.id, 'title', t.title, 'status', t.status, 'previous_priority', e.previous_priority,
           'priority', e.priority, 'escalation_level', e.level, 'metric', e.metric, 'reason', e.reason,
           'assignee_email', a.email, 'customer_email', c.email), 'pending', 0, coalesce(e.notify_at, %(now)s)
FROM e JOIN tickets t ON t.id = e.id JOIN customers c ON c.id = t.customer_id
LEFT JOIN agents a ON a.id = t.assignee_id
CROSS JOIN LATERAL (
    SELECT l.email, l.id AS rank FROM agents l WHERE l.active AND l.role = %(lead)s
    UNION ALL  -- the assignee, unless already there as an active lead
    SELECT a.email, 9223372036854775807 WHERE a.active AND a.role <> %(lead)s
) AS r
ORDER BY e.n, r.rank
"""
