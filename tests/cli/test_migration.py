"""Migration-grade import and export (§17): the round trip, re-runs, --update-existing,
--batch-size that carries on, and another helpdesk's CSV through --map."""

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.helpers import NOW, create, run

DATA = Path(__file__).parent.parent / "data"
AGENTS = ("lena@support.example", "sam@support.example")


def at(hours: float):
    return NOW + timedelta(hours=hours)


def staff(cli, db=()):
    for email in AGENTS:
        run(cli, [*db, "agent", "add", email, "--name", email.split("@")[0]])
    run(cli, [*db, "team", "add", "billing", "--name", "Billing"])
    run(cli, [*db, "team", "member", "add", "billing", *AGENTS])


def a_help_desk(cli):
    """Every status, a team, tags, public and internal comments, a reopened and a pending ticket."""
    staff(cli)
    opened = create(cli, "--tag", "vip", "--tag", "sso", now=at(-50))
    working = create(cli, "--team", "billing", "--category", "billing", title="Wrong VAT", priority="high",
                     now=at(-40))
    run(cli, f"ticket assign {working} --to sam@support.example", now=at(-39))
    run(cli, f"ticket update {working} --status in_progress", now=at(-38))
    run(cli, ["ticket", "comment", str(working), "--body", "Looking at it", "--author", "sam@support.example"],
        now=at(-37))
    run(cli, ["ticket", "comment", str(working), "--body", "Finance knows", "--author", "sam@support.example",
              "--internal"], now=at(-36.5))
    run(cli, ["ticket", "comment", str(working), "--body", "Any news?", "--author", "ana@example.com"],
        now=at(-30))  # the customer: a next reply is due
    pending = create(cli, title="Export is empty", customer="bo@example.com", now=at(-30))
    run(cli, f"ticket update {pending} --status pending", now=at(-29))
    reopened = create(cli, title="Password reset mail", priority="critical", now=at(-28))
    run(cli, f"ticket assign {reopened} --to lena@support.example", now=at(-27.5))
    run(cli, f"ticket update {reopened} --status resolved", now=at(-27))
    run(cli, f"ticket update {reopened} --status open", now=at(-20))
    closed = create(cli, "--external-id", "ZD-77", title="Old", priority="low", now=at(-48))
    run(cli, f"ticket update {closed} --status resolved", now=at(-47))
    run(cli, f"ticket update {closed} --status closed", now=at(-46))
    resolved = create(cli, "--tag", "sso", title="Cannot log in again", now=at(-10))
    run(cli, f"ticket update {resolved} --status resolved", now=at(-9))
    run(cli, "queue escalate", now=at(0))  # escalated and breached tickets too
    return {"open": opened, "in_progress": working, "pending": pending, "reopened": reopened, "closed": closed,
            "resolved": resolved}


def without_ids(ndjson: str) -> list[dict]:
    rows = [json.loads(line) for line in ndjson.splitlines()]
    for row in rows:
        row.pop("id")
    return rows


def test_the_round_trip_into_an_empty_database_gives_the_same_file_and_mails_nobody(cli, new_database, tmp_path):
    tickets = a_help_desk(cli)
    first = run(cli, "ticket export --format ndjson --with-comments", now=at(1)).stdout
    rows = {r["title"]: r for r in without_ids(first)}
    assert {r["status"] for r in rows.values()} == {"open", "in_progress", "pending", "resolved", "closed"}
    assert [(c["body"], c["internal"]) for c in rows["Wrong VAT"]["comments"]] == [
        ("Looking at it", False), ("Finance knows", True), ("Any news?", False)]
    assert rows["Wrong VAT"]["next_reply_started_at"] is not None and rows["Password reset mail"]["reopened_at"]
    assert rows["Old"]["external_id"] == "ZD-77" and rows["Cannot log in"]["external_id"] == f"sc-{tickets['open']}"

    target = new_database()
    engine = create_engine(target)
    db = ["--database-url", target]
    staff(cli, db)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM notifications"))
    path = tmp_path / "everything.ndjson"
    path.write_text(first)
    imported = run(cli, [*db, "ticket", "import", str(path)], now=at(2))
    assert imported.stderr.splitlines() == ["created 2 customers", "imported 6, skipped 0 (already there), updated 0"]
    second = run(cli, [*db, "ticket", "export", "--format", "ndjson", "--with-comments"], now=at(3)).stdout
    assert without_ids(second) == without_ids(first)
    # The SLA state read from the imported clocks and cycles is the source's, metric by metric.
    states = [run(cli, [*d, "ticket", "list", "--format", "json", "--columns", "title,sla"], now=at(4)).stdout
              for d in ((), db)]
    assert json.loads(states[0]) == json.loads(states[1])
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM notifications")) == 0
        # History: `created` and `imported` with what the file said; cycles from the clocks.
        kinds = conn.execute(text("SELECT kind, to_value->>'status' FROM ticket_events e JOIN tickets t "
                                  "ON t.id = e.ticket_id WHERE t.external_id = 'ZD-77' ORDER BY e.id")).all()
        assert kinds == [("created", "closed"), ("imported", "closed")]
        cycle = conn.execute(text(
            "SELECT c.cycle, c.state, c.started_at FROM sla_cycles c JOIN tickets t ON t.id = c.ticket_id "
            "WHERE t.title = 'Password reset mail' AND c.metric = 'resolution'")).one()
        assert cycle == (1, "running", at(-20))  # the reopened ticket's clock runs from its reopening

    again = run(cli, [*db, "ticket", "import", str(path)], now=at(5))
    assert again.stderr == "imported 0, skipped 6 (already there), updated 0\n"


def test_update_existing_writes_the_two_changed_priorities_through_ticket_update(cli, engine, tmp_path):
    staff(cli)
    for n in range(3):
        create(cli, "--external-id", f"X-{n}", title=f"Ticket {n}")
    exported = run(cli, "ticket export --format ndjson --with-comments").stdout
    rows = [json.loads(line) for line in exported.splitlines()]
    rows[0]["priority"], rows[2]["priority"] = "high", "low"
    path = tmp_path / "changed.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    plain = run(cli, ["ticket", "import", str(path)], now=at(1))
    assert plain.stderr == "imported 0, skipped 3 (already there), updated 0\n"
    dry = run(cli, ["ticket", "import", str(path), "--update-existing", "--dry-run"], now=at(1))
    assert dry.stderr == "dry run: would import 0, skip 1 (already there), update 2; nothing written\n"
    done = run(cli, ["ticket", "import", str(path), "--update-existing"], now=at(1))
    assert done.stderr == "imported 0, skipped 1 (already there), updated 2\n"
    with engine.connect() as conn:
        changed = conn.execute(text(
            "SELECT t.external_id, e.from_value #>> '{}', e.to_value #>> '{}' FROM ticket_events e "
            "JOIN tickets t ON t.id = e.ticket_id WHERE e.kind = 'priority_changed' ORDER BY t.id")).all()
    assert changed == [("X-0", "medium", "high"), ("X-2", "medium", "low")]
    repeat = run(cli, ["ticket", "import", str(path), "--update-existing"], now=at(2))
    assert repeat.stderr == "imported 0, skipped 3 (already there), updated 0\n"


def test_update_existing_that_breaks_a_rule_is_refused_with_its_line_and_writes_nothing(cli, engine, tmp_path):
    ticket = create(cli, "--external-id", "C-1")
    run(cli, f"ticket update {ticket} --status closed")
    path = tmp_path / "reopen.csv"
    path.write_text("external_id,title,customer_email,status\nC-1,Cannot log in,ana@example.com,open\n")
    refused = run(cli, ["ticket", "import", str(path), "--update-existing"], code=4)
    assert refused.stderr.startswith(f"supportctl: error: line 2: ticket {ticket}: ")
    assert run(cli, "ticket list --columns status").stdout.splitlines()[1:] == ["closed"]


def five_thousand(bad_line: int | None = None) -> str:
    """A CSV of 5,000 rows; line N (the header is line 1) holds row N - 1."""
    lines = ["external_id,title,customer_email\n"]
    for n in range(1, 5001):
        email = "not-an-email" if n + 1 == bad_line else f"c{n % 50}@example.com"
        lines.append(f"B-{n},Row {n},{email}\n")
    return "".join(lines)


def test_batches_check_everything_first_then_a_run_that_died_carries_on(cli, engine, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(five_thousand(bad_line=3500))
    bad = run(cli, ["ticket", "import", str(path), "--batch-size", "1000"], code=2)
    assert bad.stderr.splitlines()[0].startswith("line 3500: customer_email: 'not-an-email' is not a valid email")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 0

    # The fixed file, and a run that dies in its fourth batch (rows 3,001-4,000): a trigger
    # stands in for the server going away there.
    path.write_text(five_thousand())
    with engine.begin() as conn:
        conn.execute(text("""
            CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.external_id = 'B-3500' THEN RAISE EXCEPTION 'the server went away'; END IF;
                  RETURN NEW; END $$;
            CREATE TRIGGER die BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION die()"""))
    died = cli(["ticket", "import", str(path), "--batch-size", "1000"])
    assert died.exit_code != 0
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 3000  # three batches committed
        conn.execute(text("DROP TRIGGER die ON tickets; DROP FUNCTION die()"))

    rerun = run(cli, ["ticket", "import", str(path), "--batch-size", "1000"])
    assert rerun.stderr.splitlines()[-1] == "imported 2000, skipped 3000 (already there), updated 0"
    last = run(cli, ["ticket", "import", str(path), "--batch-size", "1000"])
    assert last.stderr == "imported 0, skipped 5000 (already there), updated 0\n"
    with engine.connect() as conn:
        # 5,000 tickets, each once, each with one `created` event.
        assert conn.execute(text("SELECT count(*), count(DISTINCT external_id) FROM tickets")).one() == (5000, 5000)
        assert conn.scalar(text("SELECT count(*) FROM ticket_events")) == 5000


def test_a_zendesk_csv_imports_through_a_map(cli, engine):
    staff(cli)
    result = run(cli, ["ticket", "import", str(DATA / "zendesk-export.csv"), "--map", str(DATA / "zendesk.toml")])
    assert result.stderr.splitlines() == [
        "ignored columns the map does not name: Requester, Via, Satisfaction Score",
        "created 2 customers",
        "imported 3, skipped 0 (already there), updated 0",
    ]
    rows = run(cli, "ticket export --format ndjson --columns external_id,title,status,priority,tags,team,"
                    "assignee_email,customer_email,created_at").stdout
    assert [json.loads(line) for line in rows.splitlines()] == [
        {"external_id": "4101", "title": "Invoice PDF is blank", "status": "open", "priority": "high",
         "tags": ["invoice", "pdf"], "team": "billing", "assignee_email": "sam@support.example",
         "customer_email": "ana@example.com", "created_at": "2026-11-20T09:15:00Z"},
        {"external_id": "4102", "title": "Refund for a double charge", "status": "resolved", "priority": "critical",
         "tags": ["refund"], "team": "billing", "assignee_email": "lena@support.example",
         "customer_email": "bo@example.com", "created_at": "2026-11-21T16:40:00Z"},
        {"external_id": "4103", "title": "How do I add a user?", "status": "pending", "priority": "medium",
         "tags": [], "team": None, "assignee_email": None, "customer_email": "ana@example.com",
         "created_at": "2026-11-22T08:05:00Z"},
    ]


def test_the_same_map_as_csv_and_bad_maps(cli, tmp_path):
    columns = tmp_path / "map.csv"
    columns.write_text("from,to\nSubject,title\nRequester email,customer_email\nId,external_id\n")
    source = tmp_path / "zd.csv"
    source.write_text("Id,Subject,Requester email,Via\n9,Hello,ana@example.com,web\n")
    assert run(cli, ["ticket", "import", str(source), "--map", str(columns)]).stderr.endswith(
        "imported 1, skipped 0 (already there), updated 0\n")
    for content, message in (
        ('"Subject" = "headline"\n', "'Subject' maps to 'headline', which is not a column of supportctl"),
        ('Subject = \n', "is not TOML"),
        ("[tags]\nseparator = ', '\n", "[tags] takes one key, separator, a single character"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(content)
        result = run(cli, ["ticket", "import", str(source), "--map", str(bad)], code=2)
        assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_ndjson_file_naming_an_agent_or_team_that_is_not_there_is_exit_3(cli, engine, tmp_path):
    path = tmp_path / "t.ndjson"
    path.write_text(json.dumps({"title": "A", "customer_email": "ana@example.com", "team": "nope"}) + "\n"
                    + json.dumps({"title": "B", "customer_email": "ana@example.com",
                                  "assignee_email": "ghost@example.com"}) + "\n")
    result = run(cli, ["ticket", "import", str(path)], code=3)
    assert result.stderr.splitlines() == [
        "line 1: team: 'nope': no team has this slug",
        "line 2: assignee_email: ghost@example.com: no agent has this email",
        "supportctl: error: 2 bad rows (of 2); nothing was imported (add the agents and teams they name first)",
    ]


def test_bad_ndjson_lines_are_each_named(cli, engine, tmp_path):
    path = tmp_path / "bad.ndjson"
    good = {"title": "Fine", "customer_email": "ana@example.com"}
    path.write_text("\n".join([
        json.dumps(good),
        "{not json",
        "[1, 2]",
        json.dumps({**good, "colour": "red"}),
        json.dumps({**good, "tags": "a;b", "escalated": "yes", "paused_seconds": -1}),
        json.dumps({**good, "response_due_at": None, "resolved_at": "soon"}),
        json.dumps({**good, "comments": [{"author": "x@example.com", "body": "", "created_at": "2026-11-20T00:00Z"},
                                         {"author": "nobody", "body": "hi", "created_at": "2026-11-20T00:00Z"}]}),
    ]) + "\n")
    result = run(cli, ["ticket", "import", str(path)], code=2)
    assert result.stderr.splitlines()[:-1] == [
        "line 2: row: not JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 3: row: not a JSON object",
        "line 4: row: unknown key 'colour'",
        "line 5: paused_seconds: -1 is not a whole number of 0 or more",
        "line 5: escalated: must be true or false",
        "line 6: resolved_at: 'soon' is not an ISO 8601 time, e.g. 2026-11-23T14:05:00Z",
        "line 6: response_due_at: must be a time, e.g. 2026-11-23T14:05:00Z",
        "line 7: comments[1].body: must be text, not empty, without NUL bytes",
        "line 7: comments[2].author: 'nobody' is not a valid email address: An email address must have an @-sign.",
    ]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 0


def test_a_csv_export_imports_again_as_nothing(cli, engine, tmp_path):
    for n in range(3):
        create(cli, title=f"T{n}")
    out = tmp_path / "a.csv"
    run(cli, ["ticket", "export", "-o", str(out)])
    assert run(cli, ["ticket", "import", str(out)]).stderr == "imported 0, skipped 3 (already there), updated 0\n"
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 3
