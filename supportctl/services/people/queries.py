"""Reading customers and agents: SQL over any DB-API cursor (the read path's, or a write's own)."""

from __future__ import annotations

from typing import Any

from supportctl.db.query import Column, Kind, Query, fetch
from supportctl.domain.lifecycle import UNRESOLVED
from supportctl.services import validation

CUSTOMERS = (
    Column("email", "p.email"), Column("name", "p.name"), Column("tier", "p.tier"), Column("company", "p.company"),
    Column("created_at", "p.created_at", Kind.TIME),
)
AGENTS = (
    Column("email", "p.email"), Column("name", "p.name"), Column("role", "p.role"),
    Column("active", "p.active", Kind.BOOL), Column("capacity", "p.capacity", Kind.NUMBER),
    # Open load: unresolved tickets assigned to them (ix_tickets_assignee_id_status).
    Column("open_tickets", "(SELECT count(*) FROM tickets t WHERE t.assignee_id = p.id "
                           "AND t.status = ANY(%(unresolved)s))", Kind.NUMBER),
    Column("last_assigned_at", "p.last_assigned_at", Kind.TIME), Column("created_at", "p.created_at", Kind.TIME),
    Column("away_until", "p.away_until", Kind.TIME), Column("away_reason", "p.away_reason"),
    Column("teams", "ARRAY(SELECT tm.slug FROM team_members m JOIN teams tm ON tm.id = m.team_id "
                    "WHERE m.agent_id = p.id ORDER BY tm.slug)", Kind.TAGS),
)


def customers(email: str | None = None) -> Query:
    """Every customer by email, or the one with this (checked) email."""
    return _people("customers", CUSTOMERS, email, {})


def agents(email: str | None = None) -> Query:
    return _people("agents", AGENTS, email, {"unresolved": UNRESOLVED})


def customer(cursor: Any, email: str) -> dict:
    [found] = fetch(cursor, customers(email)) or [None]
    if found is None:
        raise validation.no_customer(validation.email(email, "customer"))
    return found


def agent(cursor: Any, email: str) -> dict:
    [found] = fetch(cursor, agents(email)) or [None]
    if found is None:
        raise validation.no_agent(validation.email(email, "agent"))
    return found


def _people(table: str, columns: tuple[Column, ...], email: str | None, params: dict) -> Query:
    where = ""
    if email is not None:
        where, params = "WHERE p.email = %(email)s", {**params, "email": validation.email(email, table[:-1])}
    return Query(columns, f"FROM {table} p {where}", params, order="ORDER BY p.email")


def agent_id(cursor: Any, email: str, what: str = "agent") -> int:
    """The id of the agent with this address, or NotFound (exit 3); a malformed one is exit 2."""
    return _id_of(cursor, "agents", validation.email(email, what), validation.no_agent)


def customer_id(cursor: Any, email: str, what: str = "customer") -> int:
    """The id of the customer with this address, or NotFound (exit 3)."""
    return _id_of(cursor, "customers", validation.email(email, what), validation.no_customer)


def _id_of(cursor: Any, table: str, address: str, missing) -> int:
    cursor.execute(f"SELECT id FROM {table} WHERE email = %s", (address,))
    row = cursor.fetchone()
    if row is None:
        raise missing(address)
    return row[0]
