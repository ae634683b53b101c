"""What every sender (notify/smtp.py, notify/webhook.py) promises the delivery loop."""

from __future__ import annotations

from supportctl.errors import InvalidInput

TIMEOUT = 30  # seconds, per SMTP command or HTTP request


class DeliveryFailed(Exception):
    """This notification did not go out; it is retried, unless `permanent` (the receiver said
    no for good: an SMTP 5xx, an HTTP 4xx). `unreachable`: nor would the next one go, so stop."""

    def __init__(self, message: str, *, unreachable: bool = False, permanent: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.permanent = permanent


class Misconfigured(InvalidInput):
    """The delivery settings are wrong (exit 2): no attempt is counted against any notification."""
