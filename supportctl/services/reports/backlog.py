"""`report backlog`: the unresolved tickets now, by age (docs/reports.md).

A ticket's age is the wall-clock time since it was created. Buckets are half-open: with
the default edges 4h,1d,3d,7d,30d a ticket of exactly one day is in 1d_3d. The percentiles
are exact (linear interpolation, percentile_cont) over whole seconds; `breaching` counts
the tickets with any metric breached now (the rule of `sla breaches`).
"""

from __future__ import annotations

import re
from datetime import datetime

from supportctl.db.query import Column, Kind, Query
from supportctl.domain.durations import parse_duration
from supportctl.domain.lifecycle import DONE
from supportctl.errors import InvalidInput
from supportctl.services.reports.window import choice, percentile
from supportctl.services.sla import rules

DEFAULT_BUCKETS = "4h,1d,3d,7d,30d"
GROUPS = {"team": "tm.slug", "priority": "t.priority", "assignee": "a.email", "status": "t.status"}
_NAME = re.compile(r"(?:\d+[wdhms])+", re.ASCII)  # the compact form: the edge names the columns
_DONE = ", ".join(f"'{s}'" for s in DONE)
# Each metric's breach, as `sla breaches` asks it: served by that metric's partial index.
_BREACHING = " UNION ".join(f"SELECT t.id FROM tickets t WHERE {breached('%(now)s')}" for breached in (
    rules.response_breached, rules.resolution_breached, rules.next_reply_breached))


def buckets(text: str) -> list[tuple[str, int]]:
    """`4h,1d` -> [("4h", 14400), ("1d", 86400)]: edges in strictly rising order."""
    edges = []
    for part in text.split(","):
        name = part.strip().lower()
        try:
            seconds = int(parse_duration(name).total_seconds())
        except ValueError as exc:
            raise InvalidInput(f"--buckets: {exc}") from None
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"--buckets: write {name!r} in the compact form, e.g. 4h,1d,3d")
        if edges and seconds <= edges[-1][1]:
            raise InvalidInput(f"--buckets: {name} must be longer than {edges[-1][0]} (edges rise left to right)")
        edges.append((name, seconds))
    return edges


def _bucket_columns(edges: list[tuple[str, int]]) -> list[Column]:
    first, last = edges[0], edges[-1]
    columns = [Column(f"lt_{first[0]}", f"count(*) FILTER (WHERE x.age < {first[1]})", Kind.NUMBER)]
    for (lo, lo_s), (hi, hi_s) in zip(edges, edges[1:]):
        columns.append(Column(f"{lo}_{hi}", f"count(*) FILTER (WHERE x.age >= {lo_s} AND x.age < {hi_s})",
                              Kind.NUMBER))
    columns.append(Column(f"gt_{last[0]}", f"count(*) FILTER (WHERE x.age >= {last[1]})", Kind.NUMBER))
    return columns


def query(now: datetime, *, by: str | None = None, edges: str = DEFAULT_BUCKETS) -> Query:
    by = choice(by, GROUPS)
    parsed = buckets(edges)
    group = GROUPS[by] if by else "'all'"
    # The unresolved tickets come from their covering partial index (ix_tickets_unresolved),
    # the breaching ones from the breach indexes: the big rows of tickets are never read.
    inner = (
        f"SELECT t.id, t.created_at, {group} AS grp, floor(extract(epoch FROM %(now)s - t.created_at))::bigint AS age, "
        f"t.id IN ({_BREACHING}) AS breaching "
        "FROM tickets t LEFT JOIN teams tm ON tm.id = t.team_id LEFT JOIN agents a ON a.id = t.assignee_id "
        f"WHERE t.status NOT IN ({_DONE})"
    )
    columns = (
        Column("group", "x.grp"), Column("open", "count(*)", Kind.NUMBER), *_bucket_columns(parsed),
        # The oldest ticket (ties: the lowest id) without sorting the group: the least (created, id).
        Column("oldest_id", "(min(ARRAY[extract(epoch FROM x.created_at)::numeric, x.id]))[2]::bigint", Kind.NUMBER),
        Column("oldest_age_seconds", "max(x.age)", Kind.NUMBER),
        Column("p50_age_seconds", percentile(0.5, "x.age"), Kind.NUMBER),
        Column("p90_age_seconds", percentile(0.9, "x.age"), Kind.NUMBER),
        Column("breaching", "count(*) FILTER (WHERE x.breaching)", Kind.NUMBER),
    )
    return Query(columns, f"FROM ({inner}) AS x GROUP BY x.grp", {"now": now},
                 order="ORDER BY count(*) DESC, x.grp NULLS LAST")
