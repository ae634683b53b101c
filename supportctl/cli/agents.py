"""supportctl agent add | list | show | update."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.output import FormatOption, RawOption, choose_format, write_record, write_rows

app = typer.Typer(help="Agents: who works tickets, their role, capacity and open load.", no_args_is_help=True)

COLUMNS = ["email", "name", "role", "active", "capacity", "open_tickets", "last_assigned_at"]


@app.command("add")
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address (stored lower-case).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    role: Annotated[str, typer.Option("--role", help="agent, senior or lead (leads are never auto-assigned).")] = "agent",
    capacity: Annotated[
        int | None, typer.Option("--capacity", help="Most open tickets at once; none means unlimited.")
    ] = None,
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Add an agent.

    Example: supportctl agent add bo@example.com --name Bo --role senior --capacity 20
    """
    from supportctl.services import agents

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        view = agents.add(session, app_ctx.now, email=email, name=name, role=role, capacity=capacity)
    if fmt is None:
        typer.echo(view.email)
    else:
        write_record(view.row(), choose_format(fmt))


@app.command("list")
def list_(
    ctx: typer.Context,
    fmt: Annotated[str | None, FormatOption] = None,
    raw: Annotated[bool, RawOption] = False,
) -> None:
    """List agents with their open load (unresolved tickets assigned)."""
    from supportctl.services import agents

    with app_context(ctx).transaction() as session:
        rows = [a.row() for a in agents.list_all(session)]
    write_rows(rows, COLUMNS, choose_format(fmt), raw=raw)


@app.command("show")
def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The agent's email.")],
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Show one agent."""
    from supportctl.services import agents

    with app_context(ctx).transaction() as session:
        view = agents.get(session, email)
    write_record(view.row(), choose_format(fmt))


@app.command("update")
def update(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The agent's email.")],
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="agent, senior or lead.")] = None,
    capacity: Annotated[int | None, typer.Option("--capacity", help="Most open tickets at once.")] = None,
    no_capacity: Annotated[bool, typer.Option("--no-capacity", help="Remove the capacity limit.")] = False,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="--inactive takes the agent out of assignment.", show_default=False),
    ] = None,
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Change an agent's name, role, capacity or whether they take tickets.

    Example: supportctl agent update bo@example.com --inactive
    """
    from supportctl.services import agents

    with app_context(ctx).transaction() as session:
        view = agents.update(
            session, email, name=name, role=role, capacity=capacity, clear_capacity=no_capacity, active=active
        )
    write_record(view.row(), choose_format(fmt))
