"""supportctl ticket escalate, and the cron run supportctl queue escalate."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import MAX_COUNT, FormatOption, IdArgument, NoTeamFilterOption, TeamFilterOption
from supportctl.cli.output import choose_format, note, write_rows

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

    Exit codes: 0 done (also when nothing was due), 5 database unreachable,
    6 could not get a lock in time (nothing half-done).

    Example: */10 * * * *  supportctl queue escalate --reassign >> /var/log/supportctl-escalate.log
    """
    from supportctl.services.escalation import queue

    app_ctx = app_context(ctx)
    outcome = queue.run(app_ctx.batches, app_ctx.now, app_ctx.actor, limit=limit, dry_run=dry_run,
                        reassign=reassign, team=team, no_team=no_team)
    done = outcome.escalated
    write_rows([d.row() for d in done], COLUMNS, choose_format(fmt))
    metrics = Counter(d.metric for d in done)
    verb = "would escalate" if dry_run else "escalated"
    detail = ", ".join(f"{n} {m}" for m, n in sorted(metrics.items()))
    note(f"{verb} {len(done)} ticket{'s' if len(done) != 1 else ''}" + (f" ({detail})" if detail else "")
         + (f"; {outcome.breaches_noted} new breach{'es' if outcome.breaches_noted != 1 else ''} recorded"
            if outcome.breaches_noted else ""))
