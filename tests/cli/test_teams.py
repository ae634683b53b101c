"""Teams (docs/teams.md): routing, assignment inside a team, absence, moving tickets, and
the errors that change nothing.

Every command runs at the same --now unless a test says otherwise, so turns come from the
database's cursors, never from the clock.
"""

import json
from datetime import timedelta

import pytest

from tests.helpers import NOW, create, fingerprint, run, show

A = ["a1@support.example", "a2@support.example", "a3@support.example"]
B = ["b1@support.example", "b2@support.example", "b3@support.example"]


def add_agent(cli, email, *extra):
    run(cli, ["agent", "add", email, "--name", email.split("@")[0], *extra])


def add_team(cli, slug, members, *extra):
    run(cli, ["team", "add", slug, "--name", slug.title(), *extra])
    if members:
        run(cli, ["team", "member", "add", slug, *members])


@pytest.fixture
def two_teams(cli):
    for email in A + B:
        add_agent(cli, email)
    add_team(cli, "alpha", A)
    add_team(cli, "beta", B)


def queue_assign(cli, *extra, code=0, now=NOW):
    result = run(cli, ["queue", "assign", "--format", "json", *extra], code=code, now=now)
    return json.loads(result.stdout), result.stderr


def auto(cli, ticket_id, code=0, now=NOW):
    result = run(cli, ["ticket", "assign", str(ticket_id), "--auto", "--format", "json"], code=code, now=now)
    return json.loads(result.stdout)[0]["assignee_email"] if code == 0 else result.stderr


def history(cli, ticket_id):
    return [e["kind"] for e in show(cli, ticket_id)["history"]]


def test_nine_tickets_of_team_a_go_three_to_each_member_of_a_and_none_to_b(cli, two_teams):
    ids = [create(cli, "--team", "alpha") for _ in range(9)]
    others = [create(cli) for _ in range(3)]  # no team: anyone's, B included
    rows, summary = queue_assign(cli, "--team", "alpha")
    assert sorted(r["id"] for r in rows) == ids  # --team alpha looks at alpha's tickets only
    assert [r["assignee_email"] for r in rows] == A * 3  # exact turns: same second throughout
    assert all(show(cli, i)["assignee_email"] is None for i in others)
    assert "assigned 9 tickets (round-robin)" in summary


def test_a_member_of_two_teams_has_a_turn_in_each_and_b_does_not_move_a(cli):
    for email in ("ana@support.example", "bo@support.example", "cy@support.example"):
        add_agent(cli, email)
    add_team(cli, "alpha", ["ana@support.example", "bo@support.example"])
    add_team(cli, "beta", ["ana@support.example", "cy@support.example"])
    # alpha: ana (first by id), then bo; ana's alpha turn is now the older one.
    assert [auto(cli, create(cli, "--team", "alpha")) for _ in range(2)] == ["ana@support.example",
                                                                            "bo@support.example"]
    # beta: ana has never had a beta ticket, so ana (by id) and then cy.
    assert [auto(cli, create(cli, "--team", "beta")) for _ in range(2)] == ["ana@support.example",
                                                                           "cy@support.example"]
    # With one cursor per agent ana's beta ticket (the newest turn) would make it bo's go;
    # alpha's own cursor says ana's alpha turn is older than bo's.
    assert auto(cli, create(cli, "--team", "alpha")) == "ana@support.example"
    assert auto(cli, create(cli, "--team", "alpha")) == "bo@support.example"


def test_least_loaded_counts_open_tickets_across_teams(cli):
    for email in ("ana@support.example", "bo@support.example", "cy@support.example"):
        add_agent(cli, email)
    add_team(cli, "alpha", ["ana@support.example", "bo@support.example"])
    add_team(cli, "beta", ["ana@support.example", "cy@support.example"])
    for _ in range(2):  # ana: two beta tickets
        run(cli, ["ticket", "assign", str(create(cli, "--team", "beta")), "--to", "ana@support.example"])
    ticket = create(cli, "--team", "alpha")
    out = run(cli, ["ticket", "assign", str(ticket), "--auto", "--strategy", "least-loaded", "--format", "json"])
    assert json.loads(out.stdout)[0]["assignee_email"] == "bo@support.example"  # ana 2 open, bo 0


def test_by_priority_sends_a_critical_team_ticket_to_the_teams_senior(cli):
    add_agent(cli, "ana@support.example")
    add_agent(cli, "sen@support.example", "--role", "senior")
    add_agent(cli, "out@support.example", "--role", "senior")  # senior, but not in alpha
    add_team(cli, "alpha", ["ana@support.example", "sen@support.example"])
    ticket = create(cli, "--team", "alpha", priority="critical")
    out = run(cli, ["ticket", "assign", str(ticket), "--auto", "--strategy", "by-priority", "--format", "json"])
    assert json.loads(out.stdout)[0]["assignee_email"] == "sen@support.example"


def test_an_away_agent_gets_nothing_until_their_return_and_keeps_their_tickets(cli):
    for email in ("ana@support.example", "sam@support.example"):
        add_agent(cli, email)
    held = create(cli)
    run(cli, ["ticket", "assign", str(held), "--to", "sam@support.example"])
    back_at = NOW + timedelta(days=2)
    away = run(cli, ["agent", "away", "sam@support.example", "--until", back_at.isoformat(), "--reason", "vacation"])
    assert "sam@support.example is away until 2026-11-25T10:00:00Z" in away.stderr
    [sam] = [a for a in json.loads(run(cli, "agent list --format json").stdout) if a["email"] == "sam@support.example"]
    assert (sam["away_until"], sam["away_reason"]) == ("2026-11-25T10:00:00Z", "vacation")
    # Before T: four tickets in a row, all to ana, never sam (round-robin would alternate).
    before = NOW + timedelta(days=1)
    assert [auto(cli, create(cli, now=before), now=before) for _ in range(4)] == ["ana@support.example"] * 4
    assert show(cli, held)["assignee_email"] == "sam@support.example"  # away keeps their tickets
    # After T: sam is back in the rotation (their turn is the oldest).
    after = back_at + timedelta(minutes=1)
    assert auto(cli, create(cli, now=after), now=after) == "sam@support.example"


def test_agent_back_ends_an_absence_and_a_past_until_is_refused(cli, engine):
    for email in ("ana@support.example", "sam@support.example"):
        add_agent(cli, email)
    run(cli, ["agent", "away", "sam@support.example", "--until", (NOW + timedelta(days=9)).isoformat()])
    before = fingerprint(engine)
    bad = run(cli, ["agent", "away", "ana@support.example", "--until", (NOW - timedelta(hours=1)).isoformat()],
              code=2)
    assert "--until 2026-11-23T09:00:00Z is not in the future" in bad.stderr
    run(cli, ["agent", "away", "nobody@support.example", "--until", "2026-12-24T00:00:00Z"], code=3)
    assert fingerprint(engine) == before
    run(cli, ["agent", "back", "sam@support.example"])
    assert [auto(cli, create(cli)) for _ in range(2)] == ["ana@support.example", "sam@support.example"]


def test_a_team_with_nobody_eligible_exits_4_naming_the_team_and_assigns_nobody_else(cli, engine):
    add_agent(cli, "free@support.example")  # eligible, but not in alpha
    add_agent(cli, "away@support.example")
    add_agent(cli, "full@support.example", "--capacity", "1")
    add_agent(cli, "lena@support.example", "--role", "lead")
    add_team(cli, "alpha", ["away@support.example", "full@support.example"], "--lead", "lena@support.example")
    run(cli, ["agent", "away", "away@support.example", "--until", (NOW + timedelta(days=1)).isoformat()])
    run(cli, ["ticket", "assign", str(create(cli, "--team", "alpha")), "--to", "full@support.example"])
    ticket = create(cli, "--team", "alpha")
    before = fingerprint(engine)
    stderr = auto(cli, ticket, code=4)
    assert "no eligible agent in alpha" in stderr
    assert fingerprint(engine) == before
    # create --auto-assign: exit 4 and no ticket.
    run(cli, ["ticket", "create", "--title", "x", "--customer", "ana@example.com", "--team", "alpha",
              "--auto-assign"], code=4)
    assert fingerprint(engine) == before


def test_queue_assign_leaves_a_teams_tickets_nobody_can_take_counts_them_and_exits_0(cli):
    add_agent(cli, "free@support.example")
    add_agent(cli, "away@support.example")
    add_team(cli, "billing", ["away@support.example"])
    run(cli, ["agent", "away", "away@support.example", "--until", (NOW + timedelta(days=1)).isoformat()])
    waiting = [create(cli, "--team", "billing") for _ in range(2)]
    loose = create(cli)
    rows, stderr = queue_assign(cli)
    assert [(r["id"], r["assignee_email"]) for r in rows] == [(loose, "free@support.example")]
    assert "2 left unassigned: no eligible agent in billing" in stderr
    assert all(show(cli, i)["assignee_email"] is None for i in waiting)


def test_manual_assignment_to_a_non_member_is_allowed_and_noted(cli, two_teams):
    ticket = create(cli, "--team", "alpha")
    out = run(cli, ["ticket", "assign", str(ticket), "--to", B[0]])
    assert f"{B[0]} is not a member of alpha" in out.stderr
    assert show(cli, ticket)["assignee_email"] == B[0]


def test_moving_a_ticket_to_a_team_its_assignee_is_not_in_unassigns_it_in_the_same_change(cli, two_teams):
    ticket = create(cli, "--team", "beta")
    run(cli, ["ticket", "assign", str(ticket), "--to", B[0]])
    out = run(cli, ["ticket", "update", str(ticket), "--team", "alpha"])
    assert "unassigned" in out.stderr
    moved = show(cli, ticket)
    assert (moved["team"], moved["assignee_email"]) == ("alpha", None)
    assert history(cli, ticket)[-2:] == ["team_changed", "unassigned"]
    [change] = [e for e in moved["history"] if e["kind"] == "team_changed"]
    assert (change["from"], change["to"]) == ({"team": "beta"}, {"team": "alpha"})


def test_keep_assignee_and_no_team_keep_the_assignee_and_a_member_stays(cli, two_teams):
    kept = create(cli, "--team", "beta")
    run(cli, ["ticket", "assign", str(kept), "--to", B[0]])
    run(cli, ["ticket", "update", str(kept), "--team", "alpha", "--keep-assignee"])
    assert (show(cli, kept)["team"], show(cli, kept)["assignee_email"]) == ("alpha", B[0])
    run(cli, ["ticket", "update", str(kept), "--no-team"])
    assert (show(cli, kept)["team"], show(cli, kept)["assignee_email"]) == (None, B[0])
    assert history(cli, kept).count("unassigned") == 0
    # A member of the new team stays assigned.
    add = run(cli, ["team", "member", "add", "alpha", B[1]])
    member = create(cli, "--team", "beta")
    run(cli, ["ticket", "assign", str(member), "--to", B[1]])
    run(cli, ["ticket", "update", str(member), "--team", "alpha"])
    assert show(cli, member)["assignee_email"] == B[1]
    assert add.exit_code == 0


def test_bad_slug_is_2_unknown_team_3_removing_the_lead_4_and_nothing_is_written(cli, engine):
    add_agent(cli, "lena@support.example")
    add_team(cli, "alpha", [], "--lead", "lena@support.example")
    ticket = create(cli)
    before = fingerprint(engine)
    for args in (["team", "add", "Billing", "--name", "B"], ["team", "add", "x_y", "--name", "B"],
                 ["team", "add", "a" * 41, "--name", "B"], ["team", "add", "bill ing", "--name", "B"],
                 ["ticket", "list", "--team", "Alpha"]):
        assert "slug" in run(cli, args, code=2).stderr
    for args in (["team", "show", "nope"], ["ticket", "create", "--title", "x", "--customer", "c@example.com",
                                            "--team", "nope"],
                 ["ticket", "update", str(ticket), "--team", "nope"], ["ticket", "list", "--team", "nope"],
                 ["ticket", "export", "--team", "nope"], ["sla", "breaches", "--team", "nope"],
                 ["queue", "assign", "--team", "nope"], ["queue", "escalate", "--team", "nope"],
                 ["team", "member", "add", "nope", "lena@support.example"], ["team", "route", "add", "nope",
                                                                             "--tag", "x"]):
        assert "no team nope" in run(cli, args, code=3).stderr, args
    refused = run(cli, ["team", "member", "remove", "alpha", "lena@support.example"], code=4)
    assert "leads alpha" in refused.stderr
    assert "already exists" in run(cli, ["team", "add", "alpha", "--name", "Again"], code=4).stderr
    assert fingerprint(engine) == before


def test_an_inactive_team_gets_no_new_ticket_and_matches_no_route_but_keeps_its_own(cli, engine):
    add_team(cli, "alpha", [])
    run(cli, ["team", "route", "add", "alpha", "--category", "billing"])
    kept = create(cli, "--category", "billing")
    run(cli, ["team", "update", "alpha", "--inactive"])
    loose = create(cli)
    before = fingerprint(engine)
    assert "inactive" in run(cli, ["ticket", "update", str(loose), "--team", "alpha"], code=4).stderr
    assert "inactive" in run(cli, ["ticket", "create", "--title", "x", "--customer", "c@example.com",
                                   "--team", "alpha"], code=4).stderr
    assert fingerprint(engine) == before
    assert show(cli, create(cli, "--category", "billing"))["team"] is None  # no route of an inactive team
    assert show(cli, kept)["team"] == "alpha"


def test_routes_pick_the_first_matching_by_position_and_the_created_event_names_the_team(cli):
    run(cli, ["customer", "add", "big@corp.example", "--name", "Big", "--tier", "enterprise", "--company", "Corp"])
    add_team(cli, "billing", [])
    add_team(cli, "vip", [])
    add_team(cli, "tech", [])
    run(cli, ["team", "route", "add", "billing", "--category", "billing"])  # position 1
    run(cli, ["team", "route", "add", "tech", "--tag", "api"])  # position 2
    first = run(cli, ["team", "route", "add", "vip", "--tier", "enterprise", "--company", "Corp", "--position", "0"],
                code=2)
    assert "--position" in first.stderr
    run(cli, ["team", "route", "add", "vip", "--tier", "enterprise", "--company", "Corp", "--position", "3"])
    routes = json.loads(run(cli, "team route list --format json").stdout)
    assert [(r["team"], r["position"]) for r in routes] == [("billing", 1), ("tech", 2), ("vip", 3)]
    # Both billing (1) and vip (3) match: billing is first.
    both = create(cli, "--category", "billing", customer="big@corp.example")
    assert show(cli, both)["team"] == "billing"
    assert show(cli, create(cli, "--tag", "api", "--tag", "x"))["team"] == "tech"
    assert show(cli, create(cli, customer="big@corp.example"))["team"] == "vip"  # tier and company both hold
    assert show(cli, create(cli, "--category", "other"))["team"] is None
    # An explicit --team wins over the routes; routing writes no team_changed event.
    assert show(cli, create(cli, "--category", "billing", "--team", "tech"))["team"] == "tech"
    created = show(cli, both)["history"][0]
    assert created["kind"] == "created" and created["to"]["team"] == "billing"
    assert "team_changed" not in history(cli, both)
    # A route needs a condition; a taken position is refused; removal stops the routing.
    assert "at least one condition" in run(cli, ["team", "route", "add", "tech"], code=2).stderr
    assert "taken" in run(cli, ["team", "route", "add", "tech", "--tag", "y", "--position", "1"], code=4).stderr
    run(cli, ["team", "route", "remove", str(routes[0]["id"])])
    assert show(cli, create(cli, "--category", "billing"))["team"] is None
    run(cli, ["team", "route", "remove", str(routes[0]["id"])], code=3)


def test_import_routes_rows_without_a_team_and_keeps_a_given_one(cli, tmp_path):
    add_team(cli, "billing", [])
    add_team(cli, "tech", [])
    run(cli, ["team", "route", "add", "billing", "--category", "billing"])
    path = tmp_path / "in.csv"
    path.write_text("title,customer_email,category,team\n"
                    "Refund,ana@example.com,billing,\n"
                    "Refund too,ana@example.com,billing,tech\n"
                    "Other,ana@example.com,misc,\n")
    run(cli, ["ticket", "import", str(path)])
    tickets = json.loads(run(cli, "ticket list --format json --sort id").stdout)
    assert [t["team"] for t in tickets] == ["billing", "tech", None]
    bad = tmp_path / "bad.csv"
    bad.write_text("title,customer_email,team\nX,ana@example.com,nope\n")
    assert "line 2: team: 'nope': no team has this slug" in run(cli, ["ticket", "import", str(bad)], code=2).stderr


def test_team_list_and_show_count_members_open_and_breaching_tickets(cli, two_teams):
    run(cli, ["team", "update", "alpha", "--lead", A[0]])
    t1, t2, t3 = (create(cli, "--team", "alpha", priority="high") for _ in range(3))
    run(cli, ["ticket", "assign", str(t1), "--to", A[1]])
    run(cli, ["ticket", "update", str(t3), "--status", "resolved"])
    run(cli, ["team", "route", "add", "alpha", "--tag", "vip"])
    # Three days on, the high tickets' response (4h) and resolution (24h) targets have passed:
    # t2 is unanswered and unresolved (breaching), t1 was answered by its assignment but not
    # resolved within 24h (breaching), t3 is resolved (neither open nor breaching).
    later = NOW + timedelta(days=3)
    teams = {t["slug"]: t for t in json.loads(run(cli, "team list --format json", now=later).stdout)}
    assert teams["alpha"] == {"slug": "alpha", "name": "Alpha", "lead_email": A[0], "calendar": None,
                              "active": True, "members": 3, "open": 2, "breaching": 2}  # t1, t2
    assert (teams["beta"]["members"], teams["beta"]["open"], teams["beta"]["breaching"]) == (3, 0, 0)
    [alpha] = json.loads(run(cli, "team show alpha --format json", now=later).stdout)
    assert [(m["email"], m["open"]) for m in alpha["members"]] == [(A[0], 0), (A[1], 1), (A[2], 0)]
    assert alpha["routes"] == [{"id": alpha["routes"][0]["id"], "position": 1, "category": None, "tag": "vip",
                                "tier": None, "company": None}]
    table = run(cli, "team show alpha --format table", now=later).stdout
    assert "Members:" in table and "Routes:" in table and A[1] in table


def test_member_add_twice_is_a_noop_with_a_note_and_removing_a_holder_says_how_many(cli, two_teams):
    again = run(cli, ["team", "member", "add", "alpha", A[0]])
    assert f"{A[0]} is already a member of alpha" in again.stderr
    ticket = create(cli, "--team", "alpha")
    run(cli, ["ticket", "assign", str(ticket), "--to", A[0]])
    out = run(cli, ["team", "member", "remove", "alpha", A[0]])
    assert f"{A[0]} keeps 1 open ticket of alpha" in out.stderr
    assert show(cli, ticket)["assignee_email"] == A[0]
    [alpha] = json.loads(run(cli, "team show alpha --format json").stdout)
    assert [m["email"] for m in alpha["members"]] == A[1:]


def test_team_is_a_ticket_field_a_filter_and_a_selectable_column(cli, two_teams):
    ours = create(cli, "--team", "alpha")
    theirs = create(cli, "--team", "beta")
    none = create(cli)
    listed = lambda *f: [t["id"] for t in json.loads(run(cli, ["ticket", "list", "--format", "json", *f]).stdout)]
    assert listed("--team", "alpha") == [ours]
    assert listed("--no-team") == [none]
    assert sorted(listed()) == [ours, theirs, none]
    csv_out = run(cli, ["ticket", "export", "--format", "csv", "--columns", "id,team", "--team", "beta"]).stdout
    assert csv_out.splitlines() == ["id,team", f"{theirs},beta"]
    default = run(cli, ["ticket", "export", "--format", "csv"]).stdout.splitlines()[0]
    assert "team" not in default.split(",")  # the default export columns stay as they were
    assert "give --team or --no-team" in run(cli, ["ticket", "list", "--team", "alpha", "--no-team"], code=2).stderr
    assert "--keep-assignee goes with --team" in run(cli, ["ticket", "update", str(ours), "--keep-assignee"],
                                                     code=2).stderr


def test_sla_breaches_and_queue_escalate_take_the_team_filter(cli, two_teams):
    ours = create(cli, "--team", "alpha", priority="high")
    create(cli, "--team", "beta", priority="high")
    later = NOW + timedelta(days=3)  # both past their 4h response target
    rows = json.loads(run(cli, "sla breaches --team alpha --format json", now=later).stdout)
    assert {r["id"] for r in rows} == {ours}
    escalated = json.loads(run(cli, "queue escalate --team alpha --format json", now=later).stdout)
    assert [r["id"] for r in escalated] == [ours]


def test_queue_escalate_reassign_treats_an_away_senior_as_absent_and_stays_in_the_team(cli):
    for email in ("sen1@support.example", "sen2@support.example", "out@support.example"):
        add_agent(cli, email, "--role", "senior")
    add_team(cli, "alpha", ["sen1@support.example", "sen2@support.example"])
    first, second = (create(cli, "--team", "alpha", priority="high") for _ in range(2))
    for ticket in (first, second):
        run(cli, ["ticket", "assign", str(ticket), "--to", "sen1@support.example"])
    later = NOW + timedelta(days=3)  # both past their 24h resolution target: high -> critical
    run(cli, ["agent", "away", "sen1@support.example", "--until", (later + timedelta(days=1)).isoformat()])
    rows = json.loads(run(cli, "queue escalate --reassign --format json --team alpha --limit 1", now=later).stdout)
    assert [(r["id"], r["priority"], r["reassigned_to"]) for r in rows] == [(first, "critical",
                                                                              "sen2@support.example")]
    run(cli, ["agent", "back", "sen1@support.example"], now=later)
    rows = json.loads(run(cli, "queue escalate --reassign --format json", now=later).stdout)
    assert [(r["id"], r["reassigned_to"]) for r in rows] == [(second, None)]  # sen1 is senior and here again
