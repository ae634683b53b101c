"""SLA target durations: what is accepted, what is refused, how it prints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportctl.domain.durations import format_brief, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("3d", timedelta(days=3)),
        ("2d4h30m", timedelta(days=2, hours=4, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("1d0h", timedelta(days=1)),
        ("  4h  ", timedelta(hours=4)),
        ("PT4H", timedelta(hours=4)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT90M", timedelta(minutes=90)),
        ("P3D", timedelta(days=3)),
        ("PT30S", timedelta(seconds=30)),
        ("P2W", timedelta(days=14)),
        ("4w", timedelta(days=28)),
        ("2w3d", timedelta(days=17)),
    ],
)
def test_compact_and_iso_durations_are_accepted(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0",
        "4x",
        "-1h",
        "h",
        "1.5h",
        "0h",
        "0d0h0m",
        "PT0H",
        "P0D",
        "4",
        "4 h",
        "1h2h",
        "30m1h",
        "m30",
        "P",
        "PT",
        "P1DT",
        "P1M",
        "P1Y",
        "PT1.5H",
        "P1W2D",
        "-PT4H",
        "99999999999h",
        "999999999d",
    ],
)
def test_bad_durations_are_rejected_with_value_error(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_iso_months_are_rejected_with_a_message_saying_why():
    with pytest.raises(ValueError, match="months"):
        parse_duration("P1M")


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(hours=4), "4h"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=3), "3d"),
        (timedelta(hours=36), "1d12h"),
        (timedelta(days=1, seconds=5), "1d5s"),
        (timedelta(0), "0m"),
        (timedelta(hours=-2), "-2h"),
        (timedelta(minutes=1, microseconds=500), "1m"),
    ],
)
def test_durations_format_with_largest_units_and_no_zero_parts(td, text):
    assert format_duration(td) == text


def test_equal_durations_written_differently_format_the_same():
    assert {format_duration(parse_duration(t)) for t in ("90m", "1h30m", "PT90M", "PT1H30M")} == {
        "1h30m"
    }


@given(st.integers(min_value=1, max_value=100 * 365 * 86400))
def test_formatted_duration_parses_back_to_the_same_value(seconds):
    td = timedelta(seconds=seconds)
    assert parse_duration(format_duration(td)) == td


@pytest.mark.parametrize(("td", "text"), [
    (timedelta(days=3, hours=2, minutes=59), "3d2h"),  # cut, not rounded
    (timedelta(hours=4, minutes=48, seconds=3), "4h48m"),
    (timedelta(minutes=45), "45m"),
    (timedelta(days=7), "7d"),
    (timedelta(0), "0m"),
    (-timedelta(hours=1, minutes=1, seconds=40), "-1h1m"),
    (timedelta(days=1, minutes=30), "1d"),  # the unit below days is hours, and it is zero
    (timedelta(hours=22, seconds=1), "22h"),
    (timedelta(minutes=45, seconds=30), "45m"),  # seconds only under a minute
    (timedelta(seconds=40), "40s"),
])
def test_brief_durations_keep_the_largest_unit_and_the_next(td, text):
    assert format_brief(td) == text
