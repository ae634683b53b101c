"""supportctl customer add | list | show | update."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import FormatOption, NewTierOption, PageLimitOption, RawOption, TierOption, page_limit
from supportctl.cli.output import choose_format, write_query, write_record
from supportctl.domain.enums import Tier



def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="Email address (stored lower-case).")],
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
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The customer's email.")],
    fmt: FormatOption = None,
) -> None:
    """Show one customer."""
    from supportctl.services.people import queries

    with app_context(ctx).reading() as cursor:
        record = queries.customer(cursor, email)
    write_record(record, choose_format(fmt))


def update(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The customer's email.")],
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    new_email: Annotated[str | None, typer.Option(
        "--email", metavar="EMAIL", help="New email address (stored lower-case).")] = None,
    company: Annotated[str | None, typer.Option("--company", help="New company name; empty to clear.")] = None,
    tier: NewTierOption = None,
    fmt: FormatOption = None,
) -> None:
    """Change a customer's name, email, company or tier.

    Their tickets keep the team and SLA policy they were given when created: a new tier
    or company counts for new tickets (and for an existing one when its policy is chosen
    again, as its team, category, tags or priority change). Exit 3 for an unknown
    customer, 4 when the new email is another customer's; nothing changes then.

    Example: supportctl customer update ana@example.com --tier enterprise --company "Acme GmbH"
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.people import customers, queries

    new = customers.changes(name=name, email=new_email, tier=tier, company=company)
    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        address = customers.update(session, app_ctx.now, app_ctx.actor, email, new)
        record = queries.customer(cursor_of(session), address)
    write_record(record, choose_format(fmt))
