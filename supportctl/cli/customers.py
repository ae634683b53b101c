"""supportctl customer add | list | show."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import FormatOption, PageLimitOption, RawOption, TierOption, page_limit
from supportctl.cli.output import choose_format, write_query, write_record
from supportctl.domain.enums import Tier



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
    from supportctl.db.database import cursor_of
    from supportctl.services.people import customers, queries

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        address = customers.add(session, app_ctx.now, email=email, name=name, tier=tier, company=company)
        record = queries.customer(cursor_of(session), address) if fmt is not None else None
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
    """List customers by email."""
    from supportctl.services.people import queries

    with app_context(ctx).reading() as cursor:
        f = choose_format(fmt)
        write_query(cursor, queries.customers(), f, raw=raw, limit=page_limit(limit, f))


def show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The customer's email.")],
    fmt: FormatOption = None,
) -> None:
    """Show one customer."""
    from supportctl.services.people import queries

    with app_context(ctx).reading() as cursor:
        record = queries.customer(cursor, email)
    write_record(record, choose_format(fmt))
