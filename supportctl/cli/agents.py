"""supportctl agent add | list | show | update."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import MAX_COUNT, FormatOption, NewRoleOption, RawOption, RoleOption
from supportctl.cli.output import choose_format, write_record, write_rows
from supportctl.domain.enums import Role

COLUMNS = ["email", "name", "role", "active", "capacity", "open_tickets", "last_assigned_at"]


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
    from supportctl.services.people import agents

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        view = agents.add(session, app_ctx.now, email=email, name=name, role=role, capacity=capacity)
    if fmt is None:
        typer.echo(view.email)
    else:
        write_record(view.row(), choose_format(fmt))


def list_(
    ctx: typer.Context,
    fmt: FormatOption = None,
    raw: RawOption = False,
) -> None:
    """List agents with their open load (unresolved tickets assigned)."""
    from supportctl.services.people import agents

    with app_context(ctx).transaction() as session:
        rows = [a.row() for a in agents.list_all(session)]
    write_rows(rows, COLUMNS, choose_format(fmt), raw=raw)


def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The agent's email.")],
    fmt: FormatOption = None,
) -> None:
    """Show one agent."""
    from supportctl.services.people import agents

    with app_context(ctx).transaction() as session:
        view = agents.get(session, email)
    write_record(view.row(), choose_format(fmt))


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
    from supportctl.services.people import agents

    with app_context(ctx).transaction() as session:
        view = agents.update(
            session, email, name=name, role=role, capacity=capacity, clear_capacity=no_capacity, active=active
        )
    write_record(view.row(), choose_format(fmt))
