"""No password reaches any output: connection errors, statement errors, --debug tracebacks.

Every case sets a sentinel password (in the URL's user info or its query string, by
flag or environment), forces an error, and searches ALL output, stdout and stderr,
with and without --debug, in-process and in a real subprocess, for the sentinel and
for its percent-decoded form.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from supportctl.cli.app import app
from tests.integration.test_roles import drop_login_role, make_login_role, url_as

# Characters a URL must escape, so both the written (%-encoded) and the real form are searched for.
SENTINEL = "Sent1nel-p@ss/w:rd"
WRITTEN = quote(SENTINEL, safe="")
FORMS = (SENTINEL, WRITTEN, unquote(WRITTEN), "Sent1nel")


def everything(result) -> str:
    return result.stdout + result.stderr


def assert_no_secret(output: str) -> None:
    for form in FORMS:
        assert form not in output, f"{form!r} leaked:\n{output}"


def invoke(args: list[str], env: dict[str, str], debug: bool):
    argv = (["--debug"] if debug else []) + args
    return CliRunner().invoke(app, argv, env=env, catch_exceptions=False)


def run_process(args: list[str], env: dict[str, str], debug: bool) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "supportctl", *(["--debug"] if debug else []), *args]
    return subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def reader_url(pg_server, database_url, cli):
    """The test database as a member of supportctl_reader whose password is the sentinel."""
    assert cli("db roles --format tsv").exit_code == 0
    name = make_login_role(pg_server, "supportctl_reader", SENTINEL)
    yield url_as(database_url, name, SENTINEL)
    drop_login_role(pg_server, name)


def _with_query_secret(url: str) -> str:
    return f"{url}&password={WRITTEN}&sslpassword={WRITTEN}" if "?" in url else f"{url}?password={WRITTEN}"


UNREACHABLE = [
    f"postgresql://someone:{WRITTEN}@127.0.0.1:1/support",
    f"postgresql://someone@127.0.0.1:1/support?password={WRITTEN}",
    f"postgresql+psycopg2://someone:{WRITTEN}@127.0.0.1:1/support?sslpassword={WRITTEN}&sslmode=prefer",
]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("url", UNREACHABLE, ids=["userinfo", "query", "both"])
def test_an_unreachable_server_never_shows_the_password(url, debug):
    for env in ({"SUPPORTCTL_DATABASE_URL": url}, {}):
        args = ["ticket", "list"] if env else ["--database-url", url, "ticket", "list"]
        result = invoke(args, env, debug)
        assert result.exit_code == 5
        assert "cannot reach the database at postgresql" in result.stderr
        assert "***" in result.stderr
        assert_no_secret(everything(result))


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_server_that_refuses_the_login_never_shows_the_password(database_url, debug):
    for url in (url_as(database_url, "no_such_role_anywhere", SENTINEL),
                _with_query_secret(url_as(database_url.replace("/t_", "/missing_t_"), "postgres"))):
        result = invoke(["customer", "list"], {"SUPPORTCTL_DATABASE_URL": url}, debug)
        assert result.exit_code == 5, result.stderr
        assert "does not exist" in result.stderr
        assert_no_secret(everything(result))


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_permission_denied_write_never_shows_the_password(reader_url, debug):
    env = {"SUPPORTCTL_DATABASE_URL": reader_url}
    for args in (["customer", "add", "dee@example.com", "--name", "Dee"], ["queue", "escalate"],
                 ["sla", "set", "high", "--response", "2h"]):
        result = invoke(args, env, debug)
        assert result.exit_code == 4, result.stderr
        assert "permission denied for " in result.stderr
        assert ("Traceback" in result.stderr) is debug
        assert_no_secret(everything(result))


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_database_without_the_schema_never_shows_the_password(new_database, debug):
    url = _with_query_secret(url_as(new_database(migrated=False), "postgres", SENTINEL))
    result = invoke(["ticket", "list"], {"SUPPORTCTL_DATABASE_URL": url}, debug)
    assert result.exit_code == 5
    assert "has no supportctl schema" in result.stderr
    assert_no_secret(everything(result))


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_statement_error_from_the_database_never_shows_the_password(database_url, engine, debug):
    """An error no rule maps (a check constraint the code does not expect) goes through the bug path."""
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE customers ADD CONSTRAINT no_dee CHECK (email <> 'dee@example.com')"))
    url = _with_query_secret(url_as(database_url, "postgres", SENTINEL))
    result = invoke(["customer", "add", "dee@example.com", "--name", "Dee"], {"SUPPORTCTL_DATABASE_URL": url}, debug)
    assert result.exit_code == 70
    assert "no_dee" in result.stderr
    assert ("Traceback" in result.stderr) is debug
    assert_no_secret(everything(result))


def test_db_status_shows_the_url_with_the_password_masked(reader_url):
    result = invoke(["db", "status", "--format", "json"], {"SUPPORTCTL_DATABASE_URL": _with_query_secret(reader_url)},
                    debug=True)
    assert result.exit_code == 0, result.stderr
    [status] = json.loads(result.stdout)
    assert status["database_url"].startswith("postgresql+psycopg2://t_reader_")
    assert_no_secret(everything(result))


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_an_unreachable_read_replica_never_shows_its_password(database_url, debug):
    env = {"SUPPORTCTL_DATABASE_URL": database_url,
           "SUPPORTCTL_READ_DATABASE_URL": f"postgresql://replica:{WRITTEN}@127.0.0.1:1/support"}
    result = invoke(["ticket", "list"], env, debug)
    assert result.exit_code == 5
    assert_no_secret(everything(result))


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_real_process_never_prints_the_password_either(reader_url, debug):
    """Outside CliRunner: whatever the interpreter, warnings or logging might print reaches the check too."""
    for env, code in (({"SUPPORTCTL_DATABASE_URL": reader_url}, 4),
                      ({"SUPPORTCTL_DATABASE_URL": UNREACHABLE[2]}, 5)):
        result = run_process(["queue", "assign"], env, debug)
        assert result.returncode == code, result.stderr
        assert_no_secret(result.stdout + result.stderr)
