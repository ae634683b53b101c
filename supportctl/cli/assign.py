"""supportctl ticket assign | unassign, and the cron job supportctl queue assign."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from supportctl.cli import completion
from supportctl.cli.context import app_context
from supportctl.cli.options import (
    MAX_COUNT,
    FormatOption,
    IdArgument,
    NoTeamFilterOption,
    StrategyOption,
    TeamFilterOption,
)
from supportctl.cli.output import choose_format, note, write_rows
from supportctl.domain.enums import Strategy
from supportctl.errors import InvalidInput

COLUMNS = ["id", "assignee_email", "previous_assignee_email", "strategy", "priority", "title"]
QUEUE_COLUMNS = ["id", "assignee_email", "priority", "title"]


def _report(done, notes: list[str], fmt: str | None) -> None:
    if done.assignee_email != done.previous_assignee_email:
        was = f" (was {done.previous_assignee_email})" if done.previous_assignee_email else ""
        now_with = f"assigned to {done.assignee_email}" if done.assignee_email else "unassigned"
        note(f"ticket {done.id} {now_with}{was}")
    for message in notes:
        note(message)
    if fmt is not None:
        write_rows([done.row()], COLUMNS, choose_format(fmt))


def assign(
    ctx: typer.Context,
    ticket_id: IdArgument,
    to: Annotated[str | None, typer.Option(
        "--to", metavar="EMAIL", help="Give it to this active agent (me: SUPPORTCTL_ME).",
        autocompletion=completion.agent_emails)] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Give it to whoever's turn it is (see --strategy).")] = False,
    strategy: StrategyOption = None,
    fmt: FormatOption = None,
) -> None:
    """Assign a ticket to an agent, by name or by turn; this counts as its first response.

    --auto passes over inactive agents, leads, and agents at their capacity; --to may
    name any active agent (a note says when that goes over their capacity). Exit 3
    for an unknown agent, 4 for an inactive one, for a resolved or closed ticket, or
    when nobody can take it; nothing changes then.

    Example: supportctl ticket assign 42 --auto --strategy by-priority
    """
    from supportctl.services.assignment import manual

    if to is not None and auto:
        raise InvalidInput("give --to EMAIL or --auto, not both")
    if to is None and not auto:
        raise InvalidInput("say who: --to EMAIL, or --auto for whoever's turn it is")
    if strategy is not None and not auto:
        raise InvalidInput("--strategy goes with --auto")
    if to is not None and to.strip() == "me":
        from supportctl.config import me

        to = me()
    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        if to is not None:
            done, notes = manual.assign_to(session, app_ctx.now, app_ctx.actor, ticket_id, to)
        else:
            done, notes = manual.assign_auto(
                session, app_ctx.now, app_ctx.actor, ticket_id, strategy or Strategy.ROUND_ROBIN
            )
    _report(done, notes, fmt)


def unassign(
    ctx: typer.Context,
    ticket_id: IdArgument,
    fmt: FormatOption = None,
) -> None:
    """Take a ticket away from its agent, back to the unassigned queue.

    Example: supportctl ticket unassign 42
    """
    from supportctl.services.assignment import manual

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        done, notes = manual.unassign(session, app_ctx.now, app_ctx.actor, ticket_id)
    _report(done, notes, fmt)


def queue_assign(
    ctx: typer.Context,
    strategy: StrategyOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, max=MAX_COUNT, help="Look at no more than N tickets this run (highest priority first).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be assigned; change nothing.")] = False,
    team: TeamFilterOption = None,
    no_team: NoTeamFilterOption = False,
    fmt: FormatOption = None,
) -> None:
    """Assign every unassigned open, in_progress or pending ticket (the cron job).

    Highest priority first, then oldest. Inactive agents, leads, away agents and agents
    at their capacity are passed over; a team's ticket goes only to a member of that
    team, on the team's own round-robin turn. Prints what it assigned; lists on stderr what it could
    not assign and why, then a one-line summary. Work goes in batches of 200 tickets,
    each its own transaction: tickets are claimed with FOR UPDATE SKIP LOCKED and the
    agents locked in id order while choosing, so several hosts may run it at the same
    moment: no ticket is assigned twice and round-robin stays exact. A crash or lock
    timeout loses no finished batch and leaves nothing half-assigned.

    Exit codes: 0 every ticket it looked at was assigned, or waits for its team (nothing
    to do too), 4 at least one ticket of no team could not be assigned (the others still
    were), 5 database unreachable, 6 could not get its locks in time (finished batches
    stand; the rest is left for the next run).

    Example: */5 * * * *  supportctl queue assign --strategy least-loaded >> /var/log/supportctl-assign.log
    """
    from supportctl.services.assignment import queue

    app_ctx = app_context(ctx)
    f = choose_format(fmt)
    strategy = strategy or Strategy.ROUND_ROBIN
    outcome = queue.run(app_ctx.batches, app_ctx.now, app_ctx.actor, strategy=strategy, limit=limit,
                        dry_run=dry_run, team=team, no_team=no_team)
    write_rows([a.row() for a in outcome.assigned], QUEUE_COLUMNS, f)
    reasons: dict[str, list[str]] = {}
    waiting: Counter = Counter()  # a team's tickets wait for its members: counted, not failed
    for missed in outcome.not_assigned:
        if missed.teamed:
            waiting[missed.reason] += 1
        else:
            reasons.setdefault(missed.reason, []).append(str(missed.id))
    for reason, ids in reasons.items():
        note(f"not assigned: ticket{'s' if len(ids) > 1 else ''} {', '.join(ids)}: {reason}")
    for reason, n in sorted(waiting.items()):
        note(f"{n} left unassigned: {reason}")
    verb = "would assign" if dry_run else "assigned"
    n = len(outcome.assigned)
    summary = f"{verb} {n} ticket{'s' if n != 1 else ''} ({strategy.value})"
    failed = len(outcome.not_assigned) - sum(waiting.values())
    if failed:
        summary += f", {failed} could not be assigned"
    note(summary)
    if outcome.error is not None:
        raise outcome.error
    if failed:
        raise typer.Exit(4)
