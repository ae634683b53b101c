"""`report response` and `report resolution`: how long customers waited (docs/reports.md).

`count` is the cycles met (on time or late) with met_at in [since, until); `unmet` the
cycles that started in the window and are not met (running, paused or breached: they
are never counted as a wait of zero). A wait is the cycle's start to its met_at minus
the time paused, in business seconds when the cycle ran on a calendar. p50 and p90 are
exact (percentile_cont, linear interpolation), as are mean and max; all one decimal.

24x7 cycles are measured in SQL. A calendar cycle's business seconds come from the same
calendar code that set its due time (domain/calendar.py), in Python, and go back into the
one aggregate as arrays, so every percentile is still PostgreSQL's over all the waits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportctl.db.query import Column, Kind, Query
from supportctl.domain import sla
from supportctl.domain.enums import Metric
from supportctl.services.reports.window import Window, choice, iso_week, percentile, week_zone
from supportctl.services.sla.policy import Book

# --by -> SQL over the cycle `c`, its team `tm` and assignee `a`; {at}: the cycle's moment.
GROUPS = {"team": "tm.slug", "agent": "a.email", "priority": "c.priority", "week": iso_week("{at}")}
_JOINS = "FROM sla_cycles c LEFT JOIN teams tm ON tm.id = c.team_id LEFT JOIN agents a ON a.id = c.assignee_id"
_MET = "c.metric = %(metric)s AND c.met_at >= %(since)s AND c.met_at < %(until)s"
_UNMET = ("c.metric = %(metric)s AND c.started_at >= %(since)s AND c.started_at < %(until)s "
          "AND c.state IN ('running', 'paused')")
_WAIT = "extract(epoch FROM c.met_at - c.started_at) - c.paused_seconds"


def _group(by: str | None, at: str) -> str:
    return GROUPS[by].format(at=at) if by else "'all'"


def query(cursor: Any, now: datetime, window: Window, metric: Metric, *, by: str | None = None) -> Query:
    by = choice(by, GROUPS)
    params: dict[str, Any] = {"now": now, "since": window.since, "until": window.until, "metric": metric.value}
    if by == "week":
        params["zone"] = week_zone(cursor)
    met, unmet = _group(by, "c.met_at"), _group(by, "c.started_at")
    groups, seconds = _business_waits(cursor, params, met)
    params.update(groups=groups, seconds=seconds)
    waits = (
        f"SELECT {met} AS grp, {_WAIT} AS seconds {_JOINS} WHERE {_MET} AND c.calendar IS NULL "
        "UNION ALL SELECT u.grp, u.seconds FROM unnest(%(groups)s::text[], %(seconds)s::float8[]) AS u(grp, seconds) "
        f"UNION ALL SELECT {unmet}, NULL {_JOINS} WHERE {_UNMET}"
    )
    columns = (
        Column("group", "x.grp"),
        Column("count", "count(x.seconds)", Kind.NUMBER),
        Column("unmet", "count(*) - count(x.seconds)", Kind.NUMBER),
        Column("p50_seconds", percentile(0.5, "x.seconds"), Kind.NUMBER),
        Column("p90_seconds", percentile(0.9, "x.seconds"), Kind.NUMBER),
        Column("mean_seconds", "round(avg(x.seconds)::numeric, 1)", Kind.NUMBER),
        Column("max_seconds", "round(max(x.seconds)::numeric, 1)", Kind.NUMBER),
    )
    return Query(columns, f"FROM ({waits}) AS x GROUP BY x.grp", params, order="ORDER BY x.grp NULLS LAST")


def _business_waits(cursor: Any, params: dict, group: str) -> tuple[list[str | None], list[float]]:
    """The waits of the met cycles that ran on a calendar, measured on it (a calendar cleared
    since: wall-clock time, as the cycles it measured now run)."""
    cursor.execute(f"SELECT {group}, c.started_at, c.met_at, c.paused_seconds, c.calendar {_JOINS} "
                   f"WHERE {_MET} AND c.calendar IS NOT NULL", params)
    rows = cursor.fetchall()
    if not rows:
        return [], []
    calendars = Book.read(cursor).calendars
    groups, seconds = [], []
    for grp, started_at, met_at, paused, calendar in rows:
        groups.append(grp)
        seconds.append(sla.elapsed(started_at, met_at, calendars.get(calendar)).total_seconds() - paused)
    return groups, seconds
