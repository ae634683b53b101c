"""Business-hours calendars: when the SLA clock runs.

Opening hours are local wall-clock times ("we open at 09:00 in Berlin"), but
SLA arithmetic must count real elapsed time. The rule (docs/sla.md, "Daylight
saving"): a range is open while the wall clock shows a time inside it. So the
spring-forward Sunday of ``01:00-04:00`` is two real hours and the fall-back one
four; an edge inside a skipped hour takes effect when the clock jumps past it
(``01:30-02:30`` on a day that skips 02:00-03:00 is open 01:30-02:00, half an
hour), and a range that reaches into a repeated hour is open in both passes of
it. Every range is turned into UTC intervals by that rule and all counting
happens in UTC.

The calendar walks day by day, never minute by minute: a due date costs one
step per calendar day between start and due, whatever the target's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportctl.domain.timestamps import as_utc

__all__ = ["BusinessCalendar", "DAY_NAMES"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A (start, end) range of local times. ``end == time(0)`` means 24:00, since a
# range must end after it starts, 00:00 can never be a real end.
Range = tuple[time, time]
Interval = tuple[datetime, datetime]

MIDNIGHT = time(0)
_ONE_DAY = timedelta(days=1)
# How long `add` may search without finding any open time before it gives up.
# Only a calendar whose holidays cover years can hit it, but it must not hang.
_MAX_CLOSED_DAYS = 3 * 366
# How far past its start a due time may lie. A calendar open a minute a week would put a
# 366-day target 10,000 years away, after a walk of seconds per ticket: refused instead.
_MAX_SPAN_DAYS = 10 * 366

_GROUP = re.compile(r"([a-z][a-z,\-\s]*?)\s+(\d.*)", re.ASCII)
_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_HOURS_EXAMPLE = "e.g. 'mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00'"


def _zone(key: str) -> ZoneInfo:
    if not isinstance(key, str) or not key:
        raise ValueError("time zone is required, e.g. Europe/Berlin")
    try:
        return ZoneInfo(key)
    # zoneinfo reports bad keys in several ways (not found, malformed path,
    # a directory or a non-TZif file); to the user they are all one problem.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {key!r} (use an IANA name such as Europe/Berlin)"
        ) from exc


def _minutes(t: time, *, end: bool) -> int:
    """Minutes since local midnight, with an end of 00:00 meaning 24:00."""
    m = t.hour * 60 + t.minute
    return 24 * 60 if end and m == 0 else m


def _span(lo: int, hi: int) -> str:
    """Minutes since midnight -> "09:00-17:00"."""
    return f"{lo // 60:02d}:{lo % 60:02d}-{hi // 60:02d}:{hi % 60:02d}"


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening hours in one time zone, minus holidays.

    ``hours[i]`` holds the opening ranges of weekday ``i`` (0 = Monday), sorted
    and non-overlapping; a range ending at ``time(0)`` runs until 24:00.
    ``holidays`` are local dates on which nothing is open.
    """

    timezone: str
    hours: tuple[tuple[Range, ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        # Validate here too, not only in `parse`, so a calendar rebuilt from
        # stored columns can never be one that `add` would loop forever on.
        _zone(self.timezone)
        if len(self.hours) != 7:
            raise ValueError("opening hours need exactly 7 weekdays (Mon..Sun)")
        days = tuple(_check_day(DAY_NAMES[i], ranges) for i, ranges in enumerate(self.hours))
        if not any(days):
            raise ValueError("opening hours must open at least one range in the week")
        holidays = frozenset(self.holidays)
        if any(isinstance(h, datetime) or not isinstance(h, date) for h in holidays):
            raise ValueError("holidays must be dates (not dates with a time)")
        object.__setattr__(self, "hours", days)
        object.__setattr__(self, "holidays", holidays)

    @classmethod
    def parse(
        cls, timezone: str, hours: str, holidays: Iterable[str | date] = ()
    ) -> BusinessCalendar:
        """Build a calendar from user text; every problem is a ValueError."""
        tz = timezone.strip() if isinstance(timezone, str) else timezone
        _zone(tz)
        return cls(tz, _parse_hours(hours), frozenset(parse_holiday(h) for h in holidays))

    @property
    def hours_text(self) -> str:
        """Canonical weekly hours, e.g. ``mon-fri 09:00-17:00; sat 10:00-14:00``.

        Days with identical ranges share a group; `parse` accepts the text back.
        """
        groups: dict[tuple[Range, ...], list[int]] = {}
        for day, ranges in enumerate(self.hours):
            if ranges:
                groups.setdefault(ranges, []).append(day)
        return "; ".join(
            _day_runs(days)
            + " "
            + ",".join(_span(_minutes(s, end=False), _minutes(e, end=True)) for s, e in ranges)
            for ranges, days in groups.items()
        )

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)  # ZoneInfo caches instances per key

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The UTC instant at which `duration` of open time has elapsed after `start`.

        The clock starts at `start` if open, else at the next opening. A
        positive duration that runs out exactly at a closing time ends there
        (Fri 17:00, not Mon 09:00); a zero duration returns where the clock
        starts.
        """
        start_utc = as_utc(start, "start")
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        remaining = duration
        closed_days = 0
        last_day = self._local_date(start_utc) + timedelta(days=_MAX_SPAN_DAYS)
        for day, intervals in self._days(self._local_date(start_utc) - _ONE_DAY):
            if day > last_day:
                raise ValueError(f"{_hours_of(duration)} of open time would end more than "
                                 f"{_MAX_SPAN_DAYS // 366} years after {start_utc:%Y-%m-%d}: "
                                 "the calendar opens too rarely for that target")
            found = False
            for s, e in intervals:
                if e <= start_utc:
                    continue
                found = True
                s = max(s, start_utc)
                if remaining <= e - s:
                    return s + remaining
                remaining -= e - s
            closed_days = 0 if found else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(f"no open business hours for {_MAX_CLOSED_DAYS} days before {day}")
        raise ValueError("due time is beyond the supported date range")

    def open_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Open time within [a, b); zero when b <= a."""
        return sum((e - s for s, e in self.open_intervals(a, b)), timedelta(0))

    def open_intervals(self, a: datetime, b: datetime) -> Iterator[Interval]:
        """UTC (start, end) open intervals overlapping [a, b), clipped to it, in order."""
        a_utc, b_utc = as_utc(a, "a"), as_utc(b, "b")
        if b_utc <= a_utc:
            return
        # Intervals of local day D start no earlier than D's midnight, so the
        # walk can stop once it is past b's local date (one day of slack for
        # the fold=0 oddities around midnight DST shifts).
        last_day = self._local_date(b_utc) + _ONE_DAY
        for day, intervals in self._days(self._local_date(a_utc) - _ONE_DAY):
            if day > last_day:
                return
            for s, e in intervals:
                if s >= b_utc:
                    return
                if e > a_utc:
                    yield max(s, a_utc), min(e, b_utc)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def _raw_day(self, day: date) -> list[Interval]:
        """One local day's open ranges as sorted, merged UTC intervals: the instants at which
        the wall clock shows a time of `day` inside a range."""
        if day in self.holidays or not self.hours[day.weekday()]:
            return []
        # The wall clock is the instant plus the zone's offset, one offset on each side of
        # the day's transition (if it has one): a range [S, E) of wall time is [S - o, E - o)
        # of real time, for each offset o, kept to the part where o is in force.
        pieces = _offsets(self.zone, day)
        raw = []
        for s, e in self.hours[day.weekday()]:
            wall_start = datetime.combine(day, s, UTC)
            wall_end = datetime.combine(day + _ONE_DAY if e == MIDNIGHT else day, e, UTC)
            for offset, since, until in pieces:
                lo, hi = max(wall_start - offset, since), min(wall_end - offset, until)
                if hi > lo:
                    raw.append((lo, hi))
        raw.sort()
        merged: list[Interval] = []
        for s, e in raw:  # ranges that touch, or meet across a repeated hour, are one interval
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged

    def _days(self, first: date) -> Iterator[tuple[date, list[Interval]]]:
        """Yield (local date, disjoint UTC intervals) from `first` on, in time order.

        Each day is clipped against everything before it, so no instant is
        ever counted twice, even if a DST shift makes days overlap in UTC. The
        day before `first` seeds that clipping, so results don't depend on
        where a walk begins.
        """
        seed = self._raw_day(first - _ONE_DAY)
        running = seed[-1][1] if seed else datetime.min.replace(tzinfo=UTC)
        day = first
        while day < date.max:  # the last day's 24:00 would overflow
            out = []
            for s, e in self._raw_day(day):
                s = max(s, running)
                if e > s:
                    out.append((s, e))
                    running = e
            yield day, out
            day += _ONE_DAY


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _offsets(zone: ZoneInfo, day: date) -> list[tuple[timedelta, datetime, datetime]]:
    """The zone's UTC offsets while its wall clock can show `day`: (offset, in force from, until),
    one piece, or two around the day's transition.

    Offsets lie within ±26 hours, so every instant whose wall time falls on `day` lies within
    [day 00:00 - 26h, day 24:00 + 26h] UTC; a transition inside that window is found to the
    second by bisection (no zone changes its offset twice within those 76 hours).
    """
    lo = datetime.combine(day, MIDNIGHT, UTC) - timedelta(hours=26)
    hi = lo + timedelta(hours=76)
    before, after = lo.astimezone(zone).utcoffset(), hi.astimezone(zone).utcoffset()
    if before == after:
        return [(before, _EARLIEST, _LATEST)]
    while hi - lo > timedelta(seconds=1):  # the first second on the new offset
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return [(before, _EARLIEST, hi), (after, hi, _LATEST)]


def _check_day(name: str, ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sort one day's ranges and reject empty, inverted or overlapping ones."""
    spans = []
    for r in ranges:
        s, e = r
        if not all(isinstance(t, time) and t == t.replace(second=0, microsecond=0) for t in r):
            raise ValueError(f"{name}: opening range {r!r} must be two plain HH:MM times")
        lo, hi = _minutes(s, end=False), _minutes(e, end=True)
        if hi <= lo:
            raise ValueError(f"{name}: range {_span(lo, hi)} must end after it starts")
        spans.append((lo, hi, (s, e)))
    spans.sort()
    for (lo1, hi1, _), (lo2, hi2, _) in zip(spans, spans[1:]):
        if lo2 < hi1:
            raise ValueError(f"{name}: ranges {_span(lo1, hi1)} and {_span(lo2, hi2)} overlap")
    return tuple(r for _, _, r in spans)


def _parse_hours(text: str) -> tuple[tuple[Range, ...], ...]:
    if not isinstance(text, str):
        raise ValueError("opening hours must be text")
    week: list[list[Range]] = [[] for _ in DAY_NAMES]
    for group in text.lower().split(";"):
        group = group.strip()
        if not group:
            continue  # tolerate "a; b;" - a trailing separator hurts no one
        m = _GROUP.fullmatch(group)
        if not m:
            raise ValueError(
                f"cannot read hours {group!r}: expected days then times, {_HOURS_EXAMPLE}"
            )
        days = _parse_days(m.group(1))
        ranges = [_parse_range(r.strip()) for r in m.group(2).split(",")]
        for d in days:
            week[d].extend(ranges)
    if not any(week):
        raise ValueError(f"no opening hours given ({_HOURS_EXAMPLE})")
    return tuple(_check_day(DAY_NAMES[i], rs) for i, rs in enumerate(week))


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for item in re.sub(r"\s+", "", text).split(","):
        ends = item.split("-") if item.count("-") == 1 else [item]
        for name in ends:
            if name not in DAY_NAMES:
                raise ValueError(f"unknown day {name!r} (use {', '.join(DAY_NAMES)})")
        lo, hi = DAY_NAMES.index(ends[0]), DAY_NAMES.index(ends[-1])
        if hi < lo:
            raise ValueError(f"day range {item!r} runs backwards (weeks run mon..sun)")
        days.extend(d for d in range(lo, hi + 1) if d not in days)
    return days


def _parse_range(text: str) -> Range:
    m = _RANGE.fullmatch(text)
    if not m:
        raise ValueError(f"cannot read time range {text!r}: expected HH:MM-HH:MM")
    sh, sm, eh, em = (int(g) for g in m.groups())
    for h, mi in ((sh, sm), (eh, em)):
        if mi > 59 or h > 24 or (h == 24 and mi != 0):
            raise ValueError(f"invalid time {h:02d}:{mi:02d} in {text!r}")
    if sh == 24:
        raise ValueError(f"24:00 can only end a range, not start one ({text!r})")
    if eh == em == 0:  # 00:00 as an end is ambiguous to readers; 24:00 is not
        raise ValueError(f"time range {text!r} must end after it starts (write 24:00 for midnight)")
    return time(sh, sm), time(eh % 24, em)  # inverted ranges: see _check_day


def parse_holiday(value: str | date) -> date:
    if isinstance(value, date):
        return value  # datetimes are refused by __post_init__
    text = value.strip() if isinstance(value, str) else ""
    try:
        # fromisoformat alone would also take "20261225" and week dates.
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"invalid holiday {value!r}: expected a real date like 2026-12-25")


def _hours_of(td: timedelta) -> str:
    return f"{int(td.total_seconds()) // 3600}h"


def _day_runs(days: list[int]) -> str:
    """``[0,1,2,4]`` -> ``mon-wed,fri``: consecutive days collapse into ranges."""
    # Within a run of consecutive days, day - position is constant.
    runs = [[d for _, d in g] for _, g in groupby(enumerate(days), lambda p: p[1] - p[0])]
    return ",".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs
    )
