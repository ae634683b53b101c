"""Changing teams: add and update a team, its members and its routes (docs/teams.md).

Reading them is teams/queries.py; which team a new ticket gets is teams/routing.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from supportctl.db.models import SlaCalendar, Team, TeamMember, TeamRoute, Ticket
from supportctl.domain.enums import Tier
from supportctl.domain.lifecycle import UNRESOLVED
from supportctl.errors import InvalidInput, NotFound, Refused
from supportctl.services import lookup, validation
from supportctl.services.sla.policy import Book
from supportctl.services.sla.recompute import lock_tickets, recompute


def _calendar(session: Session, name: str) -> str:
    key = validation.slug(name, "calendar")
    if session.get(SlaCalendar, key) is None:
        raise NotFound(f"no calendar {key}", hint="see `supportctl sla calendar list`")
    return key


def add(session: Session, now: datetime, *, slug: str, name: str, lead: str | None = None,
        calendar: str | None = None) -> str:
    """A new team (its lead, if given, is a member too); returns its slug."""
    key = validation.slug(slug)
    team = Team(slug=key, name=validation.non_empty(name, "name"), active=True, created_at=now,
                calendar=_calendar(session, calendar) if calendar is not None else None)
    leader = lookup.agent(session, lead) if lead is not None else None
    if session.scalar(select(Team.id).where(Team.slug == key)) is not None:
        raise Refused(f"a team {key} already exists")
    session.add(team)
    session.flush()
    if leader is not None:
        team.lead_id = leader.id
        session.add(TeamMember(team_id=team.id, agent_id=leader.id))
    session.flush()
    return key


def update(session: Session, now: datetime, slug: str, *, name: str | None = None, lead: str | None = None,
           active: bool | None = None, calendar: str | None = None, no_calendar: bool = False) -> list[str]:
    """Rename, change the lead (who becomes a member), the calendar or (de)activate; returns notes.

    A new calendar recomputes the due dates of the team's unresolved tickets whose policy
    names no calendar of its own (sla/recompute.py)."""
    if calendar is not None and no_calendar:
        raise InvalidInput("give --calendar NAME or --no-calendar, not both")
    new_calendar = _calendar(session, calendar) if calendar is not None else None
    team = lookup.team(session, slug, lock=True)
    notes = []
    if (new_calendar is not None or no_calendar) and new_calendar != team.calendar:
        lock_tickets(session)
        team.calendar = new_calendar
        session.flush()
        done = recompute(session, now, Book.load(session), "t.team_id = %(team)s AND k.pc IS NULL",
                         {"team": team.id})
        notes.append(f"recomputed due dates of {done.tickets} unresolved ticket{'s' if done.tickets != 1 else ''}"
                     f" of {team.slug}")
    if name is not None:
        team.name = validation.non_empty(name, "name")
    if lead is not None:
        leader = lookup.agent(session, lead)
        if session.get(TeamMember, (team.id, leader.id)) is None:
            session.add(TeamMember(team_id=team.id, agent_id=leader.id))
            notes.append(f"{leader.email} is now a member of {team.slug}")
        team.lead_id = leader.id
    if active is not None:
        team.active = active
    session.flush()
    return notes


def add_members(session: Session, slug: str, emails: list[str]) -> list[str]:
    """Make the agents members (a member already there is a no-op with a note)."""
    team = lookup.team(session, slug, lock=True)
    agents = [lookup.agent(session, email) for email in emails]  # every one checked before any is added
    notes = []
    for agent in agents:
        if session.get(TeamMember, (team.id, agent.id)) is not None:
            notes.append(f"{agent.email} is already a member of {team.slug}")
        else:
            session.add(TeamMember(team_id=team.id, agent_id=agent.id))
            session.flush()
    return notes


def remove_members(session: Session, slug: str, emails: list[str]) -> list[str]:
    """Take the agents out of the team; their tickets of the team stay theirs (a note says how many)."""
    team = lookup.team(session, slug, lock=True)
    agents = [lookup.agent(session, email) for email in emails]
    members = []
    for agent in agents:
        member = session.get(TeamMember, (team.id, agent.id))
        if member is None:
            raise NotFound(f"{agent.email} is not a member of {team.slug}", hint=f"see `supportctl team show {team.slug}`")
        if agent.id == team.lead_id:
            raise Refused(f"{agent.email} leads {team.slug}; give the team another lead first",
                          hint=f"`supportctl team update {team.slug} --lead EMAIL`")
        members.append((agent, member))
    notes = []
    for agent, member in members:
        held = session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.team_id == team.id, Ticket.assignee_id == agent.id, Ticket.status.in_(UNRESOLVED)))
        session.delete(member)
        if held:
            notes.append(f"{agent.email} keeps {held} open ticket{'s' if held != 1 else ''} of {team.slug}")
    session.flush()
    return notes


def add_route(session: Session, now: datetime, slug: str, *, category: str | None = None, tag: str | None = None,
              tier: str | None = None, company: str | None = None, position: int | None = None) -> TeamRoute:
    """A route to the team; without a position it goes after the last one."""
    conditions = {"category": _text(category), "tag": _text(tag), "company": _text(company),
                  "tier": validation.choice(Tier, tier, "--tier").value if tier is not None else None}
    if not any(conditions.values()):
        raise InvalidInput("a route needs at least one condition: --category, --tag, --tier or --company")
    if position is not None:
        validation.positive(position, "--position")
    team = lookup.team(session, slug)
    if not team.active:
        raise Refused(f"team {team.slug} is inactive: it matches no route", hint=f"`supportctl team update {team.slug} --active`")
    # Routes are numbered in one sequence of positions: take the table's lock so two adds agree.
    session.connection().exec_driver_sql("LOCK TABLE team_routes IN SHARE ROW EXCLUSIVE MODE")
    last = session.scalar(select(func.max(TeamRoute.position))) or 0
    if position is None:
        position = last + 1
    elif session.scalar(select(TeamRoute.id).where(TeamRoute.position == position)) is not None:
        raise Refused(f"position {position} is taken", hint="see `supportctl team route list`")
    route = TeamRoute(team_id=team.id, position=position, created_at=now, **conditions)
    session.add(route)
    session.flush()
    return route


def remove_route(session: Session, route_id: int) -> None:
    # One DELETE, not a locking read first: that would need UPDATE on the table (db roles).
    if session.execute(delete(TeamRoute).where(TeamRoute.id == route_id).returning(TeamRoute.id)).first() is None:
        raise NotFound(f"no route {route_id}", hint="see `supportctl team route list`")


def _text(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None
