"""The one error handler: exit codes, one line, no secrets, tracebacks only with --debug."""

import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from supportctl.cli.app import app

SENTINEL = "s3cr3t-Sentinel"


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_unreachable_database_exits_5_quickly_without_showing_the_password(debug, monkeypatch):
    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", f"postgresql://u:{SENTINEL}@127.0.0.1:1/x")
    started = time.monotonic()
    result = CliRunner().invoke(app, [*debug, "customer", "list"])
    assert result.exit_code == 5
    assert time.monotonic() - started < 10
    assert SENTINEL not in result.stdout + result.stderr
    assert "cannot reach the database at postgresql://u:***@127.0.0.1:1/x" in result.stderr
    if debug:
        assert "Traceback" in result.stderr
    else:
        assert result.stderr.count("\n") == 1


def test_a_secret_in_the_query_string_is_masked_too(monkeypatch):
    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", f"postgresql://u@127.0.0.1:1/x?password={SENTINEL}")
    result = CliRunner().invoke(app, ["--debug", "customer", "list"])
    assert result.exit_code == 5
    assert SENTINEL not in result.stdout + result.stderr


def test_database_behind_the_migration_head_exits_5_and_says_to_upgrade(new_database, monkeypatch):
    import psycopg2
    from sqlalchemy.engine import make_url

    url = new_database()
    u = make_url(url)
    conn = psycopg2.connect(dbname=u.database, user=u.username, host=u.query.get("host") or u.host, port=u.port)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE alembic_version SET version_num = '0000'")
    conn.close()
    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["customer", "list"])
    assert result.exit_code == 5
    assert "run `supportctl db upgrade`" in result.stderr


def test_a_database_without_the_schema_exits_5(new_database, monkeypatch):
    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", new_database(migrated=False))
    result = CliRunner().invoke(app, ["customer", "list"])
    assert result.exit_code == 5
    assert "has no supportctl schema" in result.stderr


def test_a_bad_now_exits_2(cli):
    result = cli("customer list", now="yesterday")
    assert result.exit_code == 2
    assert "not an ISO 8601 timestamp" in result.stderr


def test_an_unknown_option_exits_2_with_one_line(cli):
    result = cli("customer list --colour")
    assert result.exit_code == 2
    assert "--colour" in result.stderr
    assert result.stderr.count("\n") == 1


def test_help_imports_neither_sqlalchemy_nor_the_server_manager():
    code = (
        "import sys\n"
        "from supportctl.cli.app import app\n"
        "try:\n    app(['--help'], prog_name='supportctl')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'psycopg2', 'alembic', 'pydantic', 'supportctl.db.embedded') if m in sys.modules]\n"
        "print(heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.strip() == "[]"
    assert "Usage: supportctl" in result.stdout


def test_version_prints_the_package_version(cli):
    from supportctl import __version__

    result = cli("--version", now=None)
    assert result.stdout == f"supportctl {__version__}\n"


@pytest.mark.parametrize("args", [[], ["ticket"], ["escalation", "ladder"]])
def test_a_bare_command_group_prints_its_help_and_exits_0(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: supportctl {' '.join(args)}".rstrip() + " [OPTIONS] COMMAND")
    assert result.stderr == ""


def test_unreadable_files_are_said_in_supportctls_words(cli, tmp_path):
    from tests.helpers import run

    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9\n")
    lone_cr = tmp_path / "lone-cr.csv"
    lone_cr.write_bytes(b'title,customer_email\r"a\rb",x@example.com\r\n')
    create = "ticket create --title T --customer ana@example.com --description-file"
    for args, said in (
        (f"{create} {tmp_path / 'nope.txt'}", f"cannot read --description-file {tmp_path / 'nope.txt'}: "
                                              "no such file or directory"),
        (f"{create} {latin}", f"cannot read --description-file {latin}: byte 0xe9 at position 4 is not UTF-8"),
        (f"ticket import {tmp_path}", f"cannot read {tmp_path}: is a directory"),
        (f"ticket import {lone_cr}", "not a CSV header: a line break (a lone CR) inside a field that is not quoted"),
        (f"ticket import {lone_cr} --map {tmp_path / 'nope.toml'}",
         f"cannot read --map {tmp_path / 'nope.toml'}: no such file or directory"),
    ):
        stderr = run(cli, args, code=2).stderr
        assert said in stderr and stderr.count("\n") == 1, stderr
        for leak in ("Errno", "codec", "universal-newline", "No such file"):
            assert leak not in stderr, stderr
    assert run(cli, "ticket list --format json").stdout == "[]\n"
