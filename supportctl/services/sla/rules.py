"""When a metric is breached, as SQL over the stored due dates (docs/sla.md, "Breaches").

One definition shared by the breach report, `ticket list --breached` and `queue
escalate`, written so that each predicate implies the partial index it is served by
(ix_tickets_response_due_unmet, ix_tickets_resolution_due_unmet).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_

from supportctl.db.models import Ticket
from supportctl.domain.lifecycle import DONE


def response_breached(now: datetime):
    return and_(Ticket.first_response_at.is_(None), Ticket.response_due_at < now)


def resolution_breached(now: datetime):
    # A pending ticket's clock stands still, so it is breached only if it was already overdue
    # when it was paused.
    return and_(
        Ticket.resolved_at.is_(None),
        Ticket.status.not_in(DONE),
        Ticket.resolution_due_at < now,
        or_(Ticket.paused_at.is_(None), Ticket.resolution_due_at < Ticket.paused_at),
    )


def breached(now: datetime):
    """Either metric."""
    return or_(response_breached(now), resolution_breached(now))
