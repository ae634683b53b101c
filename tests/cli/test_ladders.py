"""Escalation ladders and quiet hours (docs/escalation.md): each step once, on the cycle's clock."""

import json

import pytest
from sqlalchemy import text

from tests.helpers import create, fingerprint, run, show

T0 = "2026-11-23T00:00:00Z"  # a Monday
# §14's example: warn the assignee at half the resolution target, escalate at due, a senior
# two hours later.
STANDARD = ["--step", "at=50% metric=resolution notify=assignee", "--step", "at=100% metric=resolution escalate",
            "--step", "at=+2h metric=resolution reassign=senior"]


@pytest.fixture
def desk(cli):
    run(cli, "agent add sam@example.com --name Sam", now=T0)
    run(cli, "agent add sue@example.com --name Sue --role senior", now=T0)
    run(cli, "agent add lee@example.com --name Lee --role lead", now=T0)
    return cli


def escalate(cli, now, *args):
    result = run(cli, ["queue", "escalate", "--format", "json", *args], now=now)
    return [(r["id"], r["metric"], r["cycle"], r["ladder"], r["step"], r["action"], r["target"])
            for r in json.loads(result.stdout)], result.stderr


def mails(engine, template="escalation_step"):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT recipient, (data ->> 'step')::int, to_char(next_attempt_at AT TIME ZONE 'UTC', 'HH24:MI') "
            "FROM notifications WHERE template = :t ORDER BY id"), {"t": template})]


def events(cli, ticket_id, now):
    return [(e["kind"], e["actor"], e["to"].get("step") if isinstance(e["to"], dict) else None)
            for e in show(cli, ticket_id, now=now)["history"] if e["kind"].startswith("ladder_")]


def test_the_example_ladder_on_a_high_ticket_warns_escalates_and_reassigns_each_once(desk, engine):
    cli = desk
    # Critical keeps high's 24h resolution here, so the escalation leaves the due where it
    # is and the +2h step means 26h (with critical's default 8h the due would move back to
    # 8h and the step come due at once: steps follow the cycle's current due).
    run(cli, "sla set critical --resolution 24h", now=T0)
    run(cli, ["escalation", "ladder", "set", "standard", "--priority", "high", *STANDARD], now=T0)
    ticket = create(cli, "--assign", "sam@example.com", priority="high", now=T0)  # 24h resolution, 24x7
    assert escalate(cli, "2026-11-23T11:00:00Z")[0] == []  # 11h: under half of 24h
    rows, summary = escalate(cli, "2026-11-23T12:00:00Z")  # 12h: 50% exactly
    assert rows == [(ticket, "resolution", 1, "standard", 1, "notify", "sam@example.com")]
    assert "fired 1 ladder step" in summary
    assert escalate(cli, "2026-11-23T12:05:00Z")[0] == []  # once: the second run adds nothing
    assert mails(engine) == [("sam@example.com", 1, "12:00")]

    before = fingerprint(engine)
    dry, summary = escalate(cli, "2026-11-24T00:00:00Z", "--dry-run")
    assert dry == [(ticket, "resolution", 1, "standard", 2, "escalate", "critical")]
    assert "would fire 1 ladder step" in summary
    assert fingerprint(engine) == before  # the dry run changed nothing

    assert escalate(cli, "2026-11-24T00:00:00Z")[0] == dry  # 24h: due, escalated
    escalated = show(cli, ticket, now="2026-11-24T00:00:00Z")
    assert (escalated["priority"], escalated["escalation_level"]) == ("critical", 1)
    assert escalate(cli, "2026-11-24T01:00:00Z")[0] == []  # 25h: not yet
    rows, _ = escalate(cli, "2026-11-24T02:00:00Z")  # 26h
    assert rows == [(ticket, "resolution", 1, "standard", 3, "reassign", "sue@example.com")]
    assert escalate(cli, "2026-11-24T08:00:00Z")[0] == []  # the ladder is done
    final = show(cli, ticket, now="2026-11-24T08:00:00Z")
    assert final["assignee_email"] == "sue@example.com"
    # The actor of every step's events names the ladder and the step.
    assert events(cli, ticket, "2026-11-24T08:00:00Z") == [
        ("ladder_step_fired", "tester (ladder standard step 1)", 1),
        ("ladder_step_fired", "tester (ladder standard step 2)", 2),
        ("ladder_step_fired", "tester (ladder standard step 3)", 3)]
    assert [(e["kind"], e["actor"]) for e in final["history"] if e["kind"] in ("escalated", "assigned")] == [
        ("assigned", "tester"), ("escalated", "tester (ladder standard step 2)"),
        ("assigned", "tester (ladder standard step 3)")]
    # One warning, the escalation's mails (the lead and the assignee), the senior's assignment.
    assert mails(engine) == [("sam@example.com", 1, "12:00")]
    assert [r for r, *_ in mails(engine, "ticket_escalated")] == ["lee@example.com", "sam@example.com"]
    assert [r for r, *_ in mails(engine, "ticket_assigned")] == ["sam@example.com", "sue@example.com"]


def test_a_ticket_first_looked_at_after_three_steps_came_due_fires_the_latest_and_skips_the_others(desk, engine):
    cli = desk
    run(cli, ["escalation", "ladder", "set", "standard", *STANDARD], now=T0)
    ticket = create(cli, "--assign", "sam@example.com", priority="high", now=T0)
    rows, summary = escalate(cli, "2026-11-24T06:00:00Z")  # 30h: 12h, 24h and 26h have all passed
    assert rows == [(ticket, "resolution", 1, "standard", 1, "skipped", None),
                    (ticket, "resolution", 1, "standard", 2, "skipped", None),
                    (ticket, "resolution", 1, "standard", 3, "reassign", "sue@example.com")]
    assert "fired 1 ladder step, skipped 2" in summary
    assert events(cli, ticket, "2026-11-24T06:00:00Z") == [
        ("ladder_step_skipped", "tester (ladder standard step 1)", 1),
        ("ladder_step_skipped", "tester (ladder standard step 2)", 2),
        ("ladder_step_fired", "tester (ladder standard step 3)", 3)]
    assert escalate(cli, "2026-11-24T07:00:00Z")[0] == []  # skipped steps never fire later
    assert mails(engine) == [] and show(cli, ticket, now="2026-11-24T07:00:00Z")["priority"] == "high"
    # A laddered ticket is escalated by its steps alone: no one-step escalation at breach.
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ticket_events WHERE kind = 'escalated'")).scalar() == 0


def test_quiet_hours_hold_a_warning_until_they_end_but_not_the_escalation_or_a_critical_ticket(desk, engine):
    cli = desk
    run(cli, "escalation quiet-hours set --timezone UTC --hours 00:00-08:00", now=T0)
    run(cli, ["escalation", "ladder", "set", "warn", "--step", "at=50% metric=resolution notify=assignee escalate"],
        now=T0)
    # High: 24h resolution, half of it at 03:00; critical: 8h, half at 03:00 too.
    high = create(cli, "--assign", "sam@example.com", priority="high", now="2026-11-22T15:00:00Z")
    critical = create(cli, "--assign", "sam@example.com", priority="critical", now="2026-11-22T23:00:00Z")
    rows, _ = escalate(cli, "2026-11-23T03:00:00Z")
    assert sorted(rows) == [(high, "resolution", 1, "warn", 1, "escalate", "critical"),
                            (high, "resolution", 1, "warn", 1, "notify", "sam@example.com"),
                            (critical, "resolution", 1, "warn", 1, "escalate", "critical"),
                            (critical, "resolution", 1, "warn", 1, "notify", "sam@example.com")]
    assert show(cli, high, now="2026-11-23T03:00:00Z")["priority"] == "critical"  # escalated at 03:00
    with engine.connect() as conn:
        held = [tuple(r) for r in conn.execute(text(
            "SELECT (data ->> 'ticket_id')::int, template, to_char(next_attempt_at AT TIME ZONE 'UTC', 'HH24:MI') "
            "FROM notifications WHERE created_at = '2026-11-23T03:00:00Z' ORDER BY 1, 2, recipient"))]
    # The high ticket's warning and escalation mails (lead, assignee) wait for 08:00; the critical one's go now.
    assert held == [(high, "escalation_step", "08:00"), (high, "ticket_escalated", "08:00"),
                    (high, "ticket_escalated", "08:00"),
                    (critical, "escalation_step", "03:00"), (critical, "ticket_escalated", "03:00"),
                    (critical, "ticket_escalated", "03:00")]
    shown = json.loads(run(cli, "escalation quiet-hours show --format json").stdout)
    assert shown == [{"timezone": "UTC", "hours": "mon-sun 00:00-08:00", "except": ["critical"]}]
    run(cli, "escalation quiet-hours clear")
    assert json.loads(run(cli, "escalation quiet-hours show --format json").stdout)[0]["hours"] is None


def test_overnight_quiet_hours_end_the_next_morning_in_their_time_zone(desk, engine):
    cli = desk
    run(cli, "escalation quiet-hours set --timezone Europe/Berlin --hours 22:00-07:00 --except none", now=T0)
    run(cli, ["escalation", "ladder", "set", "warn", "--step", "at=50% metric=resolution notify=lead"], now=T0)
    create(cli, priority="critical", now="2026-11-23T18:00:00Z")  # 8h: half at 22:00 UTC, 23:00 in Berlin
    rows, _ = escalate(cli, "2026-11-23T22:00:00Z")
    assert [r[5:] for r in rows] == [("notify", "lee@example.com")]  # no team: every lead
    assert mails(engine) == [("lee@example.com", 1, "06:00")]  # 07:00 in Berlin; --except none holds critical too


def test_percent_steps_count_business_time_on_a_calendar(desk, engine):
    cli = desk
    run(cli, ["sla", "calendar", "set", "--timezone", "UTC", "--hours", "mon-fri 09:00-17:00"], now=T0)
    run(cli, ["escalation", "ladder", "set", "warn", "--step", "at=50% metric=resolution notify=assignee"], now=T0)
    # High: 24 business hours from Monday 09:00 end Wednesday 17:00; half, 12 hours, is
    # Monday's 8 and Tuesday's first 4: Tuesday 13:00 (half on the wall clock: Tuesday 05:00).
    create(cli, "--assign", "sam@example.com", priority="high", now="2026-11-23T09:00:00Z")
    assert escalate(cli, "2026-11-24T12:59:00Z")[0] == []
    assert [r[5:] for r in escalate(cli, "2026-11-24T13:00:00Z")[0]] == [("notify", "sam@example.com")]


def test_an_away_assignee_is_absent_so_the_warning_goes_to_the_team_lead(desk, engine):
    cli = desk
    run(cli, "agent add lea@example.com --name Lea --role lead", now=T0)
    run(cli, "team add billing --name Billing --lead lea@example.com", now=T0)
    run(cli, "team member add billing sam@example.com", now=T0)
    run(cli, ["escalation", "ladder", "set", "warn", "--step", "at=50% metric=resolution notify=assignee"], now=T0)
    ticket = create(cli, "--team", "billing", "--assign", "sam@example.com", priority="high", now=T0)
    run(cli, "agent away sam@example.com --until 2026-11-30", now=T0)
    rows, _ = escalate(cli, "2026-11-23T12:00:00Z")
    assert rows == [(ticket, "resolution", 1, "warn", 1, "notify", "lea@example.com")]


def test_a_repeating_step_fires_every_period_up_to_its_max(desk, engine):
    cli = desk
    run(cli, ["escalation", "ladder", "set", "nag", "--step",
              "at=50% metric=resolution notify=assignee repeat=1h max=3"], now=T0)
    create(cli, "--assign", "sam@example.com", priority="high", now=T0)
    fired = [r[6] for hour in (12, 12, 13, 14, 15, 16) for r in escalate(cli, f"2026-11-23T{hour}:00:00Z")[0]]
    assert fired == ["sam@example.com"] * 3  # 12:00, 13:00, 14:00; the second 12:00 run and 15:00 add nothing


def test_a_reopened_ticket_starts_the_ladder_again(desk, engine):
    cli = desk
    run(cli, ["escalation", "ladder", "set", "warn", "--step", "at=50% metric=resolution notify=assignee"], now=T0)
    ticket = create(cli, "--assign", "sam@example.com", priority="high", now=T0)
    assert len(escalate(cli, "2026-11-23T12:00:00Z")[0]) == 1
    run(cli, f"ticket update {ticket} --status resolved", now="2026-11-23T13:00:00Z")
    run(cli, f"ticket update {ticket} --status open", now="2026-11-23T14:00:00Z")  # cycle 2 runs from 14:00
    assert escalate(cli, "2026-11-24T01:59:00Z")[0] == []
    assert escalate(cli, "2026-11-24T02:00:00Z")[0] == [
        (ticket, "resolution", 2, "warn", 1, "notify", "sam@example.com")]


def test_a_ticket_no_ladder_matches_is_escalated_one_level_at_breach_as_before(desk, engine):
    cli = desk
    run(cli, ["escalation", "ladder", "set", "critical-only", "--priority", "critical", *STANDARD], now=T0)
    ticket = create(cli, priority="medium", now="2026-11-20T00:00:00Z")  # matches no ladder
    rows, _ = escalate(cli, T0)
    # With ladders defined the rows are one per action; a one-step escalation has no ladder.
    assert rows == [(ticket, "response", None, None, None, "escalate", "high")]
    assert show(cli, ticket, now=T0)["escalation_level"] == 1


@pytest.mark.parametrize("step, message", [
    ("at=50% notify=assignee colour=red", "unknown key 'colour'"),
    ("at=half notify=assignee", "expected a share of the target"),
    ("at=0% notify=assignee", "1% to 1000%"),
    ("at=50%", "the step does nothing"),
    ("notify=assignee", "has no at="),
    ("at=50% notify=someone", "notify= takes assignee, lead, leads or an email address"),
    ("at=50% notify=bad@@example", "not a valid email address"),
    ("at=+2x escalate", "invalid duration"),
    ("at=50% metric=reply escalate", "not one of response, resolution, next_reply"),
    ("at=50% reassign=boss", "expected team, senior or an agent's email"),
    ("at=50% escalate max=3", "give repeat= too"),
    ("at=50% escalate repeat=10s", "at most once a minute"),
    ("at=50% escalate escalate", "given once"),
])
def test_a_bad_step_is_exit_2_naming_it_and_saves_nothing(desk, engine, step, message):
    before = fingerprint(engine)
    result = run(desk, ["escalation", "ladder", "set", "x", "--step", "at=75% notify=lead", "--step", step], code=2)
    assert f"step 2 ({step!r})" in result.stderr and message in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the error, and its hint
    assert fingerprint(engine) == before


@pytest.mark.parametrize("args, message", [
    (["--team", "nope"], "no team nope"),
    (["--policy", "gold"], "no SLA policy gold"),
    (["--step", "at=+1h reassign=ghost@example.com"], "no agent with email ghost@example.com"),
])
def test_unknown_teams_policies_and_agents_are_exit_3_and_save_nothing(desk, engine, args, message):
    before = fingerprint(engine)
    result = run(desk, ["escalation", "ladder", "set", "x", "--step", "at=75% notify=lead", *args], code=3)
    assert message in result.stderr
    assert fingerprint(engine) == before


def test_list_show_replace_and_remove_a_ladder(desk, engine):
    cli = desk
    run(cli, ["escalation", "ladder", "set", "standard", "--priority", "high", "--priority", "critical",
              *STANDARD], now=T0)
    [listed] = json.loads(run(cli, "escalation ladder list --format json").stdout)
    assert listed == {"name": "standard", "priorities": ["high", "critical"], "teams": [], "policies": [],
                      "steps": ["at=50% metric=resolution notify=assignee", "at=100% metric=resolution escalate",
                                "at=+2h metric=resolution reassign=senior"]}
    [shown] = json.loads(run(cli, "escalation ladder show standard --format json").stdout)
    assert [(s["step"], s["at"], s["actions"]) for s in shown["steps"]] == [
        (1, "50%", "notify=assignee"), (2, "100%", "escalate"), (3, "+2h", "reassign=senior")]
    ticket = create(cli, priority="high", now=T0)  # its cycles follow `standard`
    result = run(cli, ["escalation", "ladder", "set", "standard", "--step", "at=-30m notify=leads repeat=10m max=2"])
    assert "replaced ladder standard with 1 step" in result.stderr
    [shown] = json.loads(run(cli, "escalation ladder show standard --format json").stdout)
    assert shown["priorities"] == [] and shown["steps"][0]["spec"] == "at=-30m notify=leads repeat=10m max=2"
    result = run(cli, "escalation ladder remove standard")
    assert "2 running SLA cycles now follow the one-step escalation" in result.stderr  # response, resolution
    assert json.loads(run(cli, "escalation ladder list --format json").stdout) == []
    run(cli, "escalation ladder show standard", code=3)
    # Back to the one-step escalation: past the response due (high: 4h) it goes up a level.
    result = run(cli, "queue escalate --format json", now="2026-11-23T11:00:00Z")
    assert [(r["id"], r["priority"]) for r in json.loads(result.stdout)] == [(ticket, "critical")]
