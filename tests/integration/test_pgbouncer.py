"""The cron commands through PgBouncer in transaction-pooling mode.

In transaction mode a client holds a server connection only for one transaction, so
nothing may outlive a transaction: no session-level SET, no session advisory lock, no
prepared statement. Debian's `pgbouncer` runs in front of the test session's server
(listening on 127.0.0.1, reaching the server like the tests do); it is skipped where
the binary is missing (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from supportctl.cli.app import app
from supportctl.db.embedded import server_account
from tests.factories import days_ago, insert_tickets
from tests.helpers import NOW
from tests.pgcluster import scratch_parent
from tests.processes import run_at_once

PGBOUNCER = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None)
pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="pgbouncer is not installed (apt-get install pgbouncer)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bouncer:
    """A pgbouncer process in transaction mode in front of the server of `database_url`."""

    def __init__(self, database_url: str, pool_size: int) -> None:
        self.server = make_url(database_url)
        self.port = free_port()
        self.pool_size = pool_size
        self.dir = Path(tempfile.mkdtemp(prefix="supportctl-pgbouncer-", dir=scratch_parent()))
        self.process: subprocess.Popen | None = None

    def url(self, user: str | None = None) -> str:
        return self.server.set(username=user or self.server.username, host="127.0.0.1", port=self.port,
                               query={}).render_as_string(hide_password=False)

    def start(self) -> Bouncer:
        account = server_account()  # as root: nobody (pgbouncer refuses to run as root)
        host = self.server.query.get("host") or self.server.host or "/tmp"
        users = {self.server.username or "postgres", "postgres"}
        (self.dir / "users.txt").write_text("".join(f'"{u}" ""\n' for u in users))
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={host} port={self.server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.dir}/users.txt\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\nmax_client_conn = 100\n"
            "server_reset_query =\nignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.dir}/pgbouncer.log\n"
        )
        for path in (self.dir, *self.dir.iterdir()):
            account.chown(path)
        os.chmod(self.dir, 0o755)
        self.process = subprocess.Popen([PGBOUNCER, str(self.dir / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, **account.subprocess_kwargs(die_with_parent=True))
        deadline = time.monotonic() + 15
        while True:
            try:
                psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=self.server.database,
                                 connect_timeout=2).close()
                return self
            except psycopg2.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.dir / "pgbouncer.log").read_text() if (self.dir / "pgbouncer.log").exists() else ""
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {log[-2000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def bouncer(database_url):
    """PgBouncer with ONE server connection per database: every client takes turns on it, so
    anything a transaction left behind would be seen by the next client."""
    running = Bouncer(database_url, pool_size=1).start()
    yield running
    running.stop()


def populate(engine) -> None:
    """Nine breached unassigned tickets (3 critical), two agents and a senior."""
    insert_tickets(engine, 6, days_ago(NOW, 4))
    insert_tickets(engine, 3, days_ago(NOW, 0.5), priority="critical")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO agents (email, name, role, created_at) VALUES ('ana@example.com', 'Ana', 'agent', :t), "
            "('bo@example.com', 'Bo', 'agent', :t), ('sam@example.com', 'Sam', 'senior', :t)"), {"t": NOW})


@pytest.fixture
def queue(engine):
    populate(engine)


def supportctl(args: list[str], url: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SUPPORTCTL_DATABASE_URL=url, SUPPORTCTL_NOW=NOW.isoformat(), SUPPORTCTL_ACTOR="cron")
    env.pop("SUPPORTCTL_READ_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "supportctl", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def session_state(url: str) -> dict:
    """What the next client of the pool's one server connection finds there."""
    u = make_url(url)
    conn = psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            found = {}
            for setting in ("lock_timeout", "statement_timeout", "default_transaction_isolation",
                            "default_transaction_read_only", "enable_seqscan"):
                cur.execute(f"SHOW {setting}")
                found[setting] = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_prepared_statements")
            found["prepared_statements"] = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            found["advisory_locks"] = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_class WHERE relpersistence = 't'")
            found["temporary_tables"] = cur.fetchone()[0]
            return found
    finally:
        conn.close()


CLEAN = {"lock_timeout": "0", "statement_timeout": "0", "default_transaction_isolation": "read committed",
         "default_transaction_read_only": "off", "enable_seqscan": "on", "prepared_statements": 0,
         "advisory_locks": 0, "temporary_tables": 0}


def test_the_cron_commands_work_through_pgbouncer_as_they_do_directly_and_leave_no_session_state(
        bouncer, queue, new_database):
    """Each command's exit, stdout and stderr through PgBouncer equal a direct run's on a twin database."""
    twin_url = new_database()
    twin = create_engine(twin_url)
    populate(twin)
    twin.dispose()
    url = bouncer.url()
    assert session_state(url) == CLEAN
    for args in (["sla", "breaches", "--format", "json"],
                 ["queue", "assign", "--strategy", "by-priority", "--format", "json"],
                 ["sla", "breaches", "--at-risk", "8h", "--format", "json"],
                 ["queue", "escalate", "--format", "json"],
                 ["queue", "escalate", "--format", "json"]):
        pooled, direct = supportctl(args, url), supportctl(args, twin_url)
        assert pooled.returncode == 0, pooled.stderr
        assert (pooled.returncode, pooled.stdout, pooled.stderr) == (direct.returncode, direct.stdout, direct.stderr)
        assert session_state(url) == CLEAN
        if args[1] == "assign":
            rows = json.loads(pooled.stdout)
            assert len(rows) == 9
            assert {r["assignee_email"] for r in rows if r["priority"] == "critical"} == {"sam@example.com"}


def test_the_bulk_commands_work_through_pgbouncer_too(bouncer, queue, engine, tmp_path):
    """COPY in and out, a temporary table ON COMMIT DROP, a server-side cursor: each inside its transaction."""
    url = bouncer.url()
    source = tmp_path / "in.csv"
    source.write_text("external_id,title,customer_email\nX-1,From the old system,new@example.com\n")
    runner = CliRunner()
    env = {"SUPPORTCTL_DATABASE_URL": url}
    for args in (["ticket", "import", str(source)], ["ticket", "export", "-o", str(tmp_path / "out.csv")],
                 ["ticket", "export", "--format", "ndjson"], ["ticket", "create", "--title", "Hi", "--customer",
                                                              "ana@example.com", "--auto-assign"],
                 ["sla", "set", "high", "--response", "2h"]):
        result = runner.invoke(app, ["--now", NOW.isoformat(), *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.stderr)
    assert (tmp_path / "out.csv").read_text().count("\n") == 1 + 9 + 1
    assert session_state(url) == CLEAN


def test_concurrent_runs_through_pgbouncer_escalate_each_ticket_once_and_assign_in_turn(database_url, engine):
    insert_tickets(engine, 60, days_ago(NOW, 3))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO agents (email, name, created_at) SELECT 'agent' || n || '@example.com', 'Agent ' || n, :t "
            "FROM generate_series(1, 3) AS n"), {"t": NOW})
    shared = Bouncer(database_url, pool_size=2).start()  # four processes, two server connections
    try:
        env = {"SUPPORTCTL_DATABASE_URL": shared.url(), "SUPPORTCTL_NOW": NOW.isoformat(), "SUPPORTCTL_ACTOR": "cron"}
        for command in (["queue", "escalate"], ["queue", "assign"]):
            outcomes = run_at_once(command, env, processes=4)
            assert [code for code, _, _ in outcomes] == [0] * 4, [err for _, _, err in outcomes]
        state = session_state(shared.url())
    finally:
        shared.stop()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ticket_events WHERE kind = 'escalated'")) == 60
        assert conn.scalar(text("SELECT count(*) FROM ticket_events WHERE kind = 'assigned'")) == 60
        loads = conn.execute(text("SELECT count(*) FROM tickets GROUP BY assignee_id")).scalars().all()
    assert sorted(loads) == [20, 20, 20]
    assert state == CLEAN
