"""kill -9 at random moments: the database holds the state before, or after whole batches, never a half.

Each command runs as a real process against a few thousand rows and is killed
several times (the kills add up: each run carries on from what the last one
committed), at a random moment after it connected or just after a batch of its
committed. After each kill the database is checked: per ticket (untouched or wholly
changed, with exactly its events and notifications) and per batch (the count of
changed tickets is a multiple of the batch size, or all of them: the last batch is
what is left). Then a run to the end must leave
the same signature (row counts + md5 over every table, by natural keys) as one
uninterrupted run on an identical database.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, make_url, text

from supportctl.services.assignment.queue import BATCH_SIZE as ASSIGN_BATCH
from supportctl.services.escalation.queue import BATCH_SIZE as ESCALATE_BATCH
from tests.factories import days_ago, insert_tickets
from tests.helpers import NOW

pytestmark = pytest.mark.slow
TICKETS = 5000
KILLS = 5

SIGNATURE = """
SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM ticket_events), (SELECT count(*) FROM customers),
       (SELECT count(*) FROM agents), (SELECT count(*) FROM notifications),
       (SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
           SELECT ROW(coalesce(t.external_id, t.id::text), t.title, t.description, t.status, t.priority, t.tags,
                      c.email, a.email, t.escalated, t.escalation_level, t.last_escalated_at, t.created_at,
                      t.updated_at, t.first_response_at, t.resolved_at, t.closed_at, t.response_due_at,
                      t.resolution_due_at)::text AS r
           FROM tickets t JOIN customers c ON c.id = t.customer_id LEFT JOIN agents a ON a.id = t.assignee_id) s),
       (SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
           SELECT ROW(coalesce(t.external_id, t.id::text), e.at, e.actor, e.kind, e.from_value, e.to_value)::text AS r
           FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id) s),
       (SELECT md5(string_agg(ROW(email, name, tier, created_at)::text, E'\n' ORDER BY email)) FROM customers),
       -- the cursor's raw values skip numbers a killed run drew; only their order is state
       (SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
           SELECT ROW(email, last_assigned_at, rank() OVER (ORDER BY assignment_seq NULLS FIRST))::text AS r
           FROM agents) s),
       (SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
           SELECT ROW(recipient, template, data, status, attempts)::text AS r FROM notifications) s)
"""


def signature(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text(SIGNATURE)).one())


def populate(engine) -> None:
    """5000 medium tickets three days old (response breached), unassigned; three agents and a lead."""
    insert_tickets(engine, TICKETS, days_ago(NOW, 3))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO agents (email, name, role, created_at) VALUES "
            "('ana@support.example', 'Ana', 'agent', :t), ('bo@support.example', 'Bo', 'senior', :t), "
            "('cy@support.example', 'Cy', 'agent', :t), ('lee@support.example', 'Lee', 'lead', :t)"
        ), {"t": days_ago(NOW, 30)})


class Runner:
    """Starts `supportctl ARGS` against one database and kills it at chosen moments."""

    def __init__(self, url: str, engine, args: list[str]) -> None:
        self.engine, self.args = engine, args
        self.env = dict(os.environ, SUPPORTCTL_DATABASE_URL=url, SUPPORTCTL_NOW=NOW.isoformat(),
                        SUPPORTCTL_ACTOR="cron")
        self.env.pop("SUPPORTCTL_READ_DATABASE_URL", None)
        self.database = make_url(url).database

    def start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "supportctl", *self.args], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _backends(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'supportctl' AND datname = :d"
            ), {"d": self.database})

    def wait_connected(self, process: subprocess.Popen, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline and not self._backends():
            time.sleep(0.002)
        return time.monotonic()

    def wait_backends_gone(self, timeout: float = 30) -> None:
        """A killed client's transaction is over only once its server process has noticed."""
        deadline = time.monotonic() + timeout
        while self._backends() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self._backends(), "a killed client's session lingers"

    def complete(self, progress: Callable[[], int] | None = None) -> tuple[float, str]:
        """Run to the end; returns how long the work took (from connecting until `progress`
        stopped moving, or until the process exited), and stderr."""
        process = self.start()
        connected = self.wait_connected(process)
        finished, last = time.monotonic(), None
        while progress is not None and process.poll() is None:
            if (now := progress()) != last:
                finished, last = time.monotonic(), now
            time.sleep(0.002)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()
        return (finished if progress else time.monotonic()) - connected, stderr.decode()

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        self.wait_backends_gone()


def crash_repeatedly(runner: Runner, work: float, rng: random.Random, check: Callable[[], int],
                     progress: Callable[[], int] | None = None, total: int = TICKETS) -> list[int]:
    """KILLS runs killed with SIGKILL; check() after each returns how far the work got.

    With a progress count, every other kill comes soon after a batch of that run
    committed, the others at a random moment of the work still left (or just after it).
    """
    seen = []
    for round_ in range(KILLS):
        before = progress() if progress else 0
        process = runner.start()
        runner.wait_connected(process)
        if progress is not None and round_ % 2 == 0:
            while process.poll() is None and progress() == before:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.05))
        else:
            time.sleep(rng.uniform(0, work * (1 - before / total) * 1.1))
        runner.kill(process)
        seen.append(check())
    return seen


@pytest.fixture
def twin(new_database):
    """A second database, populated like the first, for an uninterrupted reference run."""
    engines = []

    def make():
        url = new_database()
        engines.append(create_engine(url))
        populate(engines[-1])
        return url, engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


ESCALATION_STATES = """
SELECT count(*) FILTER (WHERE NOT t.escalated AND t.priority = 'medium' AND t.escalation_level = 0
                          AND t.last_escalated_at IS NULL AND t.response_due_at = t.created_at + interval '24h'
                          AND t.resolution_due_at = t.created_at + interval '72h' AND e.n = 0),
       count(*) FILTER (WHERE t.escalated AND t.priority = 'high' AND t.escalation_level = 1
                          AND t.last_escalated_at = :now AND t.updated_at = :now
                          AND t.response_due_at = t.created_at + interval '4h'
                          AND t.resolution_due_at = t.created_at + interval '24h' AND e.n = 1),
       count(*),
       (SELECT count(*) FROM notifications WHERE template = 'ticket_escalated')
FROM tickets t
CROSS JOIN LATERAL (SELECT count(*) AS n FROM ticket_events WHERE ticket_id = t.id AND kind = 'escalated') e
"""


def escalated(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM tickets WHERE escalated"))


def assigned(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM tickets WHERE assignee_id IS NOT NULL"))


def test_kill_9_during_queue_escalate_never_leaves_a_ticket_half_escalated(database_url, engine, twin):
    populate(engine)
    reference_url, reference = twin()
    work, _ = Runner(reference_url, reference, ["queue", "escalate"]).complete(lambda: escalated(reference))
    runner = Runner(database_url, engine, ["queue", "escalate"])

    def check() -> int:
        with engine.connect() as conn:
            untouched, done, total, notified = conn.execute(text(ESCALATION_STATES), {"now": NOW}).one()
        assert untouched + done == total == TICKETS, (untouched, done, "a ticket is half-escalated")
        assert done % ESCALATE_BATCH == 0 or done == TICKETS, f"{done} escalated: not whole batches of {ESCALATE_BATCH}"
        assert notified == done  # one lead to tell, per escalated ticket, in the same transaction
        return done

    seen = crash_repeatedly(runner, work, random.Random(10), check, progress=lambda: escalated(engine))
    assert any(0 < done < TICKETS for done in seen), f"no kill landed between batches: {seen}"
    runner.complete()
    assert check() == TICKETS
    assert signature(engine) == signature(reference)


ASSIGNMENT_STATES = """
SELECT count(*) FILTER (WHERE t.assignee_id IS NULL AND t.first_response_at IS NULL AND e.n = 0),
       count(*) FILTER (WHERE t.assignee_id IS NOT NULL AND t.first_response_at = :now AND e.n = 1),
       count(*),
       (SELECT count(*) FROM notifications WHERE template = 'ticket_assigned')
FROM tickets t
CROSS JOIN LATERAL (SELECT count(*) AS n FROM ticket_events WHERE ticket_id = t.id AND kind = 'assigned') e
"""


def test_kill_9_during_queue_assign_leaves_whole_batches_and_an_exact_rotation(database_url, engine, twin):
    populate(engine)
    reference_url, reference = twin()
    work, _ = Runner(reference_url, reference, ["queue", "assign"]).complete(lambda: assigned(reference))
    runner = Runner(database_url, engine, ["queue", "assign"])

    def check() -> int:
        with engine.connect() as conn:
            waiting, done, total, notified = conn.execute(text(ASSIGNMENT_STATES), {"now": NOW}).one()
            loads = conn.execute(text(
                "SELECT count(t.id) FROM agents a LEFT JOIN tickets t ON t.assignee_id = a.id "
                "WHERE a.role <> 'lead' GROUP BY a.id")).scalars().all()
        assert waiting + done == total == TICKETS, (waiting, done, "a ticket is half-assigned")
        assert done % ASSIGN_BATCH == 0 or done == TICKETS, f"{done} assigned: not whole batches of {ASSIGN_BATCH}"
        assert notified == done
        assert max(loads) - min(loads) <= 1, f"round-robin lost its place: {loads}"
        return done

    seen = crash_repeatedly(runner, work, random.Random(20), check, progress=lambda: assigned(engine))
    assert any(0 < done < TICKETS for done in seen), f"no kill landed between batches: {seen}"
    runner.complete()
    assert check() == TICKETS
    assert signature(engine) == signature(reference)


def import_file(tmp_path) -> str:
    lines = ["external_id,title,customer_email,priority,description"]
    lines += [f"LEGACY-{n},Imported {n},customer{n % 40}@example.com,{('low', 'high')[n % 2]},"
              f"\"line one\nline two, {'x' * 300}\"" for n in range(4000)]
    path = tmp_path / "legacy.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return str(path)


def test_kill_9_during_ticket_import_leaves_all_or_nothing(database_url, engine, twin, tmp_path):
    populate(engine)
    path = import_file(tmp_path)
    reference_url, reference = twin()
    work, _ = Runner(reference_url, reference, ["ticket", "import", path]).complete()
    before, after = signature(engine), signature(reference)
    assert before != after
    runner = Runner(database_url, engine, ["ticket", "import", path])

    def check() -> int:
        now = signature(engine)
        assert now in (before, after), f"a partial import: {now[:5]}"
        return int(now == after)

    crash_repeatedly(runner, work, random.Random(30), check)
    _, summary = runner.complete()
    assert signature(engine) == after
    assert "imported 4000, skipped 0" in summary or "imported 0, skipped 4000" in summary


def test_kill_9_during_ticket_export_changes_nothing_and_leaves_the_file_old_or_complete(database_url, engine,
                                                                                         tmp_path):
    populate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE tickets SET description = repeat('Lorem ipsum dolor ' || id, 60)"))
    target = tmp_path / "tickets.csv"
    columns = ["--columns", "id,title,description,status,created_at"]
    reference = tmp_path / "reference.csv"
    runner = Runner(database_url, engine, ["ticket", "export", "-o", str(reference), *columns])
    work, _ = runner.complete()
    complete = reference.read_bytes()
    previous = b"id,title\n1,an older export\n"
    target.write_bytes(previous)
    before = signature(engine)
    runner.args = ["ticket", "export", "-o", str(target), *columns]

    def check() -> int:
        assert signature(engine) == before
        content = target.read_bytes()
        assert content in (previous, complete), f"a partial export of {len(content)} bytes"
        return int(content == complete)

    crash_repeatedly(runner, work, random.Random(40), check)
    runner.complete()
    assert target.read_bytes() == complete
    assert signature(engine) == before
