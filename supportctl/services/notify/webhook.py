"""Delivery by webhook: one signed JSON POST per notification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

from supportctl import __version__
from supportctl.db.models import Notification
from supportctl.domain.timestamps import iso_z
from supportctl.services.notify.templates import Rendered
from supportctl.services.notify.transport import TIMEOUT, DeliveryFailed


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a bodiless GET: count it as a failure instead."""

    def redirect_request(self, *args, **kwargs):
        return None


class WebhookSender:
    """A JSON POST per notification, signed: X-Supportctl-Signature: sha256=HMAC(secret, body)."""

    def __init__(self, url: str, secret: str) -> None:
        self._secret = secret.encode()
        parts = urlsplit(url)
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.shown = f"{parts.scheme}://{host}"  # paths and user info hold tokens
        # urllib sends no credentials from the URL itself: user:password@ becomes Basic auth.
        self.url = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
        self._auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._auth = "Basic " + base64.b64encode(pair).decode()
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, row: Notification, rendered: Rendered) -> None:
        body = json.dumps({
            "delivery_id": str(row.delivery_id), "notification_id": row.id, "template": row.template,
            "recipient": row.recipient, "subject": rendered.subject, "body": rendered.body, "data": row.data,
            "created_at": iso_z(row.created_at),
        }, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"supportctl/{__version__}",
            "X-Supportctl-Delivery": str(row.delivery_id),
            "X-Supportctl-Signature": "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest(),
        }
        if self._auth is not None:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with self._opener.open(request, timeout=TIMEOUT) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"the webhook at {self.shown} answered HTTP {exc.code} {exc.reason}",
                                 permanent=_permanent(exc.code)) from None
        except urllib.error.URLError as exc:
            # Nothing answers (refused, no such host, no route): nor will it for the next one.
            # A connection that broke half-way is this request's bad luck: the run goes on.
            unreachable = not isinstance(exc.reason, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError))
            raise DeliveryFailed(f"cannot reach the webhook at {self.shown}: {exc.reason}",
                                 unreachable=unreachable) from None
        except (OSError, ValueError) as exc:  # timed out, connection reset, malformed reply
            raise DeliveryFailed(f"the webhook at {self.shown} failed: {exc or type(exc).__name__}") from None

    def close(self) -> None:
        pass


def _permanent(status: int) -> bool:
    """A 4xx is the receiver's final no (410 Gone, 404, 400), but for those that say "later":
    408 Request Timeout, 425 Too Early, 429 Too Many Requests."""
    return 400 <= status < 500 and status not in (408, 425, 429)
