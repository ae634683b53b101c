"""`report sla`: what share of the SLA cycles due in a window were met (docs/reports.md).

It counts cycles *due* in [since, until), cancelled ones left out. A cycle's state is
read at the command's now: met, met_late, breached (unmet and past due), or running (unmet
and not yet due, paused included). pct_met = 100 x met / (met + met_late + breached), one
decimal, null when nothing is decided yet. Groups are the cycle's own: the priority,
policy, team and assignee it had when it was met (an unmet cycle: the ticket's now), so
reassigning or re-prioritising a ticket later never moves last month's figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportctl.db.query import Column, Kind, Query
from supportctl.domain.enums import Metric
from supportctl.errors import InvalidInput
from supportctl.services import validation
from supportctl.services.reports.window import Window, choice, iso_week, pct, week_zone
from supportctl.services.sla import rules

# --by -> (column name, SQL over the cycle `c`, its team `tm` and assignee `a`)
GROUPS = {
    "team": ("team", "tm.slug"),
    "agent": ("agent_email", "a.email"),
    "priority": ("priority", "c.priority"),
    "policy": ("policy", "c.policy"),
    "week": ("week", iso_week("c.due_at")),
}
_DECIDED = "x.met + x.met_late + x.breached"


def query(cursor: Any, now: datetime, window: Window, *, metric: str | None = None, by: str | None = None) -> Query:
    by = choice(by, GROUPS)
    params: dict[str, Any] = {"now": now, "since": window.since, "until": window.until}
    conditions = ""
    if metric is not None:
        conditions = " AND c.metric = %(metric)s"
        params["metric"] = validation.choice(Metric, metric, "--metric").value
    if by == "week":
        params["zone"] = week_zone(cursor)
    key = [Column(GROUPS[by][0], f"x.{GROUPS[by][0]}")] if by else []
    grouped = f"{GROUPS[by][1]} AS {GROUPS[by][0]}, " if by else ""
    states = rules.cycle_state("%(now)s")
    inner = (
        f"SELECT {grouped}c.metric, count(*) FILTER (WHERE s.state = 'met') AS met, "
        "count(*) FILTER (WHERE s.state = 'met_late') AS met_late, "
        "count(*) FILTER (WHERE s.state = 'breached') AS breached, "
        "count(*) FILTER (WHERE s.state IN ('running', 'paused')) AS running "
        "FROM sla_cycles c LEFT JOIN teams tm ON tm.id = c.team_id LEFT JOIN agents a ON a.id = c.assignee_id "
        f"CROSS JOIN LATERAL (SELECT {states} AS state) AS s "
        f"WHERE c.due_at >= %(since)s AND c.due_at < %(until)s AND c.state <> 'cancelled'{conditions} "
        f"GROUP BY {'1, ' if by else ''}c.metric"
    )
    columns = (
        *key, Column("metric", "x.metric"),
        Column("total", f"{_DECIDED} + x.running", Kind.NUMBER), Column("met", "x.met", Kind.NUMBER),
        Column("met_late", "x.met_late", Kind.NUMBER), Column("breached", "x.breached", Kind.NUMBER),
        Column("running", "x.running", Kind.NUMBER), Column("pct_met", pct("x.met", _DECIDED), Kind.NUMBER),
    )
    order = f"ORDER BY {'x.' + GROUPS[by][0] + ' NULLS LAST, ' if by else ''}{rules.metric_order('x.metric')}"
    return Query(columns, f"FROM ({inner}) AS x", params, order=order)


def under(cursor: Any, report: Query, threshold: float) -> int:
    """How many of the report's rows have a pct_met below `threshold` (a null one never is)."""
    if not 0 <= threshold <= 100:
        raise InvalidInput(f"--fail-under {threshold:g}: give a percentage from 0 to 100")
    cursor.execute(f"SELECT count(*) FROM ({report.sql()}) AS r WHERE r.pct_met < %(threshold)s",
                   {**report.params, "threshold": threshold})
    return cursor.fetchone()[0]
