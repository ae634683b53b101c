"""supportctl customer add | list | show."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.output import FormatOption, RawOption, choose_format, write_record, write_rows

app = typer.Typer(help="Customers: the people tickets are for.", no_args_is_help=True)

COLUMNS = ["email", "name", "tier", "company", "created_at"]


@app.command("add")
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address (stored lower-case).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    tier: Annotated[str, typer.Option("--tier", help="free, basic, premium or enterprise.")] = "basic",
    company: Annotated[str | None, typer.Option("--company", help="Company name.")] = None,
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Add a customer.

    Example: supportctl customer add ana@example.com --name Ana --tier premium
    """
    from supportctl.services import customers

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        view = customers.add(session, app_ctx.now, email=email, name=name, tier=tier, company=company)
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
    """List customers by email."""
    from supportctl.services import customers

    with app_context(ctx).transaction() as session:
        rows = [c.row() for c in customers.list_all(session)]
    write_rows(rows, COLUMNS, choose_format(fmt), raw=raw)


@app.command("show")
def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The customer's email.")],
    fmt: Annotated[str | None, FormatOption] = None,
) -> None:
    """Show one customer."""
    from supportctl.services import customers

    with app_context(ctx).transaction() as session:
        view = customers.get(session, email)
    write_record(view.row(), choose_format(fmt))
