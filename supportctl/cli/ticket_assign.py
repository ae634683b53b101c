"""supportctl ticket assign | unassign (registered on the ticket group)."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.output import FormatOption, choose_format, note, write_rows
from supportctl.cli.tickets import IdArgument, app
from supportctl.errors import InvalidInput

COLUMNS = ["id", "assignee_email", "previous_assignee_email", "strategy", "priority", "title"]
STRATEGY_HELP = (
    "round-robin (default: whoever was assigned least recently), least-loaded (fewest open tickets), "
    "or by-priority (critical tickets to seniors only)."
)


def _report(done, notes: list[str], fmt: str | None) -> None:
    if done.assignee_email != done.previous_assignee_email:
        was = f" (was {done.previous_assignee_email})" if done.previous_assignee_email else ""
        now_with = f"assigned to {done.assignee_email}" if done.assignee_email else "unassigned"
        note(f"ticket {done.id} {now_with}{was}")
    for message in notes:
        note(message)
    if fmt is not None:
        write_rows([done.row()], COLUMNS, choose_format(fmt))


@app.command("assign")
def assign(
    ctx: typer.Context,
    ticket_id: Annotated[int, IdArgument],
    to: Annotated[str | None, typer.Option("--to", metavar="EMAIL", help="Give it to this active agent.")] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Give it to whoever's turn it is (see --strategy).")] = False,
    strategy: Annotated[str | None, typer.Option("--strategy", help=STRATEGY_HELP, show_default=False)] = None,
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Assign a ticket to an agent, by name or by turn; this counts as its first response.

    --auto passes over inactive agents, leads, and agents at their capacity; --to may
    name any active agent (a note says when that goes over their capacity). Exit 3
    for an unknown agent, 4 for an inactive one, for a resolved or closed ticket, or
    when nobody can take it; nothing changes then.

    Example: supportctl ticket assign 42 --auto --strategy by-priority
    """
    from supportctl.services import assignment

    if to is not None and auto:
        raise InvalidInput("give --to EMAIL or --auto, not both")
    if to is None and not auto:
        raise InvalidInput("say who: --to EMAIL, or --auto for whoever's turn it is")
    if strategy is not None and not auto:
        raise InvalidInput("--strategy goes with --auto")
    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        if to is not None:
            done, notes = assignment.assign_to(session, app_ctx.now, app_ctx.actor, ticket_id, to)
        else:
            done, notes = assignment.assign_auto(
                session, app_ctx.now, app_ctx.actor, ticket_id, strategy or assignment.Strategy.ROUND_ROBIN.value
            )
    _report(done, notes, fmt)


@app.command("unassign")
def unassign(
    ctx: typer.Context,
    ticket_id: Annotated[int, IdArgument],
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Take a ticket away from its agent, back to the unassigned queue.

    Example: supportctl ticket unassign 42
    """
    from supportctl.services import assignment

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        done, notes = assignment.unassign(session, app_ctx.now, app_ctx.actor, ticket_id)
    _report(done, notes, fmt)
