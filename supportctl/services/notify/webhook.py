"""Delivery by webhook: one signed JSON POST per notification."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

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
        self.url, self._secret = url, secret.encode()
        parts = urlsplit(url)
        self.shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")  # paths hold tokens
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, row: Notification, rendered: Rendered) -> None:
        body = json.dumps({
            "delivery_id": str(row.delivery_id), "notification_id": row.id, "template": row.template,
            "recipient": row.recipient, "subject": rendered.subject, "body": rendered.body, "data": row.data,
            "created_at": iso_z(row.created_at),
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
