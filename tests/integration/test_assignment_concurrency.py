"""Assignment under concurrency, with real processes; the batched run and the cursor migration."""

import json
import multiprocessing
import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import create_engine, text

from supportctl.config import resolve
from supportctl.db import migrate
from supportctl.db.direct import Batches
from supportctl.services.assignment import queue as queue_assign
from tests.factories import insert_tickets
from tests.helpers import NOW
from tests.processes import run_at_once

AGENTS = ["a1@support.example", "a2@support.example", "a3@support.example", "a4@support.example"]


def add_agents(engine, emails=AGENTS, role="agent"):
    with engine.begin() as conn:
        for email in emails:
            conn.execute(
                text("INSERT INTO agents (email, name, role, created_at) VALUES (:e, :e, :r, :t)"),
                {"e": email, "r": role, "t": NOW},
            )


def assigned_in_order(engine) -> list[str]:
    """Who got each ticket, in the order the assignments happened (event ids)."""
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT to_value->>'assignee_email' FROM ticket_events WHERE kind = 'assigned' ORDER BY id"
        )).scalars())


def assert_each_ticket_assigned_once_and_in_exact_turns(engine, ids, per_agent):
    with engine.connect() as conn:
        events = conn.execute(text(
            "SELECT count(*), count(DISTINCT ticket_id) FROM ticket_events WHERE kind = 'assigned'"
        )).one()
        per_ticket = conn.execute(text(
            "SELECT t.id, a.email FROM tickets t JOIN agents a ON a.id = t.assignee_id ORDER BY t.id"
        )).all()
    assert tuple(events) == (len(ids), len(ids))
    assert [row.id for row in per_ticket] == ids
    assert Counter(row.email for row in per_ticket) == {email: per_agent for email in AGENTS}
    order = assigned_in_order(engine)
    # Round-robin, exact across processes: every four consecutive assignments reach all four agents.
    assert all(set(order[i:i + 4]) == set(AGENTS) for i in range(0, len(order), 4)), order


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_four_queue_assign_runs_at_once_assign_each_ticket_once_and_ten_to_each_agent(round_, database_url, engine):
    add_agents(engine)
    ids = insert_tickets(engine, 40, NOW)
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat()}
    outcomes = run_at_once(["queue", "assign", "--format", "json"], env, processes=4)
    assert [code for code, _, _ in outcomes] == [0] * 4, [err for _, _, err in outcomes]
    reported = [row["id"] for _, out, _ in outcomes for row in json.loads(out)]
    assert sorted(reported) == ids  # every ticket once, across all four runs
    assert_each_ticket_assigned_once_and_in_exact_turns(engine, ids, per_agent=10)


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [3, 5])
def test_four_queue_assign_runs_in_small_batches_interleave_and_still_keep_exact_turns(batch_size, database_url,
                                                                                      engine):
    add_agents(engine)
    ids = insert_tickets(engine, 40, NOW)
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat()}
    outcomes = run_at_once(["queue", "assign", "--format", "json"], env, processes=4,
                           patch=("supportctl.services.assignment.queue", "BATCH_SIZE", batch_size))
    assert [code for code, _, _ in outcomes] == [0] * 4, [err for _, _, err in outcomes]
    reported = [row["id"] for _, out, _ in outcomes for row in json.loads(out)]
    assert sorted(reported) == ids
    assert_each_ticket_assigned_once_and_in_exact_turns(engine, ids, per_agent=10)


def _assign_each(barrier, env: dict, ticket_ids: list[int], results) -> None:
    os.environ.update(env)
    from typer.testing import CliRunner

    from supportctl.cli.app import app

    runner = CliRunner()
    barrier.wait()
    codes = [runner.invoke(app, ["ticket", "assign", str(i), "--auto"]).exit_code for i in ticket_ids]
    results.put(codes)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(2))
def test_four_processes_assigning_ticket_by_ticket_keep_round_robin_exact(round_, database_url, engine):
    add_agents(engine)
    ids = insert_tickets(engine, 40, NOW)
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat()}
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    workers = [ctx.Process(target=_assign_each, args=(barrier, env, ids[n::4], results)) for n in range(4)]
    for w in workers:
        w.start()
    codes = [code for _ in workers for code in results.get(timeout=60)]
    for w in workers:
        w.join(60)
    assert codes == [0] * 40
    assert_each_ticket_assigned_once_and_in_exact_turns(engine, ids, per_agent=10)


@pytest.mark.slow
def test_a_run_that_cannot_get_the_agent_locks_in_time_exits_6_and_changes_nothing(database_url, engine):
    add_agents(engine)
    ids = insert_tickets(engine, 3, NOW)
    with engine.begin() as conn:  # two tickets out of the queue, so the runs wait on the agents only
        conn.execute(text("UPDATE tickets SET assignee_id = (SELECT max(id) FROM agents) WHERE id = ANY(:ids)"),
                     {"ids": ids[:2]})
    env = dict(os.environ, SUPPORTCTL_DATABASE_URL=database_url, SUPPORTCTL_NOW=NOW.isoformat())
    # Each waits on a different agent row first (queue assign and --auto lock the pool from the lowest
    # id): runs queued behind each other on one row would each wait a timeout per lock.
    commands = [["queue", "assign"], ["ticket", "assign", str(ids[1]), "--to", AGENTS[1]]]
    holder = engine.connect()
    try:
        holder.execute(text("SELECT id FROM agents FOR UPDATE"))  # held past the runs' 5 s lock timeout
        runs = [subprocess.Popen([sys.executable, "-m", "supportctl", *args], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in commands]
        outcomes = [(run.wait(timeout=60), run.stdout.read(), run.stderr.read()) for run in runs]
    finally:
        holder.rollback()
        holder.close()
    for code, _, err in outcomes:
        assert code == 6, err
        assert "gave up waiting for the database" in err and "nothing was changed" in err
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tickets WHERE assignee_id IS NOT NULL")).scalar() == 2
        assert conn.execute(text("SELECT assignee_id FROM tickets WHERE id = :i"), {"i": ids[2]}).scalar() is None
        assert conn.execute(text("SELECT count(*) FROM ticket_events WHERE kind = 'assigned'")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM agents WHERE assignment_seq IS NOT NULL")).scalar() == 0


def _batches(url: str) -> Batches:
    return Batches(resolve(database_url=url, from_env=False, actor="t", now=None, debug=False))


def test_small_batches_look_at_each_ticket_once_and_keep_the_turns(database_url, engine):
    add_agents(engine)
    critical = insert_tickets(engine, 3, NOW, priority="critical")  # nobody senior: by-priority cannot place them
    medium = insert_tickets(engine, 8, NOW, priority="medium")
    batches = _batches(database_url)
    try:
        outcome = queue_assign.run(batches, NOW, "cron", strategy="by-priority", batch_size=2)
    finally:
        batches.close()
    assert [m.id for m in outcome.not_assigned] == critical
    assert {m.reason for m in outcome.not_assigned} == {
        "no active senior agent for a critical ticket (by-priority gives critical tickets to seniors only)"
    }
    assert [a.id for a in outcome.assigned] == medium
    assert [a.assignee_email for a in outcome.assigned] == AGENTS * 2
    assert assigned_in_order(engine) == AGENTS * 2
    assert outcome.error is None


def test_the_cursor_migration_carries_the_old_rotation_over(new_database):
    url = new_database()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            migrate.downgrade(conn, "0001")
        with engine.begin() as conn:
            for email, last in (("old@x.example", "2026-11-01T09:00:00Z"), ("never@x.example", None),
                                ("recent@x.example", "2026-11-20T09:00:00Z"), ("tie@x.example", "2026-11-01T09:00:00Z")):
                conn.execute(text("INSERT INTO agents (email, name, last_assigned_at, created_at) "
                                  "VALUES (:e, :e, :l, :t)"), {"e": email, "l": last, "t": NOW})
        with engine.begin() as conn:
            migrate.upgrade(conn)
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT email, assignment_seq FROM agents")).all())
            following = conn.execute(text("SELECT nextval('agent_assignment_seq')")).scalar()
        assert rows == {"old@x.example": 1, "tie@x.example": 2, "recent@x.example": 3, "never@x.example": None}
        assert following == 4
        with engine.begin() as conn:
            migrate.downgrade(conn, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('agent_assignment_seq')")).scalar() is None
    finally:
        engine.dispose()
