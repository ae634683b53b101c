"""supportctl agent add | list | show | update."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import (
    MAX_COUNT, FormatOption, NewRoleOption, PageLimitOption, RawOption, RoleOption, page_limit,
)
from supportctl.cli.output import choose_format, note, write_query, write_record, write_rows
from supportctl.domain.enums import Role
from supportctl.domain.timestamps import iso_z
from supportctl.errors import InvalidInput

if TYPE_CHECKING:
    from supportctl.services.assignment.holdings import Handback


def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="Email address (stored lower-case).")],
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
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The agent's email.")],
    fmt: FormatOption = None,
) -> None:
    """Show one agent, then the open tickets they hold (open, in_progress or pending), oldest first.

    open_tickets is their count, as in agent list; json and ndjson add `tickets`, the array
    of them (id, title, status, priority, team, sla, created_at).

    Example: supportctl agent show bo@example.com
    """
    from supportctl.services.assignment import holdings
    from supportctl.services.people import queries

    app_ctx = app_context(ctx)
    f = choose_format(fmt)
    with app_ctx.reading() as cursor:
        record = queries.agent(cursor, email)
        # csv and tsv are the agent's row alone: one line for cut and awk, the count in it
        listed = f in ("json", "ndjson", "table")
        tickets = holdings.open_tickets(cursor, record["email"], app_ctx.now, sla_text=f == "table") if listed else []
    if f in ("json", "ndjson"):
        write_rows([{**record, "tickets": tickets}], [*record, "tickets"], f)
        return
    write_record(record, f)
    if f == "table":
        typer.echo("\nOpen tickets:" if tickets else "\nNo open tickets.")
        if tickets:
            write_rows(tickets, list(holdings.OPEN_COLUMNS), f)


def update(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The agent's email.")],
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    role: NewRoleOption = None,
    capacity: Annotated[int | None, typer.Option("--capacity", min=1, max=MAX_COUNT, help="Most open tickets at once.")] = None,
    no_capacity: Annotated[bool, typer.Option("--no-capacity", help="Remove the capacity limit.")] = False,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="--inactive takes the agent out of assignment; they keep their "
                                                 "tickets unless --reassign.", show_default=False),
    ] = None,
    reassign: Annotated[bool, typer.Option(
        "--reassign", help="With --inactive: hand each of their open tickets to the least-loaded eligible agent "
                           "(a team's ticket to another member of its team); one nobody can take is left "
                           "unassigned, for queue assign to give out later.")] = False,
    fmt: FormatOption = None,
) -> None:
    """Change an agent's name, role, capacity or whether they take tickets.

    --inactive leaves the agent's open tickets with them and says on stderr how many.
    With --reassign the same transaction hands each one on, most urgent first, as
    automatic assignment would: least-loaded, an assigned event, a mail to the new
    agent, the locks queue assign takes (safe while it runs on other hosts). A ticket
    nobody eligible can take is unassigned, for queue assign to give out later, never
    kept by an inactive agent.

    Example: supportctl agent update bo@example.com --inactive --reassign
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.people import agents, queries

    if reassign and active is not False:
        raise InvalidInput("--reassign goes with --inactive",
                           hint="`supportctl agent update EMAIL --inactive --reassign`")
    app_ctx = app_context(ctx)

    def change(session) -> tuple[dict, Handback | None]:
        handed = None
        if reassign:  # before the agent's own row is locked: the tickets come first (assignment/holdings.py)
            from supportctl.services.assignment import holdings

            handed = holdings.hand_back(session, app_ctx.now, app_ctx.actor, email)
        address = agents.update(
            session, email, name=name, role=role, capacity=capacity, clear_capacity=no_capacity, active=active
        )
        return queries.agent(cursor_of(session), address), handed

    # Retried whole on a deadlock, which a ticket given to the agent while --reassign waits on the
    # agents can cause (assignment/holdings.py).
    record, handed = app_ctx.database.run(change)
    write_record(record, choose_format(fmt))
    if handed is not None:
        for line in _handed_back(handed):
            note(line)
    elif active is False and record["open_tickets"]:
        held = record["open_tickets"]
        note(f"{record['email']} still holds {held} open ticket{'s' if held != 1 else ''}; "
             "--reassign hands them to other agents (a team's tickets within the team)")


def _handed_back(handed: Handback) -> list[str]:
    """Why each ticket nobody could take was left unassigned, then the sum of it (as queue assign says it)."""
    total = len(handed.given) + len(handed.left)
    if not total:
        return [f"{handed.agent_email} held no open tickets; nothing to reassign"]
    reasons: dict[str, list[str]] = {}
    for missed in handed.left:
        reasons.setdefault(missed.reason, []).append(str(missed.id))
    lines = [f"left unassigned: ticket{'s' if len(ids) > 1 else ''} {', '.join(ids)}: {reason}"
             for reason, ids in reasons.items()]
    parts = [f"{n} to {who}" for who, n in Counter(a.assignee_email for a in handed.given).most_common()]
    if handed.left:
        parts.append(f"{len(handed.left)} left unassigned")
    return [*lines, f"reassigned {total} of {handed.agent_email}'s open tickets: {', '.join(parts)}"]


def away(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The agent's email.")],
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


def back(ctx: typer.Context, email: Annotated[str, typer.Argument(metavar="EMAIL", help="The agent's email.")]) -> None:
    """An away agent takes tickets again.

    Example: supportctl agent back sam@support.example
    """
    from supportctl.services.people import agents

    with app_context(ctx).transaction() as session:
        address = agents.back(session, email)
    note(f"{address} is back")
