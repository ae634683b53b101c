"""supportctl sla policies list | show | add | target | update | remove | test."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import FormatOption, PriorityArgument
from supportctl.cli.output import choose_format, note, write_record, write_rows
from supportctl.cli.sla import NextReplyOption, ResolutionOption, ResponseOption, recomputed
from supportctl.domain.enums import FirstResponse, Tier

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The policy's name, e.g. enterprise.",
                                             show_default=False)]
TiersOption = Annotated[list[Tier] | None, typer.Option("--tier", help="Customers of this tier; repeatable (any of them).",
                                                       show_default=False)]
CompaniesOption = Annotated[list[str] | None, typer.Option("--company", help="Customers of this company; repeatable.")]
TeamsOption = Annotated[list[str] | None, typer.Option("--team", metavar="SLUG", help="Tickets of this team; repeatable.")]
CategoriesOption = Annotated[list[str] | None, typer.Option("--category", help="Tickets in this category; repeatable.")]
TagsOption = Annotated[list[str] | None, typer.Option("--tag", help="Tickets with this tag; repeatable (any of them).")]
PositionOption = Annotated[int | None, typer.Option("--position", help="Where in the order (lowest first). "
                                                                        "Default: after the last.")]
CalendarOption = Annotated[str | None, typer.Option("--calendar", metavar="NAME",
                                                    help="Its business-hours calendar (else the team's, else default).")]
FirstResponseOption = Annotated[
    FirstResponse | None,
    typer.Option("--first-response", help="What meets the response: any (an assignment, a public agent comment or "
                                          "leaving open) or reply (only a public agent comment, or resolving).",
                 show_default=False),
]
TARGET_COLUMNS = ["priority", "response", "next_reply", "resolution", "response_seconds", "next_reply_seconds",
                  "resolution_seconds"]
LIST_COLUMNS = ["name", "position", "conditions", "calendar", "first_response", "active"]


def _conditions(tier, company, team, category, tag) -> dict:
    return {"tiers": tier or [], "companies": company or [], "teams": team or [], "categories": category or [],
            "tags": tag or []}


def _shown(row: dict, fmt: str) -> dict:
    """Tables are for people: the conditions as `tier=enterprise team=billing`."""
    if fmt != "table":
        return row
    from supportctl.domain.policies import Conditions

    given = {k: tuple(v) for k, v in row["conditions"].items()}
    return {**row, "conditions": Conditions(**given).text()}


def list_(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """List the policies in the order they are tried; `default` comes last.

    Example: supportctl sla policies list --format table
    """
    from supportctl.services.sla.policy import Book

    with app_context(ctx).reading() as cursor:
        book = Book.read(cursor)
    f = choose_format(fmt)
    write_rows([_shown(p.row(), f) for p in book.live()], LIST_COLUMNS, f)


def show(ctx: typer.Context, name: NameArgument, fmt: FormatOption = None) -> None:
    """Show a policy: its conditions and its targets for each priority and metric.

    Example: supportctl sla policies show enterprise
    """
    from supportctl.services.sla.policy import Book

    with app_context(ctx).reading() as cursor:
        policy = Book.read(cursor).policy(name)
    f = choose_format(fmt)
    record = {**policy.row(), "targets": policy.target_rows()}
    if f in ("json", "ndjson"):
        write_rows([record], list(record), f)
        return
    write_record(_shown(policy.row(), f), f)
    if f == "table":
        typer.echo("\nTargets:")
    write_rows(policy.target_rows(), TARGET_COLUMNS, f)


def add(
    ctx: typer.Context,
    name: NameArgument,
    position: PositionOption = None,
    tier: TiersOption = None,
    company: CompaniesOption = None,
    team: TeamsOption = None,
    category: CategoriesOption = None,
    tag: TagsOption = None,
    calendar: CalendarOption = None,
    first_response: FirstResponseOption = None,
) -> None:
    """Add a policy. A ticket gets the first active policy, by position, whose conditions all hold.

    It starts with a copy of the default policy's targets as they are now (change them with
    `sla policies target`). Tickets already open keep their policy until their team,
    category, tags or priority change.

    Example: supportctl sla policies add enterprise --tier enterprise --position 10
    """
    from supportctl.services.sla import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        key = changes.add(session, app_ctx.now, name, position=position, calendar=calendar,
                          first_response=first_response or FirstResponse.ANY,
                          **_conditions(tier, company, team, category, tag))
    typer.echo(key)


def target(
    ctx: typer.Context,
    name: NameArgument,
    priority: PriorityArgument,
    response: ResponseOption = None,
    next_reply: NextReplyOption = None,
    resolution: ResolutionOption = None,
    fmt: FormatOption = None,
) -> None:
    """Change a policy's targets for one priority and recompute its unresolved tickets' due dates.

    Example: supportctl sla policies target enterprise critical --response 30m --next-reply 1h --resolution 4h
    """
    from supportctl.services.sla import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        before, after, done = changes.set_targets(session, app_ctx.now, priority, policy=name, response=response,
                                                  next_reply=next_reply, resolution=resolution)
    changed = [f"{m.replace('_', ' ')} {after[m]} (was {before[m]})" for m in ("response", "next_reply", "resolution")
               if after[m] != before[m]]
    note(f"{name.strip()} {after['priority']}: {', '.join(changed) or 'unchanged'}")
    recomputed(done)
    if fmt is not None:
        write_rows([after], TARGET_COLUMNS, choose_format(fmt))


def update(
    ctx: typer.Context,
    name: NameArgument,
    position: PositionOption = None,
    tier: TiersOption = None,
    company: CompaniesOption = None,
    team: TeamsOption = None,
    category: CategoriesOption = None,
    tag: TagsOption = None,
    calendar: CalendarOption = None,
    no_calendar: Annotated[bool, typer.Option("--no-calendar", help="No calendar of its own.")] = False,
    first_response: FirstResponseOption = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="An inactive policy matches no ticket; its unresolved tickets "
                                                 "get another.", show_default=False),
    ] = None,
) -> None:
    """Change a policy. Conditions given replace all of its old ones.

    A new calendar recomputes its unresolved tickets' due dates; --inactive gives them the
    policy they match next (an sla_policy_changed event each). The default policy takes
    no conditions or position and cannot be deactivated (exit 4).

    Example: supportctl sla policies update enterprise --tier enterprise --tier premium
    """
    from supportctl.services.sla import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        notes, done = changes.update_policy(
            session, app_ctx.now, app_ctx.actor, name, position=position, calendar=calendar, no_calendar=no_calendar,
            first_response=first_response, active=active, **_conditions(tier, company, team, category, tag))
    for message in notes:
        note(message)
    if done is not None:
        recomputed(done)
    note(f"{name.strip()} updated")


def remove(ctx: typer.Context, name: NameArgument) -> None:
    """Remove a policy: its unresolved tickets get the policy they match next; resolved ones keep its name.

    The default policy cannot be removed (exit 4).

    Example: supportctl sla policies remove gold
    """
    from supportctl.services.sla import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        moved, done = changes.remove(session, app_ctx.now, app_ctx.actor, name)
    note(f"{name.strip()} removed; {moved} unresolved ticket{'s' if moved != 1 else ''} got another policy")
    recomputed(done)


def test(
    ctx: typer.Context,
    tier: Annotated[Tier | None, typer.Option("--tier", help="The customer's tier.", show_default=False)] = None,
    company: Annotated[str | None, typer.Option("--company", help="The customer's company.")] = None,
    team: Annotated[str | None, typer.Option("--team", metavar="SLUG", help="The ticket's team.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="The ticket's category.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag of the ticket; repeatable.")] = None,
    fmt: FormatOption = None,
) -> None:
    """Which policy a ticket like this gets, and why the ones before it did not match.

    One row per active policy in the order tried, `default` last; the first with matched
    true is the ticket's. A customer without --tier is basic, as new customers are.

    Example: supportctl sla policies test --tier enterprise --team billing
    """
    from supportctl.services.sla.policy import Book

    with app_context(ctx).reading() as cursor:
        rows = Book.read(cursor).test_rows(tier=tier or Tier.BASIC, company=company, team=team, category=category,
                                           tags=tag or [])
    write_rows(rows, ["policy", "position", "matched", "reason"], choose_format(fmt))
