"""Agents: adding and changing them, and their open load for assignment (reading them is
people/queries.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportctl.db.models import Agent, Ticket
from supportctl.domain.enums import Role
from supportctl.domain.lifecycle import UNRESOLVED
from supportctl.domain.timestamps import iso_z
from supportctl.errors import InvalidInput, Refused
from supportctl.services import lookup, validation


def open_load(session: Session, agent_ids: list[int]) -> dict[int, int]:
    """Unresolved tickets assigned to each agent."""
    rows = session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(agent_ids), Ticket.status.in_(UNRESOLVED))
        .group_by(Ticket.assignee_id)
    )
    return {agent_id: count for agent_id, count in rows}


def add(
    session: Session,
    now: datetime,
    *,
    email: str,
    name: str,
    role: str = Role.AGENT.value,
    capacity: int | None = None,
) -> str:
    """Add an agent; returns the email as stored."""
    address = validation.email(email)
    agent = Agent(
        email=address,
        name=validation.non_empty(name, "name"),
        role=validation.choice(Role, role, "role").value,
        capacity=validation.positive(capacity, "capacity") if capacity is not None else None,
        active=True,
        created_at=now,
    )
    if lookup.find_agent(session, address) is not None:
        raise Refused(f"an agent with email {address} already exists")
    session.add(agent)
    session.flush()
    return address


def update(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    role: str | None = None,
    capacity: int | None = None,
    clear_capacity: bool = False,
    active: bool | None = None,
) -> str:
    """Change an agent; returns their email. Every value is checked before the agent is looked up."""
    if capacity is not None and clear_capacity:
        raise InvalidInput("give either --capacity or --no-capacity, not both")
    new: dict = {}
    if name is not None:
        new["name"] = validation.non_empty(name, "name")
    if role is not None:
        new["role"] = validation.choice(Role, role, "role").value
    if capacity is not None:
        new["capacity"] = validation.positive(capacity, "capacity")
    if clear_capacity:
        new["capacity"] = None
    if active is not None:
        new["active"] = active
    agent = lookup.agent(session, email, lock=True)
    for field, value in new.items():
        setattr(agent, field, value)
    session.flush()
    return agent.email


def away(session: Session, now: datetime, email: str, until: datetime, reason: str | None = None) -> str:
    """Out of automatic assignment until `until` (they keep their tickets); returns the email."""
    if until <= now:
        raise InvalidInput(f"--until {iso_z(until)} is not in the future (now is {iso_z(now)})")
    agent = lookup.agent(session, email, lock=True)
    agent.away_until, agent.away_reason = until, (reason or "").strip() or None
    session.flush()
    return agent.email


def back(session: Session, email: str) -> str:
    agent = lookup.agent(session, email, lock=True)
    agent.away_until = agent.away_reason = None
    session.flush()
    return agent.email
