"""Business-hours calendars: parsing, open-time arithmetic, DST, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from supportctl.domain.calendar import BusinessCalendar

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def office(hours: str = "mon-fri 09:00-17:00", holidays=()) -> BusinessCalendar:
    return BusinessCalendar.parse("Europe/Berlin", hours, holidays)


def local_day(cal: BusinessCalendar, day: date, tz: str | None = None) -> timedelta:
    """Open time of one whole local day (in Berlin, or `tz`)."""
    midnight = datetime.combine(day, time(0), ZoneInfo(tz) if tz else BERLIN)
    # Aware + timedelta is wall-clock arithmetic: the next local midnight.
    return cal.open_time_between(midnight, midnight + timedelta(days=1))


def test_simple_office_hours_parse_into_weekday_ranges():
    cal = office()
    assert cal.timezone == "Europe/Berlin"
    assert cal.hours[0] == ((time(9), time(17)),)
    assert cal.hours[4] == ((time(9), time(17)),)
    assert cal.hours[5] == cal.hours[6] == ()
    assert cal.holidays == frozenset()


def test_lunch_breaks_and_saturday_hours_parse_into_several_ranges():
    cal = office("mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00")
    assert cal.hours[2] == ((time(9), time(12)), (time(13), time(17)))
    assert cal.hours[5] == ((time(10), time(14)),)
    assert cal.hours[6] == ()


def test_comma_listed_days_and_24_00_end_are_understood():
    cal = office("mon,wed,fri 00:00-24:00")
    assert cal.hours[0] == cal.hours[2] == cal.hours[4] == ((time(0), time(0)),)
    assert cal.hours[1] == ()
    assert local_day(cal, date(2026, 11, 23)) == 24 * H


def test_holidays_accept_iso_strings_and_dates():
    cal = office(holidays=["2026-12-24", date(2026, 12, 25)])
    assert cal.holidays == {date(2026, 12, 24), date(2026, 12, 25)}


@pytest.mark.parametrize(
    ("given_text", "canonical"),
    [
        ("mon-fri 09:00-17:00", "mon-fri 09:00-17:00"),
        ("MON-FRI 9:00-17:00", "mon-fri 09:00-17:00"),
        ("mon,tue,wed,thu,fri 09:00-17:00", "mon-fri 09:00-17:00"),
        (
            "sat 10:00-14:00; mon-fri 13:00-17:00,09:00-12:00",
            "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00",
        ),
        ("mon,wed,fri 08:00-24:00", "mon,wed,fri 08:00-24:00"),
        ("mon-wed,fri 09:00-17:00; thu 10:00-16:00;", "mon-wed,fri 09:00-17:00; thu 10:00-16:00"),
    ],
)
def test_hours_text_is_canonical_and_parses_back(given_text, canonical):
    cal = office(given_text)
    assert cal.hours_text == canonical
    assert office(cal.hours_text) == cal


@pytest.mark.parametrize(
    "hours",
    [
        "",
        " ; ",
        "mon-fri",
        "09:00-17:00",
        "xyz 09:00-17:00",
        "monday 09:00-17:00",
        "fri-mon 09:00-17:00",
        "mon-fri 17:00-09:00",
        "mon-fri 09:00-09:00",
        "mon-fri 09:00-13:00,12:00-17:00",
        "mon-fri 09:00-17:00; wed 16:00-18:00",
        "mon 24:00-24:00",
        "mon 09:60-17:00",
        "mon 25:00-26:00",
        "mon 00:00-24:30",
        "mon 09:00-00:00",
        "mon 00:00-00:00",
        "mon 9-17",
        "mon 09:00",
        "mon-fri 09:00-17:00 extra",
        "mon-fri 09:00-12:00,",
        "mon; 09:00-17:00",
    ],
)
def test_bad_hours_text_is_rejected_with_value_error(hours):
    with pytest.raises(ValueError):
        office(hours)


def test_overlapping_ranges_error_names_the_day_and_ranges():
    with pytest.raises(ValueError, match=r"wed: ranges 09:00-17:00 and 16:00-18:00 overlap"):
        office("mon-fri 09:00-17:00; wed 16:00-18:00")


BAD_ZONES = ["", "Mars/Olympus", "Europe", "europe/berlin", "../etc/passwd", "/etc/localtime", "+1"]


@pytest.mark.parametrize("tz", BAD_ZONES)
def test_unknown_time_zones_are_rejected_with_value_error(tz):
    with pytest.raises(ValueError, match="time zone"):
        BusinessCalendar.parse(tz, "mon-fri 09:00-17:00")


@pytest.mark.parametrize("holiday", ["2026-13-01", "2026-02-30", "20261225", "25.12.2026", "x"])
def test_bad_holidays_are_rejected_with_value_error(holiday):
    with pytest.raises(ValueError, match="holiday"):
        office(holidays=[holiday])


def test_a_calendar_built_directly_is_validated_too():
    with pytest.raises(ValueError):
        BusinessCalendar("Europe/Berlin", ((),) * 7, frozenset())
    with pytest.raises(ValueError):
        BusinessCalendar("Europe/Berlin", (((time(9), time(17)),),) * 5, frozenset())
    with pytest.raises(ValueError):
        BusinessCalendar("Nowhere/Land", (((time(9), time(17)),),) * 7, frozenset())
    with pytest.raises(ValueError):
        BusinessCalendar(
            "Europe/Berlin", (((time(9), time(17)),),) * 7, frozenset({datetime(2026, 1, 1)})
        )


# ------------------------------------------------------------------ arithmetic


def test_friday_afternoon_four_hours_are_due_monday_late_morning():
    due = office().add(berlin(2026, 11, 20, 15, 0), 4 * H)
    assert due == berlin(2026, 11, 23, 11, 0)
    assert due.tzinfo == UTC


def test_clock_started_outside_hours_waits_for_next_opening():
    cal = office()
    assert cal.add(berlin(2026, 11, 21, 12, 0), 2 * H) == berlin(2026, 11, 23, 11, 0)
    assert cal.add(berlin(2026, 11, 23, 7, 0), 2 * H) == berlin(2026, 11, 23, 11, 0)


def test_target_that_runs_out_at_closing_time_is_due_at_closing_not_next_opening():
    assert office().add(berlin(2026, 11, 20, 15, 0), 2 * H) == berlin(2026, 11, 20, 17, 0)


def test_zero_duration_is_start_when_open_else_the_next_opening():
    cal = office()
    assert cal.add(berlin(2026, 11, 20, 15, 0), timedelta(0)) == berlin(2026, 11, 20, 15, 0)
    assert cal.add(berlin(2026, 11, 20, 17, 0), timedelta(0)) == berlin(2026, 11, 23, 9, 0)


def test_holiday_is_skipped_entirely():
    cal = office(holidays=["2026-12-24", "2026-12-25"])
    # Wed 23 Dec 15:00 + 4h: 2h on Wed, Thu+Fri are holidays, weekend, Mon 28th 11:00.
    assert cal.add(berlin(2026, 12, 23, 15, 0), 4 * H) == berlin(2026, 12, 28, 11, 0)
    assert local_day(cal, date(2026, 12, 24)) == timedelta(0)


def test_lunch_break_does_not_count():
    cal = office("mon-fri 09:00-12:00,13:00-17:00")
    assert cal.add(berlin(2026, 11, 23, 11, 0), 2 * H) == berlin(2026, 11, 23, 14, 0)
    assert cal.add(berlin(2026, 11, 23, 12, 30), H) == berlin(2026, 11, 23, 14, 0)
    assert cal.open_time_between(berlin(2026, 11, 23, 8), berlin(2026, 11, 23, 18)) == 7 * H


def test_open_intervals_are_utc_and_clipped_to_the_window():
    cal = office("mon-fri 09:00-12:00,13:00-17:00")
    got = list(cal.open_intervals(berlin(2026, 11, 20, 11, 0), berlin(2026, 11, 23, 10, 0)))
    assert got == [
        (berlin(2026, 11, 20, 11), berlin(2026, 11, 20, 12)),
        (berlin(2026, 11, 20, 13), berlin(2026, 11, 20, 17)),
        (berlin(2026, 11, 23, 9), berlin(2026, 11, 23, 10)),
    ]
    assert all(s.tzinfo == UTC and e.tzinfo == UTC for s, e in got)


def test_open_time_between_is_zero_for_empty_or_reversed_windows():
    cal = office()
    assert cal.open_time_between(berlin(2026, 11, 23, 10), berlin(2026, 11, 23, 10)) == timedelta(0)
    assert cal.open_time_between(berlin(2026, 11, 23, 12), berlin(2026, 11, 23, 10)) == timedelta(0)


def test_office_still_opens_at_nine_local_after_the_spring_dst_weekend():
    # Fri 27 Mar 2026 is CET (UTC+1); Mon 30 Mar is CEST (UTC+2).
    due = office().add(berlin(2026, 3, 27, 15, 0), 4 * H)
    assert due == berlin(2026, 3, 30, 11, 0)
    assert due == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def test_round_the_clock_hours_count_real_time_on_dst_sundays():
    cal = office("mon-sun 00:00-24:00")
    assert local_day(cal, date(2026, 3, 29)) == 23 * H
    assert local_day(cal, date(2026, 10, 25)) == 25 * H
    assert cal.add(berlin(2026, 3, 29, 0, 0), 24 * H) == berlin(2026, 3, 30, 1, 0)


def test_night_hours_across_dst_shifts_count_real_elapsed_time():
    cal = office("mon-sun 01:00-04:00")
    assert local_day(cal, date(2026, 3, 28)) == 3 * H
    assert local_day(cal, date(2026, 3, 29)) == 2 * H  # 02:00-03:00 does not exist
    assert local_day(cal, date(2026, 10, 25)) == 4 * H  # 02:00-03:00 happens twice
    assert cal.add(berlin(2026, 3, 29, 1, 0), 2 * H) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    assert cal.add(berlin(2026, 10, 25, 1, 0), 4 * H) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)


def test_ranges_in_the_spring_gap_neither_crash_nor_double_count():
    gap_only = office("mon-sun 02:00-03:00")
    assert local_day(gap_only, date(2026, 3, 29)) == timedelta(0)
    assert local_day(gap_only, date(2026, 10, 25)) == 2 * H
    split = office("mon-sun 01:00-02:30,03:00-05:00")
    # The clock jumps from 02:00 CET to 03:00 CEST, past the 02:30 edge: 01:00-02:00 CET, then 03:00-05:00 CEST.
    assert local_day(split, date(2026, 3, 29)) == 3 * H
    start_in_gap = berlin(2026, 3, 29, 2, 30)  # does not exist; must not crash
    assert split.open_time_between(start_in_gap, split.add(start_in_gap, H)) == H


def test_naive_datetimes_and_negative_durations_are_rejected():
    cal = office()
    with pytest.raises(ValueError):
        cal.add(datetime(2026, 11, 20, 15), H)
    with pytest.raises(ValueError):
        cal.add(berlin(2026, 11, 20, 15), -H)
    with pytest.raises(ValueError):
        cal.open_time_between(datetime(2026, 11, 20), berlin(2026, 11, 21))


def test_a_calendar_closed_for_years_by_holidays_gives_up_instead_of_hanging():
    mondays = [date(2026, 11, 23) + timedelta(weeks=w) for w in range(4 * 53)]
    cal = office("mon 09:00-10:00", holidays=mondays)
    with pytest.raises(ValueError, match="no open business hours"):
        cal.add(berlin(2026, 11, 20, 12), H)


# ---------------------------------------------------------------- properties

CALENDARS = [
    office(),
    office("mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00", ["2026-12-24", "2027-01-01"]),
    office("mon-sun 00:00-24:00"),
    office("mon-sun 01:00-04:00"),
    office("mon-sun 01:00-02:30,03:00-05:00"),
    BusinessCalendar.parse("America/New_York", "mon-fri 08:00-20:00; sun 00:00-03:00"),
    BusinessCalendar.parse("Australia/Lord_Howe", "mon-sun 01:00-03:00,22:00-24:00"),
]

# Instants anywhere in 2026-2027, plus a generous share near Berlin's DST switches.
_DST = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]
instants = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda base, minutes: base + timedelta(minutes=minutes),
        st.sampled_from(_DST),
        st.integers(-3 * 24 * 60, 3 * 24 * 60),
    ),
)
durations = st.integers(0, 60 * 3600).map(lambda s: timedelta(seconds=s))
positive_durations = st.integers(1, 60 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from(CALENDARS)


@given(calendars, instants, durations, positive_durations)
def test_adding_in_two_steps_equals_adding_the_sum(cal, start, a, b):
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@given(calendars, instants, positive_durations)
def test_due_time_has_exactly_the_target_of_open_time_and_ends_in_an_open_interval(cal, start, d):
    due = cal.add(start, d)
    assert due >= start
    assert cal.open_time_between(start, due) == d
    around = cal.open_intervals(due - timedelta(days=2), due + timedelta(days=2))
    assert any(s < due <= e for s, e in around)


@given(calendars, instants, st.integers(0, 20 * 86400), st.integers(0, 20 * 86400))
def test_open_time_is_additive_over_split_points(cal, a, x, y):
    b = a + timedelta(seconds=x)
    c = b + timedelta(seconds=y)
    assert cal.open_time_between(a, c) == cal.open_time_between(a, b) + cal.open_time_between(b, c)


@given(calendars, instants, st.integers(0, 20 * 86400))
def test_open_intervals_are_ordered_disjoint_and_inside_the_window(cal, a, x):
    b = a + timedelta(seconds=x)
    got = list(cal.open_intervals(a, b))
    assert all(a <= s < e <= b for s, e in got)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(got, got[1:]))


def quarter(q: int) -> time:
    """The q-th quarter hour of a day; q == 96 is 24:00, stored as time(0)."""
    return time(q // 4 % 24, q % 4 * 15)


@st.composite
def weekly_hours(draw):
    """Random valid weeks: up to three ranges a day on quarter-hour boundaries."""
    week = []
    for _ in range(7):
        marks = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        pairs = zip(marks[::2], marks[1::2])  # an odd last mark is dropped
        week.append(tuple((quarter(s), quarter(e)) for s, e in pairs))
    assume(any(week))
    return tuple(week)


def weekly_open_minutes(hours) -> int:
    def minutes(t: time) -> int:
        return t.hour * 60 + t.minute

    return sum((minutes(e) or 1440) - minutes(s) for day in hours for s, e in day)


@given(weekly_hours())
def test_any_valid_weekly_hours_round_trip_through_hours_text(hours):
    cal = BusinessCalendar("Europe/Berlin", hours, frozenset())
    assert BusinessCalendar.parse("Europe/Berlin", cal.hours_text).hours == cal.hours


@given(
    weekly_hours(),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
    instants,
    st.data(),
)
def test_add_and_open_time_agree_for_arbitrary_hours_and_zones(hours, tz, start, data):
    cal = BusinessCalendar(tz, hours, frozenset())
    # At most ~4 weeks of open time, so sparse calendars stay quick to walk.
    most = 4 * weekly_open_minutes(hours)
    a, b = (timedelta(minutes=data.draw(st.integers(1, most))) for _ in range(2))
    due = cal.add(start, a)
    assert cal.open_time_between(start, due) == a
    assert cal.add(due, b) == cal.add(start, a + b)


# ------------------------------------------------- the wall-clock rule at DST edges


def test_an_edge_inside_a_skipped_hour_takes_effect_when_the_clock_jumps_past_it():
    # New York, Sun 8 Mar 2026: 02:00 EST jumps to 03:00 EDT (07:00Z). Of 01:30-02:30 the wall
    # clock shows 01:30-02:00 only (06:30Z-07:00Z), then 03:30-04:00 EDT is 07:30Z-08:00Z:
    # an hour of critical response from 06:00Z ends at 08:00Z.
    cal = BusinessCalendar.parse("America/New_York", "sun 01:30-02:30,03:30-04:00; mon-fri 09:00-17:00")
    start = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    assert cal.add(start, H) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert list(cal.open_intervals(start, start + 4 * H)) == [
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC)),
    ]


def test_a_range_in_a_repeated_hour_is_open_in_both_passes():
    # New York, Sun 1 Nov 2026: 02:00 EDT falls back to 01:00 EST (06:00Z), so 01:00-02:00 is
    # shown twice. 01:15-01:45 is open 05:15Z-05:45Z (EDT) and 06:15Z-06:45Z (EST): an hour.
    cal = BusinessCalendar.parse("America/New_York", "sun 01:15-01:45")
    day = list(cal.open_intervals(datetime(2026, 11, 1, 0, tzinfo=UTC), datetime(2026, 11, 2, 0, tzinfo=UTC)))
    assert day == [(datetime(2026, 11, 1, 5, 15, tzinfo=UTC), datetime(2026, 11, 1, 5, 45, tzinfo=UTC)),
                   (datetime(2026, 11, 1, 6, 15, tzinfo=UTC), datetime(2026, 11, 1, 6, 45, tzinfo=UTC))]
    # 01:30-03:00: 01:30-02:00 EDT (30m), then 01:30 EST-03:00 EST (1h30): two hours.
    assert local_day(BusinessCalendar.parse("America/New_York", "sun 01:30-03:00"), date(2026, 11, 1),
                     "America/New_York") == 2 * H


def _wall_clock_minutes(cal: BusinessCalendar, a: datetime, b: datetime) -> int:
    """Open minutes in [a, b), counted one real minute at a time by reading the wall clock."""
    zone, count, x = ZoneInfo(cal.timezone), 0, a
    while x < b:
        local = x.astimezone(zone)
        wall = local.hour * 60 + local.minute
        if local.date() not in cal.holidays:
            for s, e in cal.hours[local.weekday()]:
                if s.hour * 60 + s.minute <= wall < (e.hour * 60 + e.minute or 1440):
                    count += 1
                    break
        x += timedelta(minutes=1)
    return count


# Transitions of five zones in 2026: New York, Berlin, Lord Howe (a 30-minute shift), Chatham
# (+12:45/+13:45, at 02:45 local) and Santiago (which falls back from 24:00 to 23:00).
_TRANSITIONS = {
    "America/New_York": [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)],
    "Europe/Berlin": [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)],
    "Australia/Lord_Howe": [datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC)],
    "Pacific/Chatham": [datetime(2026, 4, 4, 14, tzinfo=UTC), datetime(2026, 9, 26, 14, tzinfo=UTC)],
    "America/Santiago": [datetime(2026, 4, 5, 3, tzinfo=UTC), datetime(2026, 9, 6, 4, tzinfo=UTC)],
}


@st.composite
def minute_hours(draw):
    """Up to three ranges a day on whole minutes, so edges fall inside skipped and repeated hours."""
    week = []
    for _ in range(7):
        marks = sorted(draw(st.sets(st.integers(0, 1440), max_size=6)))
        week.append(tuple((time(s // 60, s % 60), time(e // 60 % 24, e % 60)) for s, e in zip(marks[::2], marks[1::2])))
    assume(any(week))
    return tuple(week)


@given(minute_hours(), st.sampled_from(sorted(_TRANSITIONS)), st.data())
def test_open_time_across_any_zones_transition_equals_the_wall_clock_counted_minute_by_minute(hours, tz, data):
    cal = BusinessCalendar(tz, hours, frozenset())
    around = data.draw(st.sampled_from(_TRANSITIONS[tz]))
    a = around + timedelta(minutes=data.draw(st.integers(-36 * 60, 12 * 60)))
    b = a + timedelta(minutes=data.draw(st.integers(0, 48 * 60)))
    counted = _wall_clock_minutes(cal, a, b)
    assert cal.open_time_between(a, b) == timedelta(minutes=counted)
    if counted:  # and the walk agrees: that much open time from a ends at the last counted minute's end
        due = cal.add(a, timedelta(minutes=counted))
        assert due <= b and _wall_clock_minutes(cal, a, due) == counted
