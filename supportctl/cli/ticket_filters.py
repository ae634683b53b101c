"""The ticket filter options, declared once for `ticket list` and `ticket export`.

A command takes each option by its type below (`status: StatusOption = None`) and
hands them all to `ticket_filter(...)`, which builds the services' TicketFilter. Only
Typer is imported here, so `supportctl --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from supportctl.config import parse_timestamp

if TYPE_CHECKING:
    from supportctl.services.ticket_queries import TicketFilter

StatusOption = Annotated[
    list[str] | None, typer.Option("--status", help="open, in_progress, pending, resolved or closed; repeatable.")
]
PriorityOption = Annotated[
    list[str] | None, typer.Option("--priority", help="low, medium, high or critical; repeatable.")
]
AssigneeOption = Annotated[str | None, typer.Option("--assignee", help="Assigned to this agent's email.")]
UnassignedOption = Annotated[bool, typer.Option("--unassigned", help="Only tickets nobody has.")]
CustomerOption = Annotated[str | None, typer.Option("--customer", help="For this customer's email.")]
CategoryOption = Annotated[str | None, typer.Option("--category", help="In this category.")]
TagOption = Annotated[str | None, typer.Option("--tag", help="Carrying this tag.")]
EscalatedOption = Annotated[bool, typer.Option("--escalated", help="Only escalated tickets.")]
BreachedOption = Annotated[bool, typer.Option("--breached", help="Only tickets breaching an SLA now.")]
SearchOption = Annotated[str | None, typer.Option("--search", help="Full-text search of title and description.")]
CreatedSinceOption = Annotated[
    str | None, typer.Option("--created-since", help="Created at or after this ISO 8601 time.")
]
UpdatedSinceOption = Annotated[
    str | None, typer.Option("--updated-since", help="Changed at or after this ISO 8601 time.")
]


def ticket_filter(
    *,
    status: list[str] | None,
    priority: list[str] | None,
    assignee: str | None,
    unassigned: bool,
    customer: str | None,
    category: str | None,
    tag: str | None,
    escalated: bool,
    breached: bool,
    search: str | None,
    created_since: str | None,
    updated_since: str | None,
) -> TicketFilter:
    """The filter the options describe; values are checked by the service that applies it."""
    from supportctl.services.ticket_queries import TicketFilter

    return TicketFilter(
        statuses=tuple(status or ()), priorities=tuple(priority or ()), assignee=assignee, unassigned=unassigned,
        customer=customer, category=category, tag=tag, escalated=True if escalated else None, breached=breached,
        search=search,
        created_since=parse_timestamp(created_since, "--created-since") if created_since else None,
        updated_since=parse_timestamp(updated_since, "--updated-since") if updated_since else None,
    )
