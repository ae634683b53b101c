"""Tickets, agents, customers and teams by their key: found, or NotFound (exit 3).

`find_*` answer None for an unknown key; the others raise NotFound with a hint of
where to look. Emails are checked (exit 2 for a malformed one) and lower-cased first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from supportctl.db.models import Agent, Customer, Team, Ticket
from supportctl.errors import Refused
from supportctl.services import validation


def ticket(session: Session, ticket_id: int, *, lock: bool = False) -> Ticket:
    """The ticket; with `lock`, its row locked FOR UPDATE for the rest of the transaction.

    Locked, the ticket row is read alone and its customer and assignee by a second query
    after the lock is granted: a row joined into the locking SELECT would be the one read
    before waiting, not the one committed meanwhile (PostgreSQL re-reads only the locked
    row), and the command would decide on an assignee who is no longer there.
    """
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = (
            query.options(selectinload(Ticket.customer), selectinload(Ticket.assignee))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    found = session.scalar(query)
    if found is None:
        raise validation.no_ticket(ticket_id)
    return found


def refuse_done(ticket: Ticket, doing: str) -> None:
    """Exit 4 for a resolved ticket (reopen it first) or a closed one (final)."""
    if ticket.status == "closed":
        raise Refused(f"ticket {ticket.id} is closed; closed tickets do not change", hint="open a new ticket")
    if ticket.status == "resolved":
        raise Refused(f"ticket {ticket.id} is resolved; reopen it before {doing}",
                      hint=f"supportctl ticket reopen {ticket.id}")


def find_agent(session: Session, email: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.email == email.strip().lower()))


def agent(session: Session, email: str, *, lock: bool = False) -> Agent:
    address = validation.email(email, "agent")
    query = select(Agent).where(Agent.email == address)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise validation.no_agent(address)
    return found


def find_customer(session: Session, email: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.email == email.strip().lower()))


def customer(session: Session, email: str) -> Customer:
    address = validation.email(email, "customer")
    found = find_customer(session, address)
    if found is None:
        raise validation.no_customer(address)
    return found


def team(session: Session, slug: str, *, lock: bool = False) -> Team:
    key = validation.slug(slug)
    query = select(Team).where(Team.slug == key)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise validation.no_team(key)
    return found
