"""`ticket export`: the query behind every export, one row per ticket in id order.

The query's columns carry their database types (timestamps, the tags array,
booleans); cli/output.py turns them into csv or ndjson cells inside PostgreSQL and
streams them (COPY … TO STDOUT), so an export never touches Python per row and its
memory stays flat whatever the row count. The filters are the ones of `ticket list`
(tickets/queries.apply_filter).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session, aliased

from supportctl.db.models import Agent, Customer, Ticket
from supportctl.services.tickets.queries import TicketFilter, apply_filter

_TIMES = ("created_at", "updated_at", "first_response_at", "resolved_at", "closed_at", "response_due_at",
          "resolution_due_at")


def _expressions(assignee) -> dict:
    return {
        "id": Ticket.id,
        "external_id": Ticket.external_id,
        "title": Ticket.title,
        "description": Ticket.description,
        "status": Ticket.status,
        "priority": Ticket.priority,
        "category": Ticket.category,
        "tags": Ticket.tags,
        "customer_email": Customer.email,
        "assignee_email": assignee.email,
        "escalated": Ticket.escalated,
        "escalation_level": Ticket.escalation_level,
        **{name: Ticket.__table__.c[name] for name in _TIMES},
    }


def query(session: Session, columns: list[str], f: TicketFilter, now: datetime) -> Select:
    """The matching tickets in id order, with `columns` (names of tickets/columns.py) labelled."""
    assignee = aliased(Agent)
    exprs = _expressions(assignee)
    selected = [exprs[name].label(name) for name in columns]
    base = (
        select(*selected)
        .select_from(Ticket)
        .join(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .order_by(Ticket.id)
    )
    return apply_filter(session, base, f, now)


def begin_snapshot(session: Session) -> None:
    """One snapshot for the look-ups of the filters and the rows; read-only, so an export can
    never write and may run against a hot standby. First thing in its transaction."""
    session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
