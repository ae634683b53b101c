"""`report workload`: who holds what now (docs/reports.md).

One row per active agent (with --team, per member of that team), their unresolved
tickets: all of them, whatever team a ticket is in, since that is the agent's load.
`at_risk_1h` counts the tickets with a metric due within the hour and none breached yet;
`breaching` those with any metric breached now (the rule of `sla breaches`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from supportctl.db.query import Column, Kind, Query
from supportctl.domain.enums import Priority
from supportctl.domain.lifecycle import DONE
from supportctl.services.reports.window import pct
from supportctl.services.sla import rules
from supportctl.services.teams import queries as teams

AT_RISK = timedelta(hours=1)


def query(cursor: Any, now: datetime, *, team: str | None = None) -> Query:
    params: dict[str, Any] = {"now": now, "soon": now + AT_RISK, "done": DONE}
    members = ""
    if team is not None:
        params["team"] = teams.team_id(cursor, team)
        members = " AND a.id IN (SELECT m.agent_id FROM team_members m WHERE m.team_id = %(team)s)"
    breached, soon = rules.breached("%(now)s"), rules.breached("%(soon)s")
    inner = (
        "SELECT a.id, a.email, a.capacity, a.away_until, t.id AS ticket, t.priority, t.created_at, "
        f"t.id IS NOT NULL AND {breached} AS breaching, t.id IS NOT NULL AND {soon} AND NOT {breached} AS at_risk "
        "FROM agents a LEFT JOIN tickets t ON t.assignee_id = a.id AND t.status <> ALL(%(done)s) "
        f"WHERE a.active{members}"
    )
    open_ = "count(x.ticket)"
    columns = (
        Column("agent_email", "x.email"),
        Column("teams", "coalesce((SELECT array_agg(tm.slug ORDER BY tm.slug) FROM team_members m "
                        "JOIN teams tm ON tm.id = m.team_id WHERE m.agent_id = x.id), '{}')", Kind.TAGS),
        Column("open", open_, Kind.NUMBER),
        Column("critical", f"count(x.ticket) FILTER (WHERE x.priority = '{Priority.CRITICAL.value}')", Kind.NUMBER),
        Column("high", f"count(x.ticket) FILTER (WHERE x.priority = '{Priority.HIGH.value}')", Kind.NUMBER),
        Column("capacity", "x.capacity", Kind.NUMBER),
        Column("utilization_pct", pct(open_, "x.capacity"), Kind.NUMBER),
        Column("breaching", "count(*) FILTER (WHERE x.breaching)", Kind.NUMBER),
        Column("at_risk_1h", "count(*) FILTER (WHERE x.at_risk)", Kind.NUMBER),
        Column("oldest_open_age_seconds", "floor(extract(epoch FROM %(now)s - min(x.created_at)))::bigint",
               Kind.NUMBER),
        Column("away_until", "x.away_until", Kind.TIME),
    )
    return Query(columns, f"FROM ({inner}) AS x GROUP BY x.id, x.email, x.capacity, x.away_until", params,
                 order="ORDER BY count(x.ticket) DESC, x.email")
