"""`ticket escalate`, and the effect every escalation has (docs/workflow.md, "Escalation").

An escalation raises the priority one level (unless critical), marks the ticket
escalated, counts the level up and recomputes the due dates for the new priority.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from supportctl.db.models import Ticket
from supportctl.domain.enums import EventKind, Priority
from supportctl.domain.lifecycle import DONE
from supportctl.errors import Refused
from supportctl.services import lookup
from supportctl.services.notify import outbox
from supportctl.services.sla.policy import Policy
from supportctl.services.tickets import history
from supportctl.services.views import View


class Escalation(View):
    id: int
    title: str
    previous_priority: str
    priority: str
    escalation_level: int
    metric: str
    reason: str
    reassigned_to: str | None = None


def escalated_state(ticket: Ticket, policy: Policy, metric: str, reason: str) -> tuple[dict, dict]:
    """The new state of one ticket, and its event's from/to values."""
    before = {"priority": ticket.priority, "escalation_level": ticket.escalation_level}
    priority = Priority(ticket.priority).raised().value
    response_due, resolution_due = policy.due_dates(ticket.created_at, priority, ticket.paused_seconds)
    change = {
        "priority": priority,
        "escalation_level": ticket.escalation_level + 1,
        "response_due_at": response_due,
        "resolution_due_at": resolution_due,
    }
    after = {"priority": priority, "escalation_level": change["escalation_level"], "metric": metric, "reason": reason}
    return change, {"from": before, "to": after}


def escalate_one(session: Session, now: datetime, actor: str, ticket_id: int, reason: str | None = None) -> Escalation:
    """`ticket escalate`: up one priority level (unless critical), whatever its SLA state."""
    ticket = lookup.ticket(session, ticket_id, lock=True)
    if ticket.status in DONE:
        raise Refused(f"ticket {ticket.id} is {ticket.status}; reopen it before escalating")
    policy = Policy.load(session)
    reason = (reason or "").strip() or "manual escalation"
    change, event = escalated_state(ticket, policy, "manual", reason)
    previous = ticket.priority
    for field, value in change.items():
        setattr(ticket, field, value)
    ticket.escalated = True
    ticket.last_escalated_at = now
    history.record(session, ticket, now, actor, EventKind.ESCALATED, event["from"], event["to"])
    done = Escalation(id=ticket.id, title=ticket.title, previous_priority=previous, priority=ticket.priority,
                      escalation_level=ticket.escalation_level, metric="manual", reason=reason)
    outbox.ticket_escalated(session, now, [ticket], [done])
    session.flush()
    return done
