import csv
import io
import json

import pytest

from tests.helpers import NOW, create, show


def update(cli, ticket_id, now, *args):
    result = cli(["ticket", "update", str(ticket_id), *args], now=now)
    assert result.exit_code == 0, result.stderr


def breaches(cli, args="", now=NOW):
    result = cli(f"sla breaches {args} --format json", now=now)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def policy(cli):
    return {row["priority"]: row for row in json.loads(cli("sla policy --format json").stdout)}


# Reference scenarios (docs/workflow.md, "Reference scenarios")


def test_reference_scenario_1_response_targets_are_1h_4h_24h_72h_highest_priority_first(cli):
    result = cli("sla policy --format json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [(r["priority"], r["response"], r["resolution"]) for r in rows] == [
        ("critical", "1h", "8h"), ("high", "4h", "24h"), ("medium", "24h", "72h"), ("low", "72h", "168h"),
    ]
    assert [(r["response_seconds"], r["resolution_seconds"]) for r in rows] == [
        (3600, 28800), (14400, 86400), (86400, 259200), (259200, 604800),
    ]


def scenario_2(cli):
    """critical open 2h, high open 5h, medium open 2h, critical in_progress and assigned 2h (at 10:00)."""
    cli("agent add bo@example.com --name Bo", now="2026-11-23T07:00:00Z")
    critical = create(cli, priority="critical", now="2026-11-23T08:00:00Z", title="Checkout down")
    high = create(cli, priority="high", now="2026-11-23T05:00:00Z", title="Slow search")
    create(cli, priority="medium", now="2026-11-23T08:00:00Z", title="Typo on invoice")
    worked = create(cli, priority="critical", now="2026-11-23T08:00:00Z", title="Login loop")
    assigned = cli(f"ticket assign {worked} --to bo@example.com", now="2026-11-23T08:10:00Z")
    assert assigned.exit_code == 0, assigned.stderr
    update(cli, worked, "2026-11-23T08:20:00Z", "--status", "in_progress")
    return critical, high


def test_reference_scenario_2_exactly_two_response_breaches(cli):
    critical, high = scenario_2(cli)
    result = cli("sla breaches --format json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [(r["id"], r["metric"], r["state"], r["overdue_seconds"]) for r in rows] == [
        (critical, "response", "breached", 3600),  # due 09:00
        (high, "response", "breached", 3600),  # due 09:00 too; ties by id
    ]
    assert rows[0] == {
        "id": critical, "title": "Checkout down", "priority": "critical", "status": "open",
        "customer_email": "ana@example.com", "assignee_email": None, "metric": "response", "state": "breached",
        "due_at": "2026-11-23T09:00:00Z", "overdue_seconds": 3600,
    }
    assert result.stderr == "2 breaches: response 2; critical 1, high 1\n"


def test_fail_on_breach_prints_the_rows_then_exits_1(cli):
    scenario_2(cli)
    result = cli("sla breaches --fail-on-breach --format csv")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr == "2 breaches: response 2; critical 1, high 1\n"


def test_fail_on_breach_exits_0_when_nothing_is_breached(cli):
    create(cli, priority="medium")
    result = cli("sla breaches --fail-on-breach --format json")
    assert result.exit_code == 0
    assert result.stdout == "[]\n"
    assert result.stderr == "no breaches\n"


def test_reference_scenario_3_a_high_ticket_created_1h_ago_has_3h_left(cli):
    ticket_id = create(cli, priority="high", now="2026-11-23T09:00:00Z")
    assert show(cli, ticket_id)["sla"]["response"]["remaining_seconds"] == 10800
    assert breaches(cli) == []
    [row] = breaches(cli, "--at-risk 4h")
    assert (row["id"], row["metric"], row["state"], row["overdue_seconds"]) == (ticket_id, "response", "at_risk", -10800)
    result = cli("sla breaches --at-risk 4h --fail-on-breach --format json")
    assert result.exit_code == 1  # it lists a row
    assert result.stderr == "no breaches, 1 at risk: response 1; high 1\n"


# Business hours


def test_a_friday_afternoon_high_ticket_is_due_monday_11_berlin_time_with_office_hours(cli):
    result = cli("sla calendar set --timezone Europe/Berlin --hours 'mon-fri 09:00-17:00'")
    assert result.exit_code == 0, result.stderr
    ticket_id = create(cli, priority="high", now="2026-11-20T14:00:00Z")  # Friday 15:00 in Berlin
    ticket = show(cli, ticket_id, now="2026-11-20T14:00:00Z")
    assert ticket["response_due_at"] == "2026-11-23T10:00:00Z"  # Monday 11:00 in Berlin
    assert ticket["resolution_due_at"] == "2026-11-25T14:00:00Z"  # 2h Fri + 8h Mon + 8h Tue + 6h Wed


def test_calendar_show_set_and_clear(cli):
    assert json.loads(cli("sla calendar show --format json").stdout) == [
        {"clock": "24x7", "timezone": None, "hours": None, "holidays": []}
    ]
    result = cli("sla calendar set --timezone Europe/Berlin --hours 'Mon-Fri 9:00-17:00' "
                 "--holiday 2026-12-25 --holiday 2026-12-24")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == (
        "calendar: Europe/Berlin, mon-fri 09:00-17:00, 2 holidays\nrecomputed due dates of 0 unresolved tickets\n"
    )
    expected = {"clock": "business_hours", "timezone": "Europe/Berlin", "hours": "mon-fri 09:00-17:00",
                "holidays": ["2026-12-24", "2026-12-25"]}
    assert json.loads(cli("sla calendar show --format json").stdout) == [expected]
    assert "mon-fri 09:00-17:00" in cli("sla calendar").stdout
    result = cli("sla calendar clear")
    assert result.exit_code == 0
    assert result.stderr.startswith("calendar removed: SLA clocks run 24x7\n")
    assert json.loads(cli("sla calendar show --format json").stdout)[0]["clock"] == "24x7"


def test_calendar_set_and_clear_recompute_unresolved_due_dates(cli):
    friday = create(cli, priority="high", now="2026-11-20T14:00:00Z")
    done = create(cli, priority="high", now="2026-11-20T14:00:00Z")
    update(cli, done, "2026-11-20T15:00:00Z", "--status", "resolved")
    result = cli("sla calendar set --timezone Europe/Berlin --hours 'mon-fri 09:00-17:00'")
    assert "recomputed due dates of 1 unresolved ticket\n" in result.stderr
    assert show(cli, friday)["response_due_at"] == "2026-11-23T10:00:00Z"
    assert show(cli, done)["response_due_at"] == "2026-11-20T18:00:00Z"  # resolved: keeps its due date
    result = cli("sla calendar clear")
    assert "recomputed due dates of 1 unresolved ticket\n" in result.stderr
    assert show(cli, friday)["response_due_at"] == "2026-11-20T18:00:00Z"


@pytest.mark.parametrize(
    "args",
    [
        "--timezone Mars/Olympus --hours 'mon-fri 09:00-17:00'",
        "--timezone Europe/Berlin --hours 'mon-fri 9-17'",
        "--timezone Europe/Berlin --hours 'mon-fri 17:00-09:00'",
        "--timezone Europe/Berlin --hours 'someday 09:00-17:00'",
        "--timezone Europe/Berlin --hours 'mon-fri 09:00-17:00' --holiday 2026-02-30",
        "--timezone Europe/Berlin --hours 'mon-fri 09:00-17:00' --holiday christmas",
    ],
)
def test_a_bad_calendar_exits_2_and_writes_nothing(cli, args):
    ticket_id = create(cli, priority="high", now="2026-11-20T14:00:00Z")
    before = show(cli, ticket_id)
    result = cli(f"sla calendar set {args}")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("supportctl: error: ")
    assert json.loads(cli("sla calendar show --format json").stdout)[0]["clock"] == "24x7"
    assert show(cli, ticket_id) == before


# Changing targets


def test_sla_set_recomputes_unresolved_tickets_of_that_priority_only(cli):
    a = create(cli, priority="high", now="2026-11-23T08:00:00Z")
    b = create(cli, priority="high", now="2026-11-23T09:00:00Z")
    resolved = create(cli, priority="high", now="2026-11-23T08:00:00Z")
    update(cli, resolved, "2026-11-23T08:30:00Z", "--status", "resolved")
    medium = create(cli, priority="medium", now="2026-11-23T08:00:00Z")
    result = cli("sla set high --response 2h", now="2026-11-23T09:30:00Z")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == (
        "high: response 2h (was 4h), resolution 24h (was 24h)\nrecomputed due dates of 2 unresolved tickets\n"
    )
    assert policy(cli)["high"]["response"] == "2h"
    assert show(cli, a)["response_due_at"] == "2026-11-23T10:00:00Z"
    assert show(cli, b)["response_due_at"] == "2026-11-23T11:00:00Z"
    assert show(cli, a)["updated_at"] == "2026-11-23T09:30:00Z"
    assert show(cli, resolved)["response_due_at"] == "2026-11-23T12:00:00Z"  # kept its 4h due date
    assert show(cli, medium)["response_due_at"] == "2026-11-24T08:00:00Z"
    assert show(cli, a)["history"][-1]["kind"] == "created"  # the policy changed, not the ticket


@pytest.mark.parametrize("spelling, seconds", [("90m", 5400), ("1h30m", 5400), ("3d", 259200), ("PT4H", 14400)])
def test_targets_are_accepted_in_every_documented_spelling(cli, spelling, seconds):
    result = cli(f"sla set low --resolution {spelling} --format json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["resolution_seconds"] == seconds
    assert policy(cli)["low"]["resolution_seconds"] == seconds


@pytest.mark.parametrize(
    "args",
    [
        "high --response 4x",
        "high --response 4h --resolution P1M",
        "high --response 0m",
        "high --response -4h",
        "high --resolution 367d",
        "urgent --response 4h",
        "high",
    ],
)
def test_a_bad_sla_set_exits_2_and_changes_nothing(cli, args):
    ticket_id = create(cli, priority="high")
    before_policy, before_ticket = policy(cli), show(cli, ticket_id)
    result = cli(f"sla set {args}", now="2026-11-23T11:00:00Z")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert policy(cli) == before_policy
    assert show(cli, ticket_id) == before_ticket


def test_ten_hours_pending_move_resolution_due_ten_hours_later_also_after_sla_set(cli):
    ticket_id = create(cli, priority="medium")  # resolution 72h -> 2026-11-26T10:00Z
    update(cli, ticket_id, "2026-11-23T12:00:00Z", "--status", "pending")
    update(cli, ticket_id, "2026-11-23T22:00:00Z", "--status", "in_progress")
    assert show(cli, ticket_id)["resolution_due_at"] == "2026-11-26T20:00:00Z"
    cli("sla set medium --resolution 48h")
    assert show(cli, ticket_id)["resolution_due_at"] == "2026-11-25T20:00:00Z"  # 48h + 10h paused


def test_a_pause_still_running_keeps_counting_after_sla_set(cli):
    ticket_id = create(cli, priority="medium")
    update(cli, ticket_id, "2026-11-23T12:00:00Z", "--status", "pending")
    cli("sla set medium --resolution 48h", now="2026-11-23T15:00:00Z")
    assert show(cli, ticket_id)["resolution_due_at"] == "2026-11-25T10:00:00Z"
    update(cli, ticket_id, "2026-11-23T22:00:00Z", "--status", "in_progress")
    assert show(cli, ticket_id)["resolution_due_at"] == "2026-11-25T20:00:00Z"


def test_calendar_change_keeps_paused_time_as_measured_business_time(cli):
    ticket_id = create(cli, priority="high", now="2026-11-20T14:00:00Z")  # Friday
    update(cli, ticket_id, "2026-11-20T15:00:00Z", "--status", "pending")
    update(cli, ticket_id, "2026-11-21T01:00:00Z", "--status", "in_progress")  # 10h pending, 24x7
    cli("sla calendar set --timezone Europe/Berlin --hours 'mon-fri 09:00-17:00'")
    # 24h + 10h of open hours from Fri 15:00 Berlin: Fri 2h, Mon-Wed 24h, Thu 8h = 34h -> Thu 17:00 Berlin.
    assert show(cli, ticket_id)["resolution_due_at"] == "2026-11-26T16:00:00Z"
    explained = cli(f"sla explain {ticket_id}").stdout
    assert "24h resolution target + 10h paused (business time) = 34h" in explained


# The breach report


def test_breaches_have_one_row_per_ticket_and_metric_most_overdue_first(cli):
    both = create(cli, priority="critical", now="2026-11-22T00:00:00Z")  # response and resolution both overdue
    response_only = create(cli, priority="high", now="2026-11-23T02:00:00Z")
    rows = breaches(cli)
    assert [(r["id"], r["metric"], r["overdue_seconds"]) for r in rows] == [
        (both, "response", 33 * 3600),
        (both, "resolution", 26 * 3600),
        (response_only, "response", 4 * 3600),
    ]
    assert [(r["id"], r["metric"]) for r in breaches(cli, "--metric resolution")] == [(both, "resolution")]
    assert [r["id"] for r in breaches(cli, "--priority high --priority low")] == [response_only]
    result = cli("sla breaches --format json")
    assert result.stderr == "3 breaches: response 2, resolution 1; critical 2, high 1\n"


def test_sla_breaches_and_ticket_list_breached_agree(cli):
    scenario_2(cli)
    create(cli, priority="low", now="2026-11-10T00:00:00Z")
    listed = {t["id"] for t in json.loads(cli("ticket list --breached --format json").stdout)}
    assert listed == {r["id"] for r in breaches(cli)}


def test_a_pending_ticket_is_listed_only_if_it_was_overdue_when_paused(cli):
    early = create(cli, priority="critical", now="2026-11-23T00:00:00Z")  # resolution due 08:00
    update(cli, early, "2026-11-23T00:30:00Z", "--status", "pending")  # paused in time
    late = create(cli, priority="critical", now="2026-11-22T00:00:00Z")  # resolution due yesterday 08:00
    update(cli, late, "2026-11-22T12:00:00Z", "--status", "pending")  # paused when already overdue
    assert [(r["id"], r["metric"]) for r in breaches(cli)] == [(late, "resolution")]


def test_met_metrics_are_not_listed(cli):
    ticket_id = create(cli, priority="critical", now="2026-11-22T00:00:00Z")
    update(cli, ticket_id, "2026-11-22T12:00:00Z", "--status", "resolved")
    assert breaches(cli) == []


def test_breaches_filter_by_assignee(cli):
    scenario_2(cli)
    mine = create(cli, priority="critical", now="2026-11-22T00:00:00Z")
    cli(f"ticket assign {mine} --to bo@example.com", now="2026-11-22T00:30:00Z")  # responded in time
    rows = breaches(cli, "--assignee BO@example.com")
    assert [(r["id"], r["metric"], r["assignee_email"]) for r in rows] == [(mine, "resolution", "bo@example.com")]


@pytest.mark.parametrize(
    "args, code",
    [
        ("--at-risk 4x", 2),
        ("--at-risk 0m", 2),
        ("--metric speed", 2),
        ("--priority urgent", 2),
        ("--format xml", 2),
        ("--assignee not-an-email", 2),
        ("--assignee nobody@example.com", 3),
    ],
)
def test_bad_breach_report_options_exit_with_their_code_and_print_no_rows(cli, args, code):
    scenario_2(cli)
    result = cli(f"sla breaches {args}")
    assert result.exit_code == code
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1


def test_breaches_in_csv_guard_formulas_unless_raw_and_tables_show_overdue_as_a_duration(cli):
    create(cli, priority="critical", now="2026-11-23T07:30:00Z", title="=HYPERLINK(\"x\")")
    guarded = cli("sla breaches --format csv").stdout.splitlines()
    assert guarded[0] == (
        "id,title,priority,status,customer_email,assignee_email,metric,state,due_at,overdue_seconds"
    )
    assert guarded[1] == "1,\"'=HYPERLINK(\"\"x\"\")\",critical,open,ana@example.com,,response,breached,2026-11-23T08:30:00Z,5400"
    assert cli("sla breaches --format csv --raw").stdout.splitlines()[1].startswith('1,"=HYPERLINK(')
    tsv = list(csv.reader(io.StringIO(cli("sla breaches --format tsv").stdout), delimiter="\t"))
    assert tsv[1][1] == "'=HYPERLINK(\"x\")"
    ndjson = cli("sla breaches --format ndjson").stdout.splitlines()
    assert json.loads(ndjson[0])["title"] == "=HYPERLINK(\"x\")"
    table = cli("sla breaches --format table").stdout
    assert "1h30m" in table and "breached" in table


# sla explain


def test_explain_shows_the_arithmetic_with_closed_days_holidays_and_the_due_time(cli):
    cli("sla calendar set --timezone Europe/Berlin --hours 'mon-fri 09:00-17:00' --holiday 2026-11-23")
    ticket_id = create(cli, priority="high", now="2026-11-20T14:00:00Z")
    result = cli(f"sla explain {ticket_id}", now="2026-11-24T08:00:00Z")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        f"ticket {ticket_id}: Cannot log in",
        "  high, open, created 2026-11-20T14:00:00Z",
        "match: default (matched last): no conditions",
        "policy: high -> response 4h, resolution 24h",
        "calendar: Europe/Berlin, mon-fri 09:00-17:00; holidays: 2026-11-23",
        "pauses: never pending, no pause",
    ]
    response = lines[lines.index("response:") + 1: lines.index("resolution:") - 1]
    assert response == [
        "  created Fri 2026-11-20 15:00 Europe/Berlin + 4h of business hours (mon-fri 09:00-17:00)",
        "  Fri 2026-11-20 15:00–17:00: 2h counted (2h of 4h)",
        "  Sat 2026-11-21: closed",
        "  Sun 2026-11-22: closed",
        "  Mon 2026-11-23: holiday",
        "  Tue 2026-11-24 09:00–11:00: 2h counted (4h of 4h) → due 11:00",
        "  due Tue 2026-11-24 11:00 Europe/Berlin = 2026-11-24T10:00:00Z",
        "  now: running: due 2026-11-24T10:00:00Z, 2h left",
    ]


def test_explain_of_a_24x7_ticket_paused_now_says_so(cli):
    ticket_id = create(cli, priority="medium")
    update(cli, ticket_id, "2026-11-23T12:00:00Z", "--status", "pending")
    update(cli, ticket_id, "2026-11-23T14:00:00Z", "--status", "open")
    update(cli, ticket_id, "2026-11-23T15:00:00Z", "--status", "pending")
    out = cli(f"sla explain {ticket_id}", now="2026-11-23T18:00:00Z").stdout
    assert "calendar: none, the SLA clock runs 24x7" in out
    assert ("pauses: 2h of business time in pending before this pause; pending since 2026-11-23T15:00:00Z:"
            " the resolution clock stands still") in out
    assert "  72h resolution target + 2h paused (business time) = 74h" in out
    assert "  now: met: met at 2026-11-23T12:00:00Z, on time" in out
    assert "  now: paused: if work resumed now, due 2026-11-26T15:00:00Z" in out  # 72h + 2h + 3h so far


def test_explain_json_is_structured(cli):
    ticket_id = create(cli, priority="critical", now="2026-11-23T08:00:00Z")
    result = cli(f"sla explain {ticket_id} --format json")
    assert result.exit_code == 0
    [explained] = json.loads(result.stdout)
    assert (explained["clock"], explained["paused_seconds"], explained["paused_since"]) == ("24x7", 0, None)
    assert explained["response"] | {"steps": None} == {
        "metric": "response", "target": "1h", "target_seconds": 3600, "paused_seconds": 0,
        "due_at": "2026-11-23T09:00:00Z", "stored_due_at": "2026-11-23T09:00:00Z", "state": "breached",
        "effective_due_at": "2026-11-23T09:00:00Z", "remaining_seconds": -3600, "met_at": None, "steps": None,
    }
    assert explained["resolution"]["steps"] == [
        "created 2026-11-23T08:00:00Z + 8h (24x7) = 2026-11-23T16:00:00Z"
    ]


def test_explain_says_when_a_resolved_ticket_keeps_an_older_due_date(cli):
    ticket_id = create(cli, priority="high", now="2026-11-23T08:00:00Z")
    update(cli, ticket_id, "2026-11-23T09:00:00Z", "--status", "resolved")
    cli("sla set high --response 2h")
    out = cli(f"sla explain {ticket_id}").stdout
    assert "  the ticket carries 2026-11-23T12:00:00Z: set under an earlier policy or calendar" in out


@pytest.mark.parametrize("args, code", [("999", 3), ("1 --format csv", 2), ("0", 2)])
def test_explain_of_an_unknown_ticket_or_with_a_bad_format_fails_cleanly(cli, args, code):
    create(cli)
    result = cli(f"sla explain {args}")
    assert result.exit_code == code
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
