"""supportctl ticket export | import: tickets in bulk, to and from CSV / NDJSON files."""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from supportctl.cli import ticket_filters as filters
from supportctl.cli.context import app_context
from supportctl.cli.output import RawOption, note
from supportctl.cli.tickets import app as ticket_app
from supportctl.errors import InvalidInput


@contextmanager
def atomic_file(path: str) -> Iterator[BinaryIO]:
    """A file that appears at path only once complete: written beside it, synced, renamed.

    A failure, Ctrl-C or kill -9 leaves whatever was at path before (or nothing); the
    temporary file is removed on any failure Python lives to see.
    """
    target = Path(path)
    if target.is_dir():
        raise InvalidInput(f"cannot write {path}: it is a directory", hint="give a file name, e.g. -o tickets.csv")
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        handle = open(temp, "wb")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with handle:
            try:
                os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))  # replacing keeps the old mode
            except OSError:
                pass
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    _sync_directory(target.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Progress:
    """Bytes written so far, on one stderr line, at most four times a second."""

    def __init__(self) -> None:
        self.shown = time.monotonic()  # a quick export shows nothing
        self.visible = False

    def __call__(self, written: int) -> None:
        moment = time.monotonic()
        if moment - self.shown >= 0.25:
            self.shown, self.visible = moment, True
            sys.stderr.write(f"\rexporting… {written / 1_000_000:.1f} MB")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.visible:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _to_stdout(write) -> int:
    """Write to stdout; a reader that goes away (`| head`) ends the export quietly."""
    sys.stdout.flush()
    out = sys.stdout.buffer
    try:
        count = write(out)
        out.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's last flush cannot complain too;
        # click then exits quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # no real file descriptor (tests)
            pass
        finally:
            os.close(devnull)
        raise
    return count


@ticket_app.command("export")
def export_(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="FILE|-", help="Write to FILE (atomically); - for stdout.")
    ] = "-",
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or ndjson.")] = "csv",
    columns: Annotated[
        str | None, typer.Option("--columns", help="Comma-separated ticket fields, e.g. id,external_id,description.")
    ] = None,
    status: filters.StatusOption = None,
    priority: filters.PriorityOption = None,
    assignee: filters.AssigneeOption = None,
    unassigned: filters.UnassignedOption = False,
    customer: filters.CustomerOption = None,
    category: filters.CategoryOption = None,
    tag: filters.TagOption = None,
    escalated: filters.EscalatedOption = False,
    breached: filters.BreachedOption = False,
    search: filters.SearchOption = None,
    created_since: filters.CreatedSinceOption = None,
    updated_since: filters.UpdatedSinceOption = None,
    raw: Annotated[bool, RawOption] = False,
) -> None:
    """Export tickets (all, or those the filters of `ticket list` pick) in id order, streaming.

    CSV is written by the database server itself (COPY), so large exports are fast and
    memory stays flat. Text cells that a spreadsheet would run as a formula get a '
    prefix; use --raw for files meant for other programs or for `ticket import`.
    With -o FILE the file is written beside FILE and renamed into place only when
    complete: a failed or killed export never leaves a partial file. Use
    --updated-since for incremental exports.

    Example: supportctl ticket export -o changed.csv --updated-since 2026-11-22T00:00:00Z --columns id,external_id,title,status
    """
    from supportctl.services import export

    app_ctx = app_context(ctx)
    chosen = export.pick_columns(columns)
    ticket_filter = filters.ticket_filter(
        status=status, priority=priority, assignee=assignee, unassigned=unassigned, customer=customer,
        category=category, tag=tag, escalated=escalated, breached=breached, search=search,
        created_since=created_since, updated_since=updated_since,
    )
    fmt = fmt.lower()
    if fmt not in export.FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(export.FORMATS)}", param_hint="--format")

    def write(out: BinaryIO, progress=None) -> int:
        with app_ctx.read_transaction() as session:
            return export.export(
                session, app_ctx.now, out, filters=ticket_filter, columns=chosen, fmt=fmt, raw=raw, progress=progress
            )

    if output == "-":
        _to_stdout(write)
        return
    started = time.monotonic()
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        with atomic_file(output) as out:
            count = write(out, progress)
    finally:
        if progress is not None:
            progress.clear()
    note(f"exported {count} ticket{'s' if count != 1 else ''} to {output} in {time.monotonic() - started:.1f} s")


@ticket_app.command("import")
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
    from supportctl.services import importing

    app_ctx = app_context(ctx)
    name = "stdin" if source == "-" else source
    try:
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror}") from exc
    try:
        with app_ctx.database.transaction(commit=not dry_run) as session:
            outcome = importing.import_csv(session, app_ctx.now, app_ctx.actor, stream, name=name, dry_run=dry_run)
    except importing.BadRows as exc:
        for problem in exc.problems:
            note(problem)
        raise
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror or exc}") from exc
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if outcome.new_customers:
        verb = "would create" if dry_run else "created"
        note(f"{verb} {outcome.new_customers} customer{'s' if outcome.new_customers != 1 else ''}")
    if dry_run:
        note(f"dry run: would import {outcome.imported}, skip {outcome.skipped} (external id already present); "
             "nothing written")
    else:
        note(f"imported {outcome.imported}, skipped {outcome.skipped} (external id already present)")
