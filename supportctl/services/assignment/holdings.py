"""What an agent holds: their open tickets (`agent show`), and handing them all to others
when they stop taking tickets (`agent update EMAIL --inactive --reassign`).

Handing back is automatic assignment with the least-loaded strategy, never to the agent
who is leaving: a team's ticket goes to another eligible member of that team, a ticket of
no team to any eligible agent (assignment/pool.py says who is eligible). A ticket nobody
can take now is unassigned, not left with them: `queue assign` only looks at unassigned
tickets, so it picks that ticket up once someone is free, while one kept by an inactive
agent would wait for nobody.

Locks, in the order every assignment takes them (pool.py), so this does not deadlock with a
`queue assign` or `queue escalate --reassign` running at the same moment: first their
tickets, then the agents in id order with the teams' memberships, then the leaving agent
(already locked by then unless they are out of the pool: a lead, away or inactive). Their
tickets are looked up again after that, for any given to them while this waited on the
agents; once their row is locked nobody can give them another. Only such a late ticket is
locked after the agents, out of order: should that meet a deadlock, the caller retries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of, set_cron_timeouts
from supportctl.db.models import Ticket
from supportctl.domain.assignment import NoEligibleAgent
from supportctl.domain.enums import EventKind, Priority, Strategy
from supportctl.domain.lifecycle import UNRESOLVED
from supportctl.services import lookup
from supportctl.services.assignment.pool import Assignment, Handover, hand_over, lock_pool, next_seqs
from supportctl.services.notify import outbox
from supportctl.services.people import queries as people
from supportctl.services.tickets import history, queries
from supportctl.services.tickets.filters import TicketFilter

# `agent show`: what a lead needs to see at a glance about each ticket.
OPEN_COLUMNS = ("id", "title", "status", "priority", "team", "sla", "created_at")
STRATEGY = Strategy.LEAST_LOADED  # a whole backlog at once: spread it over whoever has room


def open_tickets(cursor: Any, email: str, now: datetime, *, sla_text: bool = False) -> list[dict]:
    """The agent's unresolved tickets (open, in_progress, pending), oldest first; with `sla_text`
    the SLA as a table shows it (`met/running`), else the object ticket JSON carries."""
    found = queries.listing(cursor, TicketFilter(assignees=(email,), statuses=tuple(UNRESOLVED)), now,
                            list(OPEN_COLUMNS), sort="created_at", sla_text=sla_text)
    return found.rows(cursor)


@dataclass(frozen=True)
class Left:
    """A ticket nobody could take: unassigned, with why."""

    id: int
    reason: str


@dataclass(frozen=True)
class Handback:
    agent_email: str
    given: list[Assignment]
    left: list[Left]


def hand_back(session: Session, now: datetime, actor: str, email: str) -> Handback:
    """Give each of the agent's open tickets to someone else, in the caller's transaction;
    most urgent first (highest priority, then oldest), so the room there is goes to them."""
    set_cron_timeouts(session)  # a stuck lock ends in exit 6, not a hang
    cursor = cursor_of(session)
    agent_id = people.agent_id(cursor, email)  # not locked yet: their tickets come first
    held = _lock_held(session, agent_id)
    pool = lock_pool(cursor, now, _teams(held))
    leaving = lookup.agent(session, email, lock=True).email
    late = _lock_held(session, agent_id)
    if _teams(late) - _teams(held):  # a late ticket of another team: its memberships too
        pool = lock_pool(cursor, now, _teams(late))
    tickets = sorted(late, key=lambda t: (-Priority(t.priority).rank, t.created_at, t.id))
    for ticket in tickets:
        history.in_order(ticket, now)
    seqs = iter(next_seqs(cursor, len(tickets)))
    handovers: list[Handover] = []
    left: list[Left] = []
    for ticket in tickets:
        try:
            chosen = pool.choose(STRATEGY, ticket.priority, ticket.team_id, exclude=agent_id)
        except NoEligibleAgent as exc:
            left.append(Left(ticket.id, exc.message))
            continue
        seq = next(seqs)
        handovers.append(Handover(ticket.id, chosen.id, seq, leaving, STRATEGY))
        pool.took(chosen, seq, ticket.team_id)
    by_id = {t.id: t for t in tickets}
    for missed in left:  # the event manual unassignment writes
        ticket = by_id[missed.id]
        ticket.assignee_id = None
        history.record(session, ticket, now, actor, EventKind.UNASSIGNED, {"assignee_email": leaving},
                       {"assignee_email": None})
    session.flush()  # what the session holds is in the database before the statement reads it
    given = hand_over(cursor, now, actor, handovers, mail=not outbox.muted(session))
    session.expire_all()  # the rows changed underneath the identity map
    return Handback(leaving, given, left)


def _lock_held(session: Session, agent_id: int) -> list[Ticket]:
    return list(session.scalars(
        select(Ticket).where(Ticket.assignee_id == agent_id, Ticket.status.in_(UNRESOLVED))
        .order_by(Ticket.id).with_for_update(of=Ticket)
    ))


def _teams(tickets: Iterable[Ticket]) -> set[int]:
    return {t.team_id for t in tickets if t.team_id is not None}
