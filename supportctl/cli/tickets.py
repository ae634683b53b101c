"""supportctl ticket create | list | show | update | comment."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from supportctl.cli.completion import ticket_ids
from supportctl.cli.context import app_context
from supportctl.cli.events import described
from supportctl.cli.options import (
    MAX_COUNT,
    MAX_ID,
    FormatOption,
    IdArgument,
    NewPriorityOption,
    NewStatusOption,
    PriorityChoice,
    RawOption,
    with_ticket_filters,
)
from supportctl.cli.output import choose_format, local, note, stream, to_stdout, write_record, write_rows
from supportctl.domain.enums import Priority
from supportctl.errors import InvalidInput, os_words, unreadable
from supportctl.services.tickets.columns import LIST_COLUMNS

if TYPE_CHECKING:
    from supportctl.services.tickets.filters import TicketFilter


EditOption = Annotated[bool, typer.Option("--edit", "-e", help="Write the text in $VISUAL or $EDITOR (default vi).")]


def read_text(value: str | None, path: str | None, what: str, edit: bool = False) -> str | None:
    """Text from --X, or from --X-file FILE, or from stdin with --X-file -, or from the editor (-e)."""
    if (value is not None) + (path is not None) + edit > 1:
        raise InvalidInput(f"give one of --{what}, --{what}-file and --edit")
    if edit:
        return _edited(what)
    if path is None:
        return value
    from supportctl.services.tickets.changes import MAX_TEXT

    limit = 4 * MAX_TEXT  # bytes: UTF-8 takes at most 4 a character
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput(f"--{what}-file {path} is larger than {limit // 2**20} MB; "
                               f"a {what} holds at most {MAX_TEXT // 2**20} MB")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(f"--{what}-file {path}", exc) from exc


def _edited(what: str) -> str:
    """What the person wrote in their editor; nothing written is a change of mind (exit 2)."""
    import os
    import shlex
    import subprocess
    import tempfile

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InvalidInput("--edit needs a terminal", hint=f"give --{what} TEXT or --{what}-file FILE")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="supportctl-") as directory:
        path = os.path.join(directory, f"{what}.txt")
        open(path, "w").close()
        try:
            done = subprocess.run([*shlex.split(editor), path], check=False)
        except OSError as exc:
            raise InvalidInput(f"cannot run the editor {editor!r}: {os_words(exc)}", hint="set $EDITOR") from exc
        if done.returncode != 0:
            raise InvalidInput(f"the editor {editor!r} exited with {done.returncode}; nothing was written")
        with open(path, "rb") as fh:
            try:
                text = fh.read().decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise unreadable(f"the {what} written", exc) from exc
    if not text:
        raise InvalidInput(f"the {what} is empty; nothing was written")
    return text


def pick_columns(requested: str | None, fmt: str) -> list[str]:
    """--columns, else every field in json, the table's columns in a table and in tsv (what a
    pipe gets), the default ones in csv."""
    from supportctl.services.tickets import columns

    default = {"json": columns.LIST_COLUMNS, "ndjson": columns.LIST_COLUMNS, "table": columns.TABLE_COLUMNS,
               "tsv": columns.TABLE_COLUMNS}
    return columns.pick(requested, columns.LIST_COLUMNS, default.get(fmt, columns.DEFAULT_COLUMNS))


def create(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", help="One line saying what is wrong.")],
    customer: Annotated[str, typer.Option("--customer", help="The customer's email (created if new).")],
    description: Annotated[str | None, typer.Option("--description", help="The full text.")] = None,
    description_file: Annotated[
        str | None, typer.Option("--description-file", help="Read the description from FILE, or stdin with -.")
    ] = None,
    edit: EditOption = False,
    priority: PriorityChoice = Priority.MEDIUM,
    category: Annotated[str | None, typer.Option("--category", help="Free-form category, e.g. billing.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag; repeat for several.")] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="The id in the system this ticket came from (unique).")
    ] = None,
    assign: Annotated[
        str | None, typer.Option("--assign", metavar="EMAIL", help="Assign it to this active agent at once.")
    ] = None,
    auto_assign: Annotated[
        bool, typer.Option("--auto-assign", help="Assign it to whoever's turn it is (round-robin) at once.")
    ] = False,
    team: Annotated[
        str | None, typer.Option("--team", metavar="SLUG", help="Its team. Default: the first route that matches.")
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Open a ticket and print its id (the whole ticket with --format json).

    Without --team the ticket gets the team of the first route (by position) whose
    conditions all match its category, tags and customer; with --auto-assign a teamed
    ticket goes to a member of its team only.

    With --assign or --auto-assign the ticket is created and assigned in one
    transaction: if nobody can take it, no ticket is created (exit 3 or 4).

    Example: supportctl ticket create --title "Cannot log in" --customer ana@example.com --priority high --tag login
    """
    from supportctl.services.tickets import changes

    if assign is not None and auto_assign:
        raise InvalidInput("give --assign EMAIL or --auto-assign, not both")
    app_ctx = app_context(ctx)
    text = read_text(description, description_file, "description", edit) or ""
    assigned_to, row = None, None
    with app_ctx.transaction() as session:
        created = changes.create(
            session, app_ctx.now, app_ctx.actor, title=title, customer_email=customer, description=text,
            priority=priority, category=category, tag_list=tag or [], external_id=external_id, team=team,
        )
        if assign is not None or auto_assign:
            from supportctl.services.assignment import manual

            done, notes = manual.assign_new(session, app_ctx.now, app_ctx.actor, created.id, to=assign)
            assigned_to = [f"assigned to {done.assignee_email}", *notes]
        if fmt is not None:
            row = _written(session, created.id, app_ctx.now, choose_format(fmt))
    if created.new_customer:
        note(f"created customer {created.new_customer}")
    for message in assigned_to or []:
        note(message)
    if row is None:
        typer.echo(created.id)
    else:
        _print_written(row, choose_format(fmt))


def _written(session, ticket_id: int, now, fmt: str) -> dict:
    """The ticket a write just changed, as `ticket list` shows it, read in the write's transaction."""
    from supportctl.db.database import cursor_of
    from supportctl.services.tickets import queries

    return queries.one(cursor_of(session), ticket_id, now, pick_columns(None, fmt), sla_text=fmt in ("table", "tsv"))


def _print_written(row: dict, fmt: str) -> None:
    write_rows([row], pick_columns(None, fmt), fmt)


@with_ticket_filters
def list_(
    ctx: typer.Context,
    sort: Annotated[str, typer.Option("--sort", help="id, created_at, updated_at, priority, status, response_due_at or resolution_due_at; prefix - for descending.")] = "-created_at",
    limit: Annotated[int, typer.Option("--limit", min=0, max=MAX_COUNT, help="At most this many; 0 for all.")] = 50,
    columns: Annotated[str | None, typer.Option(
        "--columns", metavar="COLUMN,...", help=f"The fields to show, of: {', '.join(LIST_COLUMNS)}.")] = None,
    fmt: FormatOption = None,
    raw: RawOption = False,
    *,
    filters: TicketFilter,
) -> None:
    """List tickets, newest first.

    With SUPPORTCTL_READ_DATABASE_URL set, it reads from that server (e.g. a replica).

    Example: supportctl ticket list --status open --priority high --priority critical --unassigned
    """
    from supportctl.services.tickets import queries

    app_ctx = app_context(ctx)
    f = choose_format(fmt)
    chosen = pick_columns(columns, f)
    with app_ctx.reading() as cursor:
        page = queries.listing(cursor, filters, app_ctx.now, chosen, sort=sort, limit=limit,
                               sla_text=f in ("table", "tsv"))
        if page.streams and f != "table":
            shown = to_stdout(lambda out: stream(cursor, page.query, f, out, raw=raw))
        else:
            rows = page.rows(cursor)
            write_rows(rows, chosen, f, raw=raw)
            shown = len(rows)
        total = queries.count(cursor, filters, app_ctx.now) if limit and shown == limit else shown
    if total > shown:
        of = f"more than {queries.COUNT_CAP:,}" if total > queries.COUNT_CAP else total
        note(f"showing {shown} of {of} (--limit 0 for all)")


def show(
    ctx: typer.Context,
    ticket_id: Annotated[int | None, typer.Argument(help="The ticket's id.", min=1, max=MAX_ID, metavar="ID",
                                                    show_default=False, autocompletion=ticket_ids)] = None,
    external_id: Annotated[str | None, typer.Option(
        "--external-id", metavar="KEY", help="The ticket with this external id (or sc-ID, as exports write it).")] = None,
    fmt: FormatOption = None,
) -> None:
    """Show a ticket, by ID or by --external-id KEY: every field, its SLA state, comments and history.

    On a terminal each time says how long ago it was and the history reads in words;
    --format json keeps every value as it is stored. With SUPPORTCTL_READ_DATABASE_URL
    set, it reads from that server (e.g. a replica).

    Example: supportctl ticket show --external-id ZD-1042
    """
    from supportctl.services.tickets import queries

    if (ticket_id is None) == (external_id is None):
        both = ", not both" if ticket_id is not None else ""
        raise InvalidInput(f"give a ticket id or --external-id KEY{both}", hint="e.g. supportctl ticket show 42")
    app_ctx = app_context(ctx)
    with app_ctx.reading() as cursor:
        if external_id is not None:
            ticket_id = queries.by_external_id(cursor, external_id)
        row = queries.detail(cursor, ticket_id, app_ctx.now, list(LIST_COLUMNS))
    f = choose_format(fmt)
    if f in ("json", "ndjson"):
        write_rows([row], list(row), f)
        return
    comments, history = row.pop("comments"), row.pop("history")
    sla = row.pop("sla")
    for metric in ("response", "resolution", "next_reply"):
        if sla[metric]["state"] is not None:  # next reply has none until the customer writes again
            row[f"sla_{metric}"] = _sla_line(sla[metric])
    write_record(row, f)
    if f == "table":
        typer.echo("\nComments:" if comments else "\nNo comments.")
        if comments:
            write_rows(comments, ["created_at", "author", "internal", "body"], f)
        typer.echo("\nHistory:")
        write_rows([{"at": e["at"], "event": described(e)} for e in history], ["at", "event"], f)


def _sla_line(m: dict) -> str:
    """`breached, due …, overdue by 2d4h`; `running, due …, 3h left`; `met, due …` (met: no clock)."""
    from datetime import timedelta

    from supportctl.domain.durations import format_brief

    left = timedelta(seconds=m["remaining_seconds"])
    clock = "" if m["state"] in ("met", "met_late") else (
        f", overdue by {format_brief(-left)}" if m["state"] == "breached" else f", {format_brief(left)} left")
    return f"{m['state']}, due {local(m['due_at'])}{clock}"


def update(
    ctx: typer.Context,
    ticket_id: IdArgument,
    status: NewStatusOption = None,
    priority: NewPriorityOption = None,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="New category; empty to clear.")] = None,
    add_tag: Annotated[list[str] | None, typer.Option("--add-tag", help="Add a tag; repeatable.")] = None,
    remove_tag: Annotated[list[str] | None, typer.Option("--remove-tag", help="Remove a tag; repeatable.")] = None,
    team: Annotated[str | None, typer.Option("--team", metavar="SLUG", help="Move it to this team.")] = None,
    no_team: Annotated[bool, typer.Option("--no-team", help="Take it out of its team (the assignee stays).")] = False,
    keep_assignee: Annotated[
        bool, typer.Option("--keep-assignee", help="With --team: keep an assignee who is not a member of it.")
    ] = False,
    fmt: FormatOption = None,
) -> None:
    """Change a ticket's status, priority, title, category, tags or team; each change is recorded.

    Statuses move open -> in_progress|pending|resolved|closed, in_progress -> pending|resolved|closed|open,
    pending -> in_progress|resolved|closed|open, resolved -> closed|open; closed is final.

    Moving a ticket to another team unassigns an assignee who is not a member of it
    (a team_changed and an unassigned event), unless --keep-assignee.

    Example: supportctl ticket update 42 --status pending --add-tag waiting-on-customer
    """
    from supportctl.services.tickets import changes

    _changed(ctx, ticket_id, fmt, lambda session, now, actor: changes.update(
        session, now, actor, ticket_id, status=status, priority=priority, title=title, category=category,
        add_tags=add_tag or [], remove_tags=remove_tag or [], team=team, no_team=no_team,
        keep_assignee=keep_assignee))


def _changed(ctx: typer.Context, ticket_id: int, fmt, change) -> None:
    """Run change(session, now, actor) -> notes in one transaction; the notes, then the ticket
    as written when --format asks for it."""
    app_ctx = app_context(ctx)
    row = None
    with app_ctx.transaction() as session:
        notes = change(session, app_ctx.now, app_ctx.actor)
        if fmt is not None:
            row = _written(session, ticket_id, app_ctx.now, choose_format(fmt))
    for message in notes:
        note(message)
    if row is not None:
        _print_written(row, choose_format(fmt))


def comment(
    ctx: typer.Context,
    ticket_id: IdArgument,
    body: Annotated[str | None, typer.Option("--body", help="The comment text.")] = None,
    body_file: Annotated[str | None, typer.Option("--body-file", help="Read the text from FILE, or stdin with -.")] = None,
    edit: EditOption = False,
    author: Annotated[str | None, typer.Option("--author", help="Agent or customer email. Default: the actor, if it is one.")] = None,
    internal: Annotated[bool, typer.Option("--internal", help="Visible to agents only (not a first response).")] = False,
) -> None:
    """Add a comment; a public comment by an agent counts as the first response.

    Example: supportctl ticket comment 42 --author bo@example.com --body "Reset your password from the link."
    """
    from supportctl.services.tickets import changes

    app_ctx = app_context(ctx)
    text = read_text(body, body_file, "body", edit)
    if text is None:
        raise InvalidInput("give --body TEXT, --body-file FILE (- for stdin) or -e for your editor")
    with app_ctx.transaction() as session:
        comment_id = changes.comment(session, app_ctx.now, app_ctx.actor, ticket_id, body=text, author=author,
                                     internal=internal)
    typer.echo(comment_id)


def _status_verb(target: str, summary: str, example: str):
    """`ticket resolve | close | reopen ID [--comment TEXT]`: the status moves of §2 by name."""

    def command(
        ctx: typer.Context,
        ticket_id: IdArgument,
        comment_text: Annotated[str | None, typer.Option(
            "--comment", metavar="TEXT", help="Write this public comment first, as the actor (an agent's email).")] = None,
        fmt: FormatOption = None,
    ) -> None:
        from supportctl.services.tickets import changes

        def move(session, now, actor) -> list[str]:
            if comment_text is not None:
                changes.comment(session, now, actor, ticket_id, body=comment_text)
            return changes.update(session, now, actor, ticket_id, status=target)

        _changed(ctx, ticket_id, fmt, move)

    command.__doc__ = f"""{summary}

    The same move as `ticket update ID --status {target}`, with its rules and history; with
    --comment the comment is written first, in the same transaction.

    Example: {example}
    """
    return command


resolve = _status_verb("resolved", "Resolve a ticket (the customer is told, as with any resolution).",
                       'supportctl --actor bo@example.com ticket resolve 42 --comment "Fixed in 2.4.1."')
close = _status_verb("closed", "Close a ticket: final, it changes no more.", "supportctl ticket close 42")
reopen = _status_verb("open", "Reopen a resolved ticket: a new resolution cycle starts.",
                      "supportctl ticket reopen 42")
