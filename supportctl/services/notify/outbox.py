"""The notification outbox: queueing rows with the change that causes them, claiming them
for delivery, recording each attempt, listing them.

A notification is a row written in the SAME transaction as the ticket change that
causes it (assignment, a customer-visible status change, escalation): a command
that fails queues nothing, and one that commits cannot lose its mail. `notify send`
(notify/delivery.py) delivers the rows later, rendered by notify/templates.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from supportctl.db.models import Agent, Notification, Ticket
from supportctl.domain.enums import NotificationStatus, Role, Status
from supportctl.domain.timestamps import iso_z
from supportctl.services import validation
from supportctl.services.views import UtcDatetime, View

ASSIGNED = "ticket_assigned"
RESOLVED = "ticket_resolved"
REOPENED = "ticket_reopened"
ESCALATED = "ticket_escalated"

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)

class NotificationView(View):
    """One `notify list` row."""

    id: int
    created_at: UtcDatetime
    status: str
    template: str
    recipient: str
    ticket_id: int | None
    attempts: int
    next_attempt_at: UtcDatetime
    last_error: str | None
    sent_at: UtcDatetime | None
    delivery_id: str


# -- queueing: called from the services that change tickets, inside their transaction --


def _jsonable(value: Any) -> Any:
    return iso_z(value) if isinstance(value, datetime) else value


def _row(now: datetime, recipient: str, template: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_at": now,
        "recipient": recipient,
        "template": template,
        "data": {k: _jsonable(v) for k, v in data.items()},
        "status": NotificationStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
    }


def queue(session: Session, now: datetime, recipient: str, template: str, data: dict[str, Any]) -> None:
    """Add one notification to the outbox (flushed with the rest of the transaction)."""
    session.add(Notification(**_row(now, recipient, template, data)))


def _ticket(ticket: Ticket) -> dict[str, Any]:
    return {"ticket_id": ticket.id, "title": ticket.title, "priority": ticket.priority, "status": ticket.status}


def ticket_assigned(session: Session, now: datetime, ticket: Ticket, agent: Agent) -> None:
    """The agent a ticket was just given to. Reads only loaded columns: `queue assign` calls it per ticket."""
    queue(session, now, agent.email, ASSIGNED, {
        **_ticket(ticket), "agent_email": agent.email, "agent_name": agent.name,
        "response_due_at": ticket.response_due_at, "resolution_due_at": ticket.resolution_due_at,
    })


def status_changed(session: Session, now: datetime, ticket: Ticket, previous: Status) -> None:
    """The customer, when their ticket is resolved or reopened (the moves they need to hear of)."""
    if ticket.status == Status.RESOLVED.value:
        template = RESOLVED
    elif ticket.status == Status.OPEN.value and previous is Status.RESOLVED:
        template = REOPENED
    else:
        return
    customer = ticket.customer
    queue(session, now, customer.email, template, {
        **_ticket(ticket), "previous_status": previous.value,
        "customer_email": customer.email, "customer_name": customer.name,
    })


# A batch of escalations queues thousands of rows (one per lead per ticket): sent as two
# arrays, they cost the database one INSERT and Python one json.dumps per ticket, where
# an executemany binds seven values per row (measured: 0.3 s of a 2000-ticket batch).
_QUEUE_MANY = text("""INSERT INTO notifications (created_at, recipient, template, data, status, attempts, next_attempt_at)
SELECT :now, u.recipient, :template, u.data, :status, 0, :now
FROM unnest(CAST(:recipients AS text[]), CAST(:data AS jsonb[])) WITH ORDINALITY AS u(recipient, data, n)
ORDER BY u.n
""")


def ticket_escalated(session: Session, now: datetime, tickets: Sequence[Ticket], escalations: Sequence[Any]) -> None:
    """Every active lead and the (active) assignee of each escalated ticket, in one INSERT.

    `escalations` are escalation.manual.Escalation rows (the tickets' new priority
    and level may not be on the ORM objects: the batch path updates them in bulk).
    """
    if not tickets:
        return
    leads = list(session.scalars(
        select(Agent.email).where(Agent.active.is_(True), Agent.role == Role.LEAD.value).order_by(Agent.id)
    ))
    recipients_of, data_of = [], []
    for ticket, done in zip(tickets, escalations, strict=True):
        assignee = ticket.assignee
        recipients = dict.fromkeys(leads)  # ordered and without duplicates
        if assignee is not None and assignee.active:
            recipients[assignee.email] = None
        data = {
            "ticket_id": ticket.id, "title": ticket.title, "status": ticket.status,
            "previous_priority": done.previous_priority, "priority": done.priority,
            "escalation_level": done.escalation_level, "metric": done.metric, "reason": done.reason,
            "assignee_email": assignee.email if assignee is not None else None,
            "customer_email": ticket.customer.email,
        }
        encoded = json.dumps({k: _jsonable(v) for k, v in data.items()})
        recipients_of += recipients
        data_of += [encoded] * len(recipients)
    if recipients_of:
        session.execute(_QUEUE_MANY, {"now": now, "template": ESCALATED, "status": NotificationStatus.PENDING.value,
                                      "recipients": recipients_of, "data": data_of})


# -- the sender's side: claim due rows, record each outcome --


def claim(session: Session, now: datetime, size: int) -> list[Notification]:
    """Lock up to `size` due notifications that no other sender holds; oldest due first."""
    query = (
        select(Notification)
        .where(Notification.status == NotificationStatus.PENDING.value, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def backoff(attempts_before: int) -> timedelta:
    """How long after a failed attempt the next one waits: 1 minute, doubling, at most an hour."""
    return min(FIRST_RETRY * 2 ** min(attempts_before, 20), LONGEST_WAIT)


def mark_sent(row: Notification, now: datetime) -> None:
    row.attempts += 1
    row.status, row.sent_at, row.last_error = NotificationStatus.SENT.value, now, None


def mark_failed(row: Notification, now: datetime, error: str, *, permanent: bool = False) -> datetime | None:
    """Record a failed attempt; returns when it is retried, or None once attempts are used up
    (or at once when the failure is permanent)."""
    row.attempts += 1
    row.last_error = error[:2000]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = NotificationStatus.FAILED.value
        return None
    row.next_attempt_at = now + backoff(row.attempts - 1)
    return row.next_attempt_at


# -- reading the outbox --


def list_(session: Session, status: str | None = None) -> Iterator[NotificationView]:
    """Oldest first, streamed; a bad status is refused before anything is read."""
    query = select(Notification).order_by(Notification.id)
    if status is not None:
        query = query.where(Notification.status == validation.choice(NotificationStatus, status, "--status").value)
    return (view(row) for row in session.scalars(query.execution_options(yield_per=1000)))


def view(row: Notification) -> NotificationView:
    ticket_id = row.data.get("ticket_id") if isinstance(row.data, dict) else None
    return NotificationView(
        id=row.id, created_at=row.created_at, status=row.status, template=row.template, recipient=row.recipient,
        ticket_id=ticket_id if isinstance(ticket_id, int) else None, attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, last_error=row.last_error, sent_at=row.sent_at,
        delivery_id=str(row.delivery_id),
    )
