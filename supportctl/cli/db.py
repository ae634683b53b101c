"""supportctl db upgrade | status | stop."""

from __future__ import annotations

from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.output import FormatOption, choose_format, note, write_record

app = typer.Typer(help="The database: migrations, where it is, the embedded server.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (safe to run again: does nothing at head)."""
    from supportctl.services import dbadmin

    before, after = dbadmin.upgrade(app_context(ctx).database)
    if before == after:
        note(f"already at head ({after})")
    else:
        note(f"upgraded {before or 'empty database'} -> {after}")


@app.command("status")
def status(ctx: typer.Context, fmt: Annotated[str | None, FormatOption] = None) -> None:
    """Show embedded or external, where the data and socket are, the server version and revisions."""
    from supportctl.services import dbadmin

    write_record(dbadmin.status(app_context(ctx).database), choose_format(fmt))


@app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the embedded server (the next command starts it again)."""
    from supportctl.services import dbadmin

    was_running = dbadmin.stop(app_context(ctx).database)
    note("embedded server stopped" if was_running else "embedded server was not running")
