"""Tickets, agents and customers by their key: found, or NotFound (exit 3).

`find_*` answer None for an unknown key; the others raise NotFound with a hint of
where to look. Emails are checked (exit 2 for a malformed one) and lower-cased first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportctl.db.models import Agent, Customer, Ticket
from supportctl.errors import NotFound
from supportctl.services import validation


def ticket(session: Session, ticket_id: int, *, lock: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = query.with_for_update(of=Ticket)
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"no ticket {ticket_id}", hint="see `supportctl ticket list`")
    return found


def find_agent(session: Session, email: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.email == email.strip().lower()))


def agent(session: Session, email: str, *, lock: bool = False) -> Agent:
    address = validation.email(email, "agent")
    query = select(Agent).where(Agent.email == address)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"no agent with email {address}", hint="see `supportctl agent list`")
    return found


def find_customer(session: Session, email: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.email == email.strip().lower()))


def customer(session: Session, email: str) -> Customer:
    found = find_customer(session, validation.email(email, "customer"))
    if found is None:
        raise NotFound(f"no customer with email {email.strip().lower()}", hint="see `supportctl customer list`")
    return found
