"""supportctl queue …: the cron jobs that work the whole queue (assign, escalate)."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.output import FormatOption, choose_format, note, write_rows

app = typer.Typer(help="Cron jobs over the whole queue: safe to repeat and to run on several hosts.", no_args_is_help=True)

ASSIGN_COLUMNS = ["id", "assignee_email", "priority", "title"]


@app.command("assign")
def assign(
    ctx: typer.Context,
    strategy: Annotated[
        str,
        typer.Option("--strategy", help="round-robin, least-loaded or by-priority (critical tickets to seniors only)."),
    ] = "round-robin",
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Look at no more than N tickets this run (highest priority first).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be assigned; change nothing.")] = False,
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Assign every unassigned open, in_progress or pending ticket (the cron job).

    Highest priority first, then oldest. Inactive agents, leads and agents at their
    capacity are passed over. Prints what it assigned; lists on stderr what it could
    not assign and why, then a one-line summary. Work goes in batches of 200 tickets,
    each its own transaction: tickets are claimed with FOR UPDATE SKIP LOCKED and the
    agents locked in id order while choosing, so several hosts may run it at the same
    moment: no ticket is assigned twice and round-robin stays exact. A crash or lock
    timeout loses no finished batch and leaves nothing half-assigned.

    Exit codes: 0 every ticket it looked at was assigned (or nothing to do), 4 at least
    one could not be assigned (the others still were), 5 database unreachable, 6 could
    not get its locks in time (finished batches stand; the rest is left for the next run).

    Example: */5 * * * *  supportctl queue assign --strategy least-loaded >> /var/log/supportctl-assign.log
    """
    from supportctl.services import queue_assign

    app_ctx = app_context(ctx)
    f = choose_format(fmt)
    outcome = queue_assign.run(app_ctx.database, app_ctx.now, app_ctx.actor, strategy=strategy, limit=limit,
                               dry_run=dry_run)
    write_rows([a.row() for a in outcome.assigned], ASSIGN_COLUMNS, f)
    reasons: dict[str, list[str]] = {}
    for missed in outcome.not_assigned:
        reasons.setdefault(missed.reason, []).append(str(missed.id))
    for reason, ids in reasons.items():
        note(f"not assigned: ticket{'s' if len(ids) > 1 else ''} {', '.join(ids)}: {reason}")
    verb = "would assign" if dry_run else "assigned"
    n = len(outcome.assigned)
    summary = f"{verb} {n} ticket{'s' if n != 1 else ''} ({strategy.strip().lower()})"
    if outcome.not_assigned:
        summary += f", {len(outcome.not_assigned)} could not be assigned"
    note(summary)
    if outcome.error is not None:
        raise outcome.error
    if outcome.not_assigned:
        raise typer.Exit(4)
