import json

import pytest

from tests.helpers import create, fingerprint, run, show


def test_added_customer_is_listed_in_json_with_lower_cased_email(cli):
    added = cli("customer add Ana@Example.com --name Ana --tier premium --company Acme")
    assert added.exit_code == 0, added.stderr
    assert added.stdout == "ana@example.com\n"

    listed = cli("customer list --format json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == [
        {
            "email": "ana@example.com",
            "name": "Ana",
            "tier": "premium",
            "company": "Acme",
            "created_at": "2026-11-23T10:00:00Z",
        }
    ]


def test_customer_list_is_an_empty_json_array_when_there_are_none(cli):
    result = cli("customer list --format json")
    assert result.exit_code == 0
    assert result.stdout == "[]\n"


def test_piped_customer_list_is_tab_separated_with_a_header(cli):
    cli("customer add ana@example.com --name Ana")
    result = cli("customer list")
    assert result.stdout.splitlines() == [
        "email\tname\ttier\tcompany\tcreated_at",
        "ana@example.com\tAna\tbasic\t\t2026-11-23T10:00:00Z",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ("customer add not-an-email --name X", "not a valid email"),
        ("customer add ana@example.com --name X --tier gold", "'gold' is not one of 'free', 'basic', 'premium', 'enterprise'"),
        ("customer add ana@example.com --name '  '", "name must not be empty"),
    ],
)
def test_bad_customer_input_exits_2_with_one_line_and_writes_nothing(cli, args, message):
    result = cli(args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cli("customer list --format json").stdout == "[]\n"


def test_duplicate_customer_email_is_refused_with_exit_4(cli):
    cli("customer add ana@example.com --name Ana")
    result = cli("customer add ANA@example.com --name Other")
    assert result.exit_code == 4
    assert "already exists" in result.stderr
    assert [c["name"] for c in json.loads(cli("customer list --format json").stdout)] == ["Ana"]


def test_showing_an_unknown_customer_exits_3(cli):
    result = cli("customer show nobody@example.com")
    assert result.exit_code == 3
    assert "no customer with email nobody@example.com" in result.stderr


def test_customer_show_prints_every_field(cli):
    cli("customer add ana@example.com --name Ana --company '[bold]Acme[/bold]'")
    result = cli("customer show ana@example.com --format json")
    assert json.loads(result.stdout)[0]["company"] == "[bold]Acme[/bold]"
    table = cli("customer show ana@example.com --format table")
    assert "[bold]Acme[/bold]" in table.stdout


# customer update


def customer(cli, email):
    [found] = json.loads(run(cli, f"customer show {email} --format json").stdout)
    return found


def test_customer_update_changes_each_field_and_prints_the_record(cli):
    cli("customer add ana@example.com --name Ana --company Acme")
    result = run(cli, ["customer", "update", "ana@example.com", "--name", "Ana Lima",
                       "--email", "Ana.Lima@Acme.example", "--company", "Acme GmbH", "--tier", "enterprise",
                       "--format", "json"])
    changed = {"email": "ana.lima@acme.example", "name": "Ana Lima", "tier": "enterprise", "company": "Acme GmbH",
               "created_at": "2026-11-23T10:00:00Z"}
    assert json.loads(result.stdout) == [changed]
    assert result.stderr == ""
    assert customer(cli, "ana.lima@acme.example") == changed
    assert cli("customer show ana@example.com").exit_code == 3


def test_customer_update_changes_only_what_it_is_given_and_an_empty_company_clears_it(cli):
    cli("customer add ana@example.com --name Ana --tier premium --company Acme")
    run(cli, "customer update ana@example.com --name Ana2")
    assert customer(cli, "ana@example.com") == {
        "email": "ana@example.com", "name": "Ana2", "tier": "premium", "company": "Acme",
        "created_at": "2026-11-23T10:00:00Z"}
    table = run(cli, "customer update ana@example.com --company '' --format table").stdout
    assert table.splitlines()[3].split() == ["company"]
    assert customer(cli, "ana@example.com")["company"] is None


def test_a_new_email_keeps_the_customers_tickets(cli):
    ticket_id = create(cli, customer="ana@example.com")
    run(cli, "customer update ana@example.com --email ana@new.example")
    assert show(cli, ticket_id)["customer_email"] == "ana@new.example"
    assert [t["id"] for t in json.loads(run(cli, "ticket list --customer ana@new.example --format json").stdout)] == [
        ticket_id]


def test_a_new_email_is_carried_everywhere_the_old_one_was_written(cli, engine):
    from sqlalchemy import text

    ticket_id = create(cli, customer="ana@example.com")
    run(cli, f"ticket comment {ticket_id} --author ana@example.com --body 'Still broken.'")
    run(cli, f"ticket resolve {ticket_id}")  # mails ana: pending in the outbox
    run(cli, "customer update ana@example.com --email ana@new.example --tier premium")
    with engine.connect() as conn:
        # every row of every table as text: the old address is in none of them
        dump = conn.scalar(text("SELECT string_agg(x::text, ' ') FROM (SELECT to_jsonb(t) AS x FROM tickets t "
                                "UNION ALL SELECT to_jsonb(c) FROM comments c UNION ALL SELECT to_jsonb(e) "
                                "FROM ticket_events e UNION ALL SELECT to_jsonb(n) FROM notifications n "
                                "UNION ALL SELECT to_jsonb(a) FROM audit_log a) AS rows"))
        outbox = conn.execute(text("SELECT recipient, status FROM notifications")).all()
        entry = conn.execute(text("SELECT kind, to_value FROM audit_log WHERE object = 'customer'")).one()
    assert "ana@example.com" not in dump and "ana@new.example" in dump
    assert outbox == [("ana@new.example", "pending")]  # the mail still goes, to where she now reads it
    assert [c["author"] for c in show(cli, ticket_id)["comments"]] == ["ana@new.example"]
    assert tuple(entry) == ("customer_changed", {"fields": ["email", "tier"]})  # names, never the addresses


def test_a_new_tier_counts_for_new_tickets_while_open_ones_keep_their_policy(cli):
    run(cli, "sla policies add gold --tier enterprise --position 10")
    before = create(cli, customer="ana@example.com")
    run(cli, "customer update ana@example.com --tier enterprise")
    after = create(cli, customer="ana@example.com")
    assert (show(cli, before)["sla_policy"], show(cli, after)["sla_policy"]) == ("default", "gold")
    assert [e["kind"] for e in show(cli, before)["history"]] == ["created"]


def test_updating_an_unknown_customer_exits_3(cli):
    result = cli("customer update nobody@example.com --name X")
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        "supportctl: error: no customer with email nobody@example.com (see `supportctl customer list`)"]


@pytest.mark.parametrize(
    "flags, code, message",
    [
        ("--email not-an-email", 2, "--email: 'not-an-email' is not a valid email address"),
        ("--email ''", 2, "--email: '' is not a valid email address"),
        ("--name '  '", 2, "name must not be empty"),
        ("--tier gold", 2, "'gold' is not one of 'free', 'basic', 'premium', 'enterprise'"),
        # The same conflict as adding a customer whose email is taken.
        ("--email BO@example.com --name Ana2", 4, "a customer with email bo@example.com already exists"),
    ],
)
def test_a_bad_or_taken_new_value_is_one_line_and_changes_nothing(cli, engine, flags, code, message):
    cli("customer add ana@example.com --name Ana")
    cli("customer add bo@example.com --name Bo")
    before = fingerprint(engine)
    result = cli(f"customer update ana@example.com {flags}")
    assert result.exit_code == code
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert fingerprint(engine) == before


def test_an_email_given_again_in_other_case_is_no_conflict(cli):
    cli("customer add ana@example.com --name Ana")
    run(cli, "customer update ana@example.com --email ANA@example.com --name Ana2")
    assert customer(cli, "ana@example.com")["name"] == "Ana2"
