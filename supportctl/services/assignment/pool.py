"""The auto-assignment pool, the turn cursor, and handing a ticket over.

Who can be chosen automatically (docs/workflow.md, "Assignment"): active agents who
are not leads and are below their capacity (open load = unresolved tickets assigned
to them). The turn order is the database's cursor: never assigned first, then the
lowest ``agents.assignment_seq`` (the next value of a sequence, taken on every
assignment, manual ones too), ties by lowest id. ``last_assigned_at`` cannot order
turns: every write of a command carries the same whole second.

Locks, so that concurrent processes keep the rotation exact and never assign a ticket
twice: first the ticket row(s), then the agents, in id order (``FOR UPDATE``), held to
the end of the short transaction. Everyone takes them in that order, so nobody
deadlocks, and whoever chooses next sees the cursor and load the previous one committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportctl.db.models import ASSIGNMENT_SEQ, Agent, Ticket
from supportctl.domain import assignment
from supportctl.domain.assignment import Candidate
from supportctl.domain.enums import EventKind, Role, Strategy
from supportctl.services.notify import outbox
from supportctl.services.people.agents import open_load
from supportctl.services.tickets import history
from supportctl.services.tickets.changes import mark_first_response
from supportctl.services.views import View


class Assignment(View):
    """One ticket's change of hands: `ticket assign` / `queue assign` rows."""

    id: int
    title: str
    priority: str
    assignee_email: str | None
    previous_assignee_email: str | None
    strategy: str | None  # None for a manual assignment


@dataclass
class Pool:
    """The locked candidates, and their rows to hand tickets to."""

    candidates: list[Candidate]
    agents: dict[int, Agent]

    def choose(self, strategy: Strategy, priority: str) -> tuple[Candidate, Agent]:
        """Whose turn it is (domain.assignment.choose); NoEligibleAgent when nobody's."""
        chosen = assignment.choose(self.candidates, strategy, priority)
        return chosen, self.agents[chosen.id]

    def took(self, candidate: Candidate, seq: int) -> None:
        """The candidate was just given a ticket: their load and turn move on for the next choice."""
        candidate.load += 1
        candidate.seq = seq


def lock_pool(session: Session) -> Pool:
    """Lock every auto-assignable agent in id order (the deadlock-free order) and load them."""
    query = (
        select(Agent)
        .where(Agent.active.is_(True), Agent.role != Role.LEAD.value)
        .order_by(Agent.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the locked row, not a stale copy
    )
    rows = list(session.scalars(query))
    load = open_load(session, [a.id for a in rows])
    candidates = [Candidate(a.id, a.email, a.role, a.capacity, a.assignment_seq, load.get(a.id, 0)) for a in rows]
    return Pool(candidates, {a.id: a for a in rows})


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
    history.record(session, ticket, now, actor, EventKind.ASSIGNED, {"assignee_email": previous}, to_value)
    outbox.ticket_assigned(session, now, ticket, agent)
    return Assignment(id=ticket.id, title=ticket.title, priority=ticket.priority, assignee_email=agent.email,
                      previous_assignee_email=previous, strategy=strategy.value if strategy else None)
