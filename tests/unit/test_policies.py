"""Which SLA policy a ticket gets (domain/policies.py), and the next-reply state machine (domain/replies.py)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from supportctl.domain import policies, replies
from supportctl.domain.policies import Conditions, Facts, Rule

DEFAULT = Rule("default", None)
GOLD = Rule("gold", 5, Conditions(tier=("enterprise",), team=("billing",)))
ENTERPRISE = Rule("enterprise", 10, Conditions(tier=("premium", "enterprise")))
OUTAGE = Rule("outage", 1, Conditions(tag=("outage", "down")))


def test_the_first_by_position_whose_conditions_all_hold_wins_and_default_comes_last():
    rules = [DEFAULT, ENTERPRISE, GOLD, OUTAGE]  # any order: position decides
    assert policies.choose(rules, Facts(tier="enterprise", team="billing")).name == "gold"
    assert policies.choose(rules, Facts(tier="enterprise", team="tech")).name == "enterprise"
    assert policies.choose(rules, Facts(tier="premium")).name == "enterprise"  # any of the values
    assert policies.choose(rules, Facts(tier="basic")).name == "default"
    assert policies.choose(rules, Facts(tier="enterprise", tags=("down", "x"))).name == "outage"


def test_an_inactive_policy_is_never_chosen():
    paused = Rule("gold", 5, GOLD.conditions, active=False)
    assert policies.choose([DEFAULT, paused], Facts(tier="enterprise", team="billing")).name == "default"


def test_the_trace_says_why_each_policy_before_the_chosen_one_did_not_match():
    steps = policies.trace([DEFAULT, ENTERPRISE, GOLD, OUTAGE], Facts(tier="enterprise", team="tech"))
    assert [(s.rule.name, s.matched, s.reason) for s in steps] == [
        ("outage", False, "none of the tags outage, down"),
        ("gold", False, "team is tech, not billing"),
        ("enterprise", True, "matched tier=premium,enterprise"),
        ("default", True, "no conditions"),
    ]
    assert policies.explained(steps) == [
        "skipped outage (position 1): none of the tags outage, down",
        "skipped gold (position 5): team is tech, not billing",
        "enterprise (position 10) matched tier=premium,enterprise",
    ]
    basic = policies.trace([DEFAULT, GOLD], Facts(tier="basic"))
    assert basic[0].reason == "tier is basic, not enterprise"
    assert policies.explained(basic)[-1] == "default (matched last): no conditions"
    no_team = policies.trace([Rule("t", 1, Conditions(team=("a", "b")))], Facts())
    assert no_team[0].reason == "team is none, not one of a, b"


values = st.sampled_from(["a", "b", "c"])
conditions = st.builds(Conditions, *(st.lists(values, max_size=2, unique=True).map(tuple) for _ in range(5)))
facts = st.builds(Facts, st.one_of(st.none(), values), st.one_of(st.none(), values), st.one_of(st.none(), values),
                  st.one_of(st.none(), values), st.lists(values, max_size=2, unique=True).map(tuple))


@given(conditions, facts)
def test_a_policy_matches_exactly_when_each_given_condition_holds(c, f):
    held = all(
        not wanted or (set(f.tags) & set(wanted) if key == "tag" else getattr(f, key) in wanted)
        for key, wanted in (("tier", c.tier), ("company", c.company), ("team", c.team), ("category", c.category),
                            ("tag", c.tag))
    )
    assert (policies.mismatch(c, f) is None) == bool(held)


# ---------------------------------------------------------------- next reply

T = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def due(start, paused):  # a 1h next-reply target, 24x7
    return start + HOUR + timedelta(seconds=paused)


def test_a_customer_writing_after_the_first_response_starts_a_cycle_an_agent_reply_meets_it():
    cycle = replies.customer_wrote(replies.Cycle(), T, answered=True, due=due)
    assert (cycle.started_at, cycle.due_at, cycle.running) == (T, T + HOUR, True)
    met = replies.agent_replied(cycle, T + timedelta(minutes=30))
    assert (met.met_at, met.running) == (T + timedelta(minutes=30), False)


def test_no_cycle_before_the_first_response_and_none_restarted_while_one_runs():
    assert replies.customer_wrote(replies.Cycle(), T, answered=False, due=due) == replies.Cycle()
    running = replies.customer_wrote(replies.Cycle(), T, answered=True, due=due)
    assert replies.customer_wrote(running, T + HOUR / 2, answered=True, due=due) == running  # the wait began at T
    assert replies.agent_replied(replies.Cycle(), T) == replies.Cycle()  # nothing to meet


def test_a_pause_moves_the_due_time_by_the_time_paused_and_a_cycle_started_while_pending_counts_from_its_end():
    running = replies.customer_wrote(replies.Cycle(), T, answered=True, due=due)
    seconds = lambda a, b: int((b - a).total_seconds())
    # Pending from T+10m to T+40m: 30 minutes paused, due 10:30 later than 11:00.
    resumed = replies.resumed(running, T + timedelta(minutes=10), T + timedelta(minutes=40), paused=seconds, due=due)
    assert (resumed.paused_seconds, resumed.due_at) == (1800, T + HOUR + timedelta(minutes=30))
    # Written at T+20m while pending since T; the pause ends at T+2h: the hour runs from then.
    late = replies.customer_wrote(replies.Cycle(), T + timedelta(minutes=20), answered=True, due=due)
    resumed = replies.resumed(late, T, T + 2 * HOUR, paused=seconds, due=due)
    assert resumed.due_at == T + 3 * HOUR
