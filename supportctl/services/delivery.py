"""Delivering the outbox: the SMTP and webhook senders, and the `notify send` loop.

Several senders may run at once (cron on several hosts): each claims a small batch
of due rows with ``FOR UPDATE SKIP LOCKED``, delivers it while holding the row
locks, records every outcome and commits, so no row is delivered by two senders.
A crash after a delivery and before its batch commits leaves those rows pending:
the next run sends them again, with the same delivery id (the webhook's
``X-Supportctl-Delivery`` header, the e-mail's Message-ID) for the receiver to
drop the duplicate. That is the price of never losing one.

A failed delivery is retried after 1 minute, then 2, 4 … (at most an hour apart);
after notifications.MAX_ATTEMPTS the row is marked failed with its last error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

from supportctl import __version__
from supportctl.config import mask_url
from supportctl.db.models import Notification
from supportctl.errors import InvalidInput
from supportctl.services import notifications
from supportctl.services.notifications import Rendered, TemplateError
from supportctl.services.session import set_cron_timeouts

BATCH_SIZE = 10  # small: a batch's rows stay locked while it is delivered
TIMEOUT = 30  # seconds, per SMTP command or HTTP request
VIA = ("smtp", "webhook")


class DeliveryFailed(Exception):
    """This notification did not go out; it is retried. `unreachable`: nor would the next one, so stop."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class Misconfigured(InvalidInput):
    """The delivery settings are wrong (exit 2): no attempt is counted against any notification."""


class SmtpSender:
    """SMTP over one connection reused for the whole run; STARTTLS whenever the server offers it."""

    def __init__(self, url: str, from_header: str) -> None:
        parts = urlsplit(url)
        self.ssl = parts.scheme == "smtps"
        self.host, self.port = parts.hostname, parts.port or (465 if self.ssl else 25)
        self.user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password or "")
        self.from_header, self.from_address = from_header, parseaddr(from_header)[1]
        self.shown = mask_url(url)
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        try:
            if self.ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            smtp.ehlo()
            encrypted = self.ssl
            if not self.ssl and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                encrypted = True
            if self.user:
                if not encrypted:
                    smtp.close()
                    raise Misconfigured(f"the SMTP server at {self.shown} offers no STARTTLS; refusing to send "
                                        "the password unencrypted", hint="use smtps://, or a server with STARTTLS")
                smtp.login(self.user, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            raise Misconfigured(f"the SMTP server at {self.shown} refused the login of {self.user}: "
                                f"{_reply(exc)}", hint="check SUPPORTCTL_SMTP_URL") from None
        except smtplib.SMTPNotSupportedError:
            raise Misconfigured(f"the SMTP server at {self.shown} does not accept a login",
                                hint="drop user:password from SUPPORTCTL_SMTP_URL") from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, TLS failed, said 421
            raise DeliveryFailed(f"cannot reach the SMTP server at {self.shown}: {_reply(exc)}",
                                 unreachable=True) from None
        return smtp

    def send(self, row: Notification, rendered: Rendered) -> None:
        if self._smtp is None or getattr(self._smtp, "sock", None) is None:  # first use, or the server hung up
            self._smtp = self._connect()
        mail = EmailMessage()
        for header, value in (
            ("From", self.from_header), ("To", row.recipient), ("Subject", rendered.subject),
            ("Date", formatdate(usegmt=True)), ("Message-ID", f"<{row.delivery_id}@supportctl>"),
            ("X-Supportctl-Delivery", str(row.delivery_id)), ("X-Supportctl-Template", row.template),
            ("Auto-Submitted", "auto-generated"),  # RFC 3834: no auto-replies to this
        ):
            mail[header] = value
        mail.set_content(rendered.body)
        try:
            self._smtp.send_message(mail, from_addr=self.from_address, to_addrs=[row.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (None, b""))
            raise DeliveryFailed(f"the SMTP server refused {row.recipient}: {_reply(None, code, text)}") from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, 421 …
            raise DeliveryFailed(f"the SMTP server said {_reply(exc)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryFailed(f"lost the SMTP server at {self.shown}: {_reply(exc)}") from None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a bodiless GET: count it as a failure instead."""

    def redirect_request(self, *args, **kwargs):
        return None


class WebhookSender:
    """A JSON POST per notification, signed: X-Supportctl-Signature: sha256=HMAC(secret, body)."""

    def __init__(self, url: str, secret: str) -> None:
        self.url, self._secret = url, secret.encode()
        parts = urlsplit(url)
        self.shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")  # paths hold tokens
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, row: Notification, rendered: Rendered) -> None:
        body = json.dumps({
            "delivery_id": str(row.delivery_id), "notification_id": row.id, "template": row.template,
            "recipient": row.recipient, "subject": rendered.subject, "body": rendered.body, "data": row.data,
            "created_at": notifications.iso(row.created_at),
        }, ensure_ascii=False, sort_keys=True).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": f"supportctl/{__version__}",
            "X-Supportctl-Delivery": str(row.delivery_id),
            "X-Supportctl-Signature": "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest(),
        })
        try:
            with self._opener.open(request, timeout=TIMEOUT) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"the webhook at {self.shown} answered HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise DeliveryFailed(f"cannot reach the webhook at {self.shown}: {exc.reason}", unreachable=True) from None
        except (OSError, ValueError) as exc:  # timed out, connection reset, malformed reply
            raise DeliveryFailed(f"the webhook at {self.shown} failed: {exc or type(exc).__name__}",
                                 unreachable=True) from None

    def close(self) -> None:
        pass


Sender = SmtpSender | WebhookSender


def configure(environ: Mapping[str, str], via: str | None = None) -> Sender:
    """The sender the environment describes; InvalidInput (exit 2) before any database work when it cannot."""
    smtp_url = (environ.get("SUPPORTCTL_SMTP_URL") or "").strip()
    webhook_url = (environ.get("SUPPORTCTL_WEBHOOK_URL") or "").strip()
    if via is None:
        if smtp_url and webhook_url:
            raise InvalidInput("both SUPPORTCTL_SMTP_URL and SUPPORTCTL_WEBHOOK_URL are set",
                               hint="pick one with --via smtp or --via webhook")
        via = "smtp" if smtp_url else "webhook" if webhook_url else None
    if via is None:
        raise InvalidInput("nowhere to deliver notifications: set SUPPORTCTL_SMTP_URL (e.g. "
                           "smtp://user:pass@mail.example.com:587) or SUPPORTCTL_WEBHOOK_URL and "
                           "SUPPORTCTL_WEBHOOK_SECRET")
    if via not in VIA:
        raise InvalidInput(f"--via: {via!r} is not one of {', '.join(VIA)}")
    if via == "smtp":
        if not _valid_url(smtp_url, ("smtp", "smtps")):
            raise InvalidInput("SUPPORTCTL_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465"
                               if smtp_url else "--via smtp needs SUPPORTCTL_SMTP_URL")
        return SmtpSender(smtp_url, _from_header(environ.get("SUPPORTCTL_SMTP_FROM")))
    secret = environ.get("SUPPORTCTL_WEBHOOK_SECRET") or ""
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


def _reply(exc: BaseException | None, code: int | None = None, text: bytes | str = b"") -> str:
    """An SMTP reply (or other error) on one line, as it goes into last_error."""
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, exc.smtp_error
    elif exc is not None:
        return str(exc) or type(exc).__name__
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    return " ".join(f"{code or ''} {text}".split()) or "no reply"


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
        sender.send(row, notifications.render(row.template, row.data, row.recipient))
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
            retry_at = notifications.mark_failed(row, now, error)
            summary.failures.append(Failure(row.id, row.recipient, row.template, error, retry_at))
            if exc.unreachable:
                summary.stopped = error
                return None
        else:
            notifications.mark_sent(row, now)
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
                claimed = notifications.claim(session, now, size)
                if not claimed:
                    break
                fatal = _deliver(claimed, now, sender, summary, redact)
            if fatal is not None:  # what went out before it is committed above
                raise fatal
    finally:
        sender.close()
    return summary
