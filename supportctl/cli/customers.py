"""supportctl customer add | list | show."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import FormatOption, RawOption, TierOption
from supportctl.cli.output import choose_format, write_record, write_rows
from supportctl.domain.enums import Tier

COLUMNS = ["email", "name", "tier", "company", "created_at"]


def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email address (stored lower-case).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    tier: TierOption = Tier.BASIC,
    company: Annotated[str | None, typer.Option("--company", help="Company name.")] = None,
    fmt: FormatOption = None,
) -> None:
    """Add a customer.

    Example: supportctl customer add ana@example.com --name Ana --tier premium
    """
    from supportctl.services.people import customers

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        view = customers.add(session, app_ctx.now, email=email, name=name, tier=tier, company=company)
    if fmt is None:
        typer.echo(view.email)
    else:
        write_record(view.row(), choose_format(fmt))


def list_(
    ctx: typer.Context,
    fmt: FormatOption = None,
    raw: RawOption = False,
) -> None:
    """List customers by email."""
    from supportctl.services.people import customers

    with app_context(ctx).transaction() as session:
        rows = [c.row() for c in customers.list_all(session)]
    write_rows(rows, COLUMNS, choose_format(fmt), raw=raw)


def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The customer's email.")],
    fmt: FormatOption = None,
) -> None:
    """Show one customer."""
    from supportctl.services.people import customers

    with app_context(ctx).transaction() as session:
        view = customers.get(session, email)
    write_record(view.row(), choose_format(fmt))
