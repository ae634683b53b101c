"""supportctl sla policy | set | calendar show|set|clear | breaches | history | explain."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import (
    CycleStatesOption,
    FormatOption,
    MetricOption,
    PrioritiesOption,
    PriorityArgument,
    NoTeamFilterOption,
    PageLimitOption,
    RawOption,
    SinceOption,
    TeamFilterOption,
    UntilOption,
    page_limit,
)
from supportctl.cli.output import choose_format, note, stream, to_stdout, write_rows
from supportctl.db.query import fetch
from supportctl.domain.enums import Priority

POLICY_COLUMNS = ["priority", "response", "resolution", "response_seconds", "resolution_seconds"]
CALENDAR_COLUMNS = ["clock", "timezone", "hours", "holidays"]
BREACH_TABLE_COLUMNS = ["id", "priority", "status", "metric", "state", "due_at", "overdue", "assignee_email", "title"]


def recomputed(done) -> None:
    """The note after a change that recomputed due dates."""
    unchanged = done.tickets - done.changed
    note(
        f"recomputed due dates of {done.tickets} unresolved ticket{'s' if done.tickets != 1 else ''}"
        + (f" ({unchanged} unchanged)" if unchanged else "")
    )


def policy(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Show the default policy's response and resolution targets of each priority, highest first.

    Named policies for some customers, teams or kinds of ticket: `sla policies`.

    Example: supportctl sla policy --format json
    """
    from supportctl.services.sla.policy import Book

    with app_context(ctx).reading() as cursor:
        rows = Book.read(cursor).default.rows()
    write_rows(rows, POLICY_COLUMNS, choose_format(fmt))


ResponseOption = Annotated[
    str | None, typer.Option("--response", metavar="DUR", help="First-response target: 90m, 4h, 1h30m, 3d or PT4H.")
]
NextReplyOption = Annotated[
    str | None, typer.Option("--next-reply", metavar="DUR", help="Next-reply target (a customer waiting again).")
]
ResolutionOption = Annotated[
    str | None, typer.Option("--resolution", metavar="DUR", help="Resolution target, written the same way.")
]


def set_(
    ctx: typer.Context,
    priority: PriorityArgument,
    response: ResponseOption = None,
    resolution: ResolutionOption = None,
    next_reply: NextReplyOption = None,
    fmt: FormatOption = None,
) -> None:
    """Change one priority's targets of the default policy and recompute the due dates of its unresolved tickets.

    The policy and every due date change in one transaction. Resolved and closed
    tickets keep their due dates (their met/met_late verdict stays as it was).
    With a calendar, targets count open hours only.

    Example: supportctl sla set high --response 2h --resolution 24h
    """
    from supportctl.services.sla import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        before, after, done = changes.set_targets(
            session, app_ctx.now, priority, response=response, resolution=resolution, next_reply=next_reply
        )
    note(
        f"{after['priority']}: response {after['response']} (was {before['response']}),"
        f" resolution {after['resolution']} (was {before['resolution']})"
        + (f", next reply {after['next_reply']} (was {before['next_reply']})" if next_reply is not None else "")
    )
    recomputed(done)
    if fmt is not None:
        write_rows([after], POLICY_COLUMNS, choose_format(fmt))


CalendarNameOption = Annotated[
    str, typer.Option("--name", metavar="NAME", help="Which calendar (policies and teams name theirs).")
]


def calendar(ctx: typer.Context) -> None:
    """Business-hours calendars SLA clocks count (none: 24x7). Without a subcommand: show `default`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(calendar_show, ctx)


def calendar_show(ctx: typer.Context, name: CalendarNameOption = "default", fmt: FormatOption = None) -> None:
    """Show a calendar: `default` (clock 24x7 when none is set), or the one --name gives.

    Example: supportctl sla calendar show --format json
    """
    from supportctl.services.sla.policy import calendar_shown

    with app_context(ctx).reading() as cursor:
        row = calendar_shown(cursor, name)
    f = choose_format(fmt)
    if f in ("table", "tsv", "csv") and row["clock"] == "24x7":
        note("no calendar: SLA clocks run 24x7")
    write_rows([row], CALENDAR_COLUMNS, f)


def calendar_list(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """List the calendars, by name.

    Example: supportctl sla calendar list
    """
    from supportctl.services.sla.policy import Book, calendar_row

    with app_context(ctx).reading() as cursor:
        calendars = Book.read(cursor).calendars
    rows = [calendar_row(calendars[name], name) for name in sorted(calendars)]
    write_rows(rows, ["name", *CALENDAR_COLUMNS], choose_format(fmt))


def calendar_set(
    ctx: typer.Context,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone of the opening hours, e.g. Europe/Berlin.")],
    hours: Annotated[
        str, typer.Option("--hours", help="Weekly opening hours, e.g. 'mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00'.")
    ],
    holiday: Annotated[list[str] | None, typer.Option(
        "--holiday", "--add-holiday", metavar="DATE", help="Add a closed date, e.g. 2026-12-25; repeatable.")] = None,
    remove_holiday: Annotated[list[str] | None, typer.Option(
        "--remove-holiday", metavar="DATE", help="Take a date off the holidays; repeatable.")] = None,
    clear_holidays: Annotated[bool, typer.Option(
        "--clear-holidays", help="Drop the holidays it had (then --holiday adds the new ones).")] = False,
    name: CalendarNameOption = "default",
    fmt: FormatOption = None,
) -> None:
    """Create or replace a calendar and recompute the due dates of the unresolved tickets it measures.

    A calendar set again keeps its holidays: --holiday adds, --remove-holiday takes one
    off, --clear-holidays starts from none.

    `default` measures every ticket whose policy and team name no calendar. Time already
    spent pending is kept as measured (business time under the calendar in force when
    each pause ended); a pause still running is measured when it ends.

    Example: supportctl sla calendar set --timezone Europe/Berlin --hours "mon-fri 09:00-17:00" --holiday 2026-12-24 --holiday 2026-12-25
    """
    from supportctl.services.sla import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        row, done = changes.calendar_set(session, app_ctx.now, name=name, timezone=timezone, hours=hours,
                                         holidays=holiday or [], remove_holidays=remove_holiday or [],
                                         clear_holidays=clear_holidays)
    days = len(row["holidays"])
    named = "" if name.strip() == "default" else f" {name.strip()}"
    note(f"calendar{named}: {row['timezone']}, {row['hours']}, {days} holiday{'s' if days != 1 else ''}")
    recomputed(done)
    if fmt is not None:
        write_rows([row], CALENDAR_COLUMNS, choose_format(fmt))


def calendar_clear(ctx: typer.Context, name: CalendarNameOption = "default") -> None:
    """Remove a calendar and recompute the due dates of the unresolved tickets it measured.

    Without `default`, tickets whose policy and team name no calendar run 24x7. A calendar
    a policy or a team names cannot be removed (exit 4).

    Example: supportctl sla calendar clear
    """
    from supportctl.services.sla import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        removed, done = changes.calendar_clear(session, app_ctx.now, name)
    if name.strip() == "default":
        note("calendar removed: SLA clocks run 24x7" if removed else "no calendar was set: SLA clocks run 24x7")
    else:
        note(f"calendar {name.strip()} removed")
    recomputed(done)


def breaches(
    ctx: typer.Context,
    at_risk: Annotated[
        str | None, typer.Option("--at-risk", metavar="DUR", help="Also list unmet targets due within DUR, e.g. 2h.")
    ] = None,
    metric: MetricOption = None,
    priority: PrioritiesOption = None,
    assignee: Annotated[str | None, typer.Option("--assignee", metavar="EMAIL", help="Only tickets of this agent.")] = None,
    team: TeamFilterOption = None,
    no_team: NoTeamFilterOption = False,
    fmt: FormatOption = None,
    fail_on_breach: Annotated[
        bool, typer.Option("--fail-on-breach", help="Exit 1 when any row is listed (at-risk rows too), for cron.")
    ] = False,
    raw: RawOption = False,
    limit: PageLimitOption = None,
) -> None:
    """List SLA breaches now: one row per ticket and metric, most overdue first.

    A metric is breached when it is not met and its due time has passed; a pending
    ticket counts only if it was already overdue when it was paused. overdue_seconds
    is negative for at-risk rows (not yet due). A summary goes to stderr.

    Exit codes: 0 listed (or nothing to list), 1 with --fail-on-breach and at least one row.

    With SUPPORTCTL_READ_DATABASE_URL set, it reads from that server (e.g. a replica).

    Example: 0 * * * *  supportctl sla breaches --at-risk 1h --format csv --fail-on-breach > breaches.csv || mail-the-leads breaches.csv
    """
    from supportctl.services.sla import breaches as report

    app_ctx = app_context(ctx)
    f = choose_format(fmt)
    with app_ctx.reading() as cursor:
        breach_report = report.query(cursor, app_ctx.now, at_risk=at_risk, metric=metric, priorities=priority or [],
                                     assignee=assignee, team=team, no_team=no_team)
        counts = report.summary(cursor, breach_report)
        rows = page_limit(limit, f)
        shown_report = replace(breach_report, order=f"{breach_report.order} LIMIT {rows}") if rows else breach_report
        if f == "table":
            write_rows(map(_human, fetch(cursor, shown_report)), BREACH_TABLE_COLUMNS, f)
        else:
            to_stdout(lambda out: stream(cursor, shown_report, f, out, raw=raw))
    total = sum(counts.values())
    if rows and total > rows:
        note(f"showing {rows} of {total} (--limit 0 for all)")
    note(_summary(counts, at_risk is not None))
    if fail_on_breach and counts:
        raise typer.Exit(1)


HISTORY_TABLE_COLUMNS = ["ticket_id", "metric", "cycle", "policy", "target", "started_at", "due_at", "met_at",
                         "state", "priority", "team", "assignee_email"]
HISTORY_TABLE_ROWS = 200  # a person reads this many; csv and the JSON formats have them all


def history(
    ctx: typer.Context,
    ticket_id: Annotated[int | None, typer.Argument(help="Only this ticket's cycles.", min=1, metavar="[ID]",
                                                   show_default=False)] = None,
    metric: MetricOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    team: Annotated[str | None, typer.Option("--team", metavar="SLUG", help="Credited to this team.")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", metavar="EMAIL", help="Credited to this agent.")] = None,
    state: CycleStatesOption = None,
    fmt: FormatOption = None,
    raw: RawOption = False,
) -> None:
    """List SLA cycles: every clock of every ticket, from start to met, oldest first.

    One row per ticket, metric and cycle: response and resolution have one cycle each,
    a reopen starts resolution cycle 2, and every customer message that starts a next
    reply starts a cycle of it. A cycle keeps the policy and target it was measured
    against, and is credited to the team and assignee of the moment it was met (an unmet
    one to today's). --since and --until pick cycles by when they started.

    States: running, paused, met, met_late, breached (unmet and past due), cancelled.

    Example: supportctl sla history --since 7d --state breached --team billing --format csv
    """
    from supportctl.config import instant, parse_when
    from supportctl.services.reports import history as cycles

    app_ctx = app_context(ctx)
    f = choose_format(fmt)
    now = app_ctx.now
    wanted = cycles.HistoryFilter(
        ticket_id=ticket_id, metric=metric, team=team, assignee=assignee, states=tuple(state or ()),
        since=instant(parse_when(since, "--since"), now) if since else None,
        until=instant(parse_when(until, "--until"), now) if until else None,
    )
    with app_ctx.reading() as cursor:
        query = cycles.query(cursor, now, wanted)
        if f != "table":
            to_stdout(lambda out: stream(cursor, query, f, out, raw=raw))
            return
        rows = fetch(cursor, replace(query, order=f"{query.order} LIMIT {HISTORY_TABLE_ROWS + 1}"))
    write_rows([_cycle_shown(r) for r in rows[:HISTORY_TABLE_ROWS]], HISTORY_TABLE_COLUMNS, f)
    if len(rows) > HISTORY_TABLE_ROWS:
        note(f"showing the first {HISTORY_TABLE_ROWS} cycles (--format csv for all)")


def _cycle_shown(row: dict) -> dict:
    from datetime import timedelta

    from supportctl.domain.durations import format_target

    return dict(row, target=format_target(timedelta(seconds=row["target_seconds"])))


def _human(row: dict) -> dict:
    """Tables are for people: overdue as a duration (negative: still to go)."""
    from datetime import timedelta

    from supportctl.domain.durations import format_brief

    return dict(row, overdue=format_brief(timedelta(seconds=row["overdue_seconds"])))


def _summary(counts: Counter, at_risk: bool) -> str:
    """e.g. '3 breaches: response 2, resolution 1; critical 1, high 2'."""
    breached = sum(n for (state, _, _), n in counts.items() if state == "breached")
    risky = sum(counts.values()) - breached
    head = f"{breached} breach{'es' if breached != 1 else ''}" if breached else "no breaches"
    if at_risk:
        head += f", {risky} at risk" if risky else ", none at risk"
    if not counts:
        return head
    by_metric: Counter[str] = Counter()
    by_priority: Counter[str] = Counter()
    for (_, m, p), n in counts.items():
        by_metric[m] += n
        by_priority[p] += n
    metrics = ", ".join(f"{m} {by_metric[m]}" for m in ("response", "resolution", "next_reply") if by_metric[m])
    priorities = ", ".join(f"{p} {by_priority[p]}" for p in reversed(Priority) if by_priority[p])
    return f"{head}: {metrics}; {priorities}"
