"""Delivery by SMTP: one connection reused for the whole run, STARTTLS whenever offered."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

from supportctl.config import mask_url
from supportctl.db.models import Notification
from supportctl.services.notify.templates import Rendered
from supportctl.services.notify.transport import TIMEOUT, DeliveryFailed, Misconfigured


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
            raise DeliveryFailed(f"the SMTP server refused {row.recipient}: {_reply(None, code, text)}",
                                 permanent=_permanent(code)) from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, 421 …
            raise DeliveryFailed(f"the SMTP server said {_reply(exc)}", permanent=_permanent(exc.smtp_code)) from None
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


def _permanent(code: int | None) -> bool:
    """5xx is the server's final no (RFC 5321, 4.2.1): 550 no such mailbox will not change."""
    return code is not None and 500 <= code < 600


def _reply(exc: BaseException | None, code: int | None = None, text: bytes | str = b"") -> str:
    """An SMTP reply (or other error) on one line, as it goes into last_error."""
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, exc.smtp_error
    elif exc is not None:
        return str(exc) or type(exc).__name__
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    return " ".join(f"{code or ''} {text}".split()) or "no reply"
