"""A bad choice is refused by the parser before a command runs: exit 2, one line, and the
database exactly as it was (every table's rows, by count and checksum)."""

import pytest

from tests.helpers import create, fingerprint, run

WRITES_WITH_A_BAD_FORMAT = [
    "customer add x@example.com --name X",
    "agent add x@support.example --name X",
    "agent update sam@support.example --name Samuel",
    "ticket create --title T --customer a@example.com",
    "ticket create --title T --customer a@example.com --auto-assign",
    "ticket update 1 --priority high",
    "ticket assign 1 --to sam@support.example",
    "ticket assign 2 --auto",
    "ticket unassign 3",
    "ticket escalate 1",
    "queue assign",
    "queue escalate",
    "sla set high --response 2h",
    "sla calendar set --timezone Europe/Berlin --hours 'mon-fri 09:00-17:00'",
    "db roles",
]
OTHER_BAD_CHOICES = [
    "customer add x@example.com --name X --tier gold",
    "agent add x@support.example --name X --role boss",
    "agent update sam@support.example --role boss",
    "ticket create --title T --customer a@example.com --priority urgent",
    "ticket update 1 --status done",
    "ticket update 1 --priority urgent",
    "ticket assign 2 --auto --strategy fastest",
    "queue assign --strategy fastest",
    "sla set urgent --response 2h",
    "notify send --via pigeon",
    "ticket export --format xml",
    "ticket list --status nope",
    "sla breaches --metric speed",
    "sla explain 1 --format xml",
    "notify list --status lost",
]


@pytest.fixture
def seeded(cli, engine):
    run(cli, "agent add sam@support.example --name Sam --role senior")
    for _ in range(3):
        create(cli)
    run(cli, "ticket assign 3 --to sam@support.example")
    return fingerprint(engine)


@pytest.mark.parametrize("command", WRITES_WITH_A_BAD_FORMAT)
def test_a_write_command_with_format_xml_exits_2_and_writes_nothing(cli, engine, seeded, command):
    result = cli(f"{command} --format xml")
    assert result.exit_code == 2, result.stderr
    assert "'xml' is not one of" in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert fingerprint(engine) == seeded


@pytest.mark.parametrize("command", OTHER_BAD_CHOICES)
def test_any_bad_choice_exits_2_before_the_command_runs(cli, engine, seeded, command):
    result = cli(command)
    assert result.exit_code == 2, result.stderr
    assert "is not one of" in result.stderr
    assert result.stderr.count("\n") == 1
    assert fingerprint(engine) == seeded


def test_help_lists_the_choices(cli):
    result = cli("ticket update --help", now=None)
    assert "open|in_progress|pending|resolved|closed" in result.stdout
    assert "low|medium|high|critical" in result.stdout
