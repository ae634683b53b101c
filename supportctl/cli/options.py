"""Options shared by several commands, declared once: output formats, --raw, the choices,
and the ticket filters of `ticket list`, `ticket export` and `ticket bulk-update`.

Every closed choice is an Enum, so the parser refuses a bad value (exit 2) before a
command runs, and `--help` lists the values. Only Typer and the domain's enums are
imported here, so `supportctl --help` stays fast.
"""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supportctl.cli import completion
from supportctl.domain.enums import (
    Channel,
    CycleState,
    Metric,
    NotificationStatus,
    Priority,
    Role,
    Status,
    Strategy,
    Tier,
)

if TYPE_CHECKING:
    from supportctl.services.tickets.filters import TicketFilter


class OutputFormat(StrEnum):
    TABLE = "table"
    TSV = "tsv"
    CSV = "csv"
    JSON = "json"
    NDJSON = "ndjson"


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


class DocumentFormat(StrEnum):
    """`customer export`: one nested document, or a line per record."""

    JSON = "json"
    NDJSON = "ndjson"


class TextFormat(StrEnum):
    """`sla explain`: lines for a person, or the view for a script."""

    TEXT = "text"
    JSON = "json"
    NDJSON = "ndjson"


FormatOption = Annotated[
    OutputFormat | None,
    typer.Option("--format", "-f", help="Default: table on a terminal, tsv when piped.", show_default=False),
]
RawOption = Annotated[
    bool, typer.Option("--raw", help="Write csv/tsv cells verbatim, without the spreadsheet formula guard.")
]
# Counts a person types (--limit, --capacity) and ids: bounded, so a typo of twenty digits is
# refused by the parser instead of overflowing a database integer.
MAX_COUNT = 1_000_000_000
MAX_ID = 2**63 - 1  # bigint
IdArgument = Annotated[int, typer.Argument(help="The ticket's id.", min=1, max=MAX_ID, metavar="ID", show_default=False,
                                           autocompletion=completion.ticket_ids)]
PriorityArgument = Annotated[Priority, typer.Argument(metavar="PRIORITY", help="The priority.", show_default=False)]

PriorityChoice = Annotated[Priority, typer.Option("--priority", help="The ticket's priority.")]
NewPriorityOption = Annotated[
    Priority | None, typer.Option("--priority", help="New priority (due dates follow).", show_default=False)
]
NewStatusOption = Annotated[
    Status | None, typer.Option("--status", help="New status; only the moves of the lifecycle.", show_default=False)
]
PrioritiesOption = Annotated[list[Priority] | None, typer.Option("--priority", help="Repeatable.", show_default=False)]
MetricOption = Annotated[
    Metric | None, typer.Option("--metric", help="Only this SLA metric.", show_default=False)
]
SinceOption = Annotated[str | None, typer.Option(
    "--since", metavar="WHEN", help="From this ISO 8601 time, or this long ago (7d, 4w, 12h).", show_default=False)]
UntilOption = Annotated[str | None, typer.Option(
    "--until", metavar="WHEN", help="Up to (not including) this time or this long ago; default now.",
    show_default=False)]
CycleStatesOption = Annotated[
    list[CycleState] | None, typer.Option("--state", help="Only cycles in this state; repeatable.", show_default=False)
]
StrategyOption = Annotated[
    Strategy | None,
    typer.Option(
        "--strategy",
        help="round-robin (default: whoever was assigned least recently), least-loaded (fewest open "
        "tickets), or by-priority (critical tickets to seniors only).",
        show_default=False,
    ),
]
RoleOption = Annotated[Role, typer.Option("--role", help="Leads are never auto-assigned.")]
NewRoleOption = Annotated[Role | None, typer.Option("--role", help="New role.", show_default=False)]
TierOption = Annotated[Tier, typer.Option("--tier", help="The customer's tier.")]
NewTierOption = Annotated[Tier | None, typer.Option("--tier", help="New tier.", show_default=False)]
NotificationStatusOption = Annotated[
    NotificationStatus | None, typer.Option("--status", help="Only notifications in this state.", show_default=False)
]
ChannelOption = Annotated[
    Channel | None, typer.Option("--via", help="Which to use when both are configured.", show_default=False)
]

PAGE = 50  # rows a list shows a person at a terminal unless --limit says otherwise
PageLimitOption = Annotated[int | None, typer.Option(
    "--limit", min=0, max=MAX_COUNT, metavar="N", show_default=False,
    help=f"At most N rows; 0 for all. Default: {PAGE} in a table on a terminal, else all.")]


def page_limit(limit: int | None, fmt: str) -> int:
    """The rows to show (0: all): --limit, else a page for a person at a terminal; a pipe and
    a data format get everything."""
    import sys

    if limit is not None:
        return limit
    return PAGE if fmt == "table" and sys.stdout.isatty() else 0


TeamFilterOption = Annotated[str | None, typer.Option("--team", metavar="SLUG", help="Only this team's tickets.",
                                                     autocompletion=completion.team_slugs)]
NoTeamFilterOption = Annotated[bool, typer.Option("--no-team", help="Only tickets of no team.")]

# The ticket filters: name -> (annotation, default). `with_ticket_filters` adds them to a
# command's signature and hands the command one TicketFilter built from them.
_FILTERS: dict[str, tuple[Any, Any]] = {
    "status": (Annotated[list[Status] | None, typer.Option("--status", help="Repeatable.", show_default=False)], None),
    "priority": (PrioritiesOption, None),
    "assignee": (Annotated[list[str] | None, typer.Option(
        "--assignee", metavar="EMAIL", help="Assigned to this agent (me: SUPPORTCTL_ME); repeat for any of several.",
        autocompletion=completion.agent_emails)], None),
    "unassigned": (Annotated[bool, typer.Option("--unassigned", help="Only tickets nobody has.")], False),
    "customer": (Annotated[list[str] | None, typer.Option(
        "--customer", metavar="EMAIL", help="For this customer; repeat for any of several.")], None),
    "category": (Annotated[list[str] | None, typer.Option(
        "--category", metavar="CATEGORY", help="In this category; repeat for any of several.")], None),
    "tag": (Annotated[list[str] | None, typer.Option(
        "--tag", metavar="TAG", help="Carrying this tag; repeat for any of several.")], None),
    "team": (TeamFilterOption, None),
    "no_team": (NoTeamFilterOption, False),
    "escalated": (Annotated[bool, typer.Option("--escalated", help="Only escalated tickets.")], False),
    "breached": (Annotated[bool, typer.Option("--breached", help="Only tickets breaching an SLA now.")], False),
    "search": (Annotated[str | None, typer.Option("--search", help="Full-text search of title and description.")],
               None),
    "created_since": (Annotated[str | None, typer.Option(
        "--created-since", metavar="WHEN", help="Created at or after this ISO 8601 time, or this long ago (7d).")],
        None),
    "updated_since": (Annotated[str | None, typer.Option(
        "--updated-since", metavar="WHEN", help="Changed at or after this ISO 8601 time, or this long ago (12h).")],
        None),
}


def _ticket_filter(values: dict[str, Any]) -> TicketFilter:
    from supportctl.config import me, parse_when
    from supportctl.services.tickets.filters import TicketFilter

    def since(name: str):
        text = values[name]
        return parse_when(text, "--" + name.replace("_", "-")) if text else None

    return TicketFilter(
        statuses=tuple(values["status"] or ()), priorities=tuple(values["priority"] or ()),
        assignees=tuple(me() if a.strip() == "me" else a for a in values["assignee"] or ()), unassigned=values["unassigned"],
        customers=tuple(values["customer"] or ()), categories=tuple(values["category"] or ()),
        tags=tuple(values["tag"] or ()), escalated=True if values["escalated"] else None,
        breached=values["breached"], search=values["search"], team=values["team"], no_team=values["no_team"],
        created_since=since("created_since"), updated_since=since("updated_since"),
    )


def with_ticket_filters(command: Callable[..., Any], renamed: dict[str, str] | None = None) -> Callable[..., Any]:
    """Give a command the ticket filter options; it receives them as one `filters` argument.

    The options are declared once (above) and appear in each such command's --help after
    its own options; the command's own signature names only `filters: TicketFilter`.
    `renamed` spells some filters otherwise (filter name -> option), where the command's
    own options take their names (bulk-update's --status is a change, its filter --with-status).
    """
    renamed = renamed or {}
    signature = inspect.signature(command)
    # Typer needs real annotations; a module with `from __future__ import annotations` has
    # strings, evaluated here as typing.get_type_hints would (`filters` is dropped unread).
    own = [p.replace(annotation=eval(p.annotation, command.__globals__) if isinstance(p.annotation, str)
                     else p.annotation)
           for name, p in signature.parameters.items() if name != "filters"]
    names = {name: renamed[name].lstrip("-").replace("-", "_") if name in renamed else name for name in _FILTERS}
    added = [inspect.Parameter(names[name], inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=_spelled(annotation, renamed[name]) if name in renamed else annotation)
             for name, (annotation, default) in _FILTERS.items()]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(names[name]) for name in _FILTERS}
        return command(*args, filters=_ticket_filter(values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
    return wrapper


def _spelled(annotation: Any, flag: str) -> Any:
    """The same option under another flag."""
    kind, info = typing.get_args(annotation)
    info = copy.copy(info)
    info.default = flag
    return Annotated[kind, info]


# bulk-update's --status, --priority, --team and --no-team are changes; its filters are these.
BULK_FILTERS = {"status": "--with-status", "priority": "--with-priority", "team": "--with-team",
                "no_team": "--with-no-team"}


def with_bulk_filters(command: Callable[..., Any]) -> Callable[..., Any]:
    return with_ticket_filters(command, BULK_FILTERS)
