"""customer export | anonymize | erase and audit export (docs/privacy.md), checked with pg_dump."""

import json
import subprocess

import pytest
from sqlalchemy import text

from supportctl.db.connecting import libpq_url
from supportctl.db.embedded import bin_dir
from tests.helpers import create, fingerprint, run, show

EMAIL, NAME = "zelda.quinn@example.com", "Zelda Quinn"
REPORT = "report sla --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z --format json"


def dump(database_url) -> str:
    """The whole database as pg_dump writes it: what a backup would keep."""
    done = subprocess.run([str(bin_dir() / "pg_dump"), "--dbname", libpq_url(database_url)],
                          capture_output=True, text=True, check=True)
    return done.stdout


def breaches(cli, now) -> list[tuple]:
    """The breach report without the customer's email (which anonymizing changes)."""
    return [(b["id"], b["metric"], b["state"], b["due_at"], b["overdue_seconds"])
            for b in json.loads(run(cli, "sla breaches --format json", now=now).stdout)]


@pytest.fixture
def desk(cli, monkeypatch):
    """Zelda has three tickets: one she wrote on (and that was resolved, mailing her), one
    breached, one mentioning her in its text; Ana has one of her own."""
    monkeypatch.setenv("SUPPORTCTL_ACTOR", "admin@example.com")
    run(cli, "agent add sam@example.com --name Sam", now="2026-11-20T08:00:00Z")
    run(cli, ["customer", "add", EMAIL, "--name", NAME, "--company", "Hyrule", "--tier", "premium"],
        now="2026-11-20T08:00:00Z")
    first = create(cli, "--description", f"Please write to {EMAIL.upper()}", "--assign", "sam@example.com",
                   title=f"{NAME} cannot log in", customer=EMAIL, now="2026-11-20T09:00:00Z")
    run(cli, ["ticket", "comment", str(first), "--author", EMAIL, "--body", "It is zelda quinn again"],
        now="2026-11-20T10:00:00Z")
    run(cli, f"ticket update {first} --status resolved", now="2026-11-20T11:00:00Z")
    breached = create(cli, title="Invoice wrong", customer=EMAIL, priority="high", now="2026-11-20T09:00:00Z")
    create(cli, title="Export button", customer=EMAIL, now="2026-11-21T09:00:00Z")
    other = create(cli, title="Ana's printer", customer="ana@example.com", now="2026-11-21T09:00:00Z")
    return cli, first, breached, other


def test_export_writes_the_customer_and_every_ticket_with_its_comments_and_history(desk, tmp_path):
    cli, first, _, _ = desk
    path = tmp_path / "zelda.json"
    run(cli, ["customer", "export", EMAIL, "-o", str(path)])
    document = json.loads(path.read_text())
    assert document["customer"] == {"email": EMAIL, "name": NAME, "tier": "premium", "company": "Hyrule",
                                    "created_at": "2026-11-20T08:00:00Z"}
    assert [t["title"] for t in document["tickets"]] == [f"{NAME} cannot log in", "Invoice wrong", "Export button"]
    [comment] = document["tickets"][0]["comments"]
    assert comment["body"] == "It is zelda quinn again"
    assert [e["kind"] for e in document["tickets"][0]["history"]] == [
        "created", "assigned", "commented", "status_changed"]
    lines = run(cli, ["customer", "export", EMAIL, "--format", "ndjson"]).stdout.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["customer", "ticket", "ticket", "ticket"]


def test_anonymize_with_redact_text_leaves_no_trace_in_pg_dump_and_moves_no_figure(desk, engine, database_url):
    cli, first, breached, other = desk
    now = "2026-11-23T10:00:00Z"
    figures = (run(cli, REPORT, now=now).stdout, breaches(cli, now))
    assert EMAIL in dump(database_url) and NAME.lower() in dump(database_url).lower()
    result = run(cli, ["customer", "anonymize", EMAIL, "--redact-text", "--yes"], now=now)
    assert "anonymized customer 1 (now anonymized+1@invalid)" in result.stderr
    dumped = dump(database_url).lower()
    for trace in (EMAIL, NAME.lower(), "zelda", "quinn", "hyrule"):
        assert trace not in dumped, trace
    # Reports count cycles by id: nothing moved.
    assert (run(cli, REPORT, now=now).stdout, breaches(cli, now)) == figures
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 4
    ticket = show(cli, first, now=now)
    assert ticket["title"] == "[redacted] cannot log in"
    assert ticket["description"] == "Please write to [redacted]"
    assert ticket["customer_email"] == "anonymized+1@invalid"
    assert ticket["comments"][0]["body"] == "It is [redacted] again"
    assert ticket["comments"][0]["author"] == "anonymized+1@invalid"
    assert ticket["history"][-1] == {"at": now, "actor": "admin@example.com", "kind": "redacted", "from": None,
                                     "to": {"fields": ["customer_email", "customer_name", "history", "notifications",
                                                       "title", "description", "comments"]}}
    assert show(cli, other, now=now)["title"] == "Ana's printer"  # another customer's ticket is untouched
    with engine.connect() as conn:
        # The resolution mail to her never goes.
        assert conn.execute(text("SELECT template, status FROM notifications WHERE template = 'ticket_resolved'")
                            ).all() == [("ticket_resolved", "cancelled")]
        assert conn.scalar(text("SELECT count(*) FROM ticket_events WHERE kind = 'redacted'")) == 3


def test_anonymize_without_redact_text_keeps_what_tickets_say(desk, engine):
    cli, first, _, _ = desk
    run(cli, ["customer", "anonymize", EMAIL, "--yes"])
    ticket = show(cli, first)
    assert (ticket["title"], ticket["customer_email"]) == (f"{NAME} cannot log in", "anonymized+1@invalid")
    assert [h["to"] for h in ticket["history"] if h["kind"] == "created"][0]["customer_email"] == (
        "anonymized+1@invalid")


def test_erase_leaves_tombstones_and_an_audit_entry_and_no_trace_of_the_email(desk, engine, database_url):
    cli, first, breached, other = desk
    result = run(cli, ["customer", "erase", EMAIL, "--reason", "request 2026-118", "--yes"])
    assert "erased customer 1: 3 tickets, 1 comments" in result.stderr
    assert EMAIL not in dump(database_url).lower()
    with engine.connect() as conn:
        tombstones = conn.execute(text("SELECT ticket_id, reason, actor, closed_at IS NULL FROM ticket_tombstones "
                                       "ORDER BY 1")).all()
        left = conn.execute(text("SELECT count(*) FROM tickets")).scalar()
    assert [tuple(t) for t in tombstones] == [(first, "request 2026-118", "admin@example.com", True),
                                              (breached, "request 2026-118", "admin@example.com", True),
                                              (breached + 1, "request 2026-118", "admin@example.com", True)]
    assert left == 1 and show(cli, other)["title"] == "Ana's printer"
    [entry] = [json.loads(line) for line in run(cli, "audit export --kind customer_erased").stdout.splitlines()]
    assert entry["actor"] == "admin@example.com" and entry["object"] == "customer" and entry["object_id"] == "1"
    # 3 tickets; 1 comment; events: 4 on the first, 1 on each of the others; the assignment
    # and resolution mails of the first.
    assert entry["to"] == {"tickets": 3, "comments": 1, "events": 6, "notifications": 2, "pending_notifications": 1,
                           "reason": "request 2026-118"}


@pytest.mark.parametrize("command", ["anonymize", "erase"])
def test_without_yes_off_a_terminal_is_exit_2_and_dry_run_changes_nothing(desk, engine, command):
    cli, *_ = desk
    before = fingerprint(engine)
    result = run(cli, ["customer", command, EMAIL], code=2)
    assert "nothing was changed" in result.stderr and "--yes" in result.stderr
    result = run(cli, ["customer", command, EMAIL, "--dry-run"])
    assert f"would {command} {EMAIL}: 3 tickets, 1 comments, 6 history events" in result.stderr
    assert fingerprint(engine) == before
    run(cli, ["customer", command, "nobody@example.com", "--yes"], code=3)
    assert fingerprint(engine) == before


def test_audit_export_has_the_administrative_changes_with_the_commands_actor_and_time(cli, monkeypatch):
    monkeypatch.setenv("SUPPORTCTL_ACTOR", "lead@example.com")
    run(cli, "agent add bo@example.com --name Bo", now="2026-11-20T08:00:00Z")
    run(cli, "agent update bo@example.com --capacity 3", now="2026-11-21T08:00:00Z")
    run(cli, "team add billing --name Billing", now="2026-11-21T09:00:00Z")
    run(cli, "sla set high --response 2h", now="2026-11-22T08:00:00Z")
    run(cli, "ticket create --title T --customer ana@example.com --auto-assign", now="2026-11-22T09:00:00Z")
    entries = [json.loads(line) for line in run(cli, "audit export --since 2026-11-20T00:00:00Z").stdout.splitlines()]
    admin = [(e["at"], e["actor"], e["kind"], e["object_id"]) for e in entries if e["object"] != "ticket"]
    # The assignment moved bo's turn (assignment_seq): no entry for that.
    assert admin == [("2026-11-20T08:00:00Z", "lead@example.com", "agent_added", "bo@example.com"),
                     ("2026-11-21T08:00:00Z", "lead@example.com", "agent_changed", "bo@example.com"),
                     ("2026-11-21T09:00:00Z", "lead@example.com", "team_added", "billing"),
                     ("2026-11-22T08:00:00Z", "lead@example.com", "sla_target_changed", "1:high")]
    changed = next(e for e in entries if e["kind"] == "agent_changed")
    assert (changed["from"]["capacity"], changed["to"]["capacity"]) == (None, 3)
    assert {e["kind"] for e in entries if e["object"] == "ticket"} == {"created", "assigned"}
    csv_rows = run(cli, "audit export --format csv --kind team_added").stdout.splitlines()
    assert csv_rows[0] == "at,actor,kind,object,object_id,from,to" and len(csv_rows) == 2


def closed(cli, title, customer, on, *tags):
    """A ticket closed at `on` (created the day before)."""
    ticket = create(cli, *[a for t in tags for a in ("--tag", t)], title=title, customer=customer,
                    now=f"{on}T09:00:00Z")
    run(cli, f"ticket update {ticket} --status closed", now=f"{on}T10:00:00Z")
    return ticket


def test_retention_run_deletes_what_is_past_the_window_keeps_legal_hold_and_does_nothing_twice(cli, engine):
    assert "no retention policy is set" in run(cli, "retention run", code=2).stderr
    old = closed(cli, "Old", "ana@example.com", "2026-09-01")
    held = closed(cli, "Held", "ana@example.com", "2026-09-01", "legal-hold")
    recent = closed(cli, "Recent", "ana@example.com", "2026-11-10")
    still_open = create(cli, title="Open", customer="ana@example.com", now="2026-09-01T09:00:00Z")
    run(cli, "retention set --closed-older-than 30d --action delete")
    assert json.loads(run(cli, "retention show --format json").stdout) == [
        {"closed_older_than": "30d", "action": "delete", "except_tag": "legal-hold"}]
    before = fingerprint(engine)
    dry = run(cli, "retention run --dry-run --format json")
    assert json.loads(dry.stdout) == [{"id": old, "customer_id": 1, "action": "deleted"}]
    assert fingerprint(engine) == before  # the dry run changed nothing
    result = run(cli, "retention run --format json")
    assert json.loads(result.stdout) == [{"id": old, "customer_id": 1, "action": "deleted"}]
    assert "changed 1 closed ticket (1 deleted)" in result.stderr
    assert json.loads(run(cli, "retention run --format json").stdout) == []  # the second run: nothing
    with engine.connect() as conn:
        kept = conn.scalars(text("SELECT id FROM tickets ORDER BY id")).all()
        tombstone = conn.execute(text("SELECT ticket_id, reason FROM ticket_tombstones")).all()
        runs = conn.scalars(text("SELECT to_value ->> 'deleted' FROM audit_log WHERE kind = 'retention_run'")).all()
    assert kept == [held, recent, still_open]
    assert [tuple(t) for t in tombstone] == [(old, "retention: closed more than 30d ago")]
    assert runs == ["1"]  # one batch, one entry; the empty second run wrote none


def test_retention_anonymize_anonymizes_a_customer_with_nothing_newer_and_only_the_text_otherwise(cli, engine):
    run(cli, ["customer", "add", EMAIL, "--name", NAME], now="2026-09-01T08:00:00Z")
    run(cli, ["customer", "add", "bo.brown@example.com", "--name", "Bo Brown"], now="2026-09-01T08:00:00Z")
    gone = closed(cli, "Printer for Zelda Quinn", EMAIL, "2026-09-01")
    old = closed(cli, "Bo Brown's mail", "bo.brown@example.com", "2026-09-01")
    newer = create(cli, title="Bo Brown again", customer="bo.brown@example.com", now="2026-11-20T09:00:00Z")
    run(cli, "retention set --closed-older-than 30d --action anonymize --except-tag keep")
    rows = json.loads(run(cli, "retention run --format json").stdout)
    assert [(r["id"], r["action"]) for r in rows] == [(gone, "anonymized"), (old, "redacted")]
    assert show(cli, gone)["customer_email"] == "anonymized+1@invalid"
    assert show(cli, gone)["title"] == "Printer for [redacted]"
    kept = show(cli, old)
    assert (kept["title"], kept["customer_email"]) == ("[redacted]'s mail", "bo.brown@example.com")
    assert show(cli, newer)["title"] == "Bo Brown again"  # not closed: kept as it is
    assert json.loads(run(cli, "retention run --format json").stdout) == []


@pytest.mark.parametrize("args, message", [
    ("--closed-older-than 2x --action delete", "--closed-older-than: invalid duration"),
    ("--closed-older-than 1h --action delete", "at least a day"),
    ("--closed-older-than 30d --action shred", "not one of anonymize, delete"),
])
def test_a_bad_retention_policy_is_exit_2_and_nothing_is_saved(cli, engine, args, message):
    before = fingerprint(engine)
    assert message in run(cli, f"retention set {args}", code=2).stderr
    assert fingerprint(engine) == before


def test_a_db_roles_run_is_in_the_audit_log(cli):
    run(cli, "db roles --format json", now="2026-11-22T08:00:00Z")
    [entry] = [json.loads(line) for line in run(cli, "audit export --kind roles_granted").stdout.splitlines()]
    assert (entry["at"], entry["object"], sorted(entry["to"]["updated"] + entry["to"]["created"])) == (
        "2026-11-22T08:00:00Z", "database_roles", ["supportctl_admin", "supportctl_agent", "supportctl_reader"])
