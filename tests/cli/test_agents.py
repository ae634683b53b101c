import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.factories import insert_tickets
from tests.helpers import NOW, create, fingerprint, run, show
from tests.processes import Racers

ROUNDS = 30  # races of agent update --reassign and queue assign


def agents(cli):
    return {a["email"]: a for a in json.loads(cli("agent list --format json").stdout)}


def test_agent_is_added_active_with_role_and_capacity(cli):
    result = cli("agent add Bo@Example.com --name Bo --role senior --capacity 3")
    assert result.exit_code == 0, result.stderr
    bo = agents(cli)["bo@example.com"]
    assert bo["role"] == "senior"
    assert bo["capacity"] == 3
    assert bo["active"] is True
    assert bo["open_tickets"] == 0
    assert bo["last_assigned_at"] is None


def test_agent_update_takes_an_agent_out_of_rotation_and_back(cli):
    cli("agent add bo@example.com --name Bo")
    assert cli("agent update bo@example.com --inactive").exit_code == 0
    assert agents(cli)["bo@example.com"]["active"] is False
    cli("agent update bo@example.com --active --role lead --capacity 5")
    bo = agents(cli)["bo@example.com"]
    assert (bo["active"], bo["role"], bo["capacity"]) == (True, "lead", 5)
    cli("agent update bo@example.com --no-capacity")
    assert agents(cli)["bo@example.com"]["capacity"] is None


def test_agent_capacity_below_one_exits_2_and_changes_nothing(cli):
    cli("agent add bo@example.com --name Bo --capacity 2")
    assert cli("agent add cy@example.com --name Cy --capacity 0").exit_code == 2
    result = cli("agent update bo@example.com --capacity 0")
    assert result.exit_code == 2
    assert "Invalid value for '--capacity': must be greater than or equal to 1" in result.stderr
    assert set(agents(cli)) == {"bo@example.com"}
    assert agents(cli)["bo@example.com"]["capacity"] == 2


def test_unknown_role_exits_2(cli):
    result = cli("agent add bo@example.com --name Bo --role boss")
    assert result.exit_code == 2
    assert "'boss' is not one of 'agent', 'senior', 'lead'" in result.stderr


def test_duplicate_agent_exits_4_and_unknown_agent_exits_3(cli):
    cli("agent add bo@example.com --name Bo")
    assert cli("agent add bo@example.com --name Bo").exit_code == 4
    assert cli("agent show cy@example.com").exit_code == 3
    assert cli("agent update cy@example.com --inactive").exit_code == 3


# agent show: the record, then the open tickets they hold.


def add_agent(cli, email, *extra):
    run(cli, ["agent", "add", email, "--name", email.split("@")[0].title(), *extra])


def add_team(cli, slug, *members):
    run(cli, ["team", "add", slug, "--name", slug.title()])
    run(cli, ["team", "member", "add", slug, *members])


def shown(cli, email):
    [agent] = json.loads(run(cli, f"agent show {email} --format json").stdout)
    return agent


def test_agent_show_lists_the_open_tickets_they_hold_after_the_record(cli):
    add_agent(cli, "bo@example.com")
    older = create(cli, "--assign", "bo@example.com", title="Invoice twice", priority="critical",
                   now=NOW - timedelta(hours=9))
    newer = create(cli, "--assign", "bo@example.com", title="Cannot log in")
    done = create(cli, "--assign", "bo@example.com", title="Fixed already")
    run(cli, f"ticket resolve {done}")
    create(cli, title="Nobody's")
    out = run(cli, "agent show bo@example.com --format table").stdout
    record, tickets = out.split("\nOpen tickets:\n")
    assert "open_tickets      2" in record
    header, *rows = tickets.splitlines()
    assert header.split() == ["id", "title", "status", "priority", "team", "sla", "created_at"]
    assert [row.split()[0] for row in rows] == [str(older), str(newer)]  # oldest first; resolved not held
    assert "Invoice twice" in rows[0] and "critical" in rows[0] and "met/breached" in rows[0]  # due 8h after
    assert "met/running" in rows[1]


def test_agent_show_says_when_they_hold_no_open_tickets(cli):
    add_agent(cli, "bo@example.com")
    assert run(cli, "agent show bo@example.com --format table").stdout.endswith("\nNo open tickets.\n")


def test_agent_show_json_carries_the_open_tickets_as_an_array_beside_their_count(cli):
    add_agent(cli, "bo@example.com")
    add_team(cli, "billing", "bo@example.com")
    ticket_id = create(cli, "--assign", "bo@example.com", "--team", "billing", priority="critical")
    [agent] = json.loads(run(cli, "agent show bo@example.com --format json").stdout)
    assert (agent["email"], agent["teams"]) == ("bo@example.com", ["billing"])
    assert agent["open_tickets"] == 1  # the count agent list has
    [ticket] = agent["tickets"]
    assert {k: ticket[k] for k in ("id", "status", "priority", "team", "created_at")} == {
        "id": ticket_id, "status": "open", "priority": "critical", "team": "billing",
        "created_at": "2026-11-23T10:00:00Z"}
    assert ticket["title"] == "Cannot log in"
    assert ticket["sla"]["resolution"] == {"state": "running", "due_at": "2026-11-23T18:00:00Z",
                                           "remaining_seconds": 28800}
    lines = run(cli, "agent show bo@example.com --format ndjson").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["tickets"][0]["id"] == ticket_id


def test_agent_show_as_tsv_is_the_record_with_the_count_of_open_tickets(cli):
    add_agent(cli, "bo@example.com")
    create(cli, "--assign", "bo@example.com")
    header, row = run(cli, "agent show bo@example.com").stdout.splitlines()
    assert dict(zip(header.split("\t"), row.split("\t")))["open_tickets"] == "1"


# agent update --inactive [--reassign]


def test_deactivating_an_agent_says_how_many_open_tickets_they_still_hold(cli):
    add_agent(cli, "bo@example.com")
    ids = [create(cli, "--assign", "bo@example.com") for _ in range(3)]
    result = run(cli, "agent update bo@example.com --inactive --format json")
    assert json.loads(result.stdout)[0]["active"] is False
    assert result.stderr == ("bo@example.com still holds 3 open tickets; --reassign hands them to other agents "
                             "(a team's tickets within the team)\n")
    assert all(show(cli, i)["assignee_email"] == "bo@example.com" for i in ids)
    add_agent(cli, "cy@example.com")
    assert run(cli, "agent update cy@example.com --inactive").stderr == ""


@pytest.mark.parametrize("flags", ["--reassign", "--active --reassign", "--name Bob --reassign"])
def test_reassign_without_inactive_exits_2_and_changes_nothing(cli, engine, flags):
    add_agent(cli, "bo@example.com")
    add_agent(cli, "cy@example.com")
    create(cli, "--assign", "bo@example.com")
    before = fingerprint(engine)
    result = cli(f"agent update bo@example.com {flags}")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "supportctl: error: --reassign goes with --inactive (`supportctl agent update EMAIL --inactive --reassign`)"]
    assert fingerprint(engine) == before


def test_reassign_gives_a_teams_tickets_to_its_other_members_and_the_rest_to_the_least_loaded(cli):
    for email in ("bo@example.com", "ria@example.com", "sam@example.com", "uma@example.com"):
        add_agent(cli, email)
    add_team(cli, "billing", "bo@example.com", "ria@example.com")
    billing = [create(cli, "--assign", "bo@example.com", "--team", "billing") for _ in range(2)]
    loose = [create(cli, "--assign", "bo@example.com") for _ in range(2)]
    create(cli, "--assign", "sam@example.com")  # sam has one already: uma is less loaded
    result = run(cli, "agent update bo@example.com --inactive --reassign --format json", now=NOW + timedelta(hours=1))
    [bo] = json.loads(result.stdout)
    assert (bo["active"], bo["open_tickets"]) == (False, 0)
    assert [show(cli, i)["assignee_email"] for i in billing] == ["ria@example.com", "ria@example.com"]
    assert sorted(show(cli, i)["assignee_email"] for i in loose) == ["sam@example.com", "uma@example.com"]
    assert result.stderr.splitlines() == [
        "reassigned 4 of bo@example.com's open tickets: 2 to ria@example.com, 1 to uma@example.com, "
        "1 to sam@example.com"]
    [event] = [e for e in show(cli, billing[0])["history"] if e["at"] == "2026-11-23T11:00:00Z"]
    assert (event["kind"], event["from"], event["to"]) == ("assigned", {"assignee_email": "bo@example.com"},
                                                           {"assignee_email": "ria@example.com",
                                                            "strategy": "least-loaded"})
    mails = [(m["recipient"], m["ticket_id"]) for m in json.loads(run(cli, "notify list --format json").stdout)
             if m["template"] == "ticket_assigned" and m["created_at"] == "2026-11-23T11:00:00Z"]
    assert sorted(mails) == sorted([("ria@example.com", billing[0]), ("ria@example.com", billing[1]),
                                    *((show(cli, i)["assignee_email"], i) for i in loose)])


def test_reassign_leaves_unassigned_what_nobody_eligible_can_take_never_with_the_inactive_agent(cli):
    add_agent(cli, "bo@example.com")
    add_agent(cli, "lee@example.com", "--role", "lead")
    add_agent(cli, "ria@example.com", "--capacity", "1")
    add_agent(cli, "sam@example.com")
    run(cli, "agent away sam@example.com --until 2026-11-30T00:00:00Z")
    add_team(cli, "billing", "bo@example.com", "lee@example.com")  # its other member is a lead
    teamed = create(cli, "--assign", "bo@example.com", "--team", "billing")
    first = create(cli, "--assign", "bo@example.com", priority="low")
    urgent = create(cli, "--assign", "bo@example.com", priority="critical")
    result = run(cli, "agent update bo@example.com --inactive --reassign")
    # Most urgent first: ria's one free place goes to the critical ticket; sam is away.
    assert show(cli, urgent)["assignee_email"] == "ria@example.com"
    assert show(cli, first)["assignee_email"] is None
    assert show(cli, teamed)["assignee_email"] is None
    assert result.stderr.splitlines() == [
        f"left unassigned: ticket {teamed}: no eligible agent in billing",
        f"left unassigned: ticket {first}: the only eligible agent is at capacity (ria@example.com 1/1)",
        "reassigned 3 of bo@example.com's open tickets: 1 to ria@example.com, 2 left unassigned"]
    last = show(cli, teamed)["history"][-1]
    assert (last["kind"], last["from"], last["to"]) == (
        "unassigned", {"assignee_email": "bo@example.com"}, {"assignee_email": None})
    assert json.loads(run(cli, "agent show bo@example.com --format json").stdout)[0]["tickets"] == []
    # Unassigned, it is queue assign's again once someone in billing can take it.
    add_agent(cli, "uma@example.com")
    run(cli, "team member add billing uma@example.com")
    run(cli, "queue assign")
    assert show(cli, teamed)["assignee_email"] == "uma@example.com"


def test_reassign_of_an_agent_with_nothing_open_says_so(cli):
    add_agent(cli, "bo@example.com")
    result = run(cli, "agent update bo@example.com --inactive --reassign")
    assert result.stderr == "bo@example.com held no open tickets; nothing to reassign\n"


def test_reassign_of_an_unknown_agent_exits_3_and_changes_nothing(cli, engine):
    add_agent(cli, "bo@example.com")
    create(cli, "--assign", "bo@example.com")
    before = fingerprint(engine)
    result = cli("agent update cy@example.com --inactive --reassign")
    assert result.exit_code == 3
    assert "no agent with email cy@example.com" in result.stderr
    assert fingerprint(engine) == before


def handed_on(engine, held: list[int], waiting: list[int]) -> list[str]:
    """What is wrong with these tickets' assignments: each must end with an agent other than bo,
    and its events must replay to that (each `assigned` says truly who had it before)."""
    ids = held + waiting
    with engine.connect() as conn:
        events = conn.execute(text(
            "SELECT ticket_id, from_value ->> 'assignee_email', to_value ->> 'assignee_email' FROM ticket_events "
            "WHERE ticket_id = ANY(:ids) AND kind = 'assigned' ORDER BY id"), {"ids": ids}).all()
        final = dict(conn.execute(text("SELECT t.id, a.email FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id "
                                       "WHERE t.id = ANY(:ids)"), {"ids": ids}).all())
    holder, wrong = {i: "bo@example.com" if i in held else None for i in ids}, []
    for ticket_id, before, after in events:
        if before != holder[ticket_id]:
            wrong.append(f"ticket {ticket_id}: an assignment says it was {before}'s, it was {holder[ticket_id]}'s")
        holder[ticket_id] = after
    for ticket_id in ids:
        if final[ticket_id] in (None, "bo@example.com") or holder[ticket_id] != final[ticket_id]:
            wrong.append(f"ticket {ticket_id} is {final[ticket_id]}'s; its history says {holder[ticket_id]}'s")
    return wrong


@pytest.mark.slow
def test_reassign_racing_queue_assign_leaves_nothing_with_the_inactive_agent_and_a_true_history(database_url,
                                                                                                 engine, cli):
    for email in ("a1@example.com", "a2@example.com", "a3@example.com", "bo@example.com"):  # bo's id last
        add_agent(cli, email)
    add_team(cli, "billing", "bo@example.com", "a1@example.com", "a2@example.com")
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat(), "SUPPORTCTL_ACTOR": "racer"}
    problems = []
    with Racers(env) as racers:
        for round_ in range(ROUNDS):
            # bo back at work with four tickets, half of them billing's, and four more waiting in the queue
            ids = insert_tickets(engine, 8, NOW)
            held, waiting = ids[:4], ids[4:]
            with engine.begin() as conn:
                conn.execute(text("UPDATE agents SET active = true WHERE email = 'bo@example.com'"))
                conn.execute(text("UPDATE tickets SET team_id = (SELECT id FROM teams WHERE slug = 'billing') "
                                  "WHERE id = ANY(:ids)"), {"ids": ids[1::2]})
                conn.execute(text("UPDATE tickets SET assignee_id = (SELECT id FROM agents WHERE email = "
                                  "'bo@example.com'), first_response_at = created_at WHERE id = ANY(:ids)"),
                             {"ids": held})
            outcomes = racers.race(["agent", "update", "bo@example.com", "--inactive", "--reassign"],
                                   ["queue", "assign", "--strategy", "least-loaded"])
            assert [code for code, _, _ in outcomes] == [0, 0], outcomes
            problems += [f"round {round_}: {p}" for p in handed_on(engine, held, waiting)]
    assert problems == []


def test_a_ticket_reopened_for_an_inactive_agent_is_unassigned_for_queue_assign(cli):
    add_agent(cli, "bo@example.com")
    resolved = create(cli, "--assign", "bo@example.com")
    by_customer = create(cli, "--assign", "bo@example.com", customer="cy@example.com")
    closed = create(cli, "--assign", "bo@example.com")
    for ticket in (resolved, by_customer, closed):
        run(cli, f"ticket resolve {ticket}")
    run(cli, "agent update bo@example.com --inactive")
    run(cli, f"ticket close {closed}")  # closing is no reopening: who solved it stays on the record
    assert show(cli, closed)["assignee_email"] == "bo@example.com"
    reopened = run(cli, f"ticket reopen {resolved}")
    assert f"ticket {resolved} unassigned: bo@example.com is inactive (queue assign gives it out)" in reopened.stderr
    run(cli, f"ticket comment {by_customer} --author cy@example.com --body 'Still broken'")  # reopens it
    for ticket in (resolved, by_customer):
        row = show(cli, ticket)
        assert (row["status"], row["assignee_email"]) == ("open", None)
        assert row["history"][-1]["kind"] == "unassigned"
