"""SLA target durations: parsing what people type, and writing it back canonically.

Two spellings are accepted because both show up in the wild: the compact form
support leads write in config (``4h``, ``1h30m``, ``2d4h30m``, ``4w``) and ISO 8601
durations that other tools export (``PT4H``, ``P1DT2H``, ``P2W``).

Only units with a fixed length are allowed. ISO years and months are refused on
purpose: "P1M" has no single length in hours, and an SLA target that silently
means 28 or 31 days depending on the month would be a bug, not a feature.
Fractions (``1.5h``) are refused too, so that every accepted text formats back
to exactly the same value.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["parse_duration", "format_duration", "format_brief", "format_target"]

# Compact form: units largest-first, each at most once. The regex's fixed order
# is what enforces "largest-first, at most once"; `1h2h` or `30m1h` don't match.
_COMPACT = re.compile(r"(?:(\d{1,9})w)?(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?", re.ASCII)

# ISO 8601 without Y/M. Weeks may not be combined with other units (ISO says so).
_ISO_WEEKS = re.compile(r"P(\d{1,9})W", re.ASCII)
_ISO = re.compile(r"P(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?", re.ASCII)
_ISO_CALENDAR_UNITS = re.compile(r"P[^T]*[YM]")

# Anything longer than this is a typo. Numbers are also capped at 9 digits in
# the regexes so absurd input fails as "invalid" instead of overflowing.
_MAX = timedelta(days=100 * 366)

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))

_EXAMPLES = "use e.g. 90m, 4h, 1h30m, 3d, 4w or PT4H"


def parse_duration(text: str) -> timedelta:
    """Parse an SLA target such as ``4h``, ``1h30m``, ``3d`` or ``PT4H``.

    Raises ValueError for anything that is not a positive whole number of
    seconds in one of the accepted spellings.
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be text, got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise ValueError(f"empty duration ({_EXAMPLES})")

    parts = _match_parts(raw)
    if parts is None and _ISO_CALENDAR_UNITS.match(raw.upper()):
        raise ValueError(
            f"invalid duration {text!r}: ISO years and months have no fixed length,"
            " use days or weeks"
        )
    if parts is None:
        raise ValueError(f"invalid duration {text!r} ({_EXAMPLES})")

    days, hours, minutes, seconds = (int(p) if p else 0 for p in parts)
    try:
        value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        value = None
    if value is None or value > _MAX:
        raise ValueError(f"duration {text!r} is too long (at most {_MAX.days} days)")
    if value <= timedelta(0):
        raise ValueError(f"duration {text!r} must be longer than zero")
    return value


def _match_parts(raw: str) -> tuple[str | None, ...] | None:
    """Return (days, hours, minutes, seconds) digit strings, or None if no form matches."""
    if raw[0] in "Pp":
        iso = raw.upper()
        weeks = _ISO_WEEKS.fullmatch(iso)
        if weeks:
            return (str(int(weeks.group(1)) * 7), None, None, None)
        m = _ISO.fullmatch(iso)
        # "P" alone and "P1DT" (a T with nothing after it) are invalid ISO.
        if not m or not any(m.groups()) or iso.endswith("T"):
            return None
        return m.groups()
    m = _COMPACT.fullmatch(raw.lower())
    if not m or not any(m.groups()):
        return None
    weeks, days, *rest = m.groups()
    if weeks:
        days = str(int(weeks) * 7 + int(days or 0))
    return (days, *rest)


def format_duration(td: timedelta) -> str:
    """Write a duration canonically: ``4h``, ``1h30m``, ``3d``, ``1d12h``.

    Largest units first and no zero parts, so equal durations always print the
    same way and the output parses back with :func:`parse_duration`. Seconds
    appear only when present; sub-second parts are dropped (durations shown to
    people never need them). Zero prints as ``0m`` and negative values get a
    leading ``-`` so that displays of elapsed or overdue time never crash.
    """
    if not isinstance(td, timedelta):
        raise ValueError(f"expected a timedelta, got {type(td).__name__}")
    if td < timedelta(0):
        return "-" + format_duration(-td)
    remaining = td.days * 86400 + td.seconds
    if remaining == 0:
        return "0m"
    out = []
    for unit, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def format_brief(td: timedelta) -> str:
    """How a person reads a span of time, everywhere it is shown (left, overdue, ago, waits):
    the largest unit and the one below it when it is not zero: ``2d4h``, ``3d``, ``4h48m``,
    ``45m``; seconds only under a minute (``40s``). The rest is dropped, not rounded: a wait
    of 3d2h59m is 3d2h, which never claims more than has passed."""
    if not isinstance(td, timedelta):
        raise ValueError(f"expected a timedelta, got {type(td).__name__}")
    seconds = int(td.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s" if seconds else "0m"
    for n, (unit, size) in enumerate(_UNITS[:3]):
        if seconds >= size:
            text = f"{seconds // size}{unit}"
            below, below_size = _UNITS[n + 1]
            rest = seconds % size // below_size
            return sign + text + (f"{rest}{below}" if rest and below != "s" else "")
    raise AssertionError("unreachable: a minute or more always has a unit")


def format_target(td: timedelta) -> str:
    """``24h``, ``72h``, ``1h30m``: like format_duration, but hours are never folded into days.

    An SLA target of "1d" of business time reads like one business day when it means 24
    open hours, so targets and the business time counted against them are shown in hours.
    """
    seconds = int(td.total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    text = (f"{hours}h" if hours else "") + (format_duration(timedelta(seconds=rest)) if rest else "")
    return ("-" if seconds < 0 else "") + (text or "0m")
