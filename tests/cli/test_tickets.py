import json

import pytest

from tests.helpers import create, fingerprint, run, show


def history(cli, ticket_id):
    return show(cli, ticket_id)["history"]


def test_create_prints_the_id_alone_and_creates_an_unknown_customer_with_a_note(cli):
    result = cli("ticket create --title 'Cannot log in' --customer New.Person@Example.com")
    assert result.exit_code == 0
    assert result.stdout == "1\n"
    assert "created customer new.person@example.com" in result.stderr
    customer = json.loads(cli("customer show new.person@example.com --format json").stdout)[0]
    assert customer["name"] == "new.person"


def test_create_with_format_json_prints_the_whole_ticket(cli):
    result = cli("ticket create --title Hi --customer ana@example.com --priority high --tag a --tag b --format json")
    [ticket] = json.loads(result.stdout)
    assert ticket["priority"] == "high"
    assert ticket["tags"] == ["a", "b"]
    assert ticket["response_due_at"] == "2026-11-23T14:00:00Z"
    assert ticket["sla"]["response"] == {"state": "running", "due_at": "2026-11-23T14:00:00Z", "remaining_seconds": 14400}


def test_description_comes_from_a_file_or_stdin(cli, tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("from a file\n")
    a = create(cli, "--description-file", str(path))
    b = int(cli("ticket create --title T --customer ana@example.com --description-file -", input="from stdin").stdout)
    assert show(cli, a)["description"] == "from a file\n"
    assert show(cli, b)["description"] == "from stdin"


def test_the_whole_lifecycle_is_recorded_with_actor_and_the_given_time(cli):
    ticket_id = create(cli)
    steps = ["in_progress", "pending", "in_progress", "resolved", "open", "resolved", "closed"]
    for hour, status in enumerate(steps, start=11):
        result = cli(["--actor", f"lead{hour}", "ticket", "update", str(ticket_id), "--status", status],
                     now=f"2026-11-23T{hour}:00:00Z")
        assert result.exit_code == 0, result.stderr
    events = history(cli, ticket_id)
    assert [e["kind"] for e in events] == ["created"] + ["status_changed"] * 7
    moves = [(e["from"], e["to"], e["actor"], e["at"]) for e in events[1:]]
    previous = ["open", *steps[:-1]]
    assert moves == [
        (before, after, f"lead{hour}", f"2026-11-23T{hour}:00:00Z")
        for hour, before, after in zip(range(11, 18), previous, steps)
    ]
    final = show(cli, ticket_id)
    assert final["status"] == "closed"
    assert final["first_response_at"] == "2026-11-23T11:00:00Z"
    assert final["resolved_at"] == "2026-11-23T16:00:00Z"  # reopened at 15:00 cleared the first one
    assert final["closed_at"] == "2026-11-23T17:00:00Z"


@pytest.mark.parametrize(
    "args, code",
    [
        ("ticket update 1 --status open", 4),  # closed is final
        ("ticket show 999999", 3),
        ("ticket update 999999 --status open", 3),
        ("ticket update 1 --priority urgent", 2),
        ("ticket update 1 --status done", 2),
        ("ticket update 1 --title ''", 2),
    ],
)
def test_refused_and_bad_updates_exit_with_their_code_and_write_no_event(cli, args, code):
    ticket_id = create(cli)
    cli(f"ticket update {ticket_id} --status closed")
    before = history(cli, ticket_id)
    result = cli(args)
    assert result.exit_code == code
    assert result.stderr.count("\n") == 1
    assert history(cli, ticket_id) == before


def test_create_with_a_bad_priority_exits_2_and_creates_nothing(cli):
    result = cli("ticket create --title T --customer ana@example.com --priority urgent")
    assert result.exit_code == 2
    assert cli("ticket list --format json").stdout == "[]\n"
    assert cli("customer list --format json").stdout == "[]\n"


def test_setting_the_current_status_succeeds_with_a_note_and_no_event(cli):
    ticket_id = create(cli)
    result = cli(f"ticket update {ticket_id} --status open")
    assert result.exit_code == 0
    assert "already open" in result.stderr
    assert len(history(cli, ticket_id)) == 1


def test_priority_change_recomputes_due_dates_and_is_recorded(cli):
    ticket_id = create(cli)
    cli(f"ticket update {ticket_id} --priority critical", now="2026-11-23T10:30:00Z")
    ticket = show(cli, ticket_id)
    assert ticket["response_due_at"] == "2026-11-23T11:00:00Z"
    assert ticket["resolution_due_at"] == "2026-11-23T18:00:00Z"
    assert ticket["history"][-1] | {"at": None} == {
        "at": None, "actor": "tester", "kind": "priority_changed", "from": "medium", "to": "critical"
    }


def test_title_category_and_tags_changes_each_write_an_updated_event(cli):
    ticket_id = create(cli, "--tag", "a", "--tag", "b")
    cli(f"ticket update {ticket_id} --title 'New title' --category billing --add-tag c --remove-tag a")
    ticket = show(cli, ticket_id)
    assert (ticket["title"], ticket["category"], ticket["tags"]) == ("New title", "billing", ["b", "c"])
    updates = [(e["from"], e["to"]) for e in ticket["history"] if e["kind"] == "updated"]
    assert updates == [
        ({"title": "Cannot log in"}, {"title": "New title"}),
        ({"category": None}, {"category": "billing"}),
        ({"tags": ["a", "b"]}, {"tags": ["b", "c"]}),
    ]


def test_a_public_agent_comment_is_the_first_response_and_internal_or_customer_ones_are_not(cli):
    cli("agent add bo@example.com --name Bo")
    ticket_id = create(cli)
    cli(f"ticket comment {ticket_id} --author ana@example.com --body 'Still broken'", now="2026-11-23T10:10:00Z")
    cli(f"ticket comment {ticket_id} --author bo@example.com --internal --body 'Looking'", now="2026-11-23T10:20:00Z")
    assert show(cli, ticket_id)["first_response_at"] is None
    result = cli(f"ticket comment {ticket_id} --author bo@example.com --body-file -", input="Try now", now="2026-11-23T10:30:00Z")
    assert result.exit_code == 0
    ticket = show(cli, ticket_id)
    assert ticket["first_response_at"] == "2026-11-23T10:30:00Z"
    assert [(c["author"], c["author_kind"], c["internal"], c["body"]) for c in ticket["comments"]] == [
        ("ana@example.com", "customer", False, "Still broken"),
        ("bo@example.com", "agent", True, "Looking"),
        ("bo@example.com", "agent", False, "Try now"),
    ]
    assert [e["kind"] for e in ticket["history"]].count("commented") == 3


def test_a_comment_by_a_stranger_exits_3_and_an_empty_one_exits_2(cli):
    ticket_id = create(cli)
    assert cli(f"ticket comment {ticket_id} --author who@example.com --body hi").exit_code == 3
    assert cli(f"ticket comment {ticket_id} --author ana@example.com --body ' '").exit_code == 2
    assert cli(f"ticket comment {ticket_id} --body hi").exit_code == 2  # the actor 'tester' is no email
    assert show(cli, ticket_id)["comments"] == []


def test_rich_markup_in_a_title_is_shown_literally_in_the_table(cli):
    ticket_id = create(cli)
    cli(["ticket", "update", str(ticket_id), "--title", "[bold]x[/bold]"])
    assert "[bold]x[/bold]" in cli("ticket list --format table").stdout
    assert "[bold]x[/bold]" in cli(f"ticket show {ticket_id} --format table").stdout


def test_list_json_is_an_array_and_piped_output_is_tab_separated_with_a_header(cli):
    assert cli("ticket list --format json").stdout == "[]\n"
    create(cli)
    lines = cli("ticket list").stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["id", "title", "status", "priority"]
    assert lines[1].split("\t")[:4] == ["1", "Cannot log in", "open", "medium"]


def test_list_is_newest_first_and_says_when_the_limit_cuts_it(cli):
    for minute in range(5):
        create(cli, now=f"2026-11-23T10:0{minute}:00Z")
    result = cli("ticket list --limit 3 --format json")
    assert [t["id"] for t in json.loads(result.stdout)] == [5, 4, 3]
    assert "showing 3 of 5" in result.stderr
    assert [t["id"] for t in json.loads(cli("ticket list --limit 0 --sort id --format json").stdout)] == [1, 2, 3, 4, 5]
    assert "showing" not in cli("ticket list --limit 0 --format json").stderr


def test_list_counts_matches_only_up_to_the_cap(cli, monkeypatch):
    for minute in range(5):
        create(cli, now=f"2026-11-23T10:0{minute}:00Z")
    monkeypatch.setattr("supportctl.services.tickets.queries.COUNT_CAP", 4)
    assert "showing 2 of more than 4 (--limit 0 for all)" in cli("ticket list --limit 2 -f json").stderr
    monkeypatch.setattr("supportctl.services.tickets.queries.COUNT_CAP", 5)
    assert "showing 2 of 5 (--limit 0 for all)" in cli("ticket list --limit 2 -f json").stderr


def test_list_filters_combine(cli):
    cli("agent add bo@example.com --name Bo")
    a = create(cli, "--priority", "high", "--tag", "vip", "--category", "billing")
    b = int(cli("ticket create --title 'Invoice wrong amount' --customer cy@example.com --priority low").stdout)
    cli(f"ticket update {b} --status pending")

    def ids(args):
        result = cli(f"ticket list {args} --format json")
        assert result.exit_code == 0, result.stderr
        return sorted(t["id"] for t in json.loads(result.stdout))

    assert ids("--status pending") == [b]
    assert ids("--status open --status pending") == [a, b]
    assert ids("--priority high") == [a]
    assert ids("--customer cy@example.com") == [b]
    assert ids("--category billing --tag vip") == [a]
    assert ids("--unassigned") == [a, b]
    assert ids("--assignee bo@example.com") == []
    assert ids("--escalated") == []
    assert ids("--search invoices") == [b]  # stemmed full-text search
    assert ids("--search 'log in'") == [a]
    assert ids("--created-since 2026-11-23T10:00:00Z") == [a, b]
    assert ids("--updated-since 2026-11-24T00:00:00Z") == []
    assert cli("ticket list --status nope").exit_code == 2
    assert cli("ticket list --assignee nobody@example.com").exit_code == 3
    assert cli("ticket list --columns id,nope").exit_code == 2


def test_list_columns_pick_fields(cli):
    create(cli, "--description", "details")
    assert cli("ticket list --columns id,description").stdout == "id\tdescription\n1\tdetails\n"


def test_ten_hours_pending_moves_resolution_due_ten_hours_later(cli):
    ticket_id = create(cli)  # medium: resolution 72h -> 2026-11-26T10:00Z
    cli(f"ticket update {ticket_id} --status pending", now="2026-11-23T12:00:00Z")
    paused = show(cli, ticket_id, now="2026-11-23T20:00:00Z")["sla"]["resolution"]
    assert paused["state"] == "paused"
    cli(f"ticket update {ticket_id} --status in_progress", now="2026-11-23T22:00:00Z")
    assert show(cli, ticket_id)["resolution_due_at"] == "2026-11-26T20:00:00Z"


def test_control_characters_in_ticket_text_are_shown_not_sent_to_a_terminal(cli):
    ticket_id = create(cli, "--description", "red \x1b[31mtext\x9b", title="Hi \x1b]0;pwned\x07 there")
    table = run(cli, "ticket list --format table").stdout
    assert "\x1b" not in table and "\x07" not in table
    assert "Hi \\x1b]0;pwned\\x07 there" in table
    record = run(cli, f"ticket show {ticket_id} --format table").stdout
    assert "red \\x1b[31mtext\\x9b" in record and "\x1b" not in record and "\x9b" not in record
    explained = run(cli, f"sla explain {ticket_id}").stdout
    assert explained.startswith(f"ticket {ticket_id}: Hi \\x1b]0;pwned\\x07 there\n")
    # Data formats carry the text as it was written.
    assert show(cli, ticket_id)["title"] == "Hi \x1b]0;pwned\x07 there"


@pytest.mark.parametrize("args", ["ticket update {id} --add-tag z", "ticket comment {id} --author ana@example.com "
                                  "--body late", "ticket escalate {id}",
                                  "ticket assign {id} --to bo@example.com"])
def test_a_write_with_a_now_before_the_tickets_last_change_is_exit_2_and_writes_nothing(cli, engine, args):
    run(cli, "agent add bo@example.com --name Bo", now="2026-11-23T09:00:00Z")
    ticket = create(cli, now="2026-11-23T10:00:00Z")
    before = fingerprint(engine)
    result = cli(args.format(id=ticket), now="2020-01-01T00:00:00Z")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"supportctl: error: --now 2020-01-01T00:00:00Z is before ticket {ticket}'s "
                                    "last change (2026-11-23T10:00:00Z)")
    assert fingerprint(engine) == before
