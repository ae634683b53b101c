"""`ticket escalate`: one ticket up one priority level (unless critical), whatever its SLA state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of
from supportctl.services import lookup
from supportctl.services.escalation import effect
from supportctl.services.escalation.effect import Escalation
from supportctl.services.sla.policy import Book
from supportctl.services.tickets import history


def escalate_one(session: Session, now: datetime, actor: str, ticket_id: int, reason: str | None = None) -> Escalation:
    ticket = lookup.ticket(session, ticket_id, lock=True)
    history.in_order(ticket, now)
    lookup.refuse_done(ticket, "escalating")
    done = effect.plan(ticket, Book.load(session).clock_of(ticket), "manual", (reason or "").strip() or "manual escalation")
    effect.apply(cursor_of(session), now, actor, [done])
    session.expire_all()  # the row changed underneath the identity map
    return done
