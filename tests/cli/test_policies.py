"""SLA policies by contract, named calendars, the next-reply clock and what counts as the
first response (docs/sla.md, "Policies", "Next reply"). Every due time is worked out by
hand in a comment beside it.
"""

import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import text

from supportctl.domain.policies import Facts
from supportctl.services.sla.policy import Book, match_sql
from tests.helpers import NOW, create, fingerprint, run, show

AT = lambda minutes: NOW + timedelta(minutes=minutes)  # noqa: E731


def add_customer(cli, email, tier, company=None):
    run(cli, ["customer", "add", email, "--name", email.split("@")[0], "--tier", tier,
              *(["--company", company] if company else [])])


@pytest.fixture
def enterprise(cli):
    add_customer(cli, "cfo@big.example", "enterprise", "Big")
    run(cli, "sla policies add enterprise --tier enterprise --position 10")
    run(cli, "sla policies target enterprise critical --response 30m")


def test_an_enterprise_critical_ticket_is_due_in_30_minutes_a_basic_ones_in_an_hour(cli, enterprise):
    big = create(cli, customer="cfo@big.example", priority="critical")
    small = create(cli, customer="ana@example.com", priority="critical")
    assert (show(cli, big)["sla_policy"], show(cli, big)["response_due_at"]) == ("enterprise", "2026-11-23T10:30:00Z")
    assert (show(cli, small)["sla_policy"], show(cli, small)["response_due_at"]) == ("default", "2026-11-23T11:00:00Z")
    rows = json.loads(run(cli, "sla policies test --tier enterprise --format json").stdout)
    assert [(r["policy"], r["matched"]) for r in rows] == [("enterprise", True), ("default", True)]
    assert next(r["policy"] for r in rows if r["matched"]) == "enterprise"
    created = show(cli, big)["history"][0]
    assert created["to"]["sla_policy"] == "enterprise"
    explained = run(cli, f"sla explain {big}").stdout.splitlines()
    assert explained[2:4] == ["match: enterprise (position 10) matched tier=enterprise",
                              "policy: enterprise, critical -> response 30m, resolution 8h"]


def test_of_two_matching_policies_the_lower_position_wins_and_a_change_of_team_or_category_switches(cli, enterprise):
    run(cli, "team add billing --name Billing")
    run(cli, "sla policies add billing-desk --team billing --position 5")
    run(cli, "sla policies target billing-desk critical --response 15m --resolution 2h")
    run(cli, "sla policies add outages --category outage --position 1")
    run(cli, "sla policies target outages critical --response 5m")
    both = create(cli, "--team", "billing", customer="cfo@big.example", priority="critical")
    assert show(cli, both)["sla_policy"] == "billing-desk"  # position 5 before enterprise's 10
    trace = run(cli, "sla policies test --tier enterprise --team billing --format json").stdout
    assert [(r["policy"], r["matched"], r["reason"]) for r in json.loads(trace)] == [
        ("outages", False, "category is none, not outage"), ("billing-desk", True, "matched team=billing"),
        ("enterprise", True, "matched tier=enterprise"), ("default", True, "no conditions")]
    # Out of the team, an hour later: enterprise, and its due dates from creation (10:00 + 30m, + 8h).
    run(cli, ["ticket", "update", str(both), "--no-team"], now=AT(60))
    moved = show(cli, both, now=AT(60))
    assert (moved["sla_policy"], moved["response_due_at"], moved["resolution_due_at"]) == (
        "enterprise", "2026-11-23T10:30:00Z", "2026-11-23T18:00:00Z")
    # A category that the outages policy (position 1) matches: 10:00 + 5m.
    run(cli, ["ticket", "update", str(both), "--category", "outage"], now=AT(61))
    outage = show(cli, both, now=AT(61))
    assert (outage["sla_policy"], outage["response_due_at"]) == ("outages", "2026-11-23T10:05:00Z")
    changes = [(e["from"], e["to"]) for e in outage["history"] if e["kind"] == "sla_policy_changed"]
    assert changes == [({"sla_policy": "billing-desk"}, {"sla_policy": "enterprise"}),
                       ({"sla_policy": "enterprise"}, {"sla_policy": "outages"})]


def test_a_policy_with_a_berlin_calendar_counts_its_business_hours_only(cli, enterprise):
    run(cli, ["sla", "calendar", "set", "--name", "berlin", "--timezone", "Europe/Berlin", "--hours",
              "mon-fri 09:00-17:00"])
    run(cli, "sla policies update enterprise --calendar berlin")
    # Fri 2026-11-20 15:00Z is 16:00 in Berlin: one open hour that day (16:00-17:00), none at the
    # weekend, then Monday from 09:00 (08:00Z). High: response 4h = 1h Fri + 3h Mon -> Mon 12:00
    # Berlin = 11:00Z; resolution 24h = 1h Fri + 8h Mon, Tue, then 7h Wed -> Wed 16:00 = 15:00Z.
    friday = "2026-11-20T15:00:00Z"
    ticket = create(cli, customer="cfo@big.example", priority="high", now=friday)
    due = show(cli, ticket, now=friday)
    assert (due["response_due_at"], due["resolution_due_at"]) == ("2026-11-23T11:00:00Z", "2026-11-25T15:00:00Z")
    basic = show(cli, create(cli, priority="high", now=friday), now=friday)
    assert basic["response_due_at"] == "2026-11-20T19:00:00Z"  # default policy, 24x7: 15:00 + 4h
    [shown] = json.loads(run(cli, "sla policies show enterprise --format json").stdout)
    assert (shown["conditions"], shown["calendar"], shown["first_response"]) == ({"tier": ["enterprise"]}, "berlin",
                                                                                  "any")
    assert shown["targets"][0] == {"priority": "critical", "response": "30m", "response_seconds": 1800,
                                   "next_reply": "1h", "next_reply_seconds": 3600, "resolution": "8h",
                                   "resolution_seconds": 28800}
    calendars = json.loads(run(cli, "sla calendar list --format json").stdout)
    assert [(c["name"], c["timezone"]) for c in calendars] == [("berlin", "Europe/Berlin")]
    assert "calendar: Europe/Berlin, mon-fri 09:00-17:00; no holidays (berlin)" in run(
        cli, f"sla explain {ticket}", now=friday).stdout


def test_a_team_calendar_measures_its_tickets_whose_policy_names_none(cli):
    run(cli, ["sla", "calendar", "set", "--name", "berlin", "--timezone", "Europe/Berlin", "--hours",
              "mon-fri 09:00-17:00"])
    run(cli, "team add billing --name Billing --calendar berlin")
    ticket = create(cli, "--team", "billing", priority="high", now="2026-11-20T15:00:00Z")
    assert show(cli, ticket)["response_due_at"] == "2026-11-23T11:00:00Z"  # as above: 1h Friday, 3h Monday
    out = run(cli, "team update billing --no-calendar", now="2026-11-20T15:30:00Z")
    assert "recomputed due dates of 1 unresolved ticket of billing" in out.stderr
    assert show(cli, ticket)["response_due_at"] == "2026-11-20T19:00:00Z"  # 24x7 now: 15:00 + 4h
    assert json.loads(run(cli, "team list --format json").stdout)[0]["calendar"] is None
    run(cli, "team update billing --calendar berlin")
    assert "calendar berlin is used by team billing" in run(cli, "sla calendar clear --name berlin", code=4).stderr


def reply(cli, ticket, author, minutes, *extra):
    run(cli, ["ticket", "comment", str(ticket), "--author", author, "--body", "…", *extra], now=AT(minutes))


def next_reply(cli, ticket, minutes):
    return show(cli, ticket, now=AT(minutes))["sla"]["next_reply"]


def test_next_reply_starts_when_the_customer_writes_and_an_agent_reply_meets_it(cli):
    run(cli, "agent add sam@support.example --name Sam")
    ticket = create(cli, priority="high")  # next-reply target 4h, like the response's
    reply(cli, ticket, "sam@support.example", 10)  # the first response
    assert next_reply(cli, ticket, 11) == {"state": None, "due_at": None, "remaining_seconds": None}
    reply(cli, ticket, "ana@example.com", 60)  # T = 11:00, the customer writes again: due 11:00 + 4h = 15:00
    assert next_reply(cli, ticket, 61)["due_at"] == "2026-11-23T15:00:00Z"
    reply(cli, ticket, "sam@support.example", 75, "--internal")  # an internal note answers no one
    assert next_reply(cli, ticket, 76)["state"] == "running"
    reply(cli, ticket, "sam@support.example", 90)  # T + 30m: the agent replies
    # Asked at 11:31: met, due 15:00, 3h29m = 12,540 s before it.
    assert next_reply(cli, ticket, 91) == {"state": "met", "due_at": "2026-11-23T15:00:00Z",
                                            "remaining_seconds": 12540}


def test_an_unanswered_customer_is_a_next_reply_breach_and_pending_stops_the_clock(cli):
    run(cli, "agent add sam@support.example --name Sam")
    late, paused = create(cli, priority="critical"), create(cli, priority="critical")  # next reply 1h
    for ticket in (late, paused):
        reply(cli, ticket, "sam@support.example", 5)
        reply(cli, ticket, "ana@example.com", 10)  # due 11:10
    run(cli, ["ticket", "update", str(paused), "--status", "pending"], now=AT(40))  # 30m of the hour gone
    rows = json.loads(run(cli, "sla breaches --metric next_reply --format json", now=AT(90)).stdout)
    assert [(r["id"], r["metric"], r["due_at"], r["overdue_seconds"]) for r in rows] == [
        (late, "next_reply", "2026-11-23T11:10:00Z", 20 * 60)]  # 11:30 - 11:10
    assert [t["id"] for t in json.loads(run(cli, "ticket list --breached --format json", now=AT(90)).stdout)] == [late]
    assert next_reply(cli, paused, 90)["state"] == "paused"
    # Back from pending at 12:00 (80 minutes paused): due 11:10 + 80m = 12:30.
    run(cli, ["ticket", "update", str(paused), "--status", "in_progress"], now=AT(120))
    assert next_reply(cli, paused, 121)["due_at"] == "2026-11-23T12:30:00Z"
    escalated = json.loads(run(cli, "queue escalate --format json", now=AT(121)).stdout)
    assert [(e["id"], e["metric"]) for e in escalated] == [(late, "next_reply")]


def test_a_customer_comment_reopens_a_resolved_ticket_is_refused_on_a_closed_one_and_strangers_are_3(cli, engine):
    run(cli, "agent add sam@support.example --name Sam")
    ticket = create(cli)
    reply(cli, ticket, "sam@support.example", 5)
    run(cli, ["ticket", "update", str(ticket), "--status", "resolved"], now=AT(6))
    reply(cli, ticket, "ana@example.com", 30)
    reopened = show(cli, ticket, now=AT(31))
    assert (reopened["status"], reopened["resolved_at"]) == ("open", None)
    [moved] = [e for e in reopened["history"] if e["kind"] == "status_changed" and e["to"] == "open"]
    assert moved["actor"] == "ana@example.com"
    assert reopened["sla"]["next_reply"]["due_at"] == "2026-11-24T10:30:00Z"  # medium: 24h from 10:30
    add_customer(cli, "eve@else.example", "basic")
    before = fingerprint(engine)
    stranger = run(cli, ["ticket", "comment", str(ticket), "--author", "eve@else.example", "--body", "hi"], code=3)
    assert "neither an agent nor ticket" in stranger.stderr
    assert fingerprint(engine) == before
    run(cli, ["ticket", "update", str(ticket), "--status", "closed"], now=AT(40))
    run(cli, ["ticket", "comment", str(ticket), "--author", "ana@example.com", "--body", "again"], code=4)


def test_a_reply_policy_leaves_an_auto_assigned_ticket_unanswered_until_an_agent_writes(cli):
    run(cli, "agent add sam@support.example --name Sam")
    run(cli, "sla policies add humans --tier basic --first-response reply --position 1")
    ticket = create(cli, priority="critical")  # response due 11:00
    run(cli, "queue assign")
    assert show(cli, ticket)["first_response_at"] is None  # an assignment is not a reply here
    rows = json.loads(run(cli, "sla breaches --format json", now=AT(61)).stdout)
    assert [(r["id"], r["metric"], r["state"]) for r in rows] == [(ticket, "response", "breached")]
    reply(cli, ticket, "sam@support.example", 70)
    assert show(cli, ticket, now=AT(71))["sla"]["response"]["state"] == "met_late"
    # Under `any` (the default policy's), the same assignment answers at once.
    add_customer(cli, "cfo@big.example", "enterprise")
    other = create(cli, customer="cfo@big.example", priority="critical")
    run(cli, f"ticket assign {other} --to sam@support.example")
    assert show(cli, other)["first_response_at"] == "2026-11-23T10:00:00Z"


def test_the_new_york_spring_forward_example_is_due_at_eight(cli):
    run(cli, ["sla", "calendar", "set", "--timezone", "America/New_York", "--hours",
              "sun 01:30-02:30,03:30-04:00; mon-fri 09:00-17:00"])
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: open 01:30-02:00 (06:30Z-07:00Z) and 03:30-04:00 EDT
    # (07:30Z-08:00Z); an hour of critical response from 06:00Z ends at 08:00Z.
    ticket = create(cli, priority="critical", now="2026-03-08T06:00:00Z")
    assert show(cli, ticket, now="2026-03-08T06:00:00Z")["response_due_at"] == "2026-03-08T08:00:00Z"
    explained = run(cli, f"sla explain {ticket}", now="2026-03-08T06:00:00Z").stdout
    assert "  Sun 2026-03-08 01:30–02:00, 03:30–04:00: 1h counted (1h of 1h) → due 04:00" in explained


def test_a_pause_across_the_fall_back_night_counts_the_repeated_hour_in_both_passes(cli):
    # Open every night 00:30-01:30 in New York: an hour. On Sun 2026-11-01 02:00 EDT falls back to
    # 01:00 EST, so the wall clock shows 01:00-01:30 twice: 00:30-01:30 EDT (04:30Z-05:30Z) and
    # 01:00-01:30 EST (06:00Z-06:30Z), 1h30m that night.
    run(cli, ["sla", "calendar", "set", "--timezone", "America/New_York", "--hours", "mon-sun 00:30-01:30"])
    ticket = create(cli, now="2026-10-31T12:00:00Z")
    # Medium resolution, 72h of open time from Sat 12:00Z: Nov 1 gives 1h30m, the 70 nights
    # Nov 2 - Jan 10 an hour each (71h30m), then 30m of Jan 11: 01:00 EST = 06:00Z.
    assert show(cli, ticket, now="2026-10-31T12:00:00Z")["resolution_due_at"] == "2027-01-11T06:00:00Z"
    # Pending across that night (Sat 12:00Z - Sun 12:00Z): 1h30m paused, both passes counted.
    run(cli, ["ticket", "update", str(ticket), "--status", "pending"], now="2026-10-31T12:00:00Z")
    run(cli, ["ticket", "update", str(ticket), "--status", "open"], now="2026-11-01T12:00:00Z")
    resumed = show(cli, ticket, now="2026-11-01T12:00:00Z")
    # 73h30m: 71h30m by Jan 10, an hour on Jan 11, the last hour ends Jan 12 01:30 EST = 06:30Z.
    assert resumed["resolution_due_at"] == "2027-01-12T06:30:00Z"
    [explained] = json.loads(run(cli, f"sla explain {ticket} --format json", now="2026-11-01T12:00:00Z").stdout)
    assert explained["paused_seconds"] == 5400


def test_removing_default_duplicates_and_unknown_names_change_nothing(cli, engine, enterprise):
    before = fingerprint(engine)
    assert "cannot be removed" in run(cli, "sla policies remove default", code=4).stderr
    assert "already exists" in run(cli, "sla policies add enterprise --tier premium", code=4).stderr
    assert "no conditions or position" in run(cli, "sla policies update default --tier premium", code=4).stderr
    assert "taken by enterprise" in run(cli, "sla policies add other --tag x --position 10", code=4).stderr
    for args in ("sla policies show nope", "sla policies remove nope", "sla policies target nope high --response 1h",
                 "sla policies add x --calendar nope", "sla calendar show --name nope",
                 "sla policies add x --team nope", "sla policies test --team nope"):
        assert run(cli, args, code=3).stderr.count("\n") == 1, args
    for args in ("sla policies add Bad", "sla policies target enterprise high --response soon",
                 "sla policies add x --tier gold", "sla policies add x --first-response maybe",
                 "sla policies target enterprise high"):
        run(cli, args, code=2)
    assert fingerprint(engine) == before


def test_removing_a_policy_gives_its_open_tickets_the_next_match_and_resolved_ones_keep_it(cli, enterprise):
    done, open_ = (create(cli, customer="cfo@big.example", priority="critical") for _ in range(2))
    run(cli, ["ticket", "update", str(done), "--status", "resolved"])
    out = run(cli, "sla policies remove enterprise", now=AT(5))
    assert "1 unresolved ticket got another policy" in out.stderr
    assert (show(cli, open_)["sla_policy"], show(cli, open_)["response_due_at"]) == ("default", "2026-11-23T11:00:00Z")
    assert show(cli, done)["sla_policy"] == "enterprise"
    names = [p["name"] for p in json.loads(run(cli, "sla policies list --format json").stdout)]
    assert names == ["default"]
    run(cli, "sla policies add enterprise --tier enterprise")  # the name is free again


def test_deactivating_a_policy_re_chooses_its_tickets_and_sla_policy_and_set_keep_their_rows(cli, enterprise):
    ticket = create(cli, customer="cfo@big.example", priority="critical")
    run(cli, "sla policies update enterprise --inactive")
    assert show(cli, ticket)["sla_policy"] == "default"
    assert [r["priority"] for r in json.loads(run(cli, "sla policy --format json").stdout)] == [
        "critical", "high", "medium", "low"]
    assert list(json.loads(run(cli, "sla policy --format json").stdout)[0]) == [
        "priority", "response", "resolution", "response_seconds", "resolution_seconds"]


def test_import_measures_each_row_by_its_policy_and_team(cli, enterprise, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("title,customer_email,priority\nBig,cfo@big.example,critical\nSmall,bo@example.com,critical\n")
    run(cli, ["ticket", "import", str(path)])
    rows = json.loads(run(cli, "ticket list --format json --sort id").stdout)
    assert [(r["title"], r["sla_policy"], r["response_due_at"]) for r in rows] == [
        ("Big", "enterprise", "2026-11-23T10:30:00Z"), ("Small", "default", "2026-11-23T11:00:00Z")]


def test_sql_and_python_choose_the_same_policy(cli, engine):
    """match_sql (imports, re-choosing) and domain.policies (create, update, test) are one rule."""
    rng = random.Random(7)
    values = ["a", "b"]
    run(cli, "team add a --name A")
    run(cli, "team add b --name B")
    for n in range(8):
        args = []
        for flag in ("--tier", "--company", "--team", "--category", "--tag"):
            for v in rng.sample(["enterprise", "basic"] if flag == "--tier" else values, rng.randint(0, 1)):
                args += [flag, v]
        run(cli, ["sla", "policies", "add", f"p{n}", "--position", str(rng.randint(1, 99) * 10 + n), *args])
    cases = [Facts(rng.choice(["enterprise", "basic"]), rng.choice([None, *values]), rng.choice([None, *values]),
                   rng.choice([None, *values]), tuple(rng.sample(values, rng.randint(0, 2)))) for _ in range(200)]
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        book = Book.read(cursor)
        for f in cases:
            cursor.execute("SELECT " + match_sql("%(tier)s", "%(company)s", "%(team)s", "%(category)s",
                                                 "%(tags)s::text[]"),
                           {"tier": f.tier, "company": f.company, "team": f.team, "category": f.category,
                            "tags": list(f.tags)})
            assert book.policies[cursor.fetchone()[0]].name == book.choose(f).name, f
        assert conn.execute(text("SELECT count(*) FROM sla_policies")).scalar() == 9
