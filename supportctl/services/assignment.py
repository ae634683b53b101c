"""Assignment: to a named agent, or automatically by round-robin, least-loaded or by-priority.

Who can be chosen automatically (PRODUCT.md §4): active agents who are not leads and
are below their capacity (open load = unresolved tickets assigned to them). The turn
order is the database's cursor: never assigned first, then the lowest
``agents.assignment_seq`` (the next value of a sequence, taken on every assignment,
manual ones too), ties by lowest id. ``last_assigned_at`` cannot order turns: every
write of a command carries the same whole second.

Locks, so that concurrent processes keep the rotation exact and never assign a ticket
twice: first the ticket row(s), then the agents, in id order (``FOR UPDATE``), held to
the end of the short transaction. Everyone takes them in that order, so nobody
deadlocks, and whoever chooses next sees the cursor and load the previous one committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportctl.db.models import ASSIGNMENT_SEQ, Agent, Ticket
from supportctl.domain.enums import EventKind, Priority, Role, Status
from supportctl.errors import Refused
from supportctl.services import agents, events, notifications, validation
from supportctl.services import policy as sla_policy
from supportctl.services.session import set_cron_timeouts
from supportctl.services.ticket_views import ticket_view
from supportctl.services.tickets import get_model, mark_first_response
from supportctl.services.views import TicketView, View


class Strategy(StrEnum):
    ROUND_ROBIN = "round-robin"
    LEAST_LOADED = "least-loaded"
    BY_PRIORITY = "by-priority"


class NoEligibleAgent(Refused):
    """Nobody may take this ticket now; the message says why (exit 4)."""


class Assignment(View):
    """One ticket's change of hands: `ticket assign` / `queue assign` rows."""

    id: int
    title: str
    priority: str
    assignee_email: str | None
    previous_assignee_email: str | None
    strategy: str | None  # None for a manual assignment


@dataclass
class Candidate:
    """An agent in the auto-assignment pool, with their load as the choice goes on."""

    agent: Agent
    load: int

    @property
    def has_room(self) -> bool:
        return self.agent.capacity is None or self.load < self.agent.capacity

    @property
    def turn(self) -> tuple[bool, int, int]:
        seq = self.agent.assignment_seq
        return (seq is not None, seq or 0, self.agent.id)


def strategy_of(text: str) -> Strategy:
    return validation.choice(Strategy, text, "--strategy")


def choose(pool: Sequence[Candidate], strategy: Strategy, priority: str) -> Candidate:
    """The agent whose turn it is. Pure: the caller has locked and loaded the pool."""
    if not pool:
        raise NoEligibleAgent(
            "no active agent to assign to (leads are never auto-assigned)",
            hint="add one with `supportctl agent add`, or `supportctl agent update EMAIL --active`",
        )
    if strategy is Strategy.BY_PRIORITY and priority == Priority.CRITICAL.value:
        pool = [c for c in pool if c.agent.role == Role.SENIOR.value]
        if not pool:
            raise NoEligibleAgent(
                "no active senior agent for a critical ticket (by-priority gives critical tickets to seniors only)",
                hint="add or reactivate a senior, or assign it with --to",
            )
    room = [c for c in pool if c.has_room]
    if not room:
        full = ", ".join(f"{c.agent.email} {c.load}/{c.agent.capacity}" for c in pool[:3])
        more = f", and {len(pool) - 3} more" if len(pool) > 3 else ""
        everyone = "the only eligible agent is" if len(pool) == 1 else f"all {len(pool)} eligible agents are"
        raise NoEligibleAgent(
            f"{everyone} at capacity ({full}{more})",
            hint="raise a capacity with `supportctl agent update EMAIL --capacity N`, or resolve tickets",
        )
    if strategy is Strategy.LEAST_LOADED:
        return min(room, key=lambda c: (c.load, c.turn))
    return min(room, key=lambda c: c.turn)


def lock_pool(session: Session) -> list[Candidate]:
    """Lock every auto-assignable agent in id order (the deadlock-free order) and load them."""
    query = (
        select(Agent)
        .where(Agent.active.is_(True), Agent.role != Role.LEAD.value)
        .order_by(Agent.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the locked row, not a stale copy
    )
    pool = list(session.scalars(query))
    load = agents.open_load(session, [a.id for a in pool])
    return [Candidate(a, load.get(a.id, 0)) for a in pool]


def next_seqs(session: Session, count: int) -> list[int]:
    """`count` fresh cursor values, increasing, in one round trip."""
    if count == 1:
        return [session.scalar(select(ASSIGNMENT_SEQ.next_value()))]
    values = session.scalars(select(ASSIGNMENT_SEQ.next_value()).select_from(func.generate_series(1, count)))
    return sorted(values)


def give(session: Session, ticket: Ticket, agent: Agent, now: datetime, actor: str, *, seq: int,
         previous: str | None, strategy: Strategy | None = None) -> Assignment:
    """Hand the ticket over and move the agent's cursor; the event records who had it."""
    ticket.assignee = agent
    mark_first_response(ticket, now)
    agent.last_assigned_at = now
    agent.assignment_seq = seq
    to_value = {"assignee_email": agent.email}
    if strategy is not None:
        to_value["strategy"] = strategy.value
    events.record(session, ticket, now, actor, EventKind.ASSIGNED, {"assignee_email": previous}, to_value)
    notifications.ticket_assigned(session, now, ticket, agent)
    return Assignment(id=ticket.id, title=ticket.title, priority=ticket.priority, assignee_email=agent.email,
                      previous_assignee_email=previous, strategy=strategy.value if strategy else None)


def _assignable(session: Session, ticket_id: int) -> Ticket:
    set_cron_timeouts(session)  # a stuck lock ends in exit 6, not a hang
    ticket = get_model(session, ticket_id, lock=True)
    if Status(ticket.status).is_done:
        raise Refused(f"ticket {ticket.id} is {ticket.status}; reopen it before assigning")
    return ticket


def _unchanged(ticket: Ticket, strategy: Strategy | None) -> Assignment:
    email = ticket.assignee.email if ticket.assignee else None
    return Assignment(id=ticket.id, title=ticket.title, priority=ticket.priority, assignee_email=email,
                      previous_assignee_email=email, strategy=strategy.value if strategy else None)


def assign_to(session: Session, now: datetime, actor: str, ticket_id: int, email: str) -> tuple[Assignment, list[str]]:
    """`ticket assign ID --to EMAIL`: any active agent, leads too; capacity only warns."""
    address = validation.email(email, "--to")
    ticket = _assignable(session, ticket_id)
    agent = agents.get_model(session, address, lock=True)
    if not agent.active:
        raise Refused(f"agent {agent.email} is inactive", hint=f"`supportctl agent update {agent.email} --active` first")
    if ticket.assignee_id == agent.id:
        return _unchanged(ticket, None), [f"ticket {ticket.id} is already assigned to {agent.email}"]
    notes = []
    load = agents.open_load(session, [agent.id]).get(agent.id, 0)
    if agent.capacity is not None and load >= agent.capacity:
        notes.append(f"{agent.email} now has {load + 1} open tickets, over their capacity of {agent.capacity}")
    previous = ticket.assignee.email if ticket.assignee else None
    done = give(session, ticket, agent, now, actor, seq=next_seqs(session, 1)[0], previous=previous)
    session.flush()
    return done, notes


def assign_auto(session: Session, now: datetime, actor: str, ticket_id: int,
                strategy: str = Strategy.ROUND_ROBIN.value) -> tuple[Assignment, list[str]]:
    """`ticket assign ID --auto`: whoever's turn it is; an assigned ticket may change hands."""
    chosen = strategy_of(strategy)
    ticket = _assignable(session, ticket_id)
    try:
        candidate = choose(lock_pool(session), chosen, ticket.priority)
    except NoEligibleAgent as exc:
        raise NoEligibleAgent(f"cannot assign ticket {ticket.id}: {exc.message}", hint=exc.hint) from None
    if ticket.assignee_id == candidate.agent.id:
        return _unchanged(ticket, chosen), [f"ticket {ticket.id} stays with {candidate.agent.email}: it is their turn"]
    previous = ticket.assignee.email if ticket.assignee else None
    done = give(session, ticket, candidate.agent, now, actor, seq=next_seqs(session, 1)[0], previous=previous,
                strategy=chosen)
    session.flush()
    return done, []


def unassign(session: Session, now: datetime, actor: str, ticket_id: int) -> tuple[Assignment, list[str]]:
    ticket = get_model(session, ticket_id, lock=True)
    if ticket.status == Status.CLOSED.value:
        raise Refused(f"ticket {ticket.id} is closed; closed tickets do not change")
    if ticket.assignee is None:
        return _unchanged(ticket, None), [f"ticket {ticket.id} is not assigned"]
    previous = ticket.assignee.email
    ticket.assignee = None
    events.record(session, ticket, now, actor, EventKind.UNASSIGNED, {"assignee_email": previous},
                  {"assignee_email": None})
    session.flush()
    return Assignment(id=ticket.id, title=ticket.title, priority=ticket.priority, assignee_email=None,
                      previous_assignee_email=previous, strategy=None), []


def assign_new(session: Session, now: datetime, actor: str, ticket_id: int, *, to: str | None = None,
               strategy: str | None = None) -> tuple[TicketView, Assignment, list[str]]:
    """`ticket create --assign/--auto-assign`, in the create's transaction; returns the fresh ticket too."""
    if to is not None:
        done, notes = assign_to(session, now, actor, ticket_id, to)
    else:
        done, notes = assign_auto(session, now, actor, ticket_id, strategy or Strategy.ROUND_ROBIN.value)
    return ticket_view(get_model(session, ticket_id), sla_policy.load(session), now), done, notes
