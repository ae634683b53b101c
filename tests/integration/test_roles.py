"""supportctl db roles: reader, agent and admin group roles, tried by LOGIN roles that are members.

The test cluster trusts local connections, so a member connects with user=<role>
(the password in the URL is set on the role, and ignored by trust authentication).
Group roles are cluster-wide and left in place (`db roles` is idempotent); the login
roles made here are dropped when the test ends.
"""

from __future__ import annotations

import itertools
import json
import os

import psycopg2
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from typer.testing import CliRunner

from supportctl.cli.app import app
from tests.helpers import NOW, fingerprint
from tests.pgcluster import admin

_names = itertools.count()
ROLES = ("supportctl_reader", "supportctl_agent", "supportctl_admin")


def make_login_role(pg_server, group: str, password: str) -> str:
    """A fresh LOGIN role in `group`; returns its name. The caller drops it (drop_login_role)."""
    name = f"t_{group.removeprefix('supportctl_')}_{os.getpid()}_{next(_names)}"
    admin(pg_server, f'CREATE ROLE "{name}" LOGIN PASSWORD %s IN ROLE "{group}"', (password,))
    return name


def drop_login_role(pg_server, name: str) -> None:
    admin(pg_server, f'DROP ROLE IF EXISTS "{name}"')


def url_as(database_url: str, user: str, password: str | None = None) -> str:
    return make_url(database_url).set(username=user, password=password).render_as_string(hide_password=False)


class As:
    """Runs `supportctl ARGS` in-process with the database URL of one login role."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, args: list[str] | str, input: str | None = None):
        argv = args.split() if isinstance(args, str) else args
        return CliRunner().invoke(app, ["--now", NOW.isoformat(), *argv], input=input,
                                  env={"SUPPORTCTL_DATABASE_URL": self.url}, catch_exceptions=False)


@pytest.fixture
def login(pg_server, database_url, cli):
    """login("supportctl_agent") -> an As runner connected as a new member of that group."""
    result = cli("db roles --format tsv")
    assert result.exit_code == 0, result.stderr
    made = []

    def make(group: str, password: str = "pw-not-checked") -> As:
        made.append(make_login_role(pg_server, group, password))
        return As(url_as(database_url, made[-1], password))

    yield make
    for name in made:
        drop_login_role(pg_server, name)


@pytest.fixture
def seeded(cli):
    """An agent, a lead, two tickets (one assigned, one breached and unassigned), a comment."""
    for args in ("agent add bo@example.com --name Bo", "agent add lee@example.com --name Lee --role lead",
                 "ticket create --title Printer --customer ana@example.com",
                 "ticket create --title Old --customer cy@example.com --priority high",
                 "ticket assign 1 --to bo@example.com",
                 "ticket comment 1 --author bo@example.com --body Looking"):
        now = "2026-11-20T08:00:00Z" if "Old" in args else NOW
        result = cli(args, now=now)
        assert result.exit_code == 0, (args, result.stderr)


def privileges(engine) -> set[tuple[str, str, str]]:
    """(role, table, privilege) for every table privilege the group roles hold, columns included."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = ANY(:r) UNION "
            "SELECT grantee, table_name, privilege_type || '(' || column_name || ')' "
            "FROM information_schema.column_privileges WHERE grantee = ANY(:r) AND table_name = 'agents' "
            "AND privilege_type = 'UPDATE'"
        ), {"r": list(ROLES)})
        return set(map(tuple, rows))


def test_db_roles_creates_three_nologin_group_roles_and_prints_their_privileges(cli, engine):
    result = cli("db roles --format tsv")
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["role", "kind", "object", "privileges"]
    granted = {(r[0], r[2]): r[3] for r in rows[1:]}
    assert granted["supportctl_reader", "tickets"] == "SELECT"
    assert granted["supportctl_reader", "ticket_events"] == "SELECT"
    assert granted["supportctl_agent", "ticket_events"] == "INSERT, SELECT"
    assert granted["supportctl_agent", "agents"] == "SELECT, UPDATE (last_assigned_at, assignment_seq)"
    assert granted["supportctl_agent", "sla_policies"] == "SELECT"
    assert granted["supportctl_agent", "agent_assignment_seq"] == "USAGE"
    assert granted["supportctl_agent", "notifications"] == (
        "INSERT, SELECT, UPDATE (status, attempts, last_error, next_attempt_at, sent_at)")
    assert granted["supportctl_admin", "ticket_events"] == "INSERT, SELECT"
    assert granted["supportctl_admin", "alembic_version"] == "SELECT"
    assert "privileges reset in schema public" in result.stderr
    with engine.connect() as conn:
        found = dict(conn.execute(text(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(:r)"), {"r": list(ROLES)}).all())
    assert found == dict.fromkeys(ROLES, False)


def test_db_roles_run_again_converges_on_the_same_privileges(cli, engine):
    assert cli("db roles --format tsv").exit_code == 0
    first = privileges(engine)
    with engine.begin() as conn:  # drift: someone granted by hand
        conn.execute(text("GRANT UPDATE ON ticket_events TO supportctl_reader"))
        conn.execute(text("GRANT UPDATE (name, active) ON agents TO supportctl_agent"))
        conn.execute(text("ALTER ROLE supportctl_reader LOGIN"))
    again = cli("db roles --format tsv")
    assert again.exit_code == 0, again.stderr
    assert "updated role supportctl_reader" in again.stderr
    assert privileges(engine) == first
    assert ("supportctl_agent", "agents", "UPDATE(last_assigned_at)") in first
    assert ("supportctl_agent", "agents", "UPDATE(name)") not in first
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'supportctl_reader'")) is False


def test_a_table_someone_else_adds_to_the_schema_is_readable_by_none_of_the_roles(login, engine, cli):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE payroll (name text, salary int)"))
        conn.execute(text("INSERT INTO payroll VALUES ('ana', 1)"))
    assert cli("db roles").exit_code == 0  # run again after the table appeared: still not granted
    for group in ROLES:
        member = login(group)
        with create_engine(member.url).connect() as conn:
            with pytest.raises(ProgrammingError, match="permission denied for table payroll"):
                conn.execute(text("SELECT * FROM payroll"))


def test_every_cell_of_the_matrix_holds_for_a_member_of_each_role(login, engine):
    """Each role x table x privilege (and x column for UPDATE), asked of PostgreSQL as a member."""
    from supportctl.services.admin.roles import MATRIX

    with engine.connect() as conn:
        columns = {t: list(conn.scalars(text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"), {"t": t})) for t in MATRIX}
    wrong = []
    for group in ROLES:
        with create_engine(login(group).url).connect() as conn:
            for table, grants in MATRIX.items():
                held = grants[group]
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
                    expected = privilege in held
                    if conn.scalar(text("SELECT has_table_privilege(:t, :p)"), {"t": table, "p": privilege}) != expected:
                        wrong.append((group, table, privilege, expected))
                updatable = next((cols for p in held if isinstance(p, tuple) for cols in [p[1]]), ())
                for column in columns[table]:
                    expected = "UPDATE" in held or column in updatable
                    if conn.scalar(text("SELECT has_column_privilege(:t, :c, 'UPDATE')"),
                                   {"t": table, "c": column}) != expected:
                        wrong.append((group, f"{table}.{column}", "UPDATE", expected))
    assert wrong == []


@pytest.mark.parametrize(("group", "statement"), [
    ("supportctl_agent", "UPDATE tickets SET created_at = now()"),
    ("supportctl_agent", "UPDATE tickets SET customer_id = customer_id"),
    ("supportctl_agent", "UPDATE notifications SET recipient = 'attacker@example.com'"),
    ("supportctl_agent", "UPDATE notifications SET data = '{}'"),
    ("supportctl_agent", "UPDATE agents SET role = 'lead'"),
    ("supportctl_agent", "LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"),
    ("supportctl_agent", "DELETE FROM comments"),
    ("supportctl_admin", "DELETE FROM tickets"),
    ("supportctl_admin", "UPDATE tickets SET created_at = now()"),
    ("supportctl_admin", "LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"),
    ("supportctl_agent", "SELECT supportctl_lock_tickets()"),
    ("supportctl_admin", "DELETE FROM comments"),
    ("supportctl_admin", "DELETE FROM customers"),
    ("supportctl_admin", "DELETE FROM agents"),
    ("supportctl_admin", "UPDATE comments SET body = 'rewritten'"),
    ("supportctl_admin", "UPDATE customers SET email = 'x@example.com'"),
    ("supportctl_reader", "SELECT nextval('agent_assignment_seq')"),
])
def test_what_a_role_may_not_do_is_refused_by_the_database(login, seeded, engine, group, statement):
    before = fingerprint(engine)
    member = make_url(login(group).url)
    conn = psycopg2.connect(dbname=member.database, user=member.username, host=member.query.get("host") or member.host,
                            port=member.port)
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()
    assert fingerprint(engine) == before


@pytest.mark.parametrize("args", [
    "ticket list --format json", "ticket show 1 --format json", "sla breaches --format json", "ticket export",
    "customer list --format json", "agent list --format json", "sla policy --format json", "notify list --format json",
    "sla explain 2", "team list --format json", "team route list --format json", "sla history --format json",
    "report sla --format json", "report backlog --format json", "report response --format json",
    "report workload --format json", "escalation ladder list --format json",
    "escalation quiet-hours show --format json", "macro list --format json",
])
def test_the_reader_can_read_everything(login, seeded, args):
    result = login("supportctl_reader")(args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout


@pytest.mark.parametrize("args", [
    "customer add dee@example.com --name Dee",
    "ticket create --title New --customer ana@example.com",
    "ticket update 1 --status in_progress",
    "ticket comment 1 --author bo@example.com --body again",
    "ticket assign 2 --to bo@example.com",
    "ticket escalate 1",
    "queue assign",
    "queue escalate",
    "agent add eve@example.com --name Eve",
    "sla set high --response 2h",
    "team add desk --name Desk",
    "customer export ana@example.com",
    "customer anonymize ana@example.com --yes",
    "customer erase ana@example.com --yes",
    "retention set --closed-older-than 30d --action delete",
])
def test_every_write_as_the_reader_exits_4_with_one_line_and_changes_nothing(login, seeded, engine, args):
    before = fingerprint(engine)
    result = login("supportctl_reader")(args)
    assert result.exit_code == 4, result.stderr
    assert result.stderr.startswith("supportctl: error: permission denied for ")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert fingerprint(engine) == before


def test_the_reader_cannot_import_tickets(login, seeded, engine, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("title,customer_email\nImported,ana@example.com\n")
    before = fingerprint(engine)
    result = login("supportctl_reader")(["ticket", "import", str(path)])
    assert result.exit_code == 4
    assert "permission denied" in result.stderr
    assert fingerprint(engine) == before


def test_the_agent_does_the_ticket_work(login, seeded, engine, tmp_path):
    agent = login("supportctl_agent")
    path = tmp_path / "in.csv"
    path.write_text("external_id,title,customer_email\nX-1,Imported,new@example.com\n")
    for args in ("customer add dee@example.com --name Dee",
                 "ticket create --title New --customer ana@example.com --tag vip",
                 "ticket update 3 --status in_progress --priority high --add-tag urgent",
                 "ticket comment 3 --author bo@example.com --body Done",
                 "ticket assign 3 --to bo@example.com",
                 "ticket unassign 3",
                 "ticket escalate 3 --reason customer",
                 "queue escalate",
                 "queue assign",
                 ["ticket", "import", str(path)],
                 "ticket create --title Auto --customer ana@example.com --auto-assign"):
        result = agent(args)
        assert result.exit_code == 0, (args, result.stderr)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 5
        assert conn.scalar(text("SELECT assignment_seq FROM agents WHERE email = 'bo@example.com'")) is not None
        assert conn.scalar(text("SELECT count(*) FROM notifications")) > 0
        # The agent may not write the SLA history, yet every ticket it made or changed has its
        # cycles: the triggers write them as the owner.
        assert conn.scalar(text("SELECT count(DISTINCT ticket_id) FROM sla_cycles")) == 5


def test_the_agent_imports_a_large_file_whose_statistics_it_refreshes_without_maintain(login, engine, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("title,customer_email\n" + "".join(f"Row {n},c{n % 50}@example.com\n" for n in range(1500)))
    result = login("supportctl_agent")(["ticket", "import", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "imported 1500" in result.stderr
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'tickets'::regclass")) >= 1500


@pytest.mark.parametrize("args", [
    ["sla", "set", "high", "--response", "2h"],
    ["sla", "calendar", "set", "--timezone", "UTC", "--hours", "mon-fri 09:00-17:00"],
    ["sla", "calendar", "clear"],
    ["agent", "add", "eve@example.com", "--name", "Eve"],
    ["agent", "update", "bo@example.com", "--capacity", "3"],
    ["agent", "update", "bo@example.com", "--inactive"],
    ["agent", "away", "bo@example.com", "--until", "2026-12-24T00:00:00Z"],
    ["team", "add", "desk", "--name", "Desk"],
    ["sla", "policies", "add", "gold", "--tier", "enterprise"],
    ["sla", "calendar", "set", "--name", "berlin", "--timezone", "Europe/Berlin", "--hours", "mon-fri 09:00-17:00"],
    ["escalation", "ladder", "set", "standard", "--step", "at=50% notify=leads"],
    ["escalation", "quiet-hours", "set", "--timezone", "UTC", "--hours", "22:00-07:00"],
    ["macro", "add", "pend", "--status", "pending"],
    ["customer", "export", "ana@example.com"],
    ["customer", "anonymize", "ana@example.com", "--redact-text", "--yes"],
    ["customer", "erase", "ana@example.com", "--yes"],
    ["customer", "update", "ana@example.com", "--tier", "enterprise"],
    ["customer", "update", "ana@example.com", "--email", "ana@new.example"],
    ["retention", "set", "--closed-older-than", "30d", "--action", "delete"],
])
def test_the_agent_cannot_change_policy_calendar_or_agents(login, seeded, engine, args):
    before = fingerprint(engine)
    result = login("supportctl_agent")(args)
    assert result.exit_code == 4, result.stderr
    assert result.stderr.startswith("supportctl: error: permission denied for ")
    assert fingerprint(engine) == before


def test_the_agent_works_a_teams_tickets_but_does_not_change_the_team(login, seeded, engine, cli):
    for args in ("team add desk --name Desk", "team member add desk bo@example.com"):
        assert cli(args).exit_code == 0
    agent = login("supportctl_agent")
    for args in ("ticket create --title Teamed --customer ana@example.com --team desk",
                 "ticket update 2 --team desk",
                 "queue assign --team desk",
                 "ticket assign 3 --to bo@example.com",
                 "ticket update 2 --no-team",
                 "queue escalate --team desk"):
        result = agent(args)
        assert result.exit_code == 0, (args, result.stderr)
    before = fingerprint(engine)
    for args in ("team member add desk lee@example.com", "team member remove desk bo@example.com",
                 "team route add desk --tag vip", "team update desk --inactive"):
        result = agent(args)
        assert result.exit_code == 4 and "permission denied" in result.stderr, (args, result.stderr)
    assert fingerprint(engine) == before
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT m.assignment_seq FROM team_members m JOIN agents a ON a.id = m.agent_id "
                                "WHERE a.email = 'bo@example.com'")) is not None


def test_the_admin_changes_policy_calendar_and_agents(login, seeded, engine):
    admin = login("supportctl_admin")
    for args in (["sla", "set", "high", "--response", "2h"],
                 ["sla", "calendar", "set", "--timezone", "Europe/Berlin", "--hours", "mon-fri 09:00-17:00"],
                 ["sla", "calendar", "clear"],
                 ["agent", "add", "eve@example.com", "--name", "Eve", "--role", "senior"],
                 ["agent", "update", "bo@example.com", "--capacity", "3"],
                 ["ticket", "create", "--title", "Admin", "--customer", "ana@example.com"],
                 ["queue", "assign"],
                 ["team", "add", "desk", "--name", "Desk", "--lead", "lee@example.com"],
                 ["team", "member", "add", "desk", "bo@example.com", "eve@example.com"],
                 ["team", "member", "remove", "desk", "eve@example.com"],
                 ["team", "update", "desk", "--name", "The desk"],
                 ["team", "route", "add", "desk", "--tag", "vip"],
                 ["team", "route", "remove", "1"],
                 ["agent", "away", "bo@example.com", "--until", "2026-12-24T00:00:00Z"],
                 ["agent", "back", "bo@example.com"],
                 ["sla", "calendar", "set", "--name", "berlin", "--timezone", "Europe/Berlin", "--hours",
                  "mon-fri 09:00-17:00"],
                 ["sla", "policies", "add", "gold", "--tier", "enterprise", "--calendar", "berlin"],
                 ["sla", "policies", "target", "gold", "critical", "--response", "30m"],
                 ["sla", "policies", "update", "gold", "--no-calendar", "--position", "3"],
                 ["team", "update", "desk", "--calendar", "berlin"],
                 ["team", "update", "desk", "--no-calendar"],
                 ["sla", "policies", "update", "gold", "--inactive"],
                 ["sla", "policies", "remove", "gold"],
                 ["sla", "calendar", "clear", "--name", "berlin"]):
        result = admin(args)
        assert result.exit_code == 0, (args, result.stderr)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT response_seconds FROM sla_targets WHERE priority = 'high'")) == 7200


def test_the_admin_exports_anonymizes_and_erases_a_customer_and_it_is_in_the_audit_log(login, seeded, engine):
    admin = login("supportctl_admin")
    for args in (["customer", "update", "ana@example.com", "--name", "Ana B", "--tier", "premium", "--email",
                  "ana@new.example"],
                 ["customer", "export", "ana@new.example"], ["customer", "anonymize", "ana@new.example",
                                                             "--redact-text", "--yes"],
                 ["customer", "erase", "cy@example.com", "--yes"],
                 ["retention", "set", "--closed-older-than", "30d", "--action", "delete"], ["retention", "run"]):
        result = admin(args)
        assert result.exit_code == 0, (args, result.stderr)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM customers WHERE email LIKE 'anonymized+%'")) == 1
        assert conn.scalar(text("SELECT count(*) FROM ticket_tombstones")) == 1
        assert conn.execute(text("SELECT kind FROM audit_log WHERE object = 'customer' ORDER BY id")).scalars(
        ).all() == ["customer_changed", "customer_exported", "customer_anonymized", "customer_erased"]
        assert conn.scalar(text("SELECT count(*) FROM audit_log WHERE kind = 'retention_policy_added'")) == 1


def test_the_admin_keeps_the_macros_and_the_agent_applies_them_one_ticket_or_many(login, seeded, engine):
    admin, agent = login("supportctl_admin"), login("supportctl_agent")
    result = admin(["macro", "add", "vip", "--priority", "high", "--add-tag", "vip"])
    assert result.exit_code == 0, result.stderr
    for args in (["ticket", "apply", "1", "vip"], ["ticket", "bulk-update", "--with-priority", "high", "--macro",
                                                     "vip", "--yes"]):
        result = agent(args)
        assert result.exit_code == 0, (args, result.stderr)
    assert agent(["macro", "remove", "vip"]).exit_code == 4
    result = admin(["macro", "remove", "vip"])
    assert result.exit_code == 0, result.stderr
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE tags @> ARRAY['vip']")) == 2


def test_the_admin_sets_ladders_and_quiet_hours_and_the_agents_cron_fires_their_steps(login, seeded, engine):
    admin, agent = login("supportctl_admin"), login("supportctl_agent")
    ladder = ["escalation", "ladder", "set", "standard", "--step", "at=-30d metric=resolution notify=leads escalate"]
    for args in (ladder,
                 ["escalation", "quiet-hours", "set", "--timezone", "UTC", "--hours", "22:00-07:00"],
                 ["ticket", "create", "--title", "Laddered", "--customer", "ana@example.com"]):
        result = admin(args)
        assert result.exit_code == 0, (args, result.stderr)
    result = agent(["queue", "escalate", "--format", "json"])  # 30 days before due: fires at once
    assert result.exit_code == 0, result.stderr
    assert [(r["id"], r["action"]) for r in json.loads(result.stdout)] == [
        (3, "escalate"), (3, "notify"), (2, "escalate")]  # ticket 2 follows no ladder (made before it)
    for args in (["escalation", "ladder", "remove", "standard"], ["escalation", "quiet-hours", "clear"]):
        result = admin(args)
        assert result.exit_code == 0, (args, result.stderr)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ladder_firings")) == 1
        assert conn.scalar(text("SELECT count(*) FROM sla_cycles WHERE ladder IS NOT NULL")) == 0


@pytest.mark.parametrize("group", ["supportctl_agent", "supportctl_admin"])
@pytest.mark.parametrize("statement", [
    "UPDATE ticket_events SET actor = 'forged'",
    "DELETE FROM ticket_events",
    "TRUNCATE ticket_events",
    "UPDATE alembic_version SET version_num = '0001'",
    "UPDATE sla_cycles SET state = 'met'",
    "UPDATE audit_log SET actor = 'forged'",
    "DELETE FROM audit_log",
    "DELETE FROM ticket_tombstones",
    "UPDATE ladder_firings SET action = 'skipped'",
    "DELETE FROM ladder_firings",
    "DELETE FROM sla_cycles",
    "INSERT INTO sla_cycles (ticket_id, metric, cycle, policy, target_seconds, started_at, due_at, state, priority) "
    "VALUES (1, 'response', 9, 'default', 1, now(), now(), 'met', 'low')",
])
def test_history_and_the_schema_version_cannot_be_rewritten(login, seeded, engine, group, statement):
    member = make_url(login(group).url)
    conn = psycopg2.connect(dbname=member.database, user=member.username, host=member.query.get("host") or member.host,
                            port=member.port)
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ticket_events WHERE actor = 'forged'")) == 0
        assert conn.scalar(text("SELECT count(*) FROM ticket_events")) > 0


def test_db_roles_as_a_member_who_does_not_own_the_schema_exits_4(login, engine):
    result = login("supportctl_admin")("db roles")
    assert result.exit_code == 4
    assert "does not own" in result.stderr
    assert "run `supportctl db roles` as the role that ran `supportctl db upgrade`" in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_upgrade_that_lets_the_admin_update_customers_grants_it_to_roles_made_before(login, engine, cli):
    from supportctl.db import migrate

    assert cli("customer add ana@example.com --name Ana").exit_code == 0
    with engine.begin() as conn:  # a database whose roles were made at 0012
        migrate.downgrade(conn, "0012")
    with engine.begin() as conn:
        migrate.upgrade(conn)
    result = login("supportctl_admin")(["customer", "update", "ana@example.com", "--tier", "premium",
                                        "--email", "ana@new.example"])
    assert result.exit_code == 0, result.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email, tier FROM customers")).one() == ("ana@new.example", "premium")


def test_the_upgrade_that_lets_import_draw_ticket_ids_grants_it_to_roles_made_before(login, engine, tmp_path):
    from supportctl.db import migrate

    with engine.begin() as conn:  # a database whose roles were made at 0011
        migrate.downgrade(conn, "0011")
    with engine.begin() as conn:
        assert not conn.scalar(text("SELECT has_sequence_privilege('supportctl_agent', 'tickets_id_seq', 'USAGE')"))
        migrate.upgrade(conn)
    path = tmp_path / "one.ndjson"
    path.write_text('{"title": "Hello", "customer_email": "ana@example.com", "comments": [{"author": '
                    '"ana@example.com", "body": "Hi", "created_at": "2026-11-20T08:00:00Z"}]}\n')
    result = login("supportctl_agent")(["ticket", "import", str(path)])
    assert result.exit_code == 0, result.stderr
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM comments")) == 1
