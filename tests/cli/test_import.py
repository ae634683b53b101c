"""ticket import: all or nothing, every bad row named by its line, idempotent by external id."""

import csv
import io
import json

import pytest
from sqlalchemy import text

T0 = "2026-11-23T10:00:00Z"
HEADER = "external_id,title,customer_email,priority\n"


def write(tmp_path, content: str | bytes, name="tickets.csv"):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return str(path)


def thousand_rows(bad_line: int | None = None) -> str:
    lines = [HEADER]
    for n in range(1, 1001):
        email = "not-an-email" if n + 1 == bad_line else f"customer{n % 37}@example.com"
        lines.append(f"LEGACY-{n},Ticket {n},{email},{['low', 'medium', 'high', 'critical'][n % 4]}\n")
    return "".join(lines)


def counts(engine):
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM customers), (SELECT count(*) FROM ticket_events)"
        )).one())


def tickets(cli, columns="id,external_id,title,status,priority,customer_email"):
    result = cli(f"ticket export --raw --columns {columns}")
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_a_bad_email_on_one_of_1000_rows_refuses_the_file_then_the_fixed_file_imports_once(cli, engine, tmp_path):
    cli("ticket create --title Existing --customer ana@example.com")
    before = counts(engine)
    bad = cli(["ticket", "import", write(tmp_path, thousand_rows(bad_line=734))])
    assert bad.exit_code == 2
    assert bad.stdout == ""
    assert bad.stderr.splitlines() == [
        ("line 734: customer_email: 'not-an-email' is not a valid email address: "
         "An email address must have an @-sign."),
        "supportctl: error: 1 bad row (of 1000); nothing was imported (fix them and run the import again)",
    ]
    assert counts(engine) == before

    fixed = write(tmp_path, thousand_rows(), "fixed.csv")
    first = cli(["ticket", "import", fixed])
    assert first.exit_code == 0, first.stderr
    assert "imported 1000, skipped 0 (already there), updated 0" in first.stderr
    assert "created 37 customers" in first.stderr
    assert counts(engine) == (before[0] + 1000, before[1] + 37, before[2] + 1000)

    again = cli(["ticket", "import", fixed])
    assert again.exit_code == 0
    assert again.stderr == "imported 0, skipped 1000 (already there), updated 0\n"
    assert counts(engine) == (before[0] + 1000, before[1] + 37, before[2] + 1000)


def test_two_rows_sharing_an_external_id_refuse_the_whole_file(cli, engine, tmp_path):
    path = write(tmp_path, HEADER + "A-1,First,ana@example.com,low\nA-2,Second,bo@example.com,low\n"
                                    "A-1,Third,cy@example.com,low\n")
    result = cli(["ticket", "import", path])
    assert result.exit_code == 2
    assert "line 4: external_id: 'A-1' is also on line 2" in result.stderr
    assert counts(engine) == (0, 0, 0)


def test_every_bad_row_is_listed_by_its_physical_line(cli, engine, tmp_path):
    cli("agent add old@example.com --name Old")
    cli("agent update old@example.com --inactive")
    content = (
        b"title,customer_email,status,assignee_email,created_at,description,tags\n"
        b'Fine,ana@example.com,,,,"a description\nover three\nlines",\n'  # lines 2-4
        b"Bad status,ana@example.com,done,,,,\n"  # 5
        b"Ghost,ana@example.com,,ghost@example.com,,,\n"  # 6
        b"Left,ana@example.com,open,old@example.com,,,\n"  # 7
        b"Left but closed,ana@example.com,closed,old@example.com,,,\n"  # 8: fine
        b"Nul\x00byte,ana@example.com,,,,,\n"  # 9
        b"Latin-1 \xe9,ana@example.com,,,,,\n"  # 10
        b"Short row,ana@example.com\n"  # 11
        b",ana@example.com,,,soon,,\n"  # 12: two problems
        b"Future,ana@example.com,,,2027-01-01T00:00:00Z,,\n"  # 13
        b"Tag too long,ana@example.com,,,,," + b"x" * 65 + b"\n"  # 14
    )
    result = cli(["ticket", "import", write(tmp_path, content)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:-1] == [
        "line 5: status: 'done' is not one of open, in_progress, pending, resolved, closed",
        "line 6: assignee_email: ghost@example.com: no agent has this email",
        "line 7: assignee_email: old@example.com is inactive (allowed only on resolved or closed tickets)",
        "line 9: title: contains a NUL byte",
        "line 10: file: byte 0xe9 at position 9 is not UTF-8 (save it as UTF-8)",
        "line 11: row: 2 fields, the header has 7",
        "line 12: title: must not be empty",
        "line 12: created_at: 'soon' is not an ISO 8601 time, e.g. 2026-11-23T14:05:00Z",
        "line 13: created_at: 2027-01-01T00:00:00Z is in the future",
        f"line 14: tags: tag {'x' * 65!r} must be 1-64 characters without ';'",
    ]
    assert result.stderr.splitlines()[-1].startswith("supportctl: error: 9 bad rows (of 11); nothing was imported")
    assert counts(engine)[0] == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty; the first line must name the columns"),
        (b"\n\n", "line 1: the header lacks title, customer_email"),
        (b"Cannot log in,ana@example.com\n", "the header lacks title, customer_email and names unknown columns"),
        (b"title,customer_email,priority,colour,size\n", "line 1: unknown columns colour, size"),
        (b"title,customer_email,title\n", "column title appears more than once"),
        (b'title,customer_email\n"never closed,ana@example.com\n', "line 2: row: malformed CSV"),
    ],
)
def test_a_file_without_a_usable_header_or_with_broken_csv_exits_2(cli, engine, tmp_path, content, message):
    result = cli(["ticket", "import", write(tmp_path, content)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert counts(engine) == (0, 0, 0)


def test_bom_crlf_and_newlines_in_quoted_fields_are_read(cli, tmp_path):
    content = ("\ufefftitle,customer_email,description,tags\r\n"
               "One,Ana@Example.com,\"first\r\nsecond\",a;b\r\n"
               "Two,ana@example.com,,\r\n").encode("utf-8")
    result = cli(["ticket", "import", write(tmp_path, content)])
    assert result.exit_code == 0, result.stderr
    [one, two] = [json.loads(line) for line in cli("ticket export -f ndjson --columns title,customer_email,"
                                                   "description,tags").stdout.splitlines()]
    assert one == {"title": "One", "customer_email": "ana@example.com", "description": "first\r\nsecond",
                   "tags": ["a", "b"]}
    assert two == {"title": "Two", "customer_email": "ana@example.com", "description": "", "tags": []}


def test_a_two_megabyte_description_is_imported(cli, tmp_path):
    big = "word " * 400_000
    result = cli(["ticket", "import", write(tmp_path, f'title,customer_email,description\nBig,ana@example.com,"{big}"\n')])
    assert result.exit_code == 0, result.stderr
    assert json.loads(cli("ticket show 1 -f json").stdout)[0]["description"] == big


def test_a_description_too_big_for_the_search_index_exits_2_and_imports_nothing(cli, tmp_path):
    distinct = " ".join(f"w{n:07d}x" for n in range(200_000))  # 2 MB of words PostgreSQL cannot index
    path = write(tmp_path, f'title,customer_email,description\nSmall,bo@example.com,hi\nBig,ana@example.com,"{distinct}"\n')
    result = cli(["ticket", "import", path])
    assert result.exit_code == 2
    assert "too large" in result.stderr and "tsvector" in result.stderr and "Traceback" not in result.stderr
    assert cli("ticket list -f json").stdout.strip() == "[]"


def test_export_columns_are_ignored_and_unknown_customers_are_created(cli, tmp_path):
    path = write(tmp_path, "id,title,customer_email,escalated,sla_whatever\n")
    assert cli(["ticket", "import", path]).exit_code == 2  # sla_whatever is unknown
    path = write(tmp_path, "id,title,customer_email,escalated,resolved_at\n99,Hello,new@example.com,true,\n")
    result = cli(["ticket", "import", path])
    assert result.exit_code == 0, result.stderr
    assert "created 1 customer" in result.stderr
    # A row with an id and no external id is that export's ticket sc-ID (§17): kept as its key.
    assert tickets(cli) == [{"id": "1", "external_id": "sc-99", "title": "Hello", "status": "open", "priority": "medium",
                             "customer_email": "new@example.com"}]


def test_imported_tickets_get_due_dates_status_times_and_a_created_event(cli, tmp_path):
    cli("agent add bo@example.com --name Bo")
    path = write(tmp_path, "external_id,title,customer_email,priority,status,assignee_email,created_at,category\n"
                           "Z-1,Old and done,ana@example.com,high,resolved,bo@example.com,2026-11-01T09:00:00Z,billing\n"
                           "Z-2,New,ana@example.com,critical,,,,\n"
                           "Z-3,Old and closed,ana@example.com,low,closed,,2026-11-02T09:00:00Z,\n")
    result = cli(["--actor", "importer", "ticket", "import", path], now=T0)
    assert result.exit_code == 0, result.stderr
    done, new = (json.loads(cli(f"ticket show {i} -f json").stdout)[0] for i in (1, 2))
    assert (done["response_due_at"], done["resolution_due_at"]) == ("2026-11-01T13:00:00Z", "2026-11-02T09:00:00Z")
    assert done["first_response_at"] == done["resolved_at"] == "2026-11-01T09:00:00Z"
    assert (done["assignee_email"], done["category"], done["closed_at"]) == ("bo@example.com", "billing", None)
    assert done["sla"]["response"]["state"] == "met" and done["sla"]["resolution"]["state"] == "met"
    assert (new["created_at"], new["response_due_at"], new["first_response_at"]) == (T0, "2026-11-23T11:00:00Z", None)
    [event] = done["history"]
    assert (event["kind"], event["actor"], event["at"]) == ("created", "importer", T0)
    assert event["to"]["external_id"] == "Z-1" and event["to"]["created_at"] == "2026-11-01T09:00:00Z"
    closed = json.loads(cli("ticket show 3 -f json").stdout)[0]
    assert closed["resolved_at"] == closed["closed_at"] == closed["first_response_at"] == "2026-11-02T09:00:00Z"


def test_dry_run_reports_what_it_would_do_and_writes_nothing(cli, engine, tmp_path):
    cli("ticket create --title Known --customer ana@example.com --external-id K-1")
    before = counts(engine)
    path = write(tmp_path, HEADER + "K-1,Known,ana@example.com,low\nK-2,New,new@example.com,low\n")
    result = cli(["ticket", "import", path, "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ("would create 1 customer\n"
                             "dry run: would import 1, skip 1 (already there), update 0; nothing written\n")
    assert counts(engine) == before


def test_import_reads_stdin(cli):
    result = cli("ticket import -", input="title,customer_email\nFrom a pipe,ana@example.com\n")
    assert result.exit_code == 0, result.stderr
    assert [t["title"] for t in tickets(cli)] == ["From a pipe"]


def test_a_missing_file_exits_2(cli, tmp_path):
    result = cli(["ticket", "import", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_a_raw_export_reimported_into_an_empty_database_reproduces_the_tickets(cli, engine, tmp_path, new_database,
                                                                                 monkeypatch):
    columns = ("id,external_id,title,description,status,priority,category,tags,customer_email,assignee_email,"
               "created_at,response_due_at,resolution_due_at,first_response_at")
    cli("agent add bo@example.com --name Bo")
    cli(["ticket", "create", "--title", "=SUM(A1)", "--customer", "ana@example.com", "--external-id", "X-1",
         "--description", 'line one\nline "two", with comma', "--tag", "a", "--tag", "-b", "--priority", "high"])
    cli(["ticket", "create", "--title", "Plain", "--customer", "cy@example.com", "--category", "billing"],
        now="2026-11-23T10:05:30Z")
    cli("ticket update 2 --status in_progress", now="2026-11-23T10:06:00Z")
    with engine.begin() as conn:
        conn.execute(text("UPDATE tickets SET assignee_id = (SELECT id FROM agents), first_response_at = created_at "
                          "WHERE id = 1"))
        conn.execute(text("UPDATE tickets SET first_response_at = created_at WHERE id = 2"))
    exported = cli(f"ticket export --raw --columns {columns}")
    assert exported.exit_code == 0, exported.stderr
    path = write(tmp_path, exported.stdout)

    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", new_database())
    cli("agent add bo@example.com --name Bo")
    result = cli(["ticket", "import", path], now="2026-11-24T08:00:00Z")
    assert result.exit_code == 0, result.stderr
    assert cli(f"ticket export --raw --columns {columns}").stdout == exported.stdout
