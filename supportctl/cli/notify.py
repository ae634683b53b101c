"""supportctl notify send | list: the notification outbox and its delivery."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import (
    MAX_COUNT, ChannelOption, FormatOption, NotificationStatusOption, PageLimitOption, RawOption, page_limit,
)
from supportctl.cli.output import choose_format, note, write_query
from supportctl.domain.timestamps import iso_z



def send(
    ctx: typer.Context,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, max=MAX_COUNT, help="Try at most N notifications this run (oldest due first).")
    ] = None,
    via: ChannelOption = None,
) -> None:
    """Deliver the pending notifications that are due, by SMTP or webhook (the cron job).

    Ticket changes queue notifications in their own transaction: assignment tells the
    agent (ticket_assigned), resolving or reopening tells the customer (ticket_resolved,
    ticket_reopened), escalation tells every active lead and the assignee (ticket_escalated).

    SMTP: SUPPORTCTL_SMTP_URL=smtp://user:pass@host:587 (STARTTLS when the server offers
    it; a password is never sent unencrypted) or smtps://user:pass@host:465; the sender is
    SUPPORTCTL_SMTP_FROM (default supportctl@HOSTNAME).

    Webhook: SUPPORTCTL_WEBHOOK_URL receives one JSON POST per notification (delivery_id,
    template, recipient, subject, body, data) with the headers X-Supportctl-Delivery: the
    delivery id, and X-Supportctl-Signature: sha256=HEX, the HMAC-SHA256 of the body with
    SUPPORTCTL_WEBHOOK_SECRET. Any 2xx answer is success.

    Templates: a Subject: line, a blank line, then the body, with $placeholders such as
    $ticket_id and $title. A NAME.txt in ~/.config/supportctl/templates/ (under
    $XDG_CONFIG_HOME when set) overrides the shipped one.

    Several hosts may run it at once: work is claimed with FOR UPDATE SKIP LOCKED in
    batches of 10, each delivered and committed as its own transaction, so each
    notification is delivered once. A crash between a delivery and its batch's commit
    means the next run sends that batch again (at most 10 notifications, once per crash)
    with the same delivery id (also the e-mail's Message-ID), so the receiver can drop
    the duplicate. A failed delivery is retried after 1 minute, then 2, 4 ... (at most an
    hour apart), and after 8 attempts it is marked failed with its last error (see
    `notify list --status failed`); so is one the receiver refuses for good at once (an
    SMTP 5xx such as 550 no such mailbox, an HTTP 4xx such as 410 Gone, but 408 and 429).
    A webhook URL may carry user:password@, sent as Basic authentication. When the server cannot be reached at all, the run
    stops and leaves the rest for later.

    Prints one line per failure and a summary on stderr. Exit codes: 0 it ran (failures
    are recorded and retried), 2 delivery not configured or its login refused,
    5 database unreachable, 6 could not get a lock in time.

    Example: * * * * *  supportctl notify send >> /var/log/supportctl-notify.log 2>&1
    """
    from supportctl.services.notify import delivery

    app_ctx = app_context(ctx)
    sender = delivery.configure(os.environ, via)
    summary = delivery.run(app_ctx.database, app_ctx.now, sender, limit=limit, redact=app_ctx.settings.redact)
    for failure in summary.failures:
        then = f"retry after {iso_z(failure.retry_at)}" if failure.retry_at else "gave up, marked failed"
        note(f"notification {failure.id} ({failure.template} to {failure.recipient}) failed: {failure.error}; {then}")
    gave_up = len(summary.failures) - summary.retrying
    note(f"sent {summary.sent}, failed {len(summary.failures)} (will retry {summary.retrying})"
         + (f", {gave_up} marked failed (see notify list --status failed)" if gave_up else ""))
    if summary.stopped:
        note("stopped early: the rest waits for the next run")


def list_(
    ctx: typer.Context,
    status: NotificationStatusOption = None,
    fmt: FormatOption = None,
    raw: RawOption = False,
    limit: PageLimitOption = None,
) -> None:
    """List the outbox, oldest first: what is waiting, what went out, what failed and why.

    Example: supportctl notify list --status failed --format json
    """
    from supportctl.services.notify import queries

    with app_context(ctx).reading() as cursor:
        f = choose_format(fmt)
        write_query(cursor, queries.outbox(status), f, raw=raw, limit=page_limit(limit, f))
