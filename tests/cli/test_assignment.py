"""ticket assign | unassign, ticket create --assign/--auto-assign, and queue assign (docs/workflow.md, "Assignment").

Every command here runs at the same --now, so last_assigned_at ties throughout: the
rotation must come from the database's cursor, not from the clock.
"""

import json
from collections import Counter
from datetime import datetime, timezone

import pytest

from tests.factories import insert_tickets
from tests.helpers import create, show


def add_agent(cli, email, *extra):
    result = cli(["agent", "add", email, "--name", email.split("@")[0], *extra])
    assert result.exit_code == 0, result.stderr


def assignee(cli, ticket_id):
    return show(cli, ticket_id)["assignee_email"]


def auto(cli, ticket_id, *extra):
    result = cli(["ticket", "assign", str(ticket_id), "--auto", "--format", "json", *extra])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)[0]["assignee_email"]


def queue_assign(cli, *extra, code=0):
    result = cli(["queue", "assign", "--format", "json", *extra])
    assert result.exit_code == code, result.stderr
    return json.loads(result.stdout), result.stderr


def loads(cli):
    return {a["email"]: a["open_tickets"] for a in json.loads(cli("agent list --format json").stdout)}


@pytest.fixture
def three_agents(cli):
    for email in ("ana@support.example", "bo@support.example", "cy@support.example"):
        add_agent(cli, email)
    return ["ana@support.example", "bo@support.example", "cy@support.example"]


def test_reference_scenario_5_queue_assign_gives_nine_tickets_over_three_agents_three_each(cli, three_agents):
    ids = [create(cli) for _ in range(9)]
    rows, summary = queue_assign(cli)
    assert sorted(r["id"] for r in rows) == ids
    assert Counter(r["assignee_email"] for r in rows) == {email: 3 for email in three_agents}
    assert [r["assignee_email"] for r in rows] == three_agents * 3  # exact turns, same second throughout
    assert "assigned 9 tickets (round-robin)" in summary
    assert loads(cli) == {email: 3 for email in three_agents}


def test_reference_scenario_5_repeated_ticket_assign_auto_gives_three_each_in_turn(cli, three_agents):
    ids = [create(cli) for _ in range(9)]
    given = [auto(cli, ticket_id) for ticket_id in ids]
    assert given == three_agents * 3
    assert [assignee(cli, ticket_id) for ticket_id in ids] == given


def test_reference_scenario_6_by_priority_gives_a_critical_ticket_to_the_senior(cli, three_agents):
    add_agent(cli, "sam@support.example", "--role", "senior")
    add_agent(cli, "lee@support.example", "--role", "lead")
    ticket_id = create(cli, "--priority", "critical")
    assert auto(cli, ticket_id, "--strategy", "by-priority") == "sam@support.example"
    other = create(cli, "--priority", "critical")
    rows, _ = queue_assign(cli, "--strategy", "by-priority")
    assert [(r["id"], r["assignee_email"]) for r in rows] == [(other, "sam@support.example")]


def test_by_priority_gives_other_priorities_to_the_whole_pool_seniors_included(cli):
    add_agent(cli, "sam@support.example", "--role", "senior")
    add_agent(cli, "ana@support.example")
    for priority in ("high", "low", "medium", "critical"):
        create(cli, "--priority", priority)
    rows, _ = queue_assign(cli, "--strategy", "by-priority")
    assert [(r["priority"], r["assignee_email"]) for r in rows] == [
        ("critical", "sam@support.example"),  # the only senior
        ("high", "ana@support.example"),  # then the whole pool, in turn
        ("medium", "sam@support.example"),
        ("low", "ana@support.example"),
    ]


def test_a_critical_ticket_with_no_active_senior_is_refused_under_by_priority(cli, three_agents):
    add_agent(cli, "sam@support.example", "--role", "senior")
    cli("agent update sam@support.example --inactive")
    ticket_id = create(cli, "--priority", "critical")
    result = cli(f"ticket assign {ticket_id} --auto --strategy by-priority")
    assert result.exit_code == 4
    assert "no active senior agent for a critical ticket" in result.stderr
    assert assignee(cli, ticket_id) is None
    assert auto(cli, ticket_id) == "ana@support.example"  # round-robin takes anyone


def test_assigning_to_an_inactive_agent_exits_4_and_changes_nothing(cli, three_agents):
    cli("agent update bo@support.example --inactive")
    ticket_id = create(cli)
    before = show(cli, ticket_id)
    result = cli(f"ticket assign {ticket_id} --to bo@support.example")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "agent bo@support.example is inactive" in result.stderr
    assert show(cli, ticket_id) == before  # no assignee, no event, no first response
    assert json.loads(cli("agent show bo@support.example --format json").stdout)[0]["last_assigned_at"] is None


def test_assigning_to_an_unknown_agent_exits_3_and_changes_nothing(cli, three_agents):
    ticket_id = create(cli)
    before = show(cli, ticket_id)
    result = cli(f"ticket assign {ticket_id} --to who@support.example")
    assert result.exit_code == 3
    assert "no agent with email who@support.example" in result.stderr
    assert show(cli, ticket_id) == before
    assert cli("ticket assign 999 --to ana@support.example").exit_code == 3


@pytest.mark.parametrize(
    "args, message",
    [
        ("--to ana@support.example --auto", "not both"),
        ("", "--to EMAIL, or --auto"),
        ("--to ana@support.example --strategy by-priority", "--strategy goes with --auto"),
        ("--auto --strategy fastest", "'fastest' is not one of 'round-robin', 'least-loaded', 'by-priority'"),
        ("--to not-an-email", "not a valid email address"),
    ],
)
def test_bad_assign_flags_exit_2_and_change_nothing(cli, three_agents, args, message):
    ticket_id = create(cli)
    result = cli(f"ticket assign {ticket_id} {args}")
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert [e["kind"] for e in show(cli, ticket_id)["history"]] == ["created"]


def test_manual_assignment_is_the_first_response_and_records_from_and_to(cli, three_agents):
    ticket_id = create(cli, "--priority", "high")
    result = cli(f"ticket assign {ticket_id} --to bo@support.example", now="2026-11-23T10:30:00Z")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "ticket 1 assigned to bo@support.example" in result.stderr
    ticket = show(cli, ticket_id)
    assert ticket["assignee_email"] == "bo@support.example"
    assert ticket["first_response_at"] == "2026-11-23T10:30:00Z"
    assert ticket["sla"]["response"]["state"] == "met"
    event = ticket["history"][-1]
    assert (event["kind"], event["at"], event["actor"]) == ("assigned", "2026-11-23T10:30:00Z", "tester")
    assert (event["from"], event["to"]) == ({"assignee_email": None}, {"assignee_email": "bo@support.example"})


def test_reassigning_records_who_had_it_and_keeps_the_first_response(cli, three_agents):
    ticket_id = create(cli)
    cli(f"ticket assign {ticket_id} --to bo@support.example", now="2026-11-23T10:30:00Z")
    result = cli(f"ticket assign {ticket_id} --to cy@support.example", now="2026-11-23T11:00:00Z")
    assert "assigned to cy@support.example (was bo@support.example)" in result.stderr
    ticket = show(cli, ticket_id)
    assert ticket["first_response_at"] == "2026-11-23T10:30:00Z"
    assert ticket["history"][-1]["from"] == {"assignee_email": "bo@support.example"}
    assert loads(cli) == {"ana@support.example": 0, "bo@support.example": 0, "cy@support.example": 1}


def test_reassigning_to_the_current_assignee_is_a_no_op_with_a_note(cli, three_agents):
    ticket_id = create(cli)
    cli(f"ticket assign {ticket_id} --to bo@support.example")
    result = cli(f"ticket assign {ticket_id} --to BO@support.example")
    assert result.exit_code == 0
    assert "already assigned to bo@support.example" in result.stderr
    assert [e["kind"] for e in show(cli, ticket_id)["history"]] == ["created", "assigned"]


def test_manual_assignments_move_the_round_robin_cursor_too(cli, three_agents):
    first = create(cli)
    cli(f"ticket assign {first} --to ana@support.example")
    ids = [create(cli) for _ in range(3)]
    assert [auto(cli, i) for i in ids] == ["bo@support.example", "cy@support.example", "ana@support.example"]


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_assigning_a_resolved_or_closed_ticket_is_refused(cli, three_agents, status):
    ticket_id = create(cli)
    cli(f"ticket update {ticket_id} --status {status}")
    for args in ("--to ana@support.example", "--auto"):
        result = cli(f"ticket assign {ticket_id} {args}")
        assert result.exit_code == 4
        said = ("reopen it before assigning (supportctl ticket reopen" if status == "resolved"
                else "closed tickets do not change (open a new ticket)")
        assert f"ticket {ticket_id} is {status}; {said}" in result.stderr
    assert show(cli, ticket_id)["assignee_email"] is None


def test_unassign_returns_the_ticket_to_the_queue_with_an_event(cli, three_agents):
    ticket_id = create(cli)
    cli(f"ticket assign {ticket_id} --to cy@support.example")
    result = cli(f"ticket unassign {ticket_id} --format json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["previous_assignee_email"] == "cy@support.example"
    ticket = show(cli, ticket_id)
    assert ticket["assignee_email"] is None
    event = ticket["history"][-1]
    assert (event["kind"], event["from"], event["to"]) == (
        "unassigned", {"assignee_email": "cy@support.example"}, {"assignee_email": None}
    )
    again = cli(f"ticket unassign {ticket_id}")
    assert again.exit_code == 0
    assert "is not assigned" in again.stderr
    assert len(show(cli, ticket_id)["history"]) == 3
    assert cli("ticket unassign 999").exit_code == 3


def test_an_agent_at_capacity_is_skipped_and_resolving_frees_room(cli):
    add_agent(cli, "ana@support.example", "--capacity", "1")
    add_agent(cli, "bo@support.example")
    ids = [create(cli) for _ in range(4)]
    assert [auto(cli, i) for i in ids[:3]] == ["ana@support.example", "bo@support.example", "bo@support.example"]
    cli(f"ticket update {ids[0]} --status resolved")
    assert auto(cli, ids[3]) == "ana@support.example"


def test_when_everyone_is_at_capacity_assign_exits_4_naming_it(cli):
    add_agent(cli, "ana@support.example", "--capacity", "1")
    add_agent(cli, "bo@support.example", "--capacity", "1")
    ids = [create(cli) for _ in range(3)]
    auto(cli, ids[0]), auto(cli, ids[1])
    result = cli(f"ticket assign {ids[2]} --auto")
    assert result.exit_code == 4
    assert result.stderr.count("\n") == 1
    assert (f"cannot assign ticket {ids[2]}: all 2 eligible agents are at capacity "
            "(ana@support.example 1/1, bo@support.example 1/1)") in result.stderr
    assert show(cli, ids[2])["history"][-1]["kind"] == "created"


def test_manual_assignment_may_go_over_capacity_with_a_note(cli):
    add_agent(cli, "ana@support.example", "--capacity", "1")
    ids = [create(cli) for _ in range(2)]
    cli(f"ticket assign {ids[0]} --to ana@support.example")
    result = cli(f"ticket assign {ids[1]} --to ana@support.example")
    assert result.exit_code == 0
    assert "now has 2 open tickets, over their capacity of 1" in result.stderr


def test_leads_and_inactive_agents_are_never_auto_assigned(cli, three_agents):
    add_agent(cli, "lee@support.example", "--role", "lead")
    cli("agent update bo@support.example --inactive")
    ids = [create(cli) for _ in range(4)]
    rows, _ = queue_assign(cli)
    assert [r["assignee_email"] for r in rows] == ["ana@support.example", "cy@support.example"] * 2
    cli("agent update bo@support.example --active")
    assert auto(cli, create(cli)) == "bo@support.example"  # never assigned: first in turn
    assert cli(f"ticket assign {ids[0]} --to lee@support.example").exit_code == 0  # a lead, by hand


def test_with_only_leads_and_inactive_agents_nobody_can_take_a_ticket(cli):
    add_agent(cli, "lee@support.example", "--role", "lead")
    add_agent(cli, "bo@support.example")
    cli("agent update bo@support.example --inactive")
    ticket_id = create(cli)
    result = cli(f"ticket assign {ticket_id} --auto")
    assert result.exit_code == 4
    assert "no active agent to assign to (leads are never auto-assigned)" in result.stderr


def test_least_loaded_picks_the_fewest_open_tickets_then_whose_turn_it_is(cli, three_agents):
    busy = [create(cli) for _ in range(3)]
    for ticket_id in busy[:2]:
        cli(f"ticket assign {ticket_id} --to ana@support.example")
    cli(f"ticket assign {busy[2]} --to bo@support.example")
    ids = [create(cli) for _ in range(4)]
    given = [auto(cli, i, "--strategy", "least-loaded") for i in ids]
    # loads ana 2, bo 1, cy 0 -> cy; then bo and cy tie at 1, bo's turn is older -> bo; ...
    assert given == ["cy@support.example", "bo@support.example", "cy@support.example", "ana@support.example"]


def test_auto_on_an_assigned_ticket_hands_it_to_whoever_is_next(cli, three_agents):
    ticket_id = create(cli)
    assert auto(cli, ticket_id) == "ana@support.example"
    assert auto(cli, ticket_id) == "bo@support.example"
    assert show(cli, ticket_id)["history"][-1]["from"] == {"assignee_email": "ana@support.example"}


def test_create_with_assign_or_auto_assign_assigns_in_the_same_command(cli, three_agents):
    result = cli("ticket create --title Hi --customer ana@example.com --assign cy@support.example --format json")
    assert result.exit_code == 0, result.stderr
    [ticket] = json.loads(result.stdout)
    assert (ticket["assignee_email"], ticket["first_response_at"]) == ("cy@support.example", "2026-11-23T10:00:00Z")
    assert "assigned to cy@support.example" in result.stderr
    ticket_id = create(cli, "--auto-assign")
    assert assignee(cli, ticket_id) == "ana@support.example"
    assert [e["kind"] for e in show(cli, ticket_id)["history"]] == ["created", "assigned"]


@pytest.mark.parametrize(
    "args, code",
    [
        ("--assign who@support.example", 3),
        ("--assign bo@support.example", 4),
        ("--assign ana@support.example --auto-assign", 2),
    ],
)
def test_create_that_cannot_be_assigned_creates_nothing(cli, three_agents, args, code):
    cli("agent update bo@support.example --inactive")
    result = cli(f"ticket create --title Hi --customer new@example.com {args}")
    assert result.exit_code == code
    assert result.stdout == ""
    assert json.loads(cli("ticket list --format json").stdout) == []
    assert cli("customer show new@example.com").exit_code == 3


def test_create_with_auto_assign_and_everyone_full_creates_nothing(cli):
    add_agent(cli, "ana@support.example", "--capacity", "1")
    create(cli, "--auto-assign")
    result = cli("ticket create --title Hi --customer ana@example.com --auto-assign")
    assert result.exit_code == 4
    assert "at capacity" in result.stderr
    # the refusal names no ticket: the id it drew belongs to no ticket
    assert result.stderr.startswith("supportctl: error: cannot assign the new ticket, so none was created:")
    assert len(json.loads(cli("ticket list --format json").stdout)) == 1


def test_queue_assign_goes_highest_priority_first_then_oldest_and_lists_what_it_could_not_assign(cli):
    add_agent(cli, "ana@support.example", "--capacity", "2")
    old_low = create(cli, "--priority", "low")
    medium = create(cli, "--priority", "medium")
    critical = create(cli, "--priority", "critical")
    newer_low = create(cli, "--priority", "low")
    rows, stderr = queue_assign(cli, code=4)
    assert [(r["id"], r["priority"], r["title"]) for r in rows] == [
        (critical, "critical", "Cannot log in"), (medium, "medium", "Cannot log in")
    ]
    assert set(rows[0]) == {"id", "assignee_email", "priority", "title"}
    lines = stderr.splitlines()
    assert lines == [
        f"not assigned: tickets {old_low}, {newer_low}: the only eligible agent is at capacity (ana@support.example 2/2)",
        "assigned 2 tickets (round-robin), 2 could not be assigned",
    ]
    assert assignee(cli, old_low) is None and assignee(cli, newer_low) is None


def test_queue_assign_with_nothing_to_do_exits_0_with_an_empty_array(cli, three_agents):
    rows, stderr = queue_assign(cli)
    assert rows == []
    assert stderr == "assigned 0 tickets (round-robin)\n"


def test_queue_assign_leaves_assigned_and_resolved_tickets_alone(cli, three_agents):
    taken = create(cli)
    cli(f"ticket assign {taken} --to cy@support.example")
    resolved = create(cli)
    cli(f"ticket update {resolved} --status resolved")
    pending = create(cli)
    cli(f"ticket update {pending} --status pending")
    rows, _ = queue_assign(cli)
    assert [(r["id"], r["assignee_email"]) for r in rows] == [(pending, "ana@support.example")]
    assert assignee(cli, taken) == "cy@support.example"


def test_queue_assign_dry_run_shows_the_same_choices_and_changes_nothing(cli, three_agents, engine):
    insert_tickets(engine, 7, created_at=datetime(2026, 11, 23, 9, tzinfo=timezone.utc))
    dry, stderr = queue_assign(cli, "--dry-run")
    assert "would assign 7 tickets" in stderr
    assert loads(cli) == {email: 0 for email in three_agents}
    assert json.loads(cli("ticket list --unassigned --format json").stdout) != []
    real, _ = queue_assign(cli)
    assert real == dry


def test_queue_assign_limit_looks_at_most_at_n_tickets(cli, three_agents):
    ids = [create(cli) for _ in range(5)]
    rows, _ = queue_assign(cli, "--limit", "2")
    assert [r["id"] for r in rows] == ids[:2]
    rows, _ = queue_assign(cli)
    assert [r["id"] for r in rows] == ids[2:]
    assert cli("queue assign --limit 0").exit_code == 2
    result = cli("queue assign --strategy fastest")
    assert result.exit_code == 2
    assert "'fastest' is not one of 'round-robin', 'least-loaded', 'by-priority'" in result.stderr


def test_queue_assign_help_says_how_it_batches_and_its_exit_codes(cli):
    result = cli("queue assign --help", now=None)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "batches of 200 tickets, each its own transaction" in text
    assert "FOR UPDATE SKIP LOCKED" in text
    for code in ("0 every ticket it looked at was assigned", "4 at least one ticket of no team could not be assigned",
                 "5 database unreachable", "6 could not get its locks in time"):
        assert code in text
    assert "Example:" in text
