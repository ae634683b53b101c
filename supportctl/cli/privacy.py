"""supportctl customer export | anonymize | erase, retention set | show | run, and audit
export (docs/privacy.md)."""

from __future__ import annotations

import io
import json
import sys
from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import DocumentFormat, ExportFormat, FormatOption
from supportctl.cli.output import (
    atomic_file,
    choose_format,
    note,
    on_terminal,
    stream,
    to_stdout,
    write_record,
    write_rows,
)
from supportctl.errors import InvalidInput

EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The customer's email.", show_default=False)]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Say what would change; change nothing.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed off a terminal).")]
OutputOption = Annotated[str, typer.Option("--output", "-o", metavar="FILE",
                                           help="Write to FILE, complete or not at all; - for stdout.")]


def _write_text(output: str, write) -> None:
    """`write(text_stream)` to stdout, or to FILE complete or not at all (cli/output.atomic_file)."""
    if output == "-":
        write(sys.stdout)
        return
    with atomic_file(output) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        write(text)
        text.flush()
        text.detach()


def customer_export(
    ctx: typer.Context,
    email: EmailArgument,
    output: OutputOption = "-",
    fmt: Annotated[DocumentFormat, typer.Option("--format", "-f")] = DocumentFormat.JSON,
) -> None:
    """Everything kept about a customer: their record, every ticket, comment and history event.

    JSON is one object {customer, tickets}; NDJSON a line for the customer, then one per
    ticket (its comments and history inside). The export is written to the audit log;
    only the admin role may make one.

    Example: supportctl customer export ana@example.com -o ana.json
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.privacy import customers

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        document = customers.export(cursor_of(session), app_ctx.now, app_ctx.actor, email)
    # One nested document, not rows: its values are already JSON's (the read queries' own).
    if fmt is DocumentFormat.JSON:
        lines = [json.dumps(document, ensure_ascii=False)]
    else:
        lines = [json.dumps({"type": "customer", **document["customer"]}, ensure_ascii=False)] + [
            json.dumps({"type": "ticket", **ticket}, ensure_ascii=False) for ticket in document["tickets"]]
    _write_text(output, lambda out: out.write("".join(line + "\n" for line in lines)))
    if output != "-":
        note(f"exported {email.strip()} and {len(document['tickets'])} tickets to {output}")


def _counted(counts) -> str:
    return (f"{counts.tickets} tickets, {counts.comments} comments, {counts.events} history events, "
            f"{counts.notifications} notifications ({counts.pending} pending)")


def _irreversibly(ctx: typer.Context, verb: str, email: str, change, *, yes: bool, dry_run: bool):
    """`change(cursor)` -> (customer id, counts), done once for real or not at all.

    Off a terminal it needs --yes (exit 2 before any query). A dry run, and the question on
    a terminal, take their counts from the same change in a transaction rolled back.
    Returns None when nothing was changed."""
    from supportctl.db.database import cursor_of

    database = app_context(ctx).database
    email = email.strip()
    if not (yes or dry_run or on_terminal()):
        raise InvalidInput(f"{verb} {email} needs --yes off a terminal; nothing was changed",
                           hint="add --yes, or --dry-run to see what would change")
    if dry_run or not yes:
        with database.transaction(commit=False) as session:
            _, counts = change(cursor_of(session))
        if dry_run:
            note(f"would {verb} {email}: {_counted(counts)}; nothing changed")
            return None
        if not typer.confirm(f"{verb.capitalize()} {email} ({counts.tickets} tickets, {counts.comments} comments, "
                             f"{counts.events} history events)? This cannot be undone.", err=True):
            note("nothing changed")
            return None
    with database.transaction() as session:
        return change(cursor_of(session))


def customer_anonymize(
    ctx: typer.Context,
    email: EmailArgument,
    redact_text: Annotated[bool, typer.Option(
        "--redact-text", help="Also replace their email and name in ticket titles, descriptions and comments "
                              "with [redacted].")] = False,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
) -> None:
    """Anonymize a customer: they keep id, tier and tickets (reports do not move); their
    email becomes anonymized+ID@invalid, their name "Anonymized customer ID", company none.

    The old email is replaced everywhere: history events, comments' authors, the outbox
    (pending notifications to them are cancelled). With --redact-text the email and the
    name are also removed from ticket text, and then appear nowhere in the database. Each
    ticket gets a `redacted` event naming the fields, never their text. One transaction;
    admin role only.

    Example: supportctl customer anonymize ana@example.com --redact-text --yes
    """
    from supportctl.services.privacy import customers

    app_ctx = app_context(ctx)
    done = _irreversibly(ctx, "anonymize", email, lambda cursor: customers.anonymize(
        cursor, app_ctx.now, app_ctx.actor, email, redact_text=redact_text), yes=yes, dry_run=dry_run)
    if done is not None:
        customer_id, counts = done
        note(f"anonymized customer {customer_id} (now {customers.anonymized_identity(customer_id)[0]}): "
             f"{_counted(counts)}")


def customer_erase(
    ctx: typer.Context,
    email: EmailArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, kept on each tombstone.")] = "erasure request",
    dry_run: DryRunOption = False,
    yes: YesOption = False,
) -> None:
    """Erase a customer: them, their tickets, comments, history, SLA cycles and notifications.

    What is left: a tombstone per ticket (id, external_id, created_at, closed_at,
    erased_at, actor, reason) and an audit entry with the counts. One transaction; admin
    role only.

    Example: supportctl customer erase ana@example.com --reason "GDPR art. 17 request 2026-118" --yes
    """
    from supportctl.services.privacy import customers

    app_ctx = app_context(ctx)
    done = _irreversibly(ctx, "erase", email, lambda cursor: customers.erase(
        cursor, app_ctx.now, app_ctx.actor, email, reason), yes=yes, dry_run=dry_run)
    if done is not None:
        customer_id, counts = done
        note(f"erased customer {customer_id}: {_counted(counts)}; {counts.tickets} tombstones left")


def audit_export(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", metavar="WHEN",
                                              help="From this ISO 8601 time, or this long ago (30d).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="WHEN", help="Before this time.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", metavar="K",
                                                   help="Only this kind, e.g. customer_erased; repeatable.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", metavar="A", help="Only what this actor did.")] = None,
    output: OutputOption = "-",
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.NDJSON,
) -> None:
    """Stream the ticket history and the audit log of administrative changes, oldest first.

    Keys: at, actor, kind, object, object_id, from, to. The audit log holds every change
    to SLA policies, targets and calendars, agents, teams, members, routes, ladders,
    quiet hours and macros, and every customer export, anonymization and erasure, each
    written in the transaction of the change.

    Example: supportctl audit export --since 30d --kind customer_erased --format csv -o erasures.csv
    """
    from supportctl.config import parse_when
    from supportctl.services.privacy import audit

    app_ctx = app_context(ctx)
    query = audit.query(app_ctx.now, since=parse_when(since, "--since") if since else None,
                        until=parse_when(until, "--until") if until else None, kinds=tuple(kind or ()),
                        actor=actor)

    def write(out) -> int:
        with app_ctx.reading() as cursor:
            return stream(cursor, query, fmt.value, out, raw=True)

    if output == "-":
        to_stdout(write)
        return
    with atomic_file(output) as out:
        count = write(out)
    note(f"exported {count} entries to {output}")


# retention set | show | run

def retention_set(
    ctx: typer.Context,
    closed_older_than: Annotated[str, typer.Option("--closed-older-than", metavar="DUR", show_default=False,
                                                   help="Keep closed tickets this long, e.g. 730d or 104w.")],
    action: Annotated[str, typer.Option("--action", metavar="anonymize|delete", show_default=False,
                                        help="What happens to them then.")],
    except_tag: Annotated[str, typer.Option("--except-tag", metavar="TAG",
                                            help="Tickets with this tag are kept.")] = "legal-hold",
) -> None:
    """Set how long closed tickets are kept, and what `retention run` does with them after.

    Example: supportctl retention set --closed-older-than 730d --action anonymize
    """
    from supportctl.db.database import cursor_of
    from supportctl.services.privacy import retention

    app_ctx = app_context(ctx)
    with app_ctx.transaction() as session:
        rule = retention.set_(cursor_of(session), app_ctx.now, closed_older_than, action, except_tag)
    shown = rule.row()
    verb = "deleted" if rule.action == "delete" else "anonymized"
    note(f"closed tickets older than {shown['closed_older_than']} will be {verb} by `retention run`"
         + (f", except those tagged {rule.except_tag}" if rule.except_tag else ""))


def retention_show(ctx: typer.Context, fmt: FormatOption = None) -> None:
    """Show the retention policy (exit 2 when there is none).

    Example: supportctl retention show
    """
    from supportctl.services.privacy import retention

    with app_context(ctx).reading() as cursor:
        rule = retention.required(cursor)
    write_record(rule.row(), choose_format(fmt))


def retention_run(
    ctx: typer.Context,
    dry_run: DryRunOption = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N tickets this run.")] = None,
    fmt: FormatOption = None,
) -> None:
    """Apply the retention policy to the closed tickets past it (the cron job).

    Batches of 500 claimed with FOR UPDATE SKIP LOCKED, each its own transaction with its
    audit entry: several hosts may run it at once, and a second run finds nothing to do.
    Tickets with the except tag (legal-hold) are kept. Rows: id, customer_id, action
    (deleted; anonymized: the customer with it; redacted: the ticket's text).

    Exit codes: 0 done, 2 no retention policy, 4 not the admin role.

    Example: 30 3 * * *  supportctl retention run >> /var/log/supportctl-retention.log 2>&1
    """
    from supportctl.services.privacy import retention

    app_ctx = app_context(ctx)
    done = retention.run(app_ctx.batches, app_ctx.now, app_ctx.actor, limit=limit, dry_run=dry_run)
    write_rows([d.row() for d in done], retention.COLUMNS, choose_format(fmt))
    counts = ", ".join(f"{sum(d.action == a for d in done)} {a}" for a in ("deleted", "anonymized", "redacted")
                       if any(d.action == a for d in done))
    note(f"{'would change' if dry_run else 'changed'} {len(done)} closed ticket{'s' if len(done) != 1 else ''}"
         + (f" ({counts})" if counts else ""))
