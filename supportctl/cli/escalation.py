"""supportctl ticket escalate, the cron run supportctl queue escalate, and the escalation
ladders and quiet hours it follows (escalation ladder … / escalation quiet-hours …)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import (
    MAX_COUNT,
    FormatOption,
    IdArgument,
    NoTeamFilterOption,
    PrioritiesOption,
    TeamFilterOption,
)
from supportctl.cli.output import choose_format, note, write_record, write_rows

COLUMNS = ["id", "previous_priority", "priority", "escalation_level", "metric", "reassigned_to", "title"]


def escalate(
    ctx: typer.Context,
    ticket_id: IdArgument,
    reason: Annotated[str | None, typer.Option("--reason", help="Why; kept in the history.")] = None,
    fmt: FormatOption = None,
) -> None:
    """Raise a ticket one priority level (unless critical) and mark it escalated.

    Due dates follow the new priority; an `escalated` event records the reason.

    Example: supportctl ticket escalate 42 --reason "customer is a launch partner"
    """
    from supportctl.services.escalation import manual

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        done = manual.escalate_one(session, app_ctx.now, app_ctx.actor, ticket_id, reason)
    if fmt is not None:
        write_rows([done.row()], COLUMNS + ["reason"], choose_format(fmt))
    note(f"ticket {done.id}: {done.previous_priority} -> {done.priority}, escalation level {done.escalation_level}")


def queue_escalate(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=MAX_COUNT, help="Escalate at most N tickets this run.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be escalated; change nothing.")] = False,
    reassign: Annotated[
        bool, typer.Option("--reassign", help="Give tickets that reach critical to a senior agent if theirs is not.")
    ] = False,
    team: TeamFilterOption = None,
    no_team: NoTeamFilterOption = False,
    fmt: FormatOption = None,
) -> None:
    """Escalate every unresolved ticket whose SLA is breached (the cron job).

    A ticket is escalated when it is not resolved or closed, a metric is breached,
    and it was not escalated within the response target of its current priority:
    so running it again at once escalates nothing, and several hosts may run it
    at the same moment: each ticket is escalated exactly once. Work is claimed
    with FOR UPDATE SKIP LOCKED in batches of 2000, each batch its own transaction
    (a crash loses no finished batch; the next run does the rest).

    A ticket whose SLA cycle follows an escalation ladder is escalated by the
    ladder's steps instead: each step fires once per ticket, metric, cycle and
    repeat, however many hosts run this; after downtime only the latest due step
    fires and the earlier ones are recorded as skipped. With ladders defined, the
    rows are one per action: id, metric, cycle, ladder, step, action, target
    (--limit caps only the one-step escalations).

    Exit codes: 0 done (also when nothing was due), 5 database unreachable,
    6 could not get a lock in time (nothing half-done).

    Example: */10 * * * *  supportctl queue escalate --reassign >> /var/log/supportctl-escalate.log
    """
    from supportctl.services.escalation import queue, steps

    app_ctx = app_context(ctx)
    outcome = queue.run(app_ctx.batches, app_ctx.now, app_ctx.actor, limit=limit, dry_run=dry_run,
                        reassign=reassign, team=team, no_team=no_team)
    done = outcome.escalated
    write_rows(outcome.rows(), COLUMNS if outcome.steps is None else steps.COLUMNS, choose_format(fmt))
    metrics = Counter(d.metric for d in done)
    verb = "would escalate" if dry_run else "escalated"
    detail = ", ".join(f"{n} {m}" for m, n in sorted(metrics.items()))
    note(f"{verb} {len(done)} ticket{'s' if len(done) != 1 else ''}" + (f" ({detail})" if detail else "")
         + (_steps_note(outcome.steps, dry_run) if outcome.steps else "")
         + (f"; {outcome.breaches_noted} new breach{'es' if outcome.breaches_noted != 1 else ''} recorded"
            if outcome.breaches_noted else ""))


def _steps_note(done: list, dry_run: bool) -> str:
    fired = len({(d.id, d.metric, d.cycle, d.step, d.repeat) for d in done if d.action != "skipped"})
    skipped = sum(d.action == "skipped" for d in done)
    return (f"; {'would fire' if dry_run else 'fired'} {fired} ladder step{'s' if fired != 1 else ''}"
            + (f", skipped {skipped}" if skipped else ""))


# escalation ladder set | list | show | remove

LadderArgument = Annotated[str, typer.Argument(metavar="NAME", help="The ladder's name, e.g. standard.",
                                               show_default=False)]


def ladder_set(
    ctx: typer.Context,
    name: LadderArgument,
    step: Annotated[list[str], typer.Option(
        "--step", metavar="SPEC", show_default=False,
        help="One step, e.g. 'at=75% notify=assignee'; repeatable, numbered from 1 in the order given.")],
    priority: PrioritiesOption = None,
    team: Annotated[list[str] | None, typer.Option("--team", metavar="SLUG",
                                                   help="Tickets of this team; repeatable (any of them).")] = None,
    policy: Annotated[list[str] | None, typer.Option("--policy", metavar="NAME",
                                                     help="Tickets measured by this SLA policy; repeatable.")] = None,
) -> None:
    """Create or replace an escalation ladder: steps that warn, escalate and reassign.

    A step is space-separated key=value words, at= and at least one action:

    \b
      at=N%          that share of the cycle's target elapsed, on its clock
      at=+D, at=-D   that long after / before the cycle is due, on its clock
      metric=M       response, next_reply or resolution (default: every metric)
      notify=WHO     assignee, lead, leads or an email address (repeatable)
      escalate       priority up one level, as a one-step escalation does
      reassign=TO    team, senior or an agent's email
      repeat=D max=N fire again every D of the clock, N times in all

    An SLA cycle follows the first ladder, by name, whose filters all match when the
    cycle starts, and keeps it; cycles already running keep what they follow. A ticket
    that matches no ladder is escalated as before, one level at breach. Everything is
    checked before anything is saved: a bad step is exit 2, an unknown team, policy or
    agent exit 3.

    Example: supportctl escalation ladder set standard --priority high --step "at=50% metric=resolution notify=assignee" --step "at=100% metric=resolution escalate notify=lead" --step "at=+2h metric=resolution reassign=senior"
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.escalation import ladders

    parsed = ladders.parse(step)
    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        new = ladders.set_(cursor_of(session), app_ctx.now, name, parsed, priorities=priority or [],
                           teams=team or [], policies=policy or [])
    note(f"{'created' if new else 'replaced'} ladder {name.strip()} with {len(parsed)} "
         f"step{'s' if len(parsed) != 1 else ''}; SLA cycles that start from now on follow it")


def ladder_list(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """List the ladders in the order they are tried (by name), with their filters and steps.

    Example: supportctl escalation ladder list
    """
    from supportctl.services.escalation import ladders

    with app_context(ctx).reading() as cursor:
        found = ladders.read(cursor)
    f = choose_format(fmt)
    rows = [l.row() for l in found.values()]
    if f == "table":
        rows = [{**r, "steps": len(r["steps"])} for r in rows]
    write_rows(rows, ladders.LIST_COLUMNS, f)


def ladder_show(ctx: typer.Context, name: LadderArgument, fmt: FormatOption = None) -> None:
    """Show a ladder: its filters, then each step with when it fires and what it does.

    Example: supportctl escalation ladder show standard
    """
    from supportctl.services.escalation import ladders

    with app_context(ctx).reading() as cursor:
        found = ladders.ladder(cursor, name)
    f = choose_format(fmt)
    if f in ("json", "ndjson"):
        record = {**found.row(), "steps": found.step_rows()}
        write_rows([record], list(record), f)
        return
    write_record({k: v for k, v in found.row().items() if k != "steps"}, f)
    if f == "table":
        typer.echo("\nSteps:")
    write_rows(found.step_rows(), ladders.STEP_COLUMNS, f)


def ladder_remove(ctx: typer.Context, name: LadderArgument) -> None:
    """Remove a ladder; the SLA cycles that followed it are escalated one level at breach again.

    Example: supportctl escalation ladder remove standard
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.escalation import ladders

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        running = ladders.remove(cursor_of(session), name)
    note(f"removed ladder {name.strip()}; {running} running SLA cycle{'s' if running != 1 else ''} "
         "now follow the one-step escalation")


# escalation quiet-hours set | show | clear


def quiet_set(
    ctx: typer.Context,
    timezone: Annotated[str, typer.Option("--timezone", metavar="TZ", show_default=False,
                                          help="An IANA time zone, e.g. Europe/Berlin.")],
    hours: Annotated[str, typer.Option("--hours", metavar="SPEC", show_default=False,
                                       help="The quiet hours: '22:00-07:00' every day (it may run past midnight), "
                                            "or by day as calendars are, e.g. 'mon-fri 00:00-08:00; sat-sun "
                                            "00:00-24:00'.")],
    except_: Annotated[list[str] | None, typer.Option(
        "--except", metavar="PRIORITY",
        help="Tickets of this priority (before the step) are never held; repeatable; 'none' holds all. "
             "Default: critical.")] = None,
) -> None:
    """Hold the notifications of ladder steps during quiet hours.

    A step that fires in a quiet period still escalates and reassigns at once; its
    mails (warnings, and the escalation and assignment mails it causes) are queued
    for the end of the period. Critical tickets are let through unless --except says
    otherwise.

    Example: supportctl escalation quiet-hours set --timezone Europe/Berlin --hours 22:00-07:00
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.escalation import ladders

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        quiet = ladders.set_quiet(cursor_of(session), app_ctx.now, timezone, hours, except_ or ["critical"])
    row = ladders.quiet_row(quiet)
    note(f"quiet hours {row['hours']} ({row['timezone']}); "
         f"never held: {', '.join(row['except']) or 'nothing'}")


def quiet_show(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Show the quiet hours (empty when there are none).

    Example: supportctl escalation quiet-hours show
    """
    from supportctl.services.escalation import ladders

    with app_context(ctx).reading() as cursor:
        quiet = ladders.quiet_hours(cursor)
    write_record(ladders.quiet_row(quiet), choose_format(fmt))


def quiet_clear(ctx: typer.Context) -> None:
    """Remove the quiet hours: ladder notifications go out as their steps fire.

    Example: supportctl escalation quiet-hours clear
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.escalation import ladders

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        cleared = ladders.clear_quiet(cursor_of(session))
    note("quiet hours cleared" if cleared else "there were no quiet hours")
