"""supportctl report sla | backlog | response | resolution | workload (docs/reports.md).

Every report is one query on the read snapshot (a replica, when configured), reproducible
with --now. Piped, or in csv, tsv, json or ndjson, it has the plain columns, made by
PostgreSQL; as a table it is for people: seconds as durations (4h48m, 3d2h) and a bar
for its main figure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import FormatOption, MetricOption, RawOption, SinceOption, UntilOption
from supportctl.cli.output import choose_format, note, stream, to_stdout, write_rows
from supportctl.db.query import Query, fetch

BAR_WIDTH = 20
GROUP_COLUMNS = ("group", "team", "agent_email", "priority", "policy", "week")
_EIGHTHS = " ▏▎▍▌▋▊▉"


class SlaGrouping(StrEnum):
    TEAM = "team"
    AGENT = "agent"
    PRIORITY = "priority"
    POLICY = "policy"
    WEEK = "week"


class BacklogGrouping(StrEnum):
    TEAM = "team"
    PRIORITY = "priority"
    ASSIGNEE = "assignee"
    STATUS = "status"


class TimesGrouping(StrEnum):
    TEAM = "team"
    AGENT = "agent"
    PRIORITY = "priority"
    WEEK = "week"


def bar(value: float | None, top: float | None, width: int = BAR_WIDTH) -> str:
    """`value` of `top` as a bar of Unicode blocks, to an eighth of a character."""
    if not value or not top or value <= 0:
        return ""
    eighths = round(min(value / top, 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def _brief(seconds: Any) -> str | None:
    from supportctl.domain.durations import format_brief

    return None if seconds is None else format_brief(timedelta(seconds=round(float(seconds))))


def _show(ctx: typer.Context, build: Callable[[Any, Any], Query], fmt: Any, raw: bool, *,
          figure: str, top: Callable[[list[dict]], float | None], durations: tuple[str, ...] = ()) -> None:
    """Stream the report; or, as a table, fetch it and show `durations` (seconds columns)
    as durations and a bar of `figure` against `top` of the rows."""
    app_ctx = app_context(ctx)
    f = choose_format(fmt)
    with app_ctx.reading() as cursor:
        report = build(cursor, app_ctx.now)
        if f != "table":
            to_stdout(lambda out: stream(cursor, report, f, out, raw=raw))
            return
        rows = fetch(cursor, report)
    highest = top(rows)
    key = report.names[0]  # the group: a team, an agent, a week, or `all`
    shown = []
    for row in rows:
        row = dict(row, bar=bar(row[figure], highest))
        if key in GROUP_COLUMNS and row[key] is None:
            row[key] = "(none)"  # no team, nobody
        for name in durations:
            row[name.removesuffix("_seconds")] = _brief(row[name])
        shown.append(row)
    names = [n.removesuffix("_seconds") if n in durations else n for n in report.names]
    write_rows(shown, [*names, "bar"], f)


def _window(since: str | None, until: str | None):
    from supportctl.config import parse_when
    from supportctl.services.reports.window import Window

    since_at = parse_when(since, "--since") if since else None
    until_at = parse_when(until, "--until") if until else None
    return lambda now: Window.of(now, since_at, until_at)


def sla(
    ctx: typer.Context,
    since: SinceOption = None,
    until: UntilOption = None,
    metric: MetricOption = None,
    by: Annotated[SlaGrouping | None, typer.Option("--by", help="One row per group and metric.",
                                                   show_default=False)] = None,
    fail_under: Annotated[float | None, typer.Option(
        "--fail-under", metavar="PCT", min=0, max=100,
        help="Exit 1 when any row's pct_met is below PCT, for cron.")] = None,
    fmt: FormatOption = None,
    raw: RawOption = False,
) -> None:
    """SLA compliance: the cycles due in the window, met on time, late, breached, running.

    pct_met = 100 x met / (met + met_late + breached), null while none is decided. Each
    cycle counts for the team, agent, priority and policy it had when it was met (an
    unmet one, the ticket's now): reassigning later does not move the figures, and a
    policy's new targets never rewrite cycles already met. Weeks (--by week) are ISO
    weeks of the due time in the default calendar's time zone. The window is [--since,
    --until), by default the 30 days before now.

    Exit codes: 0 reported, 1 with --fail-under and a row below it.

    Example: 0 8 * * mon  supportctl report sla --since 7d --by team --fail-under 95 --format csv > sla.csv || mail-the-leads sla.csv
    """
    from supportctl.services.reports import compliance

    window = _window(since, until)
    found = {}

    def build(cursor, now):
        report = compliance.query(cursor, now, window(now), metric=metric, by=by)
        if fail_under is not None:
            found["under"] = compliance.under(cursor, report, fail_under)
        return report

    _show(ctx, build, fmt, raw, figure="pct_met", top=lambda rows: 100.0)
    if found.get("under"):
        n = found["under"]
        note(f"{n} row{'s' if n != 1 else ''} under {fail_under:g}% met")
        raise typer.Exit(1)


def backlog(
    ctx: typer.Context,
    by: Annotated[BacklogGrouping | None, typer.Option("--by", help="One row per group.", show_default=False)] = None,
    buckets: Annotated[str, typer.Option("--buckets", metavar="EDGES",
                                         help="Age bucket edges, rising: lt_FIRST … gt_LAST.")] = "4h,1d,3d,7d,30d",
    fmt: FormatOption = None,
    raw: RawOption = False,
) -> None:
    """The unresolved tickets now, by age: counts per age bucket, the oldest, p50 and p90.

    Age is wall-clock time since creation; a bucket a_b holds ages from a up to (not
    including) b. breaching counts tickets with any SLA metric breached now.

    Example: supportctl report backlog --by team --buckets 1d,7d,30d
    """
    from supportctl.services.reports import backlog as report

    _show(ctx, lambda cursor, now: report.query(now, by=by, edges=buckets), fmt, raw, figure="open",
          top=lambda rows: max((r["open"] for r in rows), default=None),
          durations=("oldest_age_seconds", "p50_age_seconds", "p90_age_seconds"))


TimesBy = Annotated[TimesGrouping | None, typer.Option("--by", help="One row per group.", show_default=False)]


def _waits(ctx: typer.Context, metric: str, since: str | None, until: str | None, by: str | None, fmt: Any,
           raw: bool) -> None:
    from supportctl.domain.enums import Metric
    from supportctl.services.reports import times

    window = _window(since, until)
    _show(ctx, lambda cursor, now: times.query(cursor, now, window(now), Metric(metric), by=by), fmt, raw,
          figure="p90_seconds", top=lambda rows: max((r["p90_seconds"] or 0 for r in rows), default=None),
          durations=("p50_seconds", "p90_seconds", "mean_seconds", "max_seconds"))


def response(ctx: typer.Context, since: SinceOption = None, until: UntilOption = None, by: TimesBy = None,
             fmt: FormatOption = None, raw: RawOption = False) -> None:
    """How long customers waited for the first response: p50, p90, mean and max.

    count: responses met in the window ([--since, --until), by default the last 30 days),
    on time or late; unmet: tickets created in the window still waiting (never counted
    as a wait of zero). A wait is business time when the ticket's calendar applies;
    p50 and p90 are exact (linear interpolation). Credited to the team and agent of the
    moment the response was given.

    Example: supportctl report response --since 4w --by week
    """
    _waits(ctx, "response", since, until, by, fmt, raw)


def resolution(ctx: typer.Context, since: SinceOption = None, until: UntilOption = None, by: TimesBy = None,
               fmt: FormatOption = None, raw: RawOption = False) -> None:
    """How long tickets took to resolve: p50, p90, mean and max.

    count: resolution cycles met in the window ([--since, --until), by default the last
    30 days); unmet: cycles started in the window and not resolved. A reopened ticket
    starts a new cycle. Time pending is not counted; business time when a calendar
    applies. Credited to the team and agent of the moment the ticket was resolved.

    Example: supportctl report resolution --since 30d --by team --format csv
    """
    _waits(ctx, "resolution", since, until, by, fmt, raw)


def workload(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option("--team", metavar="SLUG", help="Only this team's members.")] = None,
    fmt: FormatOption = None,
    raw: RawOption = False,
) -> None:
    """Who holds what now: each active agent's unresolved tickets, against their capacity.

    open counts all of an agent's unresolved tickets (whatever their team); at_risk_1h
    those due within the hour and not yet breached.

    Example: supportctl report workload --team billing
    """
    from supportctl.services.reports import workload as report

    _show(ctx, lambda cursor, now: report.query(cursor, now, team=team), fmt, raw, figure="open",
          top=lambda rows: max((r["open"] for r in rows), default=None), durations=("oldest_open_age_seconds",))
