"""`notify send`: choosing the sender the environment describes, and the delivery loop.

Several senders may run at once (cron on several hosts): each claims a small batch
of due rows with ``FOR UPDATE SKIP LOCKED``, delivers it while holding the row
locks, records every outcome and commits, so no row is delivered by two senders.
A crash after a delivery and before its batch commits leaves those rows pending:
the next run sends them again, with the same delivery id (the webhook's
``X-Supportctl-Delivery`` header, the e-mail's Message-ID) for the receiver to
drop the duplicate. That is the price of never losing one.

A failed delivery is retried after 1 minute, then 2, 4 … (at most an hour apart);
after outbox.MAX_ATTEMPTS the row is marked failed with its last error.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from supportctl.constants import EnvVars
from supportctl.db.database import set_cron_timeouts
from supportctl.db.models import Notification
from supportctl.domain.enums import Channel
from supportctl.errors import InvalidInput
from supportctl.services import validation
from supportctl.services.notify import outbox, templates
from supportctl.services.notify.smtp import SmtpSender
from supportctl.services.notify.templates import TemplateError
from supportctl.services.notify.transport import DeliveryFailed, Misconfigured
from supportctl.services.notify.webhook import WebhookSender

BATCH_SIZE = 10  # small: a batch's rows stay locked while it is delivered


Sender = SmtpSender | WebhookSender


def configure(environ: Mapping[str, str], via: str | None = None) -> Sender:
    """The sender the environment describes; InvalidInput (exit 2) before any database work when it cannot."""
    smtp_url = (environ.get(EnvVars.SMTP_URL) or "").strip()
    webhook_url = (environ.get(EnvVars.WEBHOOK_URL) or "").strip()
    if via is None:
        if smtp_url and webhook_url:
            raise InvalidInput("both SUPPORTCTL_SMTP_URL and SUPPORTCTL_WEBHOOK_URL are set",
                               hint="pick one with --via smtp or --via webhook")
        via = "smtp" if smtp_url else "webhook" if webhook_url else None
    if via is None:
        raise InvalidInput("nowhere to deliver notifications: set SUPPORTCTL_SMTP_URL (e.g. "
                           "smtp://user:pass@mail.example.com:587) or SUPPORTCTL_WEBHOOK_URL and "
                           "SUPPORTCTL_WEBHOOK_SECRET")
    via = validation.choice(Channel, via, "--via")
    if via is Channel.SMTP:
        if not _valid_url(smtp_url, ("smtp", "smtps")):
            raise InvalidInput("SUPPORTCTL_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465"
                               if smtp_url else "--via smtp needs SUPPORTCTL_SMTP_URL")
        return SmtpSender(smtp_url, _from_header(environ.get(EnvVars.SMTP_FROM)))
    secret = environ.get(EnvVars.WEBHOOK_SECRET) or ""
    if not _valid_url(webhook_url, ("http", "https")):
        raise InvalidInput("SUPPORTCTL_WEBHOOK_URL must be an http:// or https:// URL" if webhook_url
                           else "--via webhook needs SUPPORTCTL_WEBHOOK_URL")
    if not secret:
        raise InvalidInput("SUPPORTCTL_WEBHOOK_SECRET is not set: webhooks are always signed",
                           hint="set it to a long random string the receiver also knows")
    return WebhookSender(webhook_url, secret)


def _valid_url(url: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    no_path = parts.path in ("", "/") or parts.scheme.startswith("http")
    return parts.scheme in schemes and bool(parts.hostname) and no_path


def _from_header(value: str | None) -> str:
    if not value:
        return f"supportctl@{socket.gethostname()}"
    address = parseaddr(value)[1]
    if "@" not in address or any(c in value for c in "\r\n"):
        raise InvalidInput(f"SUPPORTCTL_SMTP_FROM: {value!r} is not an e-mail address")
    return value


@dataclass
class Failure:
    id: int
    recipient: str
    template: str
    error: str
    retry_at: datetime | None  # None: attempts used up, marked failed


@dataclass
class Summary:
    sent: int = 0
    failures: list[Failure] = field(default_factory=list)
    stopped: str | None = None  # why the run ended before the outbox was empty

    @property
    def retrying(self) -> int:
        return sum(f.retry_at is not None for f in self.failures)

    @property
    def tried(self) -> int:
        return self.sent + len(self.failures)


def _attempt(row: Notification, sender: Sender) -> None:
    """Deliver one row; every failure but Misconfigured comes out as DeliveryFailed."""
    try:
        sender.send(row, templates.render(row.template, row.data, row.recipient))
    except (DeliveryFailed, Misconfigured):
        raise
    except TemplateError as exc:
        raise DeliveryFailed(str(exc)) from None
    except Exception as exc:  # a bug; recorded, since a rollback would re-send the batch's delivered rows
        raise DeliveryFailed(f"unexpected error: {type(exc).__name__}: {exc}") from exc


def _deliver(claimed: list[Notification], now: datetime, sender: Sender, summary: Summary,
             redact: Callable[[str], str]) -> Misconfigured | None:
    """Send each row and record its outcome on it; the caller commits. Stops at the first sign it is futile."""
    for row in claimed:
        try:
            _attempt(row, sender)
        except Misconfigured as exc:  # no attempt counted: not this notification's fault
            return exc
        except DeliveryFailed as exc:
            error = redact(str(exc))
            retry_at = outbox.mark_failed(row, now, error, permanent=exc.permanent)
            summary.failures.append(Failure(row.id, row.recipient, row.template, error, retry_at))
            if exc.unreachable:
                summary.stopped = error
                return None
        else:
            outbox.mark_sent(row, now)
            summary.sent += 1
    return None


def run(database, now: datetime, sender: Sender, *, limit: int | None = None, batch_size: int = BATCH_SIZE,
        redact: Callable[[str], str] = str) -> Summary:
    """`notify send`: batch after batch, each its own transaction, until nothing is due (or `limit` tried)."""
    summary = Summary()
    try:
        while summary.stopped is None:
            size = batch_size if limit is None else min(batch_size, limit - summary.tried)
            if size <= 0:
                break
            with database.transaction() as session:
                set_cron_timeouts(session)
                claimed = outbox.claim(session, now, size)
                if not claimed:
                    break
                fatal = _deliver(claimed, now, sender, summary, redact)
            if fatal is not None:  # what went out before it is committed above
                raise fatal
    finally:
        sender.close()
    return summary
