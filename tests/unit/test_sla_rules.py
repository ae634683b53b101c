"""SLA due-date rules: targets, pauses, metric states and the explanation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportctl.domain.calendar import BusinessCalendar
from supportctl.domain.durations import parse_duration
from supportctl.domain.sla import (
    DEFAULT_POLICY,
    add_target,
    due_dates,
    elapsed,
    explain_due,
    metric_state,
)
from supportctl.domain.timestamps import iso_z

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
OFFICE = BusinessCalendar.parse("Europe/Berlin", "mon-fri 09:00-17:00", ["2026-12-24"])


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_policy_has_response_and_resolution_targets_per_priority():
    assert DEFAULT_POLICY == {
        "critical": (1 * H, 8 * H),
        "high": (4 * H, 24 * H),
        "medium": (24 * H, 72 * H),
        "low": (72 * H, 168 * H),
    }


def test_without_a_calendar_the_clock_runs_24x7():
    assert add_target(utc(2026, 11, 21, 22), 4 * H, None) == utc(2026, 11, 22, 2)
    assert elapsed(utc(2026, 11, 21, 22), utc(2026, 11, 22, 2), None) == 4 * H
    assert elapsed(utc(2026, 11, 22, 2), utc(2026, 11, 21, 22), None) == timedelta(0)


def test_24x7_clock_counts_real_hours_across_dst():
    start = berlin(2026, 3, 29, 0, 0)
    assert add_target(start, 24 * H, None) == berlin(2026, 3, 30, 1, 0)


def test_friday_afternoon_high_ticket_is_due_monday_late_morning():
    response, _ = DEFAULT_POLICY["high"]
    assert add_target(berlin(2026, 11, 20, 15, 0), response, OFFICE) == berlin(2026, 11, 23, 11, 0)


def test_business_elapsed_time_skips_the_weekend():
    assert elapsed(berlin(2026, 11, 20, 16), berlin(2026, 11, 23, 10), OFFICE) == 2 * H


def test_due_dates_add_response_and_resolution_targets_from_creation():
    response_due, resolution_due = due_dates(utc(2026, 11, 23, 10), 4 * H, 24 * H, None)
    assert response_due == utc(2026, 11, 23, 14)
    assert resolution_due == utc(2026, 11, 24, 10)


def test_ten_hours_of_pause_move_24x7_resolution_due_ten_hours_later():
    created = utc(2026, 11, 23, 10)
    pause = elapsed(utc(2026, 11, 23, 12), utc(2026, 11, 23, 22), None)
    plain = due_dates(created, 4 * H, 24 * H, None)
    paused = due_dates(created, 4 * H, 24 * H, None, paused=pause)
    assert paused[0] == plain[0]  # a pause never moves the response target
    assert paused[1] == plain[1] + 10 * H


def test_pause_over_a_weekend_moves_business_resolution_by_open_time_only():
    created = berlin(2026, 11, 19, 10)  # Thursday
    # Pending from Fri 16:00 to Mon 10:00: two open hours.
    pause = elapsed(berlin(2026, 11, 20, 16), berlin(2026, 11, 23, 10), OFFICE)
    assert pause == 2 * H
    _, plain = due_dates(created, 4 * H, 8 * H, OFFICE)
    _, moved = due_dates(created, 4 * H, 8 * H, OFFICE, paused=pause)
    assert plain == berlin(2026, 11, 20, 10)
    assert moved == berlin(2026, 11, 20, 12)


def test_pause_added_as_business_time_carries_over_closed_periods():
    # Due Fri 16:00; 3h of pause must land Mon 11:00, not Fri 19:00.
    _, moved = due_dates(berlin(2026, 11, 20, 9), H, 7 * H, OFFICE, paused=3 * H)
    assert moved == berlin(2026, 11, 23, 11)


def test_negative_targets_pauses_and_naive_times_are_rejected():
    with pytest.raises(ValueError):
        add_target(utc(2026, 11, 23), -H, None)
    with pytest.raises(ValueError):
        due_dates(utc(2026, 11, 23), H, H, None, paused=-H)
    with pytest.raises(ValueError):
        add_target(datetime(2026, 11, 23, 10), H, None)
    with pytest.raises(ValueError):
        elapsed(datetime(2026, 11, 23, 10), utc(2026, 11, 23, 12), OFFICE)


DUE = utc(2026, 11, 23, 12)


@pytest.mark.parametrize(
    ("met_at", "now", "paused", "state"),
    [
        (utc(2026, 11, 23, 11), utc(2026, 11, 23, 13), False, "met"),
        (DUE, utc(2026, 11, 23, 13), False, "met"),
        (utc(2026, 11, 23, 12, 1), utc(2026, 11, 23, 13), False, "met_late"),
        (None, utc(2026, 11, 23, 13), False, "breached"),
        (None, utc(2026, 11, 23, 13), True, "breached"),
        (None, utc(2026, 11, 23, 11), True, "paused"),
        (None, utc(2026, 11, 23, 11), False, "running"),
        (None, DUE, False, "running"),
    ],
)
def test_metric_state_follows_met_time_due_time_and_pause(met_at, now, paused, state):
    assert metric_state(met_at, DUE, now, paused) == state


def test_overdue_ticket_stays_breached_while_pending():
    assert metric_state(None, DUE, DUE + timedelta(seconds=1), paused=True) == "breached"


def test_24x7_explanation_is_one_line():
    assert explain_due(utc(2026, 11, 23, 10), 4 * H, None) == [
        "created 2026-11-23T10:00:00Z + 4h (24x7) = 2026-11-23T14:00:00Z"
    ]


def test_business_explanation_lists_each_day_counted_closed_or_holiday():
    lines = explain_due(berlin(2026, 12, 23, 15), 12 * H, OFFICE)
    assert lines == [
        "created Wed 2026-12-23 15:00 Europe/Berlin + 12h of business hours (mon-fri 09:00-17:00)",
        "Wed 2026-12-23 15:00–17:00: 2h counted (2h of 12h)",
        "Thu 2026-12-24: holiday",
        "Fri 2026-12-25 09:00–17:00: 8h counted (10h of 12h)",
        "Sat 2026-12-26: closed",
        "Sun 2026-12-27: closed",
        "Mon 2026-12-28 09:00–11:00: 2h counted (12h of 12h) → due 11:00",
        "due Mon 2026-12-28 11:00 Europe/Berlin = 2026-12-28T10:00:00Z",
    ]


def test_explanation_of_friday_afternoon_ticket_ends_monday_at_eleven():
    lines = explain_due(berlin(2026, 11, 20, 15), 4 * H, OFFICE)
    assert lines[1] == "Fri 2026-11-20 15:00–17:00: 2h counted (2h of 4h)"
    assert lines[2:4] == ["Sat 2026-11-21: closed", "Sun 2026-11-22: closed"]
    assert lines[4] == "Mon 2026-11-23 09:00–11:00: 2h counted (4h of 4h) → due 11:00"


def test_explanation_shows_lunch_breaks_and_a_start_after_closing():
    lunch = BusinessCalendar.parse("Europe/Berlin", "mon-fri 09:00-12:00,13:00-17:00")
    lines = explain_due(berlin(2026, 11, 23, 18), 10 * H, lunch)
    assert lines[1:] == [
        "Mon 2026-11-23: no open time after 18:00",
        "Tue 2026-11-24 09:00–12:00, 13:00–17:00: 7h counted (7h of 10h)",
        "Wed 2026-11-25 09:00–12:00: 3h counted (10h of 10h) → due 12:00",
        "due Wed 2026-11-25 12:00 Europe/Berlin = 2026-11-25T11:00:00Z",
    ]


def test_explanation_writes_a_range_ending_at_midnight_as_24_00():
    always = BusinessCalendar.parse("Europe/Berlin", "mon-sun 00:00-24:00")
    lines = explain_due(berlin(2026, 3, 28, 22), 26 * H, always)
    assert lines[1] == "Sat 2026-03-28 22:00–24:00: 2h counted (2h of 26h)"
    assert lines[2] == "Sun 2026-03-29 00:00–24:00: 23h counted (25h of 26h)"


@given(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(["1h", "4h", "8h", "24h", "3d", "168h", "90m"]),
    st.sampled_from([None, OFFICE]),
)
def test_explanation_always_ends_at_the_computed_due_time(start, target_text, calendar):
    target = parse_duration(target_text)
    due = add_target(start, target, calendar)
    assert explain_due(start, target, calendar)[-1].endswith(iso_z(due))
