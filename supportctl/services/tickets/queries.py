"""Reading tickets: the filters shared by list and export, and show with its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from supportctl.db.models import Comment, Ticket, TicketEvent
from supportctl.domain.enums import Priority, Status
from supportctl.errors import InvalidInput
from supportctl.services import lookup, validation
from supportctl.services.sla import rules
from supportctl.services.sla.policy import Policy
from supportctl.services.tickets.views import comment_view, event_view, ticket_view
from supportctl.services.views import TicketDetail, TicketView

# A list counts its matches only this far: an exact count of 100,000 matches costs far
# more than the page itself, and "more than 10,000" tells a person as much.
COUNT_CAP = 10_000
SORT_KEYS = ("id", "created_at", "updated_at", "priority", "status", "response_due_at", "resolution_due_at")


@dataclass(frozen=True)
class TicketFilter:
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    assignee: str | None = None
    unassigned: bool = False
    customer: str | None = None
    category: str | None = None
    tag: str | None = None
    escalated: bool | None = None
    breached: bool = False
    search: str | None = None
    created_since: datetime | None = None
    updated_since: datetime | None = None


def apply_filter(session: Session, query: Select, f: TicketFilter, now: datetime) -> Select:
    conditions = []
    if f.statuses:
        conditions.append(Ticket.status.in_([validation.choice(Status, s, "--status").value for s in f.statuses]))
    if f.priorities:
        conditions.append(Ticket.priority.in_([validation.choice(Priority, p, "--priority").value for p in f.priorities]))
    if f.assignee and f.unassigned:
        raise InvalidInput("give --assignee or --unassigned, not both")
    if f.assignee:
        conditions.append(Ticket.assignee_id == lookup.agent(session, f.assignee).id)
    if f.unassigned:
        conditions.append(Ticket.assignee_id.is_(None))
    if f.customer:
        conditions.append(Ticket.customer_id == lookup.customer(session, f.customer).id)
    if f.category:
        conditions.append(Ticket.category == f.category.strip())
    if f.tag:
        conditions.append(Ticket.tags.contains([f.tag.strip()]))
    if f.escalated is not None:
        conditions.append(Ticket.escalated.is_(f.escalated))
    if f.breached:
        conditions.append(rules.breached(now))
    if f.search is not None:
        text = f.search.strip()
        if not text:
            raise InvalidInput("--search needs at least one word")
        conditions.append(Ticket.search.op("@@")(func.websearch_to_tsquery("english", text)))
    if f.created_since:
        conditions.append(Ticket.created_at >= f.created_since)
    if f.updated_since:
        conditions.append(Ticket.updated_at >= f.updated_since)
    return query.where(*conditions) if conditions else query


def order_by(query: Select, sort: str) -> Select:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        raise InvalidInput(f"--sort {sort!r}: sort by one of {', '.join(SORT_KEYS)} (prefix - for descending)")
    column = Ticket.__table__.c[key]
    if key == "priority":  # by rank, not alphabetically
        column = case({p.value: p.rank for p in Priority}, value=Ticket.priority)
    return query.order_by(column.desc() if descending else column.asc(), Ticket.id.desc() if descending else Ticket.id)


def list_tickets(
    session: Session, f: TicketFilter, now: datetime, *, sort: str = "-created_at", limit: int = 50
) -> tuple[list[TicketView], int]:
    """The page of tickets, and how many match in all: counted only when the page is full,
    and then only up to COUNT_CAP + 1 (more than COUNT_CAP reads "more than COUNT_CAP")."""
    if limit < 0:
        raise InvalidInput("--limit must be 0 (all) or more")
    query = order_by(apply_filter(session, select(Ticket), f, now), sort)
    if limit:
        query = query.limit(limit)
    policy = Policy.load(session)
    views = [ticket_view(t, policy, now) for t in session.scalars(query).unique()]
    total = len(views)
    if limit and total == limit:
        matching = apply_filter(session, select(Ticket.id), f, now).limit(COUNT_CAP + 1).subquery()
        total = session.scalar(select(func.count()).select_from(matching))
    return views, total


def show(session: Session, ticket_id: int, now: datetime) -> TicketDetail:
    ticket = lookup.ticket(session, ticket_id)
    policy = Policy.load(session)
    comments = session.scalars(select(Comment).where(Comment.ticket_id == ticket.id).order_by(Comment.id))
    history = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))
    base = ticket_view(ticket, policy, now)
    return TicketDetail(
        **base.__dict__,
        comments=[comment_view(c) for c in comments],
        history=[event_view(e) for e in history],
    )
