"""Database faults: the server going away (exit 5), a lock held elsewhere (exit 6), and the bounded
retry of serialization failures and deadlocks (SQLSTATE 40001 / 40P01).

The server-stop tests run a throwaway cluster of their own (never the test session's:
stopping that would end every other test).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
from sqlalchemy import create_engine, make_url, text

from supportctl.config import resolve
from supportctl.db.database import Database
from supportctl.services.assignment import queue as queue_assign
from supportctl.services.escalation import queue as escalation
from tests.factories import days_ago, insert_tickets
from tests.helpers import NOW
from tests.pgcluster import ThrowawayCluster, scratch_parent

_clusters = itertools.count()


def supportctl(args: list[str], url: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, SUPPORTCTL_DATABASE_URL=url, SUPPORTCTL_NOW=NOW.isoformat(), SUPPORTCTL_ACTOR="cron")
    env.pop("SUPPORTCTL_READ_DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "supportctl", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def connect(url: str):
    u = make_url(url)
    return psycopg2.connect(dbname=u.database, user=u.username, host=u.query.get("host") or u.host, port=u.port)


def wait_until(condition, timeout: float = 20, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def waiting_on_a_lock(conn, count: int):
    def check() -> bool:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'supportctl' "
                        "AND wait_event_type = 'Lock'")
            return cur.fetchone()[0] == count
    return check


@pytest.fixture
def own_cluster():
    """A migrated database with 50 breached tickets, on a cluster this test may stop."""
    root = scratch_parent() / f"supportctl-faults-{os.getpid()}-{next(_clusters)}"
    cluster = ThrowawayCluster(root=Path(root))
    cluster.start()
    try:
        url = cluster.create_database("faults")
        database = Database(resolve(database_url=url, from_env=False, actor="t", now=None, debug=False))
        database.upgrade()
        database.close()
        engine = create_engine(url)
        insert_tickets(engine, 50, days_ago(NOW, 3))
        engine.dispose()
        yield cluster, url
    finally:
        cluster.stop()


@pytest.mark.parametrize("shutdown", [signal.SIGINT, signal.SIGQUIT], ids=["fast", "immediate"])
def test_a_server_stopped_mid_command_ends_it_with_exit_5_and_a_clear_message(own_cluster, shutdown):
    cluster, url = own_cluster
    holder = connect(url)  # keeps both commands waiting inside their transaction
    with holder.cursor() as cur:
        cur.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
    watcher = cluster.admin_connect()
    running = [supportctl(["ticket", "list", "--format", "json"], url), supportctl(["queue", "escalate"], url)]
    wait_until(waiting_on_a_lock(watcher, 2), what="both commands to wait on the lock")
    watcher.close()
    cluster.process.send_signal(shutdown)
    cluster.process.wait(30)
    for process in running:
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 5, stderr
        assert stdout == ""
        assert stderr.startswith("supportctl: error: cannot reach the database at postgresql+psycopg2://postgres@/faults")
        assert "that the server is running" in stderr
        assert stderr.count("\n") == 1
    holder.close()

    # And between commands: the socket is gone.
    after = supportctl(["sla", "breaches"], url)
    stdout, stderr = after.communicate(timeout=30)
    assert after.returncode == 5
    assert "cannot reach the database" in stderr and "No such file or directory" in stderr
    assert stderr.count("\n") == 1


def test_a_server_stopped_during_an_export_to_a_file_or_an_import_s_staging_exits_5_in_one_line(
        own_cluster, tmp_path):
    cluster, url = own_cluster
    holder = connect(url)  # the export's COPY waits on it
    with holder.cursor() as cur:
        cur.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
    target = tmp_path / "tickets.csv"
    export = supportctl(["ticket", "export", "-o", str(target)], url)
    importer = supportctl(["ticket", "import", "-"], url, stdin=subprocess.PIPE)
    rows = "".join(f"Ticket {n},c{n}@example.com\n" for n in range(6000))  # past the first staged batch
    importer.stdin.write("title,customer_email\n" + rows)
    importer.stdin.flush()
    watcher = cluster.admin_connect()
    wait_until(waiting_on_a_lock(watcher, 1), what="the export to wait on the lock")
    wait_until(lambda: _staged(watcher), what="the import to stage its first batch")
    watcher.close()
    cluster.process.send_signal(signal.SIGQUIT)
    cluster.process.wait(30)
    with contextlib.suppress(BrokenPipeError):  # it may have found the server gone already
        importer.stdin.write(rows)
    with contextlib.suppress(BrokenPipeError):
        importer.stdin.close()
    importer.stdin = None  # written and closed: communicate() has nothing more to send
    for process in (export, importer):
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 5, stderr
        assert stderr.startswith("supportctl: error: cannot reach the database at ")
        assert stderr.count("\n") == 1
    assert os.listdir(tmp_path) == []
    holder.close()


def _staged(conn) -> bool:
    """Whether a supportctl session is idle in its transaction (the import reading stdin)."""
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'supportctl' "
                    "AND state = 'idle in transaction'")
        return cur.fetchone()[0] == 1


@pytest.mark.parametrize("args", [["queue", "escalate"], ["queue", "assign"], ["sla", "breaches"]])
def test_a_cron_command_blocked_by_a_held_lock_exits_6_and_changes_nothing(database_url, engine, args):
    insert_tickets(engine, 20, days_ago(NOW, 3))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO agents (email, name, created_at) VALUES ('bo@example.com', 'Bo', :t)"),
                     {"t": NOW})
    holder = connect(database_url)
    with holder.cursor() as cur:  # e.g. a migration running elsewhere
        cur.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
    process = supportctl(args, database_url)
    try:
        _, stderr = process.communicate(timeout=60)  # a hang fails here
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    finally:
        holder.rollback()
        holder.close()
    assert process.returncode == 6, stderr
    assert stderr == ("supportctl: error: gave up waiting for the database: canceling statement due to lock "
                      "timeout (another run holds what this one needs; nothing was changed, try again later)\n")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE escalated OR assignee_id IS NOT NULL")) == 0
        assert conn.scalar(text("SELECT count(*) FROM ticket_events WHERE kind <> 'created'")) == 0


@pytest.mark.parametrize("args", [
    ["ticket", "update", "1", "--priority", "high"], ["ticket", "comment", "1", "--body", "hi", "--author", "bo@example.com"],
    ["ticket", "escalate", "1"], ["ticket", "unassign", "1"], ["ticket", "assign", "1", "--to", "bo@example.com"],
], ids=lambda args: args[1])
def test_a_ticket_command_behind_a_held_row_lock_exits_6_within_seconds_saying_what_it_waited_on(
        database_url, engine, args):
    insert_tickets(engine, 1, days_ago(NOW, 3))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO agents (email, name, created_at) VALUES ('bo@example.com', 'Bo', :t)"),
                     {"t": NOW})
    holder = connect(database_url)
    with holder.cursor() as cur:  # someone's long transaction on the ticket
        cur.execute("SELECT id FROM tickets WHERE id = 1 FOR UPDATE")
    started = time.monotonic()
    process = supportctl(args, database_url)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        holder.rollback()
        holder.close()
    assert process.returncode == 6, stderr
    assert time.monotonic() - started < 10
    assert stderr.startswith("supportctl: error: gave up waiting for the database: canceling statement due to "
                             'lock timeout (while locking tuple (0,1) in relation "tickets")')
    assert stderr.count("\n") == 1
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ticket_events WHERE kind <> 'created'")) == 0


def test_a_ticket_row_locked_elsewhere_is_skipped_and_escalated_by_the_next_run(database_url, engine, cli):
    ids = insert_tickets(engine, 5, days_ago(NOW, 3))
    holder = connect(database_url)
    with holder.cursor() as cur:  # someone is editing ticket 1 right now
        cur.execute("SELECT id FROM tickets WHERE id = %s FOR UPDATE", (ids[0],))
    try:
        first = cli("queue escalate --format json")
    finally:
        holder.rollback()
        holder.close()
    assert first.exit_code == 0, first.stderr
    # The held ticket is neither escalated nor has its breaches written down; the other four
    # have both: the response, and the resolution their escalation to high made overdue.
    assert first.stderr == "escalated 4 tickets (4 response); 8 new breaches recorded\n"
    second = cli("queue escalate --format json")
    assert second.stderr == "escalated 1 ticket (1 response); 2 new breaches recorded\n"
    assert [row["id"] for row in json.loads(second.stdout)] == [ids[0]]


def retryable(pgcode: str) -> psycopg2.Error:
    """What psycopg2 raises when PostgreSQL reports a serialization failure or a deadlock."""
    base = psycopg2.errors.SerializationFailure if pgcode == "40001" else psycopg2.errors.DeadlockDetected

    class Reported(base):  # psycopg2 sets pgcode only on errors that came from a server
        pass

    Reported.pgcode = pgcode
    return Reported(f"simulated SQLSTATE {pgcode}")


@pytest.mark.parametrize("pgcode", ["40001", "40P01"])
def test_queue_escalate_retries_a_batch_that_hit_a_serialization_failure_or_deadlock(cli, engine, mocker, pgcode):
    insert_tickets(engine, 30, days_ago(NOW, 3))
    real = escalation.escalate_batch
    calls = []

    def flaky(cursor, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(cursor, *args, **kwargs)  # the work was done, then the transaction failed: rolled back
            raise retryable(pgcode)
        return real(cursor, *args, **kwargs)

    mocker.patch.object(escalation, "escalate_batch", side_effect=flaky)
    result = cli("queue escalate")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "escalated 30 tickets (30 response); 60 new breaches recorded\n"
    assert len(calls) == 3  # failed, retried, then the empty batch that ends the run
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ticket_events WHERE kind = 'escalated'")) == 30
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE escalation_level = 1")) == 30


def test_the_retry_is_bounded_and_then_exits_6_with_nothing_changed(cli, engine, mocker):
    insert_tickets(engine, 5, days_ago(NOW, 3))
    mocker.patch("supportctl.db.direct.time.sleep")  # the back-off, not the behaviour
    failing = mocker.patch.object(queue_assign, "assign_batch", side_effect=retryable("40P01"))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO agents (email, name, created_at) VALUES ('bo@example.com', 'Bo', :t)"),
                     {"t": NOW})
    result = cli("queue assign")
    assert result.exit_code == 6
    assert "gave up waiting for the database: simulated SQLSTATE 40P01" in result.stderr
    assert failing.call_count == 4
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE assignee_id IS NOT NULL")) == 0


def test_an_error_that_is_not_retryable_is_not_retried(cli, engine, mocker):
    insert_tickets(engine, 5, days_ago(NOW, 3))

    class Denied(psycopg2.errors.InsufficientPrivilege):
        pgcode = "42501"

    failing = mocker.patch.object(
        escalation, "escalate_batch",
        side_effect=Denied("permission denied for table tickets"))
    result = cli("queue escalate")
    assert result.exit_code == 4
    assert failing.call_count == 1
