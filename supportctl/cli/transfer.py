"""supportctl ticket export | import: tickets in bulk, to and from CSV / NDJSON files."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import ExportFormat, RawOption, with_ticket_filters
from supportctl.cli.output import Progress, atomic_file, note, stream, to_stdout
from supportctl.errors import InvalidInput, unreadable
from supportctl.services.tickets.columns import EXPORT_COLUMNS

if TYPE_CHECKING:
    from supportctl.services.tickets.filters import TicketFilter


@with_ticket_filters
def export_(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="FILE|-", help="Write to FILE (atomically); - for stdout.")
    ] = "-",
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.CSV,
    columns: Annotated[
        str | None, typer.Option("--columns", metavar="COLUMN,...",
                                 help=f"The ticket fields to write, of: {', '.join(EXPORT_COLUMNS)}.")
    ] = None,
    raw: RawOption = False,
    with_comments: Annotated[bool, typer.Option(
        "--with-comments", help="ndjson: every field of each ticket and its comments, for `ticket import`.")] = False,
    *,
    filters: TicketFilter,
) -> None:
    """Export tickets (all, or those the filters of `ticket list` pick) in id order, streaming.

    A ticket without an external id is written with external_id sc-ID, which `ticket
    import` knows as that ticket: importing an export again changes nothing. With
    --format ndjson --with-comments each line is a whole ticket, its SLA clocks and its
    comments: what moving to another supportctl database needs (docs/migrating.md).

    CSV is written by the database server itself (COPY), so large exports are fast and
    memory stays flat. Text cells that a spreadsheet would run as a formula get a '
    prefix; use --raw for files meant for other programs or for `ticket import`.
    With -o FILE the file is written beside FILE and renamed into place only when
    complete: a failed or killed export never leaves a partial file. Use
    --updated-since for incremental exports.

    With SUPPORTCTL_READ_DATABASE_URL set, it reads from that server (e.g. a replica).

    \b
    Examples:
      supportctl ticket export -o changed.csv --updated-since 2026-11-22T00:00:00Z --columns id,external_id,title,status
      supportctl ticket export --format ndjson --with-comments -o everything.ndjson
    """
    from supportctl.services.tickets import columns as ticket_columns
    from supportctl.services.transfer import export

    app_ctx = app_context(ctx)
    if with_comments and fmt is not ExportFormat.NDJSON:
        raise InvalidInput("--with-comments goes with --format ndjson (a ticket's comments are a list)")
    default = ticket_columns.EXPORT_COLUMNS if with_comments else ticket_columns.DEFAULT_COLUMNS
    chosen = ticket_columns.pick(columns, ticket_columns.EXPORT_COLUMNS, default)

    def write(out: BinaryIO, progress=None) -> int:
        with app_ctx.reading() as cursor:
            query = export.query(cursor, chosen, filters, app_ctx.now, comments=with_comments)
            return stream(cursor, query, fmt.value, out, raw=raw, progress=progress)

    if output == "-":
        to_stdout(write)
        return
    started = time.monotonic()
    progress = Progress("exporting") if sys.stderr.isatty() else None
    try:
        with atomic_file(output) as out:
            count = write(out, progress)
    finally:
        if progress is not None:
            progress.clear()
    note(f"exported {count} ticket{'s' if count != 1 else ''} to {output} in {time.monotonic() - started:.1f} s")


def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE", help="A CSV file with a header row, or NDJSON; - for stdin.")],
    fmt: Annotated[ExportFormat | None, typer.Option(
        "--format", "-f", help="csv or ndjson [default: ndjson for a FILE ending .ndjson or .jsonl, else csv]")] = None,
    update_existing: Annotated[bool, typer.Option(
        "--update-existing", help="A row whose ticket is there changes it, as `ticket update` would.")] = False,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", metavar="N", help="Commit every N rows (after checking them all): a re-run carries on.")] = None,
    map_file: Annotated[str | None, typer.Option(
        "--map", metavar="FILE", help="Column names (and values) of another helpdesk's file: TOML, or CSV from,to.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")] = False,
) -> None:
    """Import tickets from CSV or NDJSON: every row checked first; all or nothing.

    CSV: the header names the columns, as `ticket export` writes them: title and
    customer_email are required; external_id, description, status, priority, category,
    tags (;-joined), assignee_email, team and created_at (for backfills) are optional; the
    other export columns are ignored, so an export (--raw) re-imports. NDJSON: one object a
    line, as `ticket export --format ndjson --with-comments` writes them; the state it gives
    (status, assignee, every timestamp and due date, the pause, the comments) is taken as it
    is, not recomputed (docs/migrating.md).

    Every row is checked before anything is written; any bad row and nothing is imported,
    and each is listed on stderr as `line N: column: problem`. A row whose external id
    (or sc-ID, for tickets exported without one) is already there is skipped, so running
    an import again is harmless; with --update-existing it changes that ticket instead.
    Unknown customers are created; assignees and teams must exist. No notification is
    sent. With --batch-size every N rows are committed on their own, so a very large
    import that dies can be run again and carries on.

    Exit codes: 0 imported (or nothing to do), 2 bad file or rows, 3 an NDJSON file names
    agents or teams that are not there, 4 --update-existing refused a change (nothing
    written, or with --batch-size the batches before it).

    \b
    Examples:
      supportctl ticket import legacy-tickets.csv --dry-run
      supportctl ticket import everything.ndjson --batch-size 10000
      supportctl ticket import zendesk-export.csv --map zendesk.toml
    """
    from supportctl.services.transfer import importing, mapping, reading

    app_ctx = app_context(ctx)
    name = "stdin" if source == "-" else source
    chosen = (fmt.value if fmt else
              "ndjson" if source.lower().endswith((".ndjson", ".jsonl")) else "csv")
    if batch_size is not None and batch_size < 1:
        raise InvalidInput("--batch-size must be 1 or more")
    names = mapping.load(map_file, reading.CELLS + reading.STATE) if map_file else mapping.Mapping()
    try:
        handle = sys.stdin.buffer if source == "-" else open(source, "rb")
    except OSError as exc:
        raise unreadable(source, exc) from exc
    bar = Progress("importing") if sys.stderr.isatty() else None

    def shown(done: int, total: int) -> None:
        bar.total = total
        bar(done)

    try:
        with app_ctx.database.transaction(commit=not dry_run) as session:
            outcome = importing.import_file(
                session, app_ctx.now, app_ctx.actor, handle, fmt=chosen, name=name, dry_run=dry_run,
                update_existing=update_existing, batch_size=batch_size, mapping=names,
                commit=lambda: app_ctx.database.checkpoint(session), progress=shown if bar else None)
    except importing.BadRows as exc:
        for problem in exc.problems:
            note(problem)
        raise
    except OSError as exc:
        raise unreadable(source, exc) from exc
    finally:
        if bar is not None:
            bar.clear()
        if handle is not sys.stdin.buffer:
            handle.close()
    if outcome.ignored:
        note(f"ignored column{'s' if len(outcome.ignored) != 1 else ''} the map does not name: "
             + ", ".join(outcome.ignored))
    if outcome.new_customers:
        verb = "would create" if dry_run else "created"
        note(f"{verb} {outcome.new_customers} customer{'s' if outcome.new_customers != 1 else ''}")
    if dry_run:
        note(f"dry run: would import {outcome.imported}, skip {outcome.skipped} (already there), "
             f"update {outcome.updated}; nothing written")
    else:
        note(f"imported {outcome.imported}, skipped {outcome.skipped} (already there), updated {outcome.updated}")
