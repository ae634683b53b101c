"""`ticket assign` and `ticket unassign`: to a named agent, or to whoever's turn it is.

Automatic choice and its locks are assignment/pool.py's; the rules are docs/workflow.md's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of, set_cron_timeouts
from supportctl.db.models import Team, TeamMember, Ticket
from supportctl.domain.assignment import NoEligibleAgent
from supportctl.domain.enums import EventKind, Status, Strategy
from supportctl.errors import Refused
from supportctl.services import lookup, validation
from supportctl.services.assignment.pool import Assignment, Handover, hand_over, lock_pool, next_seqs
from supportctl.services.notify import outbox
from supportctl.services.people.agents import open_load
from supportctl.services.tickets import history


def _assignable(session: Session, ticket_id: int) -> Ticket:
    set_cron_timeouts(session)  # a stuck lock ends in exit 6, not a hang
    ticket = lookup.ticket(session, ticket_id, lock=True)
    lookup.refuse_done(ticket, "assigning")
    return ticket


def _unchanged(ticket: Ticket, strategy: Strategy | None) -> Assignment:
    email = ticket.assignee.email if ticket.assignee else None
    return Assignment(id=ticket.id, title=ticket.title, priority=ticket.priority, assignee_email=email,
                      previous_assignee_email=email, strategy=strategy.value if strategy else None)


def assign_to(session: Session, now: datetime, actor: str, ticket_id: int, email: str) -> tuple[Assignment, list[str]]:
    """`ticket assign ID --to EMAIL`: any active agent, leads too; capacity only warns."""
    address = validation.email(email, "--to")
    ticket = _assignable(session, ticket_id)
    agent = lookup.agent(session, address, lock=True)
    if not agent.active:
        raise Refused(f"agent {agent.email} is inactive", hint=f"`supportctl agent update {agent.email} --active` first")
    if ticket.assignee_id == agent.id:
        return _unchanged(ticket, None), [f"ticket {ticket.id} is already assigned to {agent.email}"]
    notes = []
    if ticket.team_id is not None and session.get(TeamMember, (ticket.team_id, agent.id)) is None:
        notes.append(f"{agent.email} is not a member of {session.get(Team, ticket.team_id).slug}, the ticket's team")
    load = open_load(session, [agent.id]).get(agent.id, 0)
    if agent.capacity is not None and load >= agent.capacity:
        notes.append(f"{agent.email} now has {load + 1} open tickets, over their capacity of {agent.capacity}")
    return _give(session, now, actor, ticket, agent.id), notes


def assign_auto(session: Session, now: datetime, actor: str, ticket_id: int,
                strategy: str = Strategy.ROUND_ROBIN.value, *, named: str | None = None) -> tuple[Assignment, list[str]]:
    """`ticket assign ID --auto`: whoever's turn it is; an assigned ticket may change hands.
    A refusal names the ticket as `named` says, else by its id."""
    chosen = validation.choice(Strategy, strategy, "--strategy")
    ticket = _assignable(session, ticket_id)
    try:
        teams = {ticket.team_id} if ticket.team_id is not None else set()
        candidate = lock_pool(cursor_of(session), now, teams).choose(chosen, ticket.priority, ticket.team_id)
    except NoEligibleAgent as exc:
        raise NoEligibleAgent(f"cannot assign {named or f'ticket {ticket.id}'}: {exc.message}", hint=exc.hint) from None
    if ticket.assignee_id == candidate.id:
        return _unchanged(ticket, chosen), [f"ticket {ticket.id} stays with {candidate.email}: it is their turn"]
    return _give(session, now, actor, ticket, candidate.id, chosen), []


def _give(session: Session, now: datetime, actor: str, ticket: Ticket, agent_id: int,
          strategy: Strategy | None = None) -> Assignment:
    """Hand the (locked) ticket over with the statement every assignment uses (pool.hand_over)."""
    history.in_order(ticket, now)
    session.flush()  # what the session holds is in the database before the statement reads it
    cursor = cursor_of(session)
    previous = ticket.assignee.email if ticket.assignee else None
    [done] = hand_over(cursor, now, actor, [Handover(ticket.id, agent_id, next_seqs(cursor, 1)[0], previous, strategy)],
                       mail=not outbox.muted(session))
    session.expire_all()  # the rows changed underneath the identity map
    return done


def unassign(session: Session, now: datetime, actor: str, ticket_id: int) -> tuple[Assignment, list[str]]:
    ticket = lookup.ticket(session, ticket_id, lock=True)
    if ticket.status == Status.CLOSED.value:
        raise Refused(f"ticket {ticket.id} is closed; closed tickets do not change")
    if ticket.assignee is None:
        return _unchanged(ticket, None), [f"ticket {ticket.id} is not assigned"]
    previous = ticket.assignee.email
    ticket.assignee = None
    history.record(session, ticket, now, actor, EventKind.UNASSIGNED, {"assignee_email": previous},
                  {"assignee_email": None})
    session.flush()
    return Assignment(id=ticket.id, title=ticket.title, priority=ticket.priority, assignee_email=None,
                      previous_assignee_email=previous, strategy=None), []


def assign_new(session: Session, now: datetime, actor: str, ticket_id: int, *, to: str | None = None,
               strategy: str | None = None) -> tuple[Assignment, list[str]]:
    """`ticket create --assign/--auto-assign`, in the create's transaction."""
    if to is not None:
        return assign_to(session, now, actor, ticket_id, to)
    # the create rolls back with the refusal: its id was drawn, but no ticket has it
    return assign_auto(session, now, actor, ticket_id, strategy or Strategy.ROUND_ROBIN.value,
                       named="the new ticket, so none was created")
