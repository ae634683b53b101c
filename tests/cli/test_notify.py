"""Notifications: queued with the change that causes them, delivered by `notify send` (SMTP mocked here).

Reference scenario 7 (docs/workflow.md, "Reference scenarios"): resolving notifies the customer, assigning the agent.
Real SMTP and HTTP servers on 127.0.0.1 are in tests/integration/test_notify_delivery.py.
"""

import json
import smtplib
from datetime import datetime, timezone

import pytest
import psycopg2.extensions
from sqlalchemy import create_engine, text

from supportctl.services.escalation import queue as escalation
from tests.factories import days_ago, insert_tickets
from tests.helpers import create, run

SMTP_URL = "smtp://mailer:s3cret-pw@mail.example.com:587"
DELIVERY_VARS = ("SUPPORTCTL_SMTP_URL", "SUPPORTCTL_SMTP_FROM", "SUPPORTCTL_WEBHOOK_URL", "SUPPORTCTL_WEBHOOK_SECRET")


@pytest.fixture(autouse=True)
def no_delivery_settings(monkeypatch, tmp_path):
    for var in DELIVERY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no template overrides but the test's


@pytest.fixture
def smtp(mocker, monkeypatch):
    """smtplib.SMTP replaced at the boundary: the instance every send talks to."""
    monkeypatch.setenv("SUPPORTCTL_SMTP_URL", SMTP_URL)
    monkeypatch.setenv("SUPPORTCTL_SMTP_FROM", "Support <support@example.com>")
    server = mocker.patch("smtplib.SMTP").return_value
    server.has_extn.return_value = True  # offers STARTTLS
    return server


def add_agent(cli, email, *extra):
    run(cli, ["agent", "add", email, "--name", email.split("@")[0].title(), *extra])


def outbox(cli, *extra):
    return json.loads(run(cli, ["notify", "list", "--format", "json", *extra]).stdout)


def data_of(database_url, notification_id):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        data = conn.execute(text("SELECT data FROM notifications WHERE id = :i"), {"i": notification_id}).scalar_one()
    engine.dispose()
    return data


def test_reference_scenario_7_resolving_queues_one_notification_for_the_customer(cli, database_url):
    ticket_id = create(cli)
    assert outbox(cli) == []
    run(cli, f"ticket update {ticket_id} --status resolved")
    [row] = outbox(cli)
    assert (row["recipient"], row["template"], row["ticket_id"], row["status"]) == (
        "ana@example.com", "ticket_resolved", ticket_id, "pending")
    assert "resolved" in row["template"]
    data = data_of(database_url, row["id"])
    assert (data["ticket_id"], data["title"], data["status"]) == (ticket_id, "Cannot log in", "resolved")


def test_reference_scenario_7_assigning_queues_one_notification_for_the_agent(cli, database_url):
    add_agent(cli, "bo@example.com")
    ticket_id = create(cli, "--priority", "high")
    run(cli, f"ticket assign {ticket_id} --to bo@example.com")
    [row] = outbox(cli)
    assert (row["recipient"], row["template"], row["ticket_id"]) == ("bo@example.com", "ticket_assigned", ticket_id)
    data = data_of(database_url, row["id"])
    assert (data["priority"], data["agent_name"], data["response_due_at"]) == ("high", "Bo", "2026-11-23T14:00:00Z")


def test_every_way_of_assigning_notifies_the_agent(cli):
    add_agent(cli, "bo@example.com")
    add_agent(cli, "cy@example.com")
    first = create(cli, "--assign", "bo@example.com")
    second = create(cli, "--auto-assign")
    third = create(cli)
    run(cli, f"ticket assign {third} --auto")
    fourth = create(cli)
    run(cli, "queue assign")
    assigned = [(r["ticket_id"], r["template"]) for r in outbox(cli)]
    assert sorted(assigned) == [(t, "ticket_assigned") for t in (first, second, third, fourth)]


def test_reopening_tells_the_customer_but_other_moves_do_not(cli):
    ticket_id = create(cli)
    for status in ("in_progress", "pending", "in_progress", "resolved", "open", "closed"):
        run(cli, f"ticket update {ticket_id} --status {status}")
    assert [r["template"] for r in outbox(cli)] == ["ticket_resolved", "ticket_reopened"]


@pytest.mark.parametrize("refused, code", [
    ("ticket update {id} --status open", 4),  # closed is final
    ("ticket assign {id} --to bo@example.com", 4),  # closed tickets are not assigned
    ("ticket escalate {id}", 4),
    ("ticket update {id} --status resolved --priority urgent", 2),
])
def test_a_refused_command_queues_nothing(cli, refused, code):
    add_agent(cli, "bo@example.com")
    ticket_id = create(cli)
    run(cli, f"ticket update {ticket_id} --status closed")
    run(cli, refused.format(id=ticket_id), code=code)
    assert outbox(cli) == []


def test_a_command_that_fails_after_queueing_leaves_neither_the_change_nor_its_notification(cli, engine):
    ticket_id = create(cli)
    with engine.begin() as conn:  # make the priority event, written after the status change, fail
        conn.execute(text(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.kind = 'priority_changed' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$;"
            "CREATE TRIGGER refuse BEFORE INSERT ON ticket_events FOR EACH ROW EXECUTE FUNCTION refuse()"
        ))
    result = cli(f"ticket update {ticket_id} --status resolved --priority high")
    assert result.exit_code != 0
    assert "refused by test" in result.stderr
    assert outbox(cli) == []
    ticket = json.loads(run(cli, f"ticket show {ticket_id} --format json").stdout)[0]
    assert ticket["status"] == "open"


def test_escalation_notifies_every_active_lead_and_the_assignee(cli):
    add_agent(cli, "bo@example.com")
    add_agent(cli, "lee@example.com", "--role", "lead")
    add_agent(cli, "lou@example.com", "--role", "lead")
    add_agent(cli, "old@example.com", "--role", "lead")
    run(cli, "agent update old@example.com --inactive")
    ticket_id = create(cli, "--assign", "bo@example.com")
    run(cli, f"ticket escalate {ticket_id} --reason 'launch partner'")
    rows = [r for r in outbox(cli) if r["template"] == "ticket_escalated"]
    assert sorted(r["recipient"] for r in rows) == ["bo@example.com", "lee@example.com", "lou@example.com"]
    assert {r["ticket_id"] for r in rows} == {ticket_id}


class _Recording(psycopg2.extensions.cursor):
    statements: list[str] = []

    def execute(self, query, vars=None):
        _Recording.statements.append(str(query))
        return super().execute(query, vars)


def test_the_escalation_run_queues_its_notifications_in_the_one_statement_of_its_batch(engine, cli):
    add_agent(cli, "lee@example.com", "--role", "lead")
    add_agent(cli, "lou@example.com", "--role", "lead")
    now = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
    ids = insert_tickets(engine, 40, days_ago(now, 3))
    connection = engine.raw_connection().dbapi_connection
    _Recording.statements = []
    with connection, connection.cursor(cursor_factory=_Recording) as cursor:
        done = escalation.escalate_batch(cursor, now, "cron", size=100)
    assert len(done) == 40
    assert sum("INSERT INTO notifications" in s for s in _Recording.statements) == 1
    rows = outbox(cli)
    assert len(rows) == 80  # two leads for each ticket; nobody is assigned
    assert sorted({r["ticket_id"] for r in rows}) == ids


def test_notify_list_filters_by_status_and_refuses_an_unknown_one(cli):
    create(cli)
    run(cli, "ticket update 1 --status resolved")
    assert [r["status"] for r in outbox(cli, "--status", "pending")] == ["pending"]
    assert outbox(cli, "--status", "sent") == []
    result = run(cli, "notify list --status lost --format json", code=2)
    assert result.stdout == ""
    assert "'lost' is not one of 'pending', 'sent', 'failed'" in result.stderr


def test_send_without_smtp_or_webhook_configured_exits_2_and_says_what_to_set(cli):
    result = run(cli, "notify send", code=2)
    assert "SUPPORTCTL_SMTP_URL" in result.stderr and "SUPPORTCTL_WEBHOOK_URL" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("env, message", [
    ({"SUPPORTCTL_SMTP_URL": "http://mail.example.com"}, "smtp://"),
    ({"SUPPORTCTL_SMTP_URL": "smtp://u:pw@mail.example.com:notaport"}, "smtp://"),
    ({"SUPPORTCTL_SMTP_URL": SMTP_URL, "SUPPORTCTL_SMTP_FROM": "not an address"}, "SUPPORTCTL_SMTP_FROM"),
    ({"SUPPORTCTL_WEBHOOK_URL": "https://hooks.example.com/x"}, "SUPPORTCTL_WEBHOOK_SECRET"),
    ({"SUPPORTCTL_WEBHOOK_URL": "ftp://hooks.example.com", "SUPPORTCTL_WEBHOOK_SECRET": "k"}, "http://"),
    ({"SUPPORTCTL_WEBHOOK_URL": "https://h.example.com", "SUPPORTCTL_WEBHOOK_SECRET": "k",
      "SUPPORTCTL_SMTP_URL": SMTP_URL}, "--via"),
])
def test_send_with_bad_delivery_settings_exits_2_without_showing_a_password(cli, monkeypatch, env, message):
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    result = run(cli, "notify send", code=2)
    assert message in result.stderr
    assert "pw" not in result.stderr.replace("SMTP_URL", "")


def test_send_delivers_by_smtp_with_starttls_and_login_and_marks_it_sent(cli, smtp):
    ticket_id = create(cli)
    run(cli, f"ticket update {ticket_id} --status resolved")
    result = run(cli, "notify send", now="2026-11-23T10:05:00Z")
    assert result.stdout == ""
    assert "sent 1, failed 0 (will retry 0)" in result.stderr
    smtp.starttls.assert_called_once()
    smtp.login.assert_called_once_with("mailer", "s3cret-pw")
    smtp.send_message.assert_called_once()
    mail = smtp.send_message.call_args.args[0]
    assert smtp.send_message.call_args.kwargs == {"from_addr": "support@example.com", "to_addrs": ["ana@example.com"]}
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == f"[#{ticket_id}] Resolved: Cannot log in"
    assert mail["X-Supportctl-Template"] == "ticket_resolved"
    assert f"#{ticket_id}" in mail.get_content()
    [row] = outbox(cli)
    assert (row["status"], row["attempts"], row["sent_at"], row["last_error"]) == ("sent", 1, "2026-11-23T10:05:00Z", None)
    assert mail["Message-ID"] == f"<{row['delivery_id']}@supportctl>"
    assert "sent 0, failed 0" in run(cli, "notify send").stderr  # nothing goes out twice


def test_a_refused_smtp_login_exits_2_and_counts_no_attempt(cli, smtp):
    smtp.login.side_effect = smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials")
    create(cli)
    run(cli, "ticket update 1 --status resolved")
    result = run(cli, "notify send", code=2)
    assert "refused the login of mailer" in result.stderr and "535" in result.stderr
    assert "s3cret-pw" not in result.stderr
    [row] = outbox(cli)
    assert (row["status"], row["attempts"]) == ("pending", 0)


def test_a_password_is_never_sent_without_starttls(cli, smtp):
    smtp.has_extn.return_value = False
    create(cli)
    run(cli, "ticket update 1 --status resolved")
    result = run(cli, "notify send", code=2)
    assert "STARTTLS" in result.stderr
    smtp.login.assert_not_called()
    smtp.send_message.assert_not_called()


def test_an_error_that_quotes_the_password_is_recorded_and_shown_masked(cli, smtp):
    smtp.send_message.side_effect = smtplib.SMTPDataError(451, b"rejected, password s3cret-pw in use")
    create(cli)
    run(cli, "ticket update 1 --status resolved")
    result = run(cli, "notify send")
    assert "sent 0, failed 1 (will retry 1)" in result.stderr
    assert "s3cret-pw" not in result.stderr
    [row] = outbox(cli)
    assert row["last_error"] == "the SMTP server said 451 rejected, password *** in use"
    assert (row["attempts"], row["next_attempt_at"]) == (1, "2026-11-23T10:01:00Z")


def test_a_template_in_the_config_directory_overrides_the_shipped_one(cli, smtp, tmp_path):
    folder = tmp_path / "config" / "supportctl" / "templates"
    folder.mkdir(parents=True)
    (folder / "ticket_resolved.txt").write_text("Subject: Done: $title\n\nTicket $ticket_id for $customer_name.\n")
    create(cli, title="Printer\non fire")
    run(cli, "ticket update 1 --status resolved")
    run(cli, "notify send")
    mail = smtp.send_message.call_args.args[0]
    assert mail["Subject"] == "Done: Printer on fire"  # a line break in a title never makes a header
    assert mail.get_content() == "Ticket 1 for ana.\n"


def test_a_template_that_does_not_fit_its_data_fails_that_notification_with_a_clear_error(cli, smtp, tmp_path):
    folder = tmp_path / "config" / "supportctl" / "templates"
    folder.mkdir(parents=True)
    (folder / "ticket_resolved.txt").write_text("Subject: $nonsense\n\nHi\n")
    create(cli)
    run(cli, "ticket update 1 --status resolved")
    result = run(cli, "notify send")
    assert "$nonsense" in result.stderr
    smtp.send_message.assert_not_called()
    [row] = outbox(cli)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "$nonsense" in row["last_error"]


def test_send_limit_tries_at_most_n_oldest_first(cli, smtp):
    for _ in range(3):
        create(cli)
    for ticket_id in (1, 2, 3):
        run(cli, f"ticket update {ticket_id} --status resolved")
    assert "sent 2, failed 0" in run(cli, "notify send --limit 2").stderr
    assert [r["status"] for r in outbox(cli)] == ["sent", "sent", "pending"]


@pytest.mark.parametrize("dry_run", ["queue assign --dry-run", "queue escalate --dry-run"])
def test_a_dry_run_queues_nothing(cli, dry_run):
    add_agent(cli, "bo@example.com")
    add_agent(cli, "lee@example.com", "--role", "lead")
    create(cli, now="2026-11-20T10:00:00Z")  # unassigned and long overdue
    run(cli, dry_run)
    assert outbox(cli) == []


def test_an_unexpected_error_on_one_notification_is_recorded_and_the_others_still_go_out(cli, smtp):
    for _ in range(3):
        create(cli)
    for ticket_id in (1, 2, 3):
        run(cli, f"ticket update {ticket_id} --status resolved")
    smtp.send_message.side_effect = [None, RuntimeError("boom"), None]
    result = run(cli, "notify send")
    assert "sent 2, failed 1 (will retry 1)" in result.stderr
    rows = outbox(cli)
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("pending", 1), ("sent", 1)]
    assert rows[1]["last_error"] == "unexpected error: RuntimeError: boom"


def test_smtps_connects_with_tls_from_the_start_on_port_465_and_via_picks_it_over_a_webhook(cli, mocker, monkeypatch):
    monkeypatch.setenv("SUPPORTCTL_SMTP_URL", "smtps://mailer:s3cret-pw@mail.example.com")
    monkeypatch.setenv("SUPPORTCTL_WEBHOOK_URL", "https://hooks.example.com/x")
    monkeypatch.setenv("SUPPORTCTL_WEBHOOK_SECRET", "a-long-webhook-secret")
    tls = mocker.patch("smtplib.SMTP_SSL")
    plain = mocker.patch("smtplib.SMTP")
    create(cli)
    run(cli, "ticket update 1 --status resolved")
    assert "sent 1, failed 0" in run(cli, "notify send --via smtp").stderr
    plain.assert_not_called()
    assert tls.call_args.args == ("mail.example.com", 465)
    server = tls.return_value
    server.starttls.assert_not_called()
    server.login.assert_called_once_with("mailer", "s3cret-pw")
    assert server.send_message.call_args.kwargs["to_addrs"] == ["ana@example.com"]
