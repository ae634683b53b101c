"""ticket bulk-update, macros and ticket apply (docs/bulk.md): many tickets, the rules of one."""

import json

import pytest
from sqlalchemy import text

from tests.helpers import create, fingerprint, run, show

AGENT = "sam@example.com"


@pytest.fixture
def desk(cli, monkeypatch):
    """Sam the agent runs the commands; a billing team; five tickets, three tagged billing
    (ticket 3 resolved), two not."""
    monkeypatch.setenv("SUPPORTCTL_ACTOR", AGENT)
    run(cli, f"agent add {AGENT} --name Sam")
    run(cli, "team add billing --name Billing")
    ids = [create(cli, "--tag", "billing", title=f"Invoice {n}", customer=f"c{n}@example.com") for n in (1, 2, 3)]
    ids += [create(cli, title=f"Login {n}", customer="ana@example.com") for n in (4, 5)]
    run(cli, f"ticket update {ids[2]} --status resolved")
    return cli, ids


def rows(result):
    return [(r["id"], r["result"], r["reason"]) for r in json.loads(result.stdout)]


def test_bulk_update_changes_exactly_the_tagged_tickets_each_with_its_history(desk, engine):
    cli, ids = desk
    run(cli, f"ticket update {ids[0]} --team billing")  # already there: unchanged
    result = run(cli, "ticket bulk-update --tag billing --team billing --yes --format json")
    assert rows(result) == [(ids[0], "unchanged", f"ticket {ids[0]} is already in billing"),
                            (ids[1], "changed", None), (ids[2], "changed", None)]
    assert "changed 2, unchanged 1, refused 0 (of 3 tickets)" in result.stderr
    for moved in (show(cli, i) for i in ids[1:3]):
        assert moved["team"] == "billing"
        assert [(e["kind"], e["actor"], e["to"]) for e in moved["history"]][-1] == (
            "team_changed", AGENT, {"team": "billing"})
    for other in ids[3:]:
        assert show(cli, other)["team"] is None


def test_an_illegal_status_move_refuses_those_tickets_changes_the_rest_and_exits_4(desk, engine):
    cli, ids = desk
    result = run(cli, "ticket bulk-update --tag billing --status pending --yes --format json", code=4)
    assert rows(result) == [(ids[0], "changed", None), (ids[1], "changed", None),
                            (ids[2], "refused", f"ticket {ids[2]} cannot move from resolved to pending "
                                                "(allowed: closed, open)")]
    assert "changed 2, unchanged 0, refused 1" in result.stderr
    assert [show(cli, i)["status"] for i in ids[:3]] == ["pending", "pending", "resolved"]


def test_more_than_one_ticket_on_a_pipe_needs_yes_and_nothing_changes_without_it(desk, engine):
    cli, ids = desk
    before = fingerprint(engine)
    result = run(cli, "ticket bulk-update --tag billing --priority high", code=2)
    assert "3 tickets match; nothing was changed" in result.stderr and "--yes" in result.stderr
    result = run(cli, "ticket bulk-update --tag billing --priority high --dry-run --format json")
    assert rows(result) == [(ids[0], "changed", None), (ids[1], "changed", None), (ids[2], "changed", None)]
    assert "would change 3, unchanged 0, refused 0" in result.stderr
    assert fingerprint(engine) == before  # the dry run changed nothing
    # One ticket needs no --yes.
    run(cli, "ticket bulk-update --ids - --priority high", input=f"id\n{ids[3]}\n")
    assert show(cli, ids[3])["priority"] == "high"


@pytest.mark.parametrize("args, message", [
    ("--priority high --yes", "say which tickets"),
    ("--tag billing --yes", "say what to change"),
    ("--tag billing --team billing --no-team --yes", "not both"),
    ("--tag billing --assign x@example.com --unassign --yes", "not both"),
    ("--tag billing --internal --yes", "--internal goes with --comment"),
    ("--tag billing --comment 'Hi {customer.nme}' --yes", "unknown placeholder {customer.nme}"),
    ("--ids nope.txt --status resolved --yes", "--ids nope.txt: no such file"),
])
def test_bad_bulk_input_is_exit_2_and_changes_nothing(desk, engine, args, message):
    cli, _ = desk
    before = fingerprint(engine)
    result = run(cli, f"ticket bulk-update {args}", code=2)
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert fingerprint(engine) == before


def test_ids_come_one_a_line_from_stdin_and_a_bad_line_is_named(desk, engine):
    cli, ids = desk
    before = fingerprint(engine)
    result = run(cli, "ticket bulk-update --ids - --add-tag x --yes", code=2, input=f"{ids[0]}\nseven\n")
    assert "--ids -: line 2: 'seven' is not a ticket id" in result.stderr
    assert fingerprint(engine) == before
    result = run(cli, "ticket bulk-update --ids - --add-tag x --yes --format json", code=4,
                 input=f"id\n{ids[0]}\n{ids[3]}\n{ids[0]}\n999\n")
    assert rows(result) == [(ids[0], "changed", None), (ids[3], "changed", None), (999, "refused", "no ticket 999")]


def test_unknown_team_or_agent_is_exit_3_before_any_ticket(desk, engine):
    cli, _ = desk
    before = fingerprint(engine)
    assert "no team support" in run(cli, "ticket bulk-update --tag billing --team support --yes", code=3).stderr
    assert "no agent with email x@example.com" in run(
        cli, "ticket bulk-update --tag billing --assign x@example.com --yes", code=3).stderr
    assert fingerprint(engine) == before


def test_a_bulk_comment_is_the_actors_agents_and_an_actor_who_is_none_is_refused(desk, engine, monkeypatch):
    cli, ids = desk
    result = run(cli, ["ticket", "bulk-update", "--with-status", "open", "--customer", "ana@example.com",
                       "--comment", "We are on it, {customer.name}.", "--internal", "--yes"])
    assert "changed 2" in result.stderr
    [comment] = show(cli, ids[3])["comments"]
    assert (comment["author"], comment["internal"], comment["body"]) == (AGENT, True, "We are on it, ana.")
    monkeypatch.setenv("SUPPORTCTL_ACTOR", "cron")
    before = fingerprint(engine)
    result = run(cli, "ticket bulk-update --tag billing --comment hello --yes", code=4)
    assert "the actor 'cron' is not an agent's email" in result.stderr
    assert fingerprint(engine) == before


def test_a_macro_resolves_tags_and_comments_with_the_real_name_and_id(desk, engine):
    cli, ids = desk
    run(cli, ["macro", "add", "close-dup", "--status", "resolved", "--add-tag", "duplicate", "--comment",
              "Hi {customer.name}, #{ticket.id} is a duplicate. {{{agent.name}}}"])
    before = fingerprint(engine)
    result = run(cli, ["macro", "add", "bad", "--comment", "Hi {foo.bar}"], code=2)
    assert "unknown placeholder {foo.bar}" in result.stderr
    assert fingerprint(engine) == before
    result = run(cli, f"ticket apply {ids[1]} close-dup")
    assert f"ticket {ids[1]}: macro close-dup applied" in result.stderr
    done = show(cli, ids[1])
    assert (done["status"], done["tags"]) == ("resolved", ["billing", "duplicate"])
    [comment] = done["comments"]
    assert comment["body"] == f"Hi c2, #{ids[1]} is a duplicate. {{Sam}}" and comment["author"] == AGENT
    # The comment came first, then the resolution: the history of one update and one comment.
    assert [e["kind"] for e in done["history"]][-3:] == ["updated", "commented", "status_changed"]
    run(cli, f"ticket update {ids[4]} --status closed")
    before = fingerprint(engine)
    assert "is closed" in run(cli, f"ticket apply {ids[4]} close-dup", code=4).stderr
    assert fingerprint(engine) == before


def test_bulk_update_applies_a_macro_and_the_flags_given_win(desk, engine):
    cli, ids = desk
    run(cli, "macro add triage --priority high --team billing --add-tag triaged")
    result = run(cli, ["ticket", "bulk-update", "--customer", "ana@example.com", "--macro", "triage", "--priority",
                       "critical", "--yes", "--format", "json"])
    assert rows(result) == [(ids[3], "changed", None), (ids[4], "changed", None)]
    assert [(t["priority"], t["team"], t["tags"]) for t in (show(cli, i) for i in ids[3:])] == [
        ("critical", "billing", ["triaged"])] * 2


def test_list_show_and_remove_macros(desk, engine):
    cli, _ = desk
    run(cli, ["macro", "add", "pend", "--status", "pending", "--comment", "Waiting on you", "--internal"])
    assert json.loads(run(cli, "macro list --format json").stdout) == [
        {"name": "pend", "changes": {"status": "pending"}, "comment": "Waiting on you", "internal": True}]
    shown = run(cli, "macro show pend --format table").stdout
    assert "status=pending internal-comment" in shown
    run(cli, "macro add pend --status open", code=4)  # the name is taken
    run(cli, "macro add empty", code=2)  # no change
    run(cli, "macro add to-nobody --team nope", code=3)
    run(cli, "macro remove pend")
    run(cli, "macro show pend", code=3)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM macros")) == 0
