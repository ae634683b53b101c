"""Agents: the people who work tickets, with their role, capacity and open load."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportctl.db.models import Agent, Ticket
from supportctl.domain.enums import Role
from supportctl.domain.lifecycle import UNRESOLVED
from supportctl.errors import InvalidInput, Refused
from supportctl.services import lookup, validation
from supportctl.services.views import AgentView


def open_load(session: Session, agent_ids: list[int]) -> dict[int, int]:
    """Unresolved tickets assigned to each agent."""
    rows = session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(agent_ids), Ticket.status.in_(UNRESOLVED))
        .group_by(Ticket.assignee_id)
    )
    return {agent_id: count for agent_id, count in rows}


def _view(agent: Agent, load: int) -> AgentView:
    return AgentView.model_validate(agent).model_copy(update={"open_tickets": load})


def add(
    session: Session,
    now: datetime,
    *,
    email: str,
    name: str,
    role: str = Role.AGENT.value,
    capacity: int | None = None,
) -> AgentView:
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
    return _view(agent, 0)


def get(session: Session, email: str) -> AgentView:
    agent = lookup.agent(session, email)
    return _view(agent, open_load(session, [agent.id]).get(agent.id, 0))


def list_all(session: Session) -> list[AgentView]:
    agents = list(session.scalars(select(Agent).order_by(Agent.email)))
    load = open_load(session, [a.id for a in agents])
    return [_view(a, load.get(a.id, 0)) for a in agents]


def update(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    role: str | None = None,
    capacity: int | None = None,
    clear_capacity: bool = False,
    active: bool | None = None,
) -> AgentView:
    agent = lookup.agent(session, email, lock=True)
    if name is not None:
        agent.name = validation.non_empty(name, "name")
    if role is not None:
        agent.role = validation.choice(Role, role, "role").value
    if capacity is not None and clear_capacity:
        raise InvalidInput("give either --capacity or --no-capacity, not both")
    if capacity is not None:
        agent.capacity = validation.positive(capacity, "capacity")
    if clear_capacity:
        agent.capacity = None
    if active is not None:
        agent.active = active
    session.flush()
    return _view(agent, open_load(session, [agent.id]).get(agent.id, 0))
