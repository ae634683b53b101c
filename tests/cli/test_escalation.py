import json

from tests.helpers import create, show

NOW = "2026-11-26T10:00:00Z"


def escalate(cli, *args, now=NOW):
    result = cli(["queue", "escalate", "--format", "json", *args], now=now)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_reference_scenario_4_escalates_the_three_day_old_medium_ticket_only(cli):
    old = create(cli, now="2026-11-23T10:00:00Z")
    fresh = create(cli, now="2026-11-26T08:00:00Z")
    rows, summary = escalate(cli)
    assert [(r["id"], r["priority"], r["escalation_level"], r["metric"]) for r in rows] == [
        (old, "high", 1, "response")
    ]
    assert "escalated 1 ticket" in summary
    escalated = show(cli, old, now=NOW)
    assert (escalated["priority"], escalated["escalated"], escalated["escalation_level"]) == ("high", True, 1)
    assert escalated["response_due_at"] == "2026-11-23T14:00:00Z"  # due dates follow the new priority
    *_, event, response, resolution = escalated["history"]
    assert event["kind"] == "escalated"
    # Then the breaches written down, once, as the escalation left them: the response (high:
    # due 11-23 14:00) and the resolution, which high's 24h made due 11-24 10:00.
    assert [(e["kind"], e["to"]["metric"], e["to"]["cycle"]) for e in (response, resolution)] == [
        ("sla_breached", "response", 1), ("sla_breached", "resolution", 1)]
    assert event["from"] == {"priority": "medium", "escalation_level": 0}
    assert event["to"]["metric"] == "response" and "response SLA breached" in event["to"]["reason"]
    untouched = show(cli, fresh, now=NOW)
    assert (untouched["priority"], untouched["escalated"]) == ("medium", False)


def test_escalation_run_twice_escalates_nothing_the_second_time_until_the_interval_passes(cli):
    ticket_id = create(cli, now="2026-11-23T10:00:00Z")
    assert len(escalate(cli)[0]) == 1
    rows, summary = escalate(cli)
    assert rows == [] and "escalated 0 tickets" in summary
    assert escalate(cli, now="2026-11-26T13:59:59Z")[0] == []  # high's response target is 4h
    rows, _ = escalate(cli, now="2026-11-26T14:00:00Z")
    assert [(r["previous_priority"], r["priority"], r["escalation_level"]) for r in rows] == [("high", "critical", 2)]
    assert show(cli, ticket_id, now=NOW)["escalation_level"] == 2


def test_critical_tickets_stay_critical_but_their_level_rises(cli):
    ticket_id = create(cli, now="2026-11-26T07:00:00Z", priority="critical")
    rows, _ = escalate(cli)
    assert [(r["priority"], r["escalation_level"]) for r in rows] == [("critical", 1)]
    assert show(cli, ticket_id, now=NOW)["escalated"] is True


def test_dry_run_lists_what_a_real_run_escalates_and_changes_nothing(cli):
    for day in (20, 21, 22, 23):
        create(cli, now=f"2026-11-{day}T10:00:00Z")
    create(cli, now="2026-11-26T09:00:00Z")
    before = cli("ticket list --limit 0 --format json", now=NOW).stdout
    dry, summary = escalate(cli, "--dry-run")
    assert "would escalate 4 tickets" in summary
    assert cli("ticket list --limit 0 --format json", now=NOW).stdout == before
    real, _ = escalate(cli)
    assert dry == real


def test_limit_caps_one_run_and_the_next_run_does_the_rest(cli):
    ids = [create(cli, now=f"2026-11-2{d}T10:00:00Z") for d in range(5)]
    first, _ = escalate(cli, "--limit", "2")
    second, _ = escalate(cli)
    assert len(first) == 2 and len(second) == 3
    assert sorted(r["id"] for r in first + second) == ids


def test_resolved_and_pending_tickets_are_left_alone_unless_overdue_before_the_pause(cli):
    resolved = create(cli, now="2026-11-20T10:00:00Z")
    cli(f"ticket update {resolved} --status resolved", now="2026-11-20T11:00:00Z")
    paused_in_time = create(cli, now="2026-11-20T10:00:00Z")
    cli(f"ticket update {paused_in_time} --status pending", now="2026-11-20T11:00:00Z")
    rows, _ = escalate(cli)
    assert rows == []  # response met by leaving open; resolution clock paused before it ran out


def test_manual_escalation_records_the_reason_and_refuses_closed_tickets(cli):
    ticket_id = create(cli, now="2026-11-26T09:00:00Z", priority="low")
    result = cli(f"ticket escalate {ticket_id} --reason 'VIP customer'", now=NOW)
    assert result.exit_code == 0, result.stderr
    assert "low -> medium" in result.stderr
    event = show(cli, ticket_id, now=NOW)["history"][-1]
    assert (event["kind"], event["to"]["reason"], event["to"]["metric"]) == ("escalated", "VIP customer", "manual")
    cli(f"ticket update {ticket_id} --status closed", now=NOW)
    refused = cli(f"ticket escalate {ticket_id}", now=NOW)
    assert refused.exit_code == 4
    assert cli("ticket escalate 999", now=NOW).exit_code == 3


def test_reassign_gives_tickets_escalated_to_critical_to_a_senior(cli):
    cli("agent add al@example.com --name Al")
    cli("agent add sue@example.com --name Sue --role senior")
    ticket_id = create(cli, now="2026-11-26T05:00:00Z", priority="high")
    cli(f"ticket assign {ticket_id} --to al@example.com", now="2026-11-26T05:00:00Z")
    cli(f"ticket update {ticket_id} --status pending", now="2026-11-26T05:10:00Z")
    cli(f"ticket update {ticket_id} --status in_progress", now="2026-11-26T05:20:00Z")
    # Response met (assigned); resolution (24h) not yet due: nothing to do.
    assert escalate(cli, "--reassign")[0] == []
    rows, _ = escalate(cli, "--reassign", now="2026-11-27T06:00:00Z")
    assert [(r["priority"], r["reassigned_to"]) for r in rows] == [("critical", "sue@example.com")]
    after = show(cli, ticket_id, now="2026-11-27T06:00:00Z")
    assert after["assignee_email"] == "sue@example.com"
    # and the resolution breach (05:00 + 24h + 10m pending = 11-27 05:10) written down after it
    assert [e["kind"] for e in after["history"]][-3:] == ["assigned", "escalated", "sla_breached"]


def test_without_reassign_the_assignee_stays(cli):
    cli("agent add al@example.com --name Al")
    cli("agent add sue@example.com --name Sue --role senior")
    ticket_id = create(cli, now="2026-11-25T05:00:00Z", priority="high")
    cli(f"ticket assign {ticket_id} --to al@example.com", now="2026-11-25T05:00:00Z")
    rows, _ = escalate(cli, now="2026-11-27T06:00:00Z")
    assert [(r["priority"], r["reassigned_to"]) for r in rows] == [("critical", None)]
    assert show(cli, ticket_id, now="2026-11-27T06:00:00Z")["assignee_email"] == "al@example.com"
