"""What the reports share (docs/reports.md): the window, the groupings, percentiles.

Every report is one read query (db/query.Query) over the cycles or the tickets, so the
csv, tsv and JSON rows are made by PostgreSQL on the one output path and a table is the
same rows fetched; it runs on the read snapshot (the replica, when one is configured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from supportctl.config import When, instant
from supportctl.errors import InvalidInput

DEFAULT_SPAN = timedelta(days=30)


@dataclass(frozen=True)
class Window:
    """[since, until): until defaults to now, since to 30 days before until."""

    since: datetime
    until: datetime

    @classmethod
    def of(cls, now: datetime, since: When | None, until: When | None) -> Window:
        end = instant(until, now) if until is not None else now
        start = instant(since, now) if since is not None else end - DEFAULT_SPAN
        if start >= end:
            raise InvalidInput("--since must be before --until")
        return cls(start, end)


def week_zone(cursor: Any) -> str:
    """Weeks are ISO weeks in the default calendar's time zone, UTC without one."""
    cursor.execute("SELECT timezone FROM sla_calendars WHERE name = 'default'")
    row = cursor.fetchone()
    return row[0] if row else "UTC"


def iso_week(column: str) -> str:
    """`2026-W10`: the ISO week of a timestamptz in the %(zone)s time zone."""
    return f"""to_char({column} AT TIME ZONE %(zone)s, 'IYYY-"W"IW')"""


PERCENTILES = (0.5, 0.9)


def percentile(fraction: float, values: str) -> str:
    """An exact percentile by linear interpolation (PostgreSQL's percentile_cont), one decimal.

    Every report asks for the same ones, as one aggregate over the array of them: PostgreSQL
    computes an aggregate written twice once, so p50 and p90 cost one sort, not two."""
    wanted = ", ".join(map(str, PERCENTILES))
    return (f"round((percentile_cont(ARRAY[{wanted}]) WITHIN GROUP (ORDER BY {values}))"
            f"[{PERCENTILES.index(fraction) + 1}]::numeric, 1)")


def pct(part: str, whole: str) -> str:
    """100 x part / whole, one decimal; null when whole is 0."""
    return f"round(100.0 * ({part}) / nullif({whole}, 0), 1)"


def choice(value: str | None, allowed: dict[str, Any], what: str = "--by") -> str | None:
    if value is None:
        return None
    key = value.strip().lower()
    if key not in allowed:
        raise InvalidInput(f"{what} {value!r}: use one of {', '.join(allowed)}")
    return key
