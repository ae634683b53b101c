"""ticket export: streaming CSV / NDJSON, the formula guard, atomic files, quiet pipes."""

import csv
import io
import json
import os
import stat
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.factories import days_ago, insert_tickets
from tests.helpers import NOW, create

DEFAULT_COLUMNS = (
    "id,title,status,priority,category,tags,customer_email,assignee_email,escalated,escalation_level,"
    "created_at,updated_at,first_response_at,resolved_at,response_due_at,resolution_due_at"
)
ALL_COLUMNS = (
    "id,external_id,title,description,status,priority,category,tags,customer_email,assignee_email,team,sla_policy,escalated,"
    "escalation_level,created_at,updated_at,first_response_at,resolved_at,closed_at,response_due_at,resolution_due_at"
)
FORMULA = '=HYPERLINK("http://x","y")'


def rows(result):
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.fixture
def varied(cli, engine):
    """Tickets with every kind of cell: formulas, quotes, newlines, tags, people, times, empties."""
    cli("agent add bo@example.com --name Bo")
    create(cli, "--tag", "-minus", "--tag", "b", "--category", "+plus", title=FORMULA)
    create(cli, "--description", "two\nlines, \"quoted\"", "--priority", "high", title="@home, with a comma",
           customer="-dash@example.com")
    third = create(cli, "--external-id", "=EXT-1", title="tab first", now="2026-11-23T10:30:00Z")
    cli(f"ticket update {third} --status resolved", now="2026-11-23T11:00:00Z")
    with engine.begin() as conn:  # what the commands do not write (an assignee, a leading tab) or not yet
        conn.execute(text("UPDATE tickets SET assignee_id = (SELECT id FROM agents), escalated = true, "
                          "escalation_level = 2 WHERE id = 1"))
        conn.execute(text("UPDATE tickets SET title = E'\\t' || title WHERE id = 3"))
        conn.execute(text("UPDATE tickets SET updated_at = updated_at + interval '0.25 seconds' WHERE id = 2"))
    return 3


def test_an_export_of_n_tickets_has_n_data_rows_in_the_default_columns(cli, engine):
    insert_tickets(engine, 250, days_ago(NOW, 1))
    result = cli("ticket export")
    assert result.stdout.splitlines()[0] == DEFAULT_COLUMNS
    parsed = rows(result)
    assert len(parsed) == 250
    assert [int(r["id"]) for r in parsed] == list(range(1, 251))
    assert result.stderr == ""


def test_a_formula_title_gets_a_quote_prefix_and_raw_keeps_it_verbatim(cli, varied):
    guarded = {r["id"]: r for r in rows(cli("ticket export"))}
    assert guarded["1"]["title"] == "'" + FORMULA
    assert guarded["1"]["tags"] == "'-minus;b"
    assert guarded["1"]["category"] == "'+plus"
    assert guarded["2"]["title"] == "'@home, with a comma"
    assert guarded["2"]["customer_email"] == "'-dash@example.com"
    assert guarded["3"]["title"] == "'\ttab first"
    assert guarded["1"]["escalation_level"] == "2"  # numbers and times are never prefixed
    raw = {r["id"]: r for r in rows(cli("ticket export --raw"))}
    assert raw["1"]["title"] == FORMULA
    assert raw["2"]["customer_email"] == "-dash@example.com"


@pytest.mark.parametrize("raw", ["", "--raw"])
def test_export_cells_are_exactly_those_of_ticket_list_csv(cli, varied, raw):
    exported = cli(f"ticket export --columns {ALL_COLUMNS} {raw}")
    listed = cli(f"ticket list --format csv --sort id --limit 0 --columns {ALL_COLUMNS} {raw}")
    assert exported.exit_code == 0, exported.stderr
    # Tickets 1 and 2 have no external id: the export names them sc-1 and sc-2 (§17).
    assert exported.stdout == listed.stdout.replace("\n1,,", "\n1,sc-1,").replace("\n2,,", "\n2,sc-2,")


def test_cells_follow_the_output_rules(cli, varied):
    [first, second, third] = rows(cli(f"ticket export --columns {ALL_COLUMNS}"))
    assert (first["escalated"], second["escalated"]) == ("true", "false")
    assert first["assignee_email"] == "bo@example.com" and second["assignee_email"] == ""
    assert second["description"] == "two\nlines, \"quoted\""
    assert third["resolved_at"] == "2026-11-23T11:00:00Z"
    assert third["response_due_at"] == "2026-11-24T10:30:00Z"
    assert third["external_id"] == "'=EXT-1"
    assert second["tags"] == "" and second["closed_at"] == ""


def test_ndjson_is_one_object_a_line_with_native_types_and_no_guard(cli, varied):
    result = cli("ticket export --format ndjson --columns id,title,tags,escalated,assignee_email,created_at")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0]) == {
        "id": 1, "title": FORMULA, "tags": ["-minus", "b"], "escalated": True,
        "assignee_email": "bo@example.com", "created_at": "2026-11-23T10:00:00Z",
    }
    assert json.loads(lines[1])["assignee_email"] is None


def test_ndjson_matches_ticket_list_ndjson(cli, varied):
    exported = cli(f"ticket export --format ndjson --columns {ALL_COLUMNS}")
    listed = cli(f"ticket list --format ndjson --sort id --limit 0 --columns {ALL_COLUMNS}")
    assert exported.stdout == listed.stdout.replace('{"id":1,"external_id":null', '{"id":1,"external_id":"sc-1"') \
        .replace('{"id":2,"external_id":null', '{"id":2,"external_id":"sc-2"')


def test_an_empty_export_is_the_header_alone(cli):
    result = cli("ticket export")
    assert (result.exit_code, result.stdout) == (0, DEFAULT_COLUMNS + "\n")


@pytest.mark.parametrize(
    "args, code, message",
    [
        ("--columns id,nope", 2, "unknown column nope; valid: " + ALL_COLUMNS),
        ("--columns sla", 2, "unknown column sla"),
        ("--format json", 2, "'json' is not one of 'csv', 'ndjson'"),
        ("--status nope", 2, "Invalid value for '--status': 'nope' is not one of"),
        ("--assignee nobody@example.com", 3, "no agent with email nobody@example.com"),
        ("--updated-since yesterday", 2, "--updated-since: 'yesterday' is neither an ISO 8601 timestamp nor a duration"),
    ],
)
def test_bad_options_exit_with_their_code_and_one_line(cli, args, code, message):
    result = cli(f"ticket export {args}")
    assert result.exit_code == code
    assert result.stdout == ""
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_filters_pick_the_same_tickets_as_ticket_list(cli):
    create(cli, "--priority", "high", "--tag", "vip")
    create(cli, "--category", "billing", title="Invoice wrong", now="2026-11-23T12:00:00Z")
    cli("ticket update 1 --status pending", now="2026-11-23T13:00:00Z")
    for args in ["--status pending", "--priority high", "--tag vip", "--category billing", "--search invoice",
                 "--created-since 2026-11-23T11:00:00Z", "--updated-since 2026-11-23T12:30:00Z", "--unassigned"]:
        listed = sorted(t["id"] for t in json.loads(cli(f"ticket list {args} --limit 0 --format json").stdout))
        exported = [int(r["id"]) for r in rows(cli(f"ticket export {args}"))]
        assert exported == listed, args
    assert [r["id"] for r in rows(cli("ticket export --updated-since 2026-11-23T12:30:00Z"))] == ["1"]


def test_output_file_appears_complete_with_a_summary_and_nothing_else_beside_it(cli, varied, tmp_path):
    target = tmp_path / "tickets.csv"
    result = cli(["ticket", "export", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"exported 3 tickets to {target} in ")
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal
    assert target.read_text() == cli("ticket export").stdout
    assert os.listdir(tmp_path) == ["tickets.csv"]


def test_a_failed_export_leaves_the_previous_file_and_no_temporary_file(cli, varied, tmp_path):
    target = tmp_path / "tickets.csv"
    target.write_text("the previous export\n")
    result = cli(["ticket", "export", "-o", str(target), "--assignee", "nobody@example.com"])
    assert result.exit_code == 3
    assert target.read_text() == "the previous export\n"
    assert os.listdir(tmp_path) == ["tickets.csv"]


def test_an_unwritable_target_exits_2(cli, tmp_path):
    missing = cli(["ticket", "export", "-o", str(tmp_path / "no" / "such.csv")])
    assert missing.exit_code == 2
    assert "cannot write" in missing.stderr
    directory = cli(["ticket", "export", "-o", str(tmp_path)])
    assert directory.exit_code == 2
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", ["fifo", "symlink", "symlink to nowhere", "device"])
def test_only_a_regular_file_at_the_target_is_replaced(cli, varied, tmp_path, kind):
    target, regular = tmp_path / "out.csv", tmp_path / "precious.txt"
    regular.write_text("keep me\n")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        target.symlink_to(regular)
    elif kind == "symlink to nowhere":
        target.symlink_to(tmp_path / "nowhere")
    else:
        target = "/dev/null"
    before = os.lstat(target)
    result = cli(["ticket", "export", "-o", str(target)])
    assert result.exit_code == 2
    assert "only a regular file is replaced" in result.stderr and result.stderr.count("\n") == 1
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert regular.read_text() == "keep me\n"
    assert sorted(os.listdir(tmp_path)) == (["precious.txt"] if kind == "device" else ["out.csv", "precious.txt"])


def test_the_new_file_has_the_mode_the_umask_gives_not_the_old_file_s(cli, varied, tmp_path):
    target = tmp_path / "tickets.csv"
    target.write_text("old\n")
    os.chmod(target, 0o666)
    old_umask = os.umask(0o027)
    try:
        assert cli(["ticket", "export", "-o", str(target)]).exit_code == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_an_export_piped_into_head_ends_quietly(database_url, engine):
    insert_tickets(engine, 5000, days_ago(NOW, 1))  # far more than a pipe holds
    command = f"{sys.executable} -m supportctl ticket export | head -1; echo ${{PIPESTATUS[0]}} >&2"
    done = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, timeout=60)
    assert done.stdout == DEFAULT_COLUMNS + "\n"
    export_status = done.stderr.strip()
    assert export_status == "0", done.stderr  # nothing else on stderr: no traceback, no message
