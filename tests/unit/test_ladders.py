"""The step language and the firing rule (domain/ladders.py), and quiet hours (domain/quiet.py)."""

from datetime import datetime, timezone

import pytest

from supportctl.domain.ladders import Firing, StepError, due, parse_step, parse_steps
from supportctl.domain.quiet import QuietHours, hours_spec

DAY = 86400


@pytest.mark.parametrize("spec", [
    "at=75% notify=assignee",
    "at=+2h metric=resolution reassign=senior",
    "at=-30m metric=response notify=lead notify=oncall@example.com escalate",
    "at=100% escalate reassign=team repeat=1h max=3",
])
def test_a_step_reads_back_from_its_canonical_text(spec):
    step = parse_step(1, spec)
    assert step.text() == spec
    assert parse_step(1, step.text()) == step


def test_words_may_come_in_any_order_and_case():
    step = parse_step(2, "NOTIFY=Lead,assignee metric=RESOLUTION at=50%")
    assert step.text() == "at=50% metric=resolution notify=lead notify=assignee"
    assert step.actions == [("notify", "lead"), ("notify", "assignee")]


def test_escalate_and_reassign_come_before_notify_whatever_the_order_written():
    step = parse_step(1, "at=100% notify=assignee reassign=senior escalate")
    assert [a for a, _ in step.actions] == ["escalate", "reassign", "notify"]


def test_thresholds_are_the_cycle_time_left_when_a_step_comes_due():
    # 24h target: 50% is due with 12h left, +2h with 2h gone past due, -30m with 30m left.
    assert parse_step(1, "at=50% escalate").threshold(DAY) == 12 * 3600
    assert parse_step(1, "at=+2h escalate").threshold(DAY) == -7200
    assert parse_step(1, "at=-30m escalate").threshold(DAY) == 1800
    # A repeat every hour: the second firing one more hour on.
    assert parse_step(1, "at=50% escalate repeat=1h max=2").threshold(DAY, repeat=1) == 11 * 3600


STEPS = parse_steps(["at=50% metric=resolution notify=assignee", "at=100% metric=resolution escalate",
                     "at=+2h metric=resolution reassign=senior", "at=-1h metric=response notify=lead"])


def test_nothing_is_due_before_the_first_threshold():
    assert due(STEPS, "resolution", DAY, left=12 * 3600 + 1, claimed=set()) == ([], [])


def test_the_latest_due_step_fires_and_the_earlier_unclaimed_ones_are_skipped():
    fire, skip = due(STEPS, "resolution", DAY, left=-3 * 3600, claimed={Firing(1, 0)})
    assert fire == [Firing(3, 0)] and skip == [Firing(2, 0)]
    assert due(STEPS, "resolution", DAY, left=-3 * 3600, claimed={Firing(1, 0), Firing(2, 0), Firing(3, 0)}) == (
        [], [])


def test_steps_of_another_metric_do_not_apply():
    assert due(STEPS, "response", 4 * 3600, left=3000, claimed=set()) == ([Firing(4, 0)], [])


def test_steps_due_at_the_same_moment_fire_together():
    steps = parse_steps(["at=100% notify=lead", "at=100% escalate"])
    assert due(steps, "resolution", DAY, left=0, claimed=set()) == ([Firing(1, 0), Firing(2, 0)], [])


def test_repeats_come_due_one_period_apart_up_to_max():
    steps = parse_steps(["at=50% notify=assignee repeat=1h max=3"])
    assert due(steps, "resolution", DAY, left=11 * 3600, claimed={Firing(1, 0)}) == ([Firing(1, 1)], [])
    # Five hours later: repeats 1 and 2 are due, only the latest fires; there is no repeat 3.
    assert due(steps, "resolution", DAY, left=7 * 3600, claimed={Firing(1, 0)}) == ([Firing(1, 2)], [Firing(1, 1)])


def test_emails_in_a_step_go_through_the_checker():
    def check(text):
        raise ValueError(f"{text!r} is not a valid email address")

    with pytest.raises(StepError, match="not a valid email address"):
        parse_step(1, "at=50% notify=x@example.com", check)


def test_a_ladder_needs_steps_and_names_the_bad_one():
    with pytest.raises(StepError, match="at least one --step"):
        parse_steps([])
    with pytest.raises(StepError, match=r"step 2 \('at=1h escalate'\): at=1h: expected a share"):
        parse_steps(["at=50% escalate", "at=1h escalate"])


@pytest.mark.parametrize("given, spec", [
    ("22:00-07:00", "mon-sun 00:00-07:00,22:00-24:00"),
    ("00:00-08:00", "mon-sun 00:00-08:00"),
    ("20:00-00:00", "mon-sun 20:00-24:00"),
    ("mon-fri 00:00-08:00", "mon-fri 00:00-08:00"),
])
def test_quiet_hours_may_run_past_midnight(given, spec):
    assert hours_spec(given) == spec


def test_a_notification_in_quiet_hours_waits_for_their_end_across_midnight():
    quiet = QuietHours.parse("UTC", "22:00-07:00", ("critical",))
    at = datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)
    assert quiet.release(at, "high") == datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)
    assert quiet.release(at, "critical") == at  # exempt
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    assert quiet.release(noon, "high") == noon  # not quiet
