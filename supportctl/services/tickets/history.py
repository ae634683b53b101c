"""The append-only ticket history: every change writes its event in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from supportctl.db.models import Ticket, TicketEvent
from supportctl.domain.enums import EventKind


def record(
    session: Session,
    ticket: Ticket,
    now: datetime,
    actor: str,
    kind: EventKind,
    from_value: Any = None,
    to_value: Any = None,
) -> None:
    session.add(
        TicketEvent(ticket_id=ticket.id, at=now, actor=actor, kind=kind.value, from_value=from_value, to_value=to_value)
    )
    ticket.updated_at = now
