"""SLA history and reports (docs/reports.md, docs/sla.md "History"), on a two-week help desk
built by hand through the CLI. Every figure a test asserts is worked out beside it.

The default policy, 24x7 (no calendar): high 4h response / 24h resolution, critical 1h/8h,
medium 24h/72h, low 72h/168h; next reply = response. NOW is Monday 2026-11-23 10:00 UTC;
ISO week 2026-W46 is Mon 11-09 .. Sun 11-15, W47 is 11-16 .. 11-22.

    T1 high billing   created 11-09 09:00, ann assigned 10:00, resolved 20:00; the customer
                      writes 11-19 10:00 (reopens it: resolution cycle 2 and a next reply),
                      resolved again 11-19 16:00
    T2 high billing   created 11-10 09:00, ann assigned 15:00 (late), resolved 11-11 12:00
    T3 critical tech  created 11-12 08:00, bob assigned 08:30, pending 09:00-13:00, resolved 14:00
    T4 medium tech    created 11-16 10:00, never touched
    T5 low billing    created 11-21 10:00, never touched
    T6 high billing   created 11-17 09:00, ann assigned 09:30, given to bob 12:00, customer
                      writes 13:00, bob answers 14:00, resolved 11-18 08:00
    T7 high billing   created 11-20 09:00, ann assigned 09:30, still open
"""

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from tests.helpers import NOW, create, fingerprint, run


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc)


WINDOW = ["--since", "2026-11-09T00:00:00Z", "--until", "2026-11-23T00:00:00Z"]
ANN, BOB = "ann@support.example", "bob@support.example"


@pytest.fixture
def desk(cli):
    for email, name in ((ANN, "Ann"), (BOB, "Bob")):
        run(cli, ["agent", "add", email, "--name", name, *(["--capacity", "4"] if email == ANN else [])])
    run(cli, "team add billing --name Billing")
    run(cli, "team add tech --name Tech")
    run(cli, ["team", "member", "add", "billing", ANN])
    run(cli, ["team", "member", "add", "tech", BOB])

    def ticket(priority, team, created):
        return create(cli, "--team", team, priority=priority, now=created)

    def assign(ticket_id, who, when):
        run(cli, ["ticket", "assign", str(ticket_id), "--to", who], now=when)

    def status(ticket_id, value, when):
        run(cli, ["ticket", "update", str(ticket_id), "--status", value], now=when)

    def say(ticket_id, who, when):
        run(cli, ["ticket", "comment", str(ticket_id), "--author", who, "--body", "hello"], now=when)

    t1 = ticket("high", "billing", at(9, 9))
    assign(t1, ANN, at(9, 10))
    status(t1, "resolved", at(9, 20))
    t2 = ticket("high", "billing", at(10, 9))
    assign(t2, ANN, at(10, 15))
    status(t2, "resolved", at(11, 12))
    t3 = ticket("critical", "tech", at(12, 8))
    assign(t3, BOB, at(12, 8, 30))
    status(t3, "pending", at(12, 9))
    status(t3, "in_progress", at(12, 13))
    status(t3, "resolved", at(12, 14))
    t4 = ticket("medium", "tech", at(16, 10))
    t6 = ticket("high", "billing", at(17, 9))
    assign(t6, ANN, at(17, 9, 30))
    assign(t6, BOB, at(17, 12))
    say(t6, "ana@example.com", at(17, 13))
    say(t6, BOB, at(17, 14))
    status(t6, "resolved", at(18, 8))
    say(t1, "ana@example.com", at(19, 10))  # reopens T1
    status(t1, "resolved", at(19, 16))
    t7 = ticket("high", "billing", at(20, 9))
    assign(t7, ANN, at(20, 9, 30))
    t5 = ticket("low", "billing", at(21, 10))
    return {"T1": t1, "T2": t2, "T3": t3, "T4": t4, "T5": t5, "T6": t6, "T7": t7}


def rows(cli, args, now=NOW):
    return json.loads(run(cli, [*args, "--format", "json"], now=now).stdout)


def figures(found, key):
    return {r[key]: (r["total"], r["met"], r["met_late"], r["breached"], r["running"], r["pct_met"]) for r in found}


def test_report_sla_counts_the_cycles_due_in_the_window_per_metric(cli, desk):
    found = rows(cli, ["report", "sla", *WINDOW])
    # response, due in [11-09, 11-23): T1 met (10:00 <= 13:00), T2 met_late (15:00 > 13:00),
    #   T3 met (08:30 <= 09:00), T4 breached (due 11-17 10:00), T6 met, T7 met; T5 due 11-24: out.
    #   pct = 100 x 4 / (4 + 1 + 1) = 66.66… -> 66.7
    # resolution: T1 cycle 1 met (20:00 <= 11-10 09:00), T1 cycle 2 met (due 11-20 10:00, met
    #   11-19 16:00), T2 met_late (11-11 12:00 > 09:00), T3 met (due 08:00 + 8h + 4h pending =
    #   20:00), T4 breached (due 11-19 10:00), T6 met (11-18 08:00 <= 09:00), T7 breached (due
    #   11-21 09:00). pct = 100 x 4 / 7 = 57.14… -> 57.1
    # next reply: T6 met (due 13:00 + 4h = 17:00, answered 14:00), T1 met_late (due 14:00, met
    #   by resolving at 16:00). pct = 100 x 1 / 2 = 50.0
    assert [r["metric"] for r in found] == ["response", "resolution", "next_reply"]
    assert figures(found, "metric") == {
        "response": (6, 4, 1, 1, 0, 66.7),
        "resolution": (7, 4, 1, 2, 0, 57.1),
        "next_reply": (2, 1, 1, 0, 0, 50.0),
    }


def test_report_sla_by_agent_credits_the_agent_who_met_the_response_not_todays(cli, desk):
    found = rows(cli, ["report", "sla", *WINDOW, "--metric", "response", "--by", "agent"])
    # ann: T1 met, T2 met_late, T6 met (given to bob afterwards, still ann's), T7 met
    #   -> 4 total, 100 x 3 / 4 = 75.0; bob: T3 met -> 100.0; nobody: T4 breached -> 0.0
    assert figures(found, "agent_email") == {
        ANN: (4, 3, 1, 0, 0, 75.0), BOB: (1, 1, 0, 0, 0, 100.0), None: (1, 0, 0, 1, 0, 0.0)}
    [t6] = rows(cli, ["sla", "history", str(desk["T6"]), "--metric", "response"])
    assert (t6["assignee_email"], t6["state"]) == (ANN, "met")


def test_report_sla_by_team_and_by_week(cli, desk):
    teams = rows(cli, ["report", "sla", *WINDOW, "--metric", "response", "--by", "team"])
    # billing: T1 met, T2 late, T6 met, T7 met -> 3/4 = 75.0; tech: T3 met, T4 breached -> 1/2 = 50.0
    assert figures(teams, "team") == {"billing": (4, 3, 1, 0, 0, 75.0), "tech": (2, 1, 0, 1, 0, 50.0)}
    weeks = rows(cli, ["report", "sla", *WINDOW, "--metric", "resolution", "--by", "week"])
    # by the week of the due time: W46 T1#1 met (due 11-10), T2 late (11-11), T3 met (11-12) -> 2/3
    #   = 66.7; W47 T1#2 met (11-20), T4 breached (11-19), T6 met (11-18), T7 breached (11-21) -> 2/4
    assert figures(weeks, "week") == {"2026-W46": (3, 2, 1, 0, 0, 66.7), "2026-W47": (4, 2, 0, 2, 0, 50.0)}


def test_a_window_reaching_past_now_counts_unmet_cycles_not_yet_due_as_running(cli, desk):
    found = rows(cli, ["report", "sla", "--since", "2026-11-09T00:00:00Z", "--until", "2026-11-30T00:00:00Z"])
    # T5 (low, created 11-21 10:00): response due 11-24 10:00 and resolution due 11-28 10:00,
    # both after NOW: running, and not in pct_met (still 4/6 and 4/7).
    assert figures(found, "metric")["response"] == (7, 4, 1, 1, 1, 66.7)
    assert figures(found, "metric")["resolution"] == (8, 4, 1, 2, 1, 57.1)


def test_fail_under_exits_1_when_a_group_is_under_and_0_otherwise(cli, desk):
    args = ["report", "sla", *WINDOW, "--metric", "response", "--by", "team", "--format", "csv"]
    failed = run(cli, [*args, "--fail-under", "60"], code=1)  # tech is at 50.0
    assert "1 row under 60% met" in failed.stderr
    assert len(list(csv.DictReader(io.StringIO(failed.stdout)))) == 2  # the report is still written
    run(cli, [*args, "--fail-under", "50"])  # 50.0 is not under 50
    run(cli, [*args, "--fail-under", "95"], code=1)
    # A window with nothing decided (only T5's cycles, not yet due): pct_met null, never "under".
    quiet = ["report", "sla", "--since", "2026-11-24T00:00:00Z", "--until", "2026-11-30T00:00:00Z"]
    assert [r["pct_met"] for r in rows(cli, quiet)] == [None, None]
    run(cli, [*quiet, "--fail-under", "95"])


def test_new_targets_leave_last_periods_figures_and_finished_cycles_as_they_were(cli, desk):
    before = run(cli, ["report", "sla", *WINDOW, "--by", "policy", "--format", "csv"]).stdout
    # T7 (high, open) has a met response (09:30, target 4h): 15m would make it late, if rewritten.
    run(cli, "sla set high --response 15m --resolution 2h")
    assert run(cli, ["report", "sla", *WINDOW, "--by", "policy", "--format", "csv"]).stdout == before
    cycles = {r["metric"]: r for r in rows(cli, ["sla", "history", str(desk["T7"])])}
    assert (cycles["response"]["target_seconds"], cycles["response"]["state"]) == (14400, "met")
    # Its unmet resolution cycle follows the policy: 11-20 09:00 + 2h.
    assert (cycles["resolution"]["target_seconds"], cycles["resolution"]["due_at"]) == (7200, "2026-11-20T11:00:00Z")


def test_reopening_starts_resolution_cycle_2_due_a_full_target_after_the_reopen(cli, desk):
    cycles = rows(cli, ["sla", "history", str(desk["T1"])])
    assert [(c["metric"], c["cycle"], c["started_at"], c["due_at"], c["met_at"], c["state"]) for c in cycles] == [
        ("response", 1, "2026-11-09T09:00:00Z", "2026-11-09T13:00:00Z", "2026-11-09T10:00:00Z", "met"),
        ("resolution", 1, "2026-11-09T09:00:00Z", "2026-11-10T09:00:00Z", "2026-11-09T20:00:00Z", "met"),
        # reopened by the customer at 11-19 10:00: + 24h; and a next reply, + 4h, met by resolving at 16:00
        ("resolution", 2, "2026-11-19T10:00:00Z", "2026-11-20T10:00:00Z", "2026-11-19T16:00:00Z", "met"),
        ("next_reply", 1, "2026-11-19T10:00:00Z", "2026-11-19T14:00:00Z", "2026-11-19T16:00:00Z", "met_late"),
    ]


def test_sla_history_filters_by_state_team_assignee_and_a_duration_back_from_now(cli, desk):
    breached = rows(cli, ["sla", "history", "--state", "breached"])
    # T4 response (due 11-17 10:00) and resolution (11-19 10:00), T7 resolution (11-21 09:00)
    assert [(r["ticket_id"], r["metric"]) for r in breached] == [
        (desk["T4"], "response"), (desk["T4"], "resolution"), (desk["T7"], "resolution")]
    # --since 7d: started at or after NOW - 7 days = 11-16 10:00 (T4 at exactly 10:00 is in).
    recent = rows(cli, ["sla", "history", "--since", "7d", "--metric", "response"])
    assert [r["ticket_id"] for r in recent] == [desk["T4"], desk["T6"], desk["T7"], desk["T5"]]
    bobs = rows(cli, ["sla", "history", "--assignee", BOB, "--team", "billing"])
    # T6's resolution and next reply were met while bob held it (its response was ann's)
    assert [(r["ticket_id"], r["metric"]) for r in bobs] == [(desk["T6"], "resolution"), (desk["T6"], "next_reply")]


def test_report_response_and_resolution_percentiles_by_linear_interpolation(cli, desk):
    [response] = rows(cli, ["report", "response", *WINDOW])
    # met in the window: T1 1h, T2 6h, T3 30m, T6 30m, T7 30m -> 1800, 1800, 1800, 3600, 21600
    # p50: position 0.5 x 4 = 2 -> 1800; p90: position 3.6 -> 3600 + 0.6 x (21600 - 3600) = 14400
    # mean (1800 x 3 + 3600 + 21600) / 5 = 6120; unmet: T4 and T5 started in the window, unanswered
    assert response == {"group": "all", "count": 5, "unmet": 2, "p50_seconds": 1800.0, "p90_seconds": 14400.0,
                        "mean_seconds": 6120.0, "max_seconds": 21600.0}
    [resolution] = rows(cli, ["report", "resolution", *WINDOW])
    # T3 6h - 4h pending = 7200, T1#2 6h = 21600, T1#1 11h = 39600, T6 23h = 82800, T2 27h = 97200
    # p50 = 39600; p90: position 3.6 -> 82800 + 0.6 x 14400 = 91440; mean 248400 / 5 = 49680
    # unmet: T4, T5, T7
    assert resolution == {"group": "all", "count": 5, "unmet": 3, "p50_seconds": 39600.0, "p90_seconds": 91440.0,
                          "mean_seconds": 49680.0, "max_seconds": 97200.0}
    by_agent = {r["group"]: r for r in rows(cli, ["report", "resolution", *WINDOW, "--by", "agent"])}
    # bob resolved T3 (7200) and T6 (82800): p50 (7200 + 82800) / 2 = 45000, p90 7200 + 0.9 x 75600 = 75240
    assert (by_agent[BOB]["count"], by_agent[BOB]["p50_seconds"], by_agent[BOB]["p90_seconds"]) == (2, 45000.0, 75240.0)
    # ann: T1#1, T1#2, T2 -> 21600, 39600, 97200, and T7 unmet; nobody: T4, T5 unmet, no wait at all
    assert (by_agent[ANN]["count"], by_agent[ANN]["unmet"], by_agent[ANN]["p50_seconds"]) == (3, 1, 39600.0)
    assert (by_agent[None]["count"], by_agent[None]["unmet"], by_agent[None]["p50_seconds"]) == (0, 2, None)


def test_report_backlog_buckets_ages_and_percentiles(cli, desk):
    [backlog] = rows(cli, ["report", "backlog"])
    # open now: T5 2d (1d_3d), T7 3d1h = 262800 (3d_7d), T4 7d = 604800 (7d_30d: buckets are [a, b))
    # p50 262800; p90: position 1.8 -> 262800 + 0.8 x (604800 - 262800) = 536400
    # breaching: T4 (response), T7 (resolution); T5 is not due yet
    assert backlog == {"group": "all", "open": 3, "lt_4h": 0, "4h_1d": 0, "1d_3d": 1, "3d_7d": 1, "7d_30d": 1,
                       "gt_30d": 0, "oldest_id": desk["T4"], "oldest_age_seconds": 604800,
                       "p50_age_seconds": 262800.0, "p90_age_seconds": 536400.0, "breaching": 2}
    by_team = rows(cli, ["report", "backlog", "--by", "team", "--buckets", "1d,3d"])
    # billing: T5 2d, T7 3d1h -> p50 (172800 + 262800) / 2 = 217800; tech: T4 7d
    assert [(r["group"], r["open"], r["lt_1d"], r["1d_3d"], r["gt_3d"], r["p50_age_seconds"]) for r in by_team] == [
        ("billing", 2, 0, 1, 1, 217800.0), ("tech", 1, 0, 0, 1, 604800.0)]


def test_report_workload_counts_each_agents_open_tickets_against_capacity(cli, desk):
    late = create(cli, priority="critical", now=at(23, 9))  # response due 10:00, resolution 17:00
    run(cli, ["ticket", "assign", str(late), "--to", ANN], now=at(23, 9, 30))
    found = {r["agent_email"]: r for r in rows(cli, ["report", "workload"], now=at(23, 16, 30))}
    # ann: T7 (high, resolution breached since 11-21) and the critical one, due 17:00: at risk within the hour.
    # 2 open of capacity 4 -> 50.0; oldest T7, created 11-20 09:00: 3d7h30m = 286200 s
    assert {k: found[ANN][k] for k in ("teams", "open", "critical", "high", "capacity", "utilization_pct",
                                        "breaching", "at_risk_1h", "oldest_open_age_seconds")} == {
        "teams": ["billing"], "open": 2, "critical": 1, "high": 1, "capacity": 4, "utilization_pct": 50.0,
        "breaching": 1, "at_risk_1h": 1, "oldest_open_age_seconds": 286200}
    assert (found[BOB]["open"], found[BOB]["utilization_pct"], found[BOB]["teams"]) == (0, None, ["tech"])
    tech = rows(cli, ["report", "workload", "--team", "tech"])
    assert [r["agent_email"] for r in tech] == [BOB]
    assert "billing\t" in run(cli, ["report", "workload", "--format", "tsv"]).stdout


def test_reports_as_tables_show_durations_and_bars_and_piped_plain_columns(cli, desk):
    table = run(cli, ["report", "backlog", "--format", "table"]).stdout
    assert "bar" in table.splitlines()[0] and "█" in table
    assert "7d" in table and "3d1h" in table  # the oldest, and p50 in the two largest units
    plain = run(cli, ["report", "backlog"]).stdout  # piped: tsv, seconds, no bar
    assert plain.splitlines()[0].split("\t")[-1] == "breaching" and "█" not in plain
    compliance = run(cli, ["report", "sla", *WINDOW, "--format", "table"]).stdout
    # 66.7 of 100 over 20 cells: 13.34 cells, 107 eighths -> 13 full blocks and a ▍ (3/8)
    assert "█" * 13 + "▍" in compliance


def test_escalation_writes_each_newly_breached_cycles_event_once(cli, desk):
    run(cli, "queue escalate")
    run(cli, "queue escalate", now=at(23, 12))
    with_events = {}
    for name in ("T4", "T7"):
        history = json.loads(run(cli, f"ticket show {desk[name]} --format json").stdout)[0]["history"]
        with_events[name] = [e["to"]["metric"] for e in history if e["kind"] == "sla_breached"]
    # T4: response and resolution, once each, whatever the second run; T7: its resolution.
    assert with_events == {"T4": ["response", "resolution"], "T7": ["resolution"]}


@pytest.mark.parametrize("args, code", [
    (["report", "sla", "--since", "yesterday"], 2),
    (["report", "sla", "--since", "2026-11-20T00:00:00Z", "--until", "2026-11-10T00:00:00Z"], 2),
    (["report", "sla", "--by", "month"], 2),
    (["report", "sla", "--fail-under", "101"], 2),
    (["report", "backlog", "--buckets", "1d,4h"], 2),
    (["report", "backlog", "--buckets", "1d,soon"], 2),
    (["report", "workload", "--team", "nope"], 3),
    (["sla", "history", "999"], 3),
    (["sla", "history", "--assignee", "nobody@support.example"], 3),
    (["sla", "history", "--state", "late"], 2),
    (["ticket", "list", "--created-since", "3 days"], 2),
])
def test_bad_report_and_history_options_exit_with_their_code_and_print_nothing(cli, engine, args, code):
    before = fingerprint(engine)
    result = cli(args)
    assert result.exit_code == code, result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) <= 2
    assert fingerprint(engine) == before


def test_created_since_takes_a_duration_back_from_now(cli):
    old = create(cli, now=at(10, 9))
    new = create(cli, now=at(21, 9))
    listed = json.loads(run(cli, "ticket list --created-since 1w --format json").stdout)
    assert [t["id"] for t in listed] == [new] and old not in [t["id"] for t in listed]


def test_the_read_path_serves_reports_from_the_replica_url(cli, desk, database_url, monkeypatch, engine):
    # A replica is another server; the same database stands in for it, reached by the read URL
    # only: the primary's URL is made unreachable, so a report that used it would fail.
    monkeypatch.setenv("SUPPORTCTL_READ_DATABASE_URL", database_url)
    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    [backlog] = rows(cli, ["report", "backlog"])
    assert backlog["open"] == 3
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sla_cycles")).scalar() == 17  # 4 of T1, 3 of T6, 2 each
