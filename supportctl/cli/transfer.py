"""supportctl ticket export | import: tickets in bulk, to and from CSV / NDJSON files."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import ExportFormat, RawOption, with_ticket_filters
from supportctl.cli.output import Progress, atomic_file, note, stream, to_stdout
from supportctl.errors import InvalidInput

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
        str | None, typer.Option("--columns", help="Comma-separated ticket fields, e.g. id,external_id,description.")
    ] = None,
    raw: RawOption = False,
    *,
    filters: TicketFilter,
) -> None:
    """Export tickets (all, or those the filters of `ticket list` pick) in id order, streaming.

    CSV is written by the database server itself (COPY), so large exports are fast and
    memory stays flat. Text cells that a spreadsheet would run as a formula get a '
    prefix; use --raw for files meant for other programs or for `ticket import`.
    With -o FILE the file is written beside FILE and renamed into place only when
    complete: a failed or killed export never leaves a partial file. Use
    --updated-since for incremental exports.

    With SUPPORTCTL_READ_DATABASE_URL set, it reads from that server (e.g. a replica).

    Example: supportctl ticket export -o changed.csv --updated-since 2026-11-22T00:00:00Z --columns id,external_id,title,status
    """
    from supportctl.services.tickets import columns as ticket_columns
    from supportctl.services.transfer import export

    app_ctx = app_context(ctx)
    chosen = ticket_columns.pick(columns, ticket_columns.EXPORT_COLUMNS, ticket_columns.DEFAULT_COLUMNS)

    def write(out: BinaryIO, progress=None) -> int:
        with app_ctx.reading() as cursor:
            return stream(cursor, export.query(cursor, chosen, filters, app_ctx.now), fmt.value, out, raw=raw,
                          progress=progress)

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
    source: Annotated[str, typer.Argument(metavar="FILE", help="A CSV file with a header row; - for stdin.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")] = False,
) -> None:
    """Import tickets from CSV, all or nothing, in ONE transaction.

    The header names the columns, as `ticket export` writes them: title and
    customer_email are required; external_id, description, status, priority, category,
    tags (;-joined), assignee_email and created_at (for backfills) are optional; id and
    the other export columns are ignored, so an export (--raw) re-imports. Every row is
    checked before anything is written; any bad row and nothing is imported, and each
    is listed on stderr as `line N: column: problem`. An external_id twice in the file
    is a bad row; rows whose external_id is already in the database are skipped, so
    running an import again is harmless. Unknown customers are created; an assignee
    must be an agent (an inactive one only on resolved or closed tickets). Tickets get
    due dates from created_at (or now) and a `created` event; one imported as resolved
    or closed was resolved (and closed) at that time too.

    Exit codes: 0 imported (or nothing to do), 2 bad file or rows (nothing written).

    Example: supportctl ticket import legacy-tickets.csv --dry-run
    """
    from supportctl.services.transfer import importing

    app_ctx = app_context(ctx)
    name = "stdin" if source == "-" else source
    try:
        handle = sys.stdin.buffer if source == "-" else open(source, "rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror}") from exc
    try:
        with app_ctx.database.transaction(commit=not dry_run) as session:
            outcome = importing.import_csv(session, app_ctx.now, app_ctx.actor, handle, name=name, dry_run=dry_run)
    except importing.BadRows as exc:
        for problem in exc.problems:
            note(problem)
        raise
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror or exc}") from exc
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    if outcome.new_customers:
        verb = "would create" if dry_run else "created"
        note(f"{verb} {outcome.new_customers} customer{'s' if outcome.new_customers != 1 else ''}")
    if dry_run:
        note(f"dry run: would import {outcome.imported}, skip {outcome.skipped} (external id already present); "
             "nothing written")
    else:
        note(f"imported {outcome.imported}, skipped {outcome.skipped} (external id already present)")
