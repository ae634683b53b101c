"""What measures a ticket: its SLA policy, the clock that follows from it, and its next-reply
cycle (docs/sla.md, "Policies" and "Next reply").

The policy is chosen when the ticket is created and again when its team, category, tags or
priority change while it is unresolved; when it changes the history gets an
`sla_policy_changed` event, and the due dates follow the new clock in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from supportctl.db.models import Ticket
from supportctl.domain import replies
from supportctl.domain.enums import EventKind
from supportctl.services.sla.policy import Book, Clock, Policy
from supportctl.services.tickets import history


def choose(book: Book, ticket: Ticket) -> Policy:
    customer = ticket.customer
    return book.choose(book.facts(customer.tier, customer.company, ticket.team_id, ticket.category, ticket.tags))


def measure_new(book: Book, ticket: Ticket) -> Policy:
    """A new ticket's policy and due dates."""
    policy = choose(book, ticket)
    ticket.sla_policy_id = policy.id
    book.clock_of(ticket).set_due_dates(ticket)
    return policy


def remeasure(session: Session, now: datetime, actor: str, ticket: Ticket, book: Book) -> None:
    """After a change to what the policy or the clock depends on: choose again and recompute."""
    policy = choose(book, ticket)
    if policy.id != ticket.sla_policy_id:
        history.record(session, ticket, now, actor, EventKind.SLA_POLICY_CHANGED,
                       {"sla_policy": book.policies[ticket.sla_policy_id].name}, {"sla_policy": policy.name})
        ticket.sla_policy_id = policy.id
    book.clock_of(ticket).set_due_dates(ticket)


def _cycle(ticket: Ticket) -> replies.Cycle:
    return replies.Cycle(ticket.next_reply_started_at, ticket.next_reply_due_at, ticket.next_reply_met_at,
                         ticket.next_reply_paused_seconds or 0)


def _store(ticket: Ticket, cycle: replies.Cycle) -> None:
    ticket.next_reply_started_at, ticket.next_reply_due_at = cycle.started_at, cycle.due_at
    ticket.next_reply_met_at, ticket.next_reply_paused_seconds = cycle.met_at, cycle.paused_seconds


def _due(clock: Clock, ticket: Ticket):
    return lambda start, paused: clock.next_reply_due(start, ticket.priority, paused)


def customer_wrote(book: Book, ticket: Ticket, now: datetime) -> None:
    clock = book.clock_of(ticket)
    _store(ticket, replies.customer_wrote(_cycle(ticket), now, answered=ticket.first_response_at is not None,
                                          due=_due(clock, ticket)))


def agent_replied(ticket: Ticket, now: datetime) -> None:
    _store(ticket, replies.agent_replied(_cycle(ticket), now))


def resumed(clock: Clock, ticket: Ticket, now: datetime) -> None:
    """The ticket leaves pending (ticket.paused_at still set)."""
    _store(ticket, replies.resumed(_cycle(ticket), ticket.paused_at, now, due=_due(clock, ticket),
                                   paused=lambda a, b: int(clock.elapsed(a, b).total_seconds())))
