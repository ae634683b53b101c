"""SUPPORTCTL_READ_DATABASE_URL moves the reports (list, show, breaches, export) to a replica."""

import json

import pytest


@pytest.fixture
def replica(new_database, monkeypatch):
    # A second database stands in for a streaming replica: what it holds shows where reads go.
    url = new_database()
    monkeypatch.setenv("SUPPORTCTL_READ_DATABASE_URL", url)
    return url


def test_reports_read_from_the_replica_and_writes_go_to_the_primary(cli, replica, database_url, monkeypatch):
    created = cli("ticket create --title 'On the primary' --customer ana@example.com")
    assert created.exit_code == 0, created.stderr
    # The stand-in replica has not caught up: the reports must come from it, so they are empty.
    assert cli("ticket list --format json").stdout == "[]\n"
    assert cli("ticket show 1").exit_code == 3
    assert cli("sla breaches --format json", now="2026-12-30T00:00:00Z").stdout == "[]\n"
    assert cli("ticket export --format ndjson").stdout == ""
    monkeypatch.delenv("SUPPORTCTL_READ_DATABASE_URL")
    assert [t["title"] for t in json.loads(cli("ticket list --format json").stdout)] == ["On the primary"]


def test_an_unreachable_replica_exits_5_without_its_password(cli, monkeypatch):
    monkeypatch.setenv("SUPPORTCTL_READ_DATABASE_URL", "postgresql://r:replica-secret@127.0.0.1:1/x")
    result = cli("--debug ticket list")
    assert result.exit_code == 5
    assert "replica-secret" not in result.stdout + result.stderr
