"""supportctl team add | list | show | update, team member add | remove, team route add | list | remove."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import FormatOption, RawOption
from supportctl.cli.output import choose_format, note, write_query, write_record, write_rows
from supportctl.domain.enums import Tier

SlugArgument = Annotated[str, typer.Argument(metavar="SLUG", help="The team's slug, e.g. billing.", show_default=False)]
EmailsArgument = Annotated[list[str], typer.Argument(metavar="EMAIL...", help="Agents' emails.", show_default=False)]
LeadOption = Annotated[str | None, typer.Option("--lead", metavar="EMAIL", help="The team's lead (made a member).")]
CalendarOption = Annotated[
    str | None, typer.Option("--calendar", metavar="NAME", help="Its business hours (see sla calendar list): the "
                                                                "clock of its tickets whose policy names none.")
]


def add(
    ctx: typer.Context,
    slug: SlugArgument,
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    lead: LeadOption = None,
    calendar: CalendarOption = None,
    fmt: FormatOption = None,
) -> None:
    """Add a team. The slug is lower-case letters, digits and dashes (at most 40).

    Example: supportctl team add billing --name "Billing desk" --lead lena@support.example
    """
    from supportctl.services.teams import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        key = changes.add(session, app_ctx.now, slug=slug, name=name, lead=lead, calendar=calendar)
    _shown(ctx, key, fmt)


def list_(ctx: typer.Context, fmt: FormatOption = None, raw: RawOption = False) -> None:
    """List teams with their members, open tickets and tickets breaching an SLA now.

    Example: supportctl team list --format json
    """
    from supportctl.services.teams import queries

    app_ctx = app_context(ctx)
    with app_ctx.reading() as cursor:
        write_query(cursor, queries.teams(app_ctx.now), choose_format(fmt), raw=raw)


def show(ctx: typer.Context, slug: SlugArgument, fmt: FormatOption = None) -> None:
    """Show a team: its counts, its members with their open load, its routes.

    Example: supportctl team show billing
    """
    from supportctl.services.teams import queries

    app_ctx = app_context(ctx)
    with app_ctx.reading() as cursor:
        record = queries.team(cursor, slug, app_ctx.now)
    f = choose_format(fmt)
    if f in ("json", "ndjson"):
        write_rows([record], list(record), f)
        return
    members, routes = record["members"], record.pop("routes")
    write_record({**record, "members": len(members)}, f)
    if f == "table":
        typer.echo("\nMembers:" if members else "\nNo members.")
        if members:
            write_rows(members, list(members[0]), f)
        typer.echo("\nRoutes:" if routes else "\nNo routes.")
        if routes:
            write_rows(routes, list(routes[0]), f)


def update(
    ctx: typer.Context,
    slug: SlugArgument,
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    lead: LeadOption = None,
    calendar: CalendarOption = None,
    no_calendar: Annotated[bool, typer.Option("--no-calendar", help="No calendar of its own.")] = False,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="An inactive team matches no route and gets no new tickets; "
                                                 "its tickets keep it.", show_default=False),
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Rename a team, change its lead or its calendar, or (de)activate it.

    Example: supportctl team update billing --lead sam@support.example
    """
    from supportctl.services.teams import changes

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        notes = changes.update(session, app_ctx.now, slug, name=name, lead=lead, active=active, calendar=calendar,
                               no_calendar=no_calendar)
    for message in notes:
        note(message)
    _shown(ctx, slug, fmt)


def member_add(ctx: typer.Context, slug: SlugArgument, emails: EmailsArgument) -> None:
    """Make agents members of a team (one already in it is a no-op with a note).

    Example: supportctl team member add billing tom@support.example uma@support.example
    """
    from supportctl.services.teams import changes

    with app_context(ctx).transaction() as session:
        notes = changes.add_members(session, slug, emails)
    for message in notes:
        note(message)


def member_remove(ctx: typer.Context, slug: SlugArgument, emails: EmailsArgument) -> None:
    """Take agents out of a team. Their tickets of the team stay theirs (stderr says how many);
    the team's lead cannot be removed (exit 4).

    Example: supportctl team member remove billing tom@support.example
    """
    from supportctl.services.teams import changes

    with app_context(ctx).transaction() as session:
        notes = changes.remove_members(session, slug, emails)
    for message in notes:
        note(message)


def route_add(
    ctx: typer.Context,
    slug: SlugArgument,
    category: Annotated[str | None, typer.Option("--category", help="Tickets in this category.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Tickets with this tag.")] = None,
    tier: Annotated[Tier | None, typer.Option("--tier", help="Customers of this tier.", show_default=False)] = None,
    company: Annotated[str | None, typer.Option("--company", help="Customers of this company.")] = None,
    position: Annotated[
        int | None, typer.Option("--position", min=1, help="Where in the order (lowest first). Default: last.")
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Route new tickets to a team: the first route, by position, whose conditions all hold wins.

    A route needs at least one condition. Tickets created or imported without --team
    get the team of the first matching route; none matching, no team.

    Example: supportctl team route add billing --category billing --tier enterprise
    """
    from supportctl.services.teams import changes, queries

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        route = changes.add_route(session, app_ctx.now, slug, category=category, tag=tag, tier=tier, company=company,
                                  position=position)
        route_id = route.id
    note(f"route {route_id} to {slug} at position {route.position}")
    if fmt is not None:
        with app_ctx.reading() as cursor:
            write_query(cursor, queries.routes(route_id=route_id), choose_format(fmt))


def route_list(ctx: typer.Context, fmt: FormatOption = None, raw: RawOption = False) -> None:
    """List the routes in the order they are tried.

    Example: supportctl team route list
    """
    from supportctl.services.teams import queries

    with app_context(ctx).reading() as cursor:
        write_query(cursor, queries.routes(), choose_format(fmt), raw=raw)


def route_remove(
    ctx: typer.Context,
    route_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="The route's id (see route list).")],
) -> None:
    """Remove a route.

    Example: supportctl team route remove 3
    """
    from supportctl.services.teams import changes

    with app_context(ctx).transaction() as session:
        changes.remove_route(session, route_id)
    note(f"route {route_id} removed")


def _shown(ctx: typer.Context, slug: str, fmt) -> None:
    """After a change: the slug, or the team as `team show` has it with --format."""
    if fmt is None:
        typer.echo(slug.strip())
        return
    show(ctx, slug, fmt)

