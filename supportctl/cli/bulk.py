"""supportctl ticket bulk-update, ticket apply, and macro add | list | show | remove (docs/bulk.md)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import (
    FormatOption,
    IdArgument,
    NewPriorityOption,
    NewStatusOption,
    with_bulk_filters,
)
from supportctl.cli.output import Progress, choose_format, confirmed, note, write_record, write_rows
from supportctl.errors import InvalidInput

if TYPE_CHECKING:
    from supportctl.services.tickets.filters import TicketFilter

MacroArgument = Annotated[str, typer.Argument(metavar="NAME", help="The macro's name, e.g. close-dup.",
                                              show_default=False)]
TeamChangeOption = Annotated[str | None, typer.Option("--team", metavar="SLUG", help="Move them to this team.")]
NoTeamChangeOption = Annotated[bool, typer.Option("--no-team", help="Take them out of their team.")]
AssignOption = Annotated[str | None, typer.Option("--assign", metavar="EMAIL", help="Assign them to this agent.")]
UnassignOption = Annotated[bool, typer.Option("--unassign", help="Take them from whoever has them.")]
AddTagOption = Annotated[list[str] | None, typer.Option("--add-tag", metavar="TAG", help="Add a tag; repeatable.")]
RemoveTagOption = Annotated[list[str] | None, typer.Option("--remove-tag", metavar="TAG",
                                                           help="Remove a tag; repeatable.")]
InternalOption = Annotated[bool, typer.Option("--internal", help="The comment is for agents only.")]
PROGRESS_FROM = 20  # tickets: a shorter run is over before a bar would help


def _change(status, priority, team, no_team, assign, unassign, add_tag, remove_tag, comment, internal):
    from supportctl.services.bulk.changes import Change

    return Change(status=status.value if status else None, priority=priority.value if priority else None,
                  team=team, no_team=no_team, assign=assign, unassign=unassign, add_tags=tuple(add_tag or ()),
                  remove_tags=tuple(remove_tag or ()), comment=comment, internal=internal).checked()


def _ids(source: str | None) -> list[int] | None:
    from supportctl.services.bulk.run import read_ids

    if source is None:
        return None
    try:
        if source == "-":
            return read_ids(sys.stdin, "-")
        with open(source, encoding="utf-8") as lines:
            return read_ids(lines, source)
    except FileNotFoundError:
        raise InvalidInput(f"--ids {source}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--ids {source}: not UTF-8 text; give ticket ids, one a line") from None
    except OSError as exc:
        raise InvalidInput(f"--ids {source}: cannot read it ({(exc.strerror or str(exc)).lower()})") from None


@with_bulk_filters
def bulk_update(
    ctx: typer.Context,
    ids: Annotated[str | None, typer.Option("--ids", metavar="FILE", help="Ticket ids, one a line (a first line "
                                                                         "`id` is skipped); - reads stdin.")] = None,
    status: NewStatusOption = None,
    priority: NewPriorityOption = None,
    team: TeamChangeOption = None,
    no_team: NoTeamChangeOption = False,
    assign: AssignOption = None,
    unassign: UnassignOption = False,
    add_tag: AddTagOption = None,
    remove_tag: RemoveTagOption = None,
    comment: Annotated[str | None, typer.Option("--comment", metavar="TEXT",
                                                help="Add this comment to each, by the actor's agent; "
                                                     "{ticket.id}, {customer.name} … are filled in.")] = None,
    internal: InternalOption = False,
    macro: Annotated[str | None, typer.Option("--macro", metavar="NAME",
                                              help="Apply this macro's changes (the flags given here win).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Change more than one ticket without asking.")] = False,
    fmt: FormatOption = None,
    *,
    filters: TicketFilter,
) -> None:
    """Change many tickets at once, each with the rules and history of `ticket update`.

    Pick the tickets with the filters of `ticket list` (--status, --priority and --team
    are spelled --with-status, --with-priority and --with-team here, as those three are
    changes) and/or --ids. Each ticket is its own transaction: one that a rule refuses
    (an illegal status move, a closed ticket) is reported and the others still change.
    Rows: id, result (changed, unchanged, refused), reason.

    More than one ticket asks for confirmation on a terminal and needs --yes elsewhere;
    --dry-run needs neither. Exit codes: 0 none refused, 4 some refused (the rest
    changed), 2 bad input or no --yes (nothing changed).

    Example: supportctl ticket bulk-update --tag outage-1123 --with-status open --status resolved --add-tag duplicate --yes
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.bulk import macros, run

    given = _change(status, priority, team, no_team, assign, unassign, add_tag, remove_tag, comment, internal)
    chosen = _ids(ids)
    app_ctx = app_context(ctx)
    database = app_ctx.database
    with database.transaction(commit=False) as session:
        change = given.over(macros.macro(cursor_of(session), macro).change) if macro else given
        agent_name = run.prepare(session, app_ctx.actor, change)
        tickets, missing = run.select(session, app_ctx.now, filters, chosen)
    count = len(tickets)
    if not confirmed(f"Change {count} tickets?", f"{count} tickets match; nothing was changed",
                     needed=count > 1, yes=yes, dry_run=dry_run):
        note("nothing was changed")
        return
    progress = Progress("updating", count) if sys.stderr.isatty() and count >= PROGRESS_FROM else None
    try:
        done = run.apply_each(database, app_ctx.now, app_ctx.actor, tickets, change, agent_name=agent_name,
                              dry_run=dry_run, advance=progress or (lambda done: None))
    finally:
        if progress is not None:
            progress.clear()
    done += [run.Outcome(i, "refused", f"no ticket {i}") for i in missing]
    write_rows([d.row() for d in done], run.COLUMNS, choose_format(fmt))
    tally = {result: sum(d.result == result for d in done) for result in ("changed", "unchanged", "refused")}
    note(("would change" if dry_run else "changed") + f" {tally['changed']}, unchanged {tally['unchanged']}, "
         f"refused {tally['refused']} (of {len(done)} ticket{'s' if len(done) != 1 else ''})")
    if tally["refused"]:
        raise typer.Exit(4)


def apply(ctx: typer.Context, ticket_id: IdArgument, name: MacroArgument) -> None:
    """Apply a macro to one ticket: its changes and its comment, in one transaction.

    Example: supportctl ticket apply 42 close-dup
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.bulk import changes, macros, run

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        change = macros.macro(cursor_of(session), name).change
        agent_name = run.prepare(session, app_ctx.actor, change)
        changed, notes = changes.apply(session, app_ctx.now, app_ctx.actor, ticket_id, change, agent_name)
    for message in notes:
        note(message)
    note(f"ticket {ticket_id}: macro {name.strip()} " + ("applied" if changed else "changed nothing"))


def macro_add(
    ctx: typer.Context,
    name: MacroArgument,
    status: NewStatusOption = None,
    priority: NewPriorityOption = None,
    team: TeamChangeOption = None,
    no_team: NoTeamChangeOption = False,
    assign: AssignOption = None,
    unassign: UnassignOption = False,
    add_tag: AddTagOption = None,
    remove_tag: RemoveTagOption = None,
    comment: Annotated[str | None, typer.Option(
        "--comment", metavar="TEMPLATE",
        help="A comment with placeholders {ticket.id}, {ticket.title}, {customer.name}, {customer.email}, "
             "{agent.name}; {{ and }} for braces.")] = None,
    internal: InternalOption = False,
) -> None:
    """Save a named set of changes, with an optional comment template, to apply with one command.

    An unknown placeholder is exit 2; an unknown team or agent exit 3.

    Example: supportctl macro add close-dup --status resolved --add-tag duplicate --comment "Hi {customer.name}, #{ticket.id} is a duplicate; we follow it up in the original."
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.bulk import macros

    change = _change(status, priority, team, no_team, assign, unassign, add_tag, remove_tag, comment, internal)
    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        macros.add(session, cursor_of(session), app_ctx.now, name, change)
    note(f"added macro {name.strip()}: {change.text()}")


def macro_list(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """List the macros, by name.

    Example: supportctl macro list
    """
    from supportctl.services.bulk import macros

    with app_context(ctx).reading() as cursor:
        found = macros.read(cursor)
    f = choose_format(fmt)
    write_rows([m.row(f) for m in found], macros.COLUMNS, f)


def macro_show(ctx: typer.Context, name: MacroArgument, fmt: FormatOption = None) -> None:
    """Show a macro's changes and comment template.

    Example: supportctl macro show close-dup
    """
    from supportctl.services.bulk import macros

    with app_context(ctx).reading() as cursor:
        found = macros.macro(cursor, name)
    f = choose_format(fmt)
    write_record(found.row(f), f)


def macro_remove(ctx: typer.Context, name: MacroArgument) -> None:
    """Remove a macro.

    Example: supportctl macro remove close-dup
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.bulk import macros

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        macros.remove(cursor_of(session), name)
    note(f"removed macro {name.strip()}")
