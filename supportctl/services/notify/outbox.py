"""The notification outbox: queueing rows with the change that causes them, claiming them
for delivery, recording each attempt (listing them is notify/queries.py).

A notification is a row written in the SAME transaction as the ticket change that
causes it (assignment, a customer-visible status change, escalation): a command
that fails queues nothing, and one that commits cannot lose its mail. Status changes
queue theirs here; assignments and escalations in the statement that writes them
(assignment/pool.hand_over, escalation/effect.apply). `notify send`
(notify/delivery.py) delivers the rows later, rendered by notify/templates.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportctl.db.models import Notification, Ticket
from supportctl.domain.enums import NotificationStatus, Status
from supportctl.domain.timestamps import iso_z

RESOLVED = "ticket_resolved"
REOPENED = "ticket_reopened"

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)

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


def mute(session: Session) -> None:
    """No notification from this session's changes (an import: a migration mails nobody)."""
    session.info["muted"] = True


def muted(session: Session) -> bool:
    return session.info.get("muted", False)


def queue(session: Session, now: datetime, recipient: str, template: str, data: dict[str, Any]) -> None:
    """Add one notification to the outbox (flushed with the rest of the transaction)."""
    if muted(session):
        return
    session.add(Notification(**_row(now, recipient, template, data)))


def _ticket(ticket: Ticket) -> dict[str, Any]:
    return {"ticket_id": ticket.id, "title": ticket.title, "priority": ticket.priority, "status": ticket.status}


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
