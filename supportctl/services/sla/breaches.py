"""The SLA breach report: one row per (ticket, metric) that is breached, or at risk.

One set-based query, a UNION ALL of the three metrics. Each branch is the shared
definition of "breached" (sla/rules.py), asked at ``now + window``: "breached at now +
window" is exactly "breached now, or due within the window". Each branch's WHERE implies
the predicate of its partial index (ix_tickets_response_due_unmet,
ix_tickets_resolution_due_unmet, ix_tickets_next_reply_due_unmet), so the report is an index range scan on due time however
large the table grows. Overdue seconds are computed in SQL; the rows are streamed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from supportctl.db.query import Column, Kind, Query
from supportctl.domain.durations import parse_duration
from supportctl.domain.enums import Metric, Priority
from supportctl.errors import InvalidInput
from supportctl.services import validation
from supportctl.services.sla import rules
from supportctl.services.tickets.filters import TicketFilter, where
from supportctl.services.tickets.queries import FROM

COLUMNS = (
    Column("id", "b.id", Kind.NUMBER), Column("title", "b.title"), Column("priority", "b.priority"),
    Column("status", "b.status"), Column("customer_email", "b.customer_email"),
    Column("assignee_email", "b.assignee_email"), Column("metric", "b.metric"), Column("state", "b.state"),
    Column("due_at", "b.due_at", Kind.TIME), Column("overdue_seconds", "b.overdue_seconds", Kind.NUMBER),
)
_DUE = {Metric.RESPONSE: "t.response_due_at", Metric.RESOLUTION: "t.resolution_due_at",
        Metric.NEXT_REPLY: "t.next_reply_due_at"}
_BREACHED = {Metric.RESPONSE: rules.response_breached, Metric.RESOLUTION: rules.resolution_breached,
             Metric.NEXT_REPLY: rules.next_reply_breached}


def at_risk_window(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidInput(f"--at-risk: {exc}") from None


@dataclass(frozen=True)
class Report(Query):
    """The report's query, and the same rows over tickets alone (`tally`: FROM … WHERE …,
    no joins): what the summary counts."""

    tally: str = ""


def _state(metric: Metric) -> str:
    return f"CASE WHEN {_DUE[metric]} < %(now)s THEN 'breached' ELSE 'at_risk' END"


def _branch(metric: Metric, conditions: str) -> str:
    due = _DUE[metric]
    return (f"SELECT t.id, t.title, t.priority, t.status, c.email AS customer_email, a.email AS assignee_email, "
            f"'{metric.value}' AS metric, {_state(metric)} AS state, "
            f"{due} AS due_at, floor(extract(epoch FROM %(now)s - {due}))::bigint AS overdue_seconds "
            f"{FROM} WHERE {_BREACHED[metric]('%(until)s')}{conditions}")


def _counted(metric: Metric, conditions: str) -> str:
    # The filters are over `t` alone (tickets/filters.py), so the count needs no join.
    return (f"SELECT t.priority, '{metric.value}' AS metric, {_state(metric)} AS state FROM tickets t "
            f"WHERE {_BREACHED[metric]('%(until)s')}{conditions}")


def query(cursor: Any, now: datetime, *, at_risk: str | None = None, metric: str | None = None,
          priorities: list[str] | tuple[str, ...] = (), assignee: str | None = None, team: str | None = None,
          no_team: bool = False) -> Report:
    """Active breaches (and, with `at_risk`, what falls due within that window), most overdue first.
    Every value is checked before a row is read."""
    window = at_risk_window(at_risk)
    chosen = validation.choice(Metric, metric, "--metric") if metric is not None else None
    levels = tuple(sorted({validation.choice(Priority, p, "--priority").value for p in priorities}))
    scope = TicketFilter(priorities=levels, assignees=(assignee,) if assignee else (), team=team, no_team=no_team)
    clause, params = where(cursor, scope, now)
    conditions = " AND " + clause.removeprefix("WHERE ") if clause else ""
    params["until"] = now + window if window else now
    metrics = [m for m in Metric if chosen in (None, m)]
    branches = " UNION ALL ".join(_branch(m, conditions) for m in metrics)
    counted = " UNION ALL ".join(_counted(m, conditions) for m in metrics)
    # Ordered by due time (most overdue first) rather than by the computed seconds, so
    # PostgreSQL may merge the index-ordered branches instead of sorting.
    return Report(COLUMNS, f"FROM ({branches}) AS b", params, order="ORDER BY b.due_at, b.id, b.metric DESC",
                  tally=f"FROM ({counted}) AS b")


def summary(cursor: Any, report: Report) -> Counter:
    """(state, metric, priority) -> rows of the report, in the same snapshot: a second pass over
    the tickets' due-time indexes, without the report's joins and formatting."""
    cursor.execute(f"SELECT b.state, b.metric, b.priority, count(*) {report.tally} GROUP BY 1, 2, 3", report.params)
    return Counter({(s, m, p): n for s, m, p, n in cursor.fetchall()})
