"""supportctl agent add | list | show | update."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import (
    MAX_COUNT, FormatOption, NewRoleOption, PageLimitOption, RawOption, RoleOption, page_limit,
)
from supportctl.cli.output import choose_format, note, write_query, write_record
from supportctl.domain.timestamps import iso_z
from supportctl.domain.enums import Role



def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address (stored lower-case).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    role: RoleOption = Role.AGENT,
    capacity: Annotated[
        int | None, typer.Option("--capacity", min=1, max=MAX_COUNT, help="Most open tickets at once; none means unlimited.")
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Add an agent.

    Example: supportctl agent add bo@example.com --name Bo --role senior --capacity 20
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.people import agents, queries

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        address = agents.add(session, app_ctx.now, email=email, name=name, role=role, capacity=capacity)
        record = queries.agent(cursor_of(session), address) if fmt is not None else None
    if record is None:
        typer.echo(address)
    else:
        write_record(record, choose_format(fmt))


def list_(
    ctx: typer.Context,
    fmt: FormatOption = None,
    raw: RawOption = False,
    limit: PageLimitOption = None,
) -> None:
    """List agents with their open load (unresolved tickets assigned)."""
    from supportctl.services.people import queries

    with app_context(ctx).reading() as cursor:
        f = choose_format(fmt)
        write_query(cursor, queries.agents(), f, raw=raw, limit=page_limit(limit, f))


def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The agent's email.")],
    fmt: FormatOption = None,
) -> None:
    """Show one agent."""
    from supportctl.services.people import queries

    with app_context(ctx).reading() as cursor:
        record = queries.agent(cursor, email)
    write_record(record, choose_format(fmt))


def update(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The agent's email.")],
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    role: NewRoleOption = None,
    capacity: Annotated[int | None, typer.Option("--capacity", min=1, max=MAX_COUNT, help="Most open tickets at once.")] = None,
    no_capacity: Annotated[bool, typer.Option("--no-capacity", help="Remove the capacity limit.")] = False,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="--inactive takes the agent out of assignment.", show_default=False),
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Change an agent's name, role, capacity or whether they take tickets.

    Example: supportctl agent update bo@example.com --inactive
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.people import agents, queries

    with app_context(ctx).transaction() as session:
        address = agents.update(
            session, email, name=name, role=role, capacity=capacity, clear_capacity=no_capacity, active=active
        )
        record = queries.agent(cursor_of(session), address)
    write_record(record, choose_format(fmt))


def away(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The agent's email.")],
    until: Annotated[str, typer.Option("--until", metavar="TIMESTAMP", help="Back at this ISO 8601 time.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why, e.g. vacation.")] = None,
) -> None:
    """Keep an agent out of automatic assignment until a time; they keep their tickets.

    queue escalate --reassign treats an away assignee as absent.

    Example: supportctl agent away sam@support.example --until 2026-12-24T00:00:00Z --reason vacation
    """
    from supportctl.config import parse_timestamp
    from supportctl.services.people import agents

    app_ctx = app_context(ctx)
    back_at = parse_timestamp(until, "--until")
    with app_ctx.transaction() as session:
        address = agents.away(session, app_ctx.now, email, back_at, reason)
    note(f"{address} is away until {iso_z(back_at)}")


def back(ctx: typer.Context, email: Annotated[str, typer.Argument(help="The agent's email.")]) -> None:
    """An away agent takes tickets again.

    Example: supportctl agent back sam@support.example
    """
    from supportctl.services.people import agents

    with app_context(ctx).transaction() as session:
        address = agents.back(session, email)
    note(f"{address} is back")
