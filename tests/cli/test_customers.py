import json

import pytest


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
