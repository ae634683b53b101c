"""The append-only ticket history: every change writes its event in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from supportctl.db.models import Ticket, TicketEvent
from supportctl.domain.enums import EventKind
from supportctl.domain.timestamps import iso_z
from supportctl.errors import InvalidInput


def in_order(ticket: Ticket, now: datetime) -> None:
    """History runs one way: a --now before the ticket's last change would write the past after
    the future (exit 2; the command's transaction rolls back, so nothing is written)."""
    if ticket.updated_at is not None and now < ticket.updated_at:
        raise InvalidInput(f"--now {iso_z(now)} is before ticket {ticket.id}'s last change "
                           f"({iso_z(ticket.updated_at)})",
                           hint="a change is recorded at or after the ticket's latest one")


def record(
    session: Session,
    ticket: Ticket,
    now: datetime,
    actor: str,
    kind: EventKind,
    from_value: Any = None,
    to_value: Any = None,
) -> None:
    in_order(ticket, now)
    session.add(
        TicketEvent(ticket_id=ticket.id, at=now, actor=actor, kind=kind.value, from_value=from_value, to_value=to_value)
    )
    ticket.updated_at = now
