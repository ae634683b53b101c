"""supportctl demo: the whole product on a small sample, in one command."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli import assign, escalation, sla
from supportctl.cli.context import app_context
from supportctl.cli.output import note
from supportctl.domain.enums import Strategy


def demo(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Add the sample even if the database has tickets.")] = False,
) -> None:
    """Load a small realistic help desk, then run assignment, escalation and the breach report.

    Adds customers, agents (a lead, seniors, agents with capacities) and tickets of many
    ages and priorities, some pending or resolved, each with a real history; then runs
    `queue assign`, `queue escalate --reassign` and `sla breaches --at-risk 2h`, showing
    what each prints. Refuses a database that already has tickets unless --force.

    Example: supportctl demo && supportctl ticket list
    """
    from supportctl.services.admin import demo as sample

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        made = sample.load(session, app_ctx.now, force=force)
    note(f"loaded {made['customers']} customers, {made['agents']} agents and {made['tickets']} tickets\n")
    note("$ supportctl queue assign")
    try:
        assign.queue_assign(ctx, strategy=Strategy.ROUND_ROBIN, limit=None, dry_run=False, fmt=None)
    except typer.Exit:
        pass  # exit 4 says some tickets found nobody: the demo shows that and goes on
    note("\n$ supportctl queue escalate --reassign")
    escalation.queue_escalate(ctx, limit=None, dry_run=False, reassign=True, fmt=None)
    note("\n$ supportctl sla breaches --at-risk 2h")
    sla.breaches(ctx, at_risk="2h", metric=None, priority=None, assignee=None, fmt=None,
                 fail_on_breach=False, raw=False)
    note("\nNext: supportctl ticket list, supportctl ticket show ID, supportctl sla explain ID, supportctl report sla")
