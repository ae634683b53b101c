"""Quiet hours: when a ladder step's notifications wait (docs/escalation.md, "Quiet hours").

The quiet periods are a BusinessCalendar whose "open" ranges are the quiet ones, so the
time zone, the day names and the DST handling are the calendar's own. Quiet hours often run
overnight: a daily `22:00-07:00` is read as `mon-sun 00:00-07:00,22:00-24:00`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from supportctl.domain.calendar import BusinessCalendar

_DAILY = re.compile(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", re.ASCII)
_LOOK_AHEAD = timedelta(days=8)  # a quiet period is at most a week, then it is a closed desk


def hours_spec(text: str) -> str:
    """The calendar spelling of quiet hours: a bare daily range may run past midnight."""
    m = _DAILY.fullmatch(text)
    if not m:
        return text
    start, end = m.groups()
    for t in (start, end):  # before the rewriting, which would show the calendar another text
        hours, mins = map(int, t.split(":"))
        if hours > 24 or mins > 59 or (hours == 24 and mins):
            raise ValueError(f"invalid time {t} in {text.strip()!r}")
    minutes = [int(h) * 60 + int(mi) for h, mi in (t.split(":") for t in (start, end))]
    if minutes[1] == 0:
        end = "24:00"
    elif minutes[1] < minutes[0]:
        return f"mon-sun 00:00-{end},{start}-24:00"
    return f"mon-sun {start}-{end}"

@dataclass(frozen=True)
class QuietHours:
    calendar: BusinessCalendar
    exempt: frozenset[str]  # priorities whose notifications never wait

    @classmethod
    def parse(cls, timezone: str, hours: str, exempt: tuple[str, ...] = ()) -> QuietHours:
        """Every problem is a ValueError (the calendar's messages)."""
        return cls(BusinessCalendar.parse(timezone, hours_spec(hours)), frozenset(exempt))

    def release(self, now: datetime, priority: str) -> datetime:
        """When a notification queued at `now` for a ticket of `priority` may first go out:
        `now`, or the end of the quiet period `now` falls in."""
        if priority in self.exempt:
            return now
        end = None
        for start, stop in self.calendar.open_intervals(now, now + _LOOK_AHEAD):
            if end is None:
                if start > now:
                    return now  # not quiet now
                end = stop
            elif start <= end:  # one period across midnight: 22:00-24:00 then 00:00-07:00
                end = stop
            else:
                break
        return now if end is None else end
