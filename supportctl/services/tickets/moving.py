"""A ticket's team: given at create (or found by the routes), and moved later (docs/teams.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of
from supportctl.db.models import Customer, Team, TeamMember, Ticket
from supportctl.domain.enums import EventKind
from supportctl.errors import Refused
from supportctl.services import lookup
from supportctl.services.teams import routing
from supportctl.services.tickets import history


def given_team(session: Session, slug: str) -> Team:
    """The team a command names for a ticket: it must exist (3) and be active (4)."""
    team = lookup.team(session, slug)
    if not team.active:
        raise Refused(f"team {team.slug} is inactive; its tickets keep it, new ones cannot get it",
                      hint=f"`supportctl team update {team.slug} --active`")
    return team


def routed_team(session: Session, category: str | None, tags: list[str], customer: Customer) -> int | None:
    """The team of the first route whose conditions all hold, if any (teams/routing.py)."""
    return routing.route(cursor_of(session), category, tags, customer.tier, customer.company)


def move(session: Session, now: datetime, actor: str, ticket: Ticket, team: Team | None, *,
         keep_assignee: bool = False) -> list[str]:
    """Give the (locked) ticket another team, or none; an assignee who is not a member of the new
    team is unassigned in the same transaction, unless keep_assignee (or no team). Returns notes."""
    old = session.get(Team, ticket.team_id) if ticket.team_id is not None else None
    if (old.id if old else None) == (team.id if team else None):
        return [f"ticket {ticket.id} is already in {team.slug if team else 'no team'}"]
    history.record(session, ticket, now, actor, EventKind.TEAM_CHANGED,
                   {"team": old.slug if old else None}, {"team": team.slug if team else None})
    ticket.team_id = team.id if team else None
    notes = []
    assignee = ticket.assignee
    if team is not None and assignee is not None and not keep_assignee \
            and session.get(TeamMember, (team.id, assignee.id)) is None:
        ticket.assignee = None
        history.record(session, ticket, now, actor, EventKind.UNASSIGNED, {"assignee_email": assignee.email},
                       {"assignee_email": None})
        notes.append(f"ticket {ticket.id} unassigned: {assignee.email} is not in {team.slug} (--keep-assignee keeps them)")
    return notes
