"""supportctl db upgrade | status | stop | roles."""

from __future__ import annotations

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import FormatOption
from supportctl.cli.output import choose_format, note, write_record, write_rows


def upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (safe to run again: does nothing at head)."""
    from supportctl.services.admin import database as dbadmin

    before, after = dbadmin.upgrade(app_context(ctx).database)
    if before == after:
        note(f"already at head ({after})")
    else:
        note(f"upgraded {before or 'empty database'} -> {after}")


def status(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Show embedded or external, where the data and socket are, the server version and revisions.

    The embedded server keeps its data in SUPPORTCTL_DATA_DIR when that is set, else in
    ~/.local/share/supportctl (as root: /var/lib/supportctl).
    """
    from supportctl.services.admin import database as dbadmin

    write_record(dbadmin.status(app_context(ctx).database), choose_format(fmt))


def stop(ctx: typer.Context) -> None:
    """Stop the embedded server (the next command starts it again)."""
    from supportctl.services.admin import database as dbadmin

    was_running = dbadmin.stop(app_context(ctx).database)
    note("embedded server stopped" if was_running else "embedded server was not running")


def roles(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Create or update the group roles supportctl_reader, supportctl_agent and supportctl_admin.

    Run it as the owner of the schema (the role that ran `db upgrade`), and again after
    each `db upgrade`; it is safe to repeat. The roles are NOLOGIN groups: give people
    and cron jobs LOGIN roles of their own that are members of one of them, e.g.
    CREATE ROLE ana LOGIN IN ROLE supportctl_agent. The reader reads supportctl's
    tables; the agent works tickets, changing only the columns the commands change,
    but not agents (beyond the assignment cursor), the SLA policy or the calendar; the
    admin may also change those. Nobody may delete tickets, comments, customers or
    agents, or change history. Grants are made on supportctl's tables by name (a table
    someone else adds to the schema stays unreadable). Prints each role's privileges;
    docs/operations.md shows the whole matrix.

    Example: supportctl db roles --format table
    """
    from supportctl.services.admin import roles as group_roles

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        outcome = group_roles.apply(session)
    write_rows([g.row() for g in outcome.grants], ["role", "kind", "object", "privileges"], choose_format(fmt))
    for role in outcome.created:
        note(f"created role {role} (NOLOGIN)")
    for role in outcome.updated:
        note(f"updated role {role}")
    note(f"privileges reset in schema {outcome.schema_name} (owner {outcome.owner}); "
         "add people with CREATE ROLE name LOGIN IN ROLE supportctl_agent (or _reader, _admin)")
