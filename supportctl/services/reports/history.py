"""`sla history`: the SLA cycles (docs/sla.md, "History"), oldest first.

The cycles are written by the database (migration 0008: triggers on tickets), in the same
transaction as every change to a clock; they are only read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportctl.db.query import Column, Kind, Query
from supportctl.domain.enums import CycleState, Metric
from supportctl.errors import InvalidInput
from supportctl.services import validation
from supportctl.services.people import queries as people
from supportctl.services.sla import rules
from supportctl.services.teams import queries as teams

COLUMNS = (
    Column("ticket_id", "c.ticket_id", Kind.NUMBER), Column("metric", "c.metric"),
    Column("cycle", "c.cycle", Kind.NUMBER), Column("policy", "c.policy"),
    Column("target_seconds", "c.target_seconds", Kind.NUMBER), Column("started_at", "c.started_at", Kind.TIME),
    Column("due_at", "c.due_at", Kind.TIME), Column("paused_seconds", "c.paused_seconds", Kind.NUMBER),
    Column("met_at", "c.met_at", Kind.TIME), Column("state", rules.cycle_state("%(now)s")),
    Column("priority", "c.priority"), Column("team", "tm.slug"), Column("assignee_email", "a.email"),
    Column("ladder", "c.ladder"),  # the escalation ladder it follows (docs/escalation.md)
)
FROM = ("FROM sla_cycles c LEFT JOIN teams tm ON tm.id = c.team_id LEFT JOIN agents a ON a.id = c.assignee_id")


@dataclass(frozen=True)
class HistoryFilter:
    ticket_id: int | None = None
    metric: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    team: str | None = None
    assignee: str | None = None
    states: tuple[str, ...] = ()


def query(cursor: Any, now: datetime, f: HistoryFilter) -> Query:
    """`sla history`: cycles oldest first (by start), every value checked before a row is read."""
    clauses, params = [], {"now": now}
    if f.ticket_id is not None:
        cursor.execute("SELECT 1 FROM tickets WHERE id = %s", (f.ticket_id,))
        if cursor.fetchone() is None:
            raise validation.no_ticket(f.ticket_id)
        clauses.append("c.ticket_id = %(ticket)s")
        params["ticket"] = f.ticket_id
    if f.metric is not None:
        clauses.append("c.metric = %(metric)s")
        params["metric"] = validation.choice(Metric, f.metric, "--metric").value
    if f.since is not None and f.until is not None and f.since >= f.until:
        raise InvalidInput("--since must be before --until")
    if f.since is not None:
        clauses.append("c.started_at >= %(since)s")
        params["since"] = f.since
    if f.until is not None:
        clauses.append("c.started_at < %(until)s")
        params["until"] = f.until
    if f.team is not None:
        clauses.append("c.team_id = %(team)s")
        params["team"] = teams.team_id(cursor, f.team)
    if f.assignee is not None:
        clauses.append("c.assignee_id = %(assignee)s")
        params["assignee"] = people.agent_id(cursor, f.assignee, "--assignee")
    if f.states:
        clauses.append(f"{rules.cycle_state('%(now)s')} = ANY(%(states)s)")
        params["states"] = sorted({validation.choice(CycleState, s, "--state").value for s in f.states})
    body = FROM + (" WHERE " + " AND ".join(clauses) if clauses else "")
    order = f"ORDER BY c.started_at, c.ticket_id, {rules.metric_order('c.metric')}, c.cycle"
    return Query(COLUMNS, body, params, order=order)
