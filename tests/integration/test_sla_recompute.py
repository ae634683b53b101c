"""Due-date recompute after policy and calendar changes, and the breach report's query plan."""

import multiprocessing
import os
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from supportctl.db.models import Ticket
from supportctl.domain.calendar import BusinessCalendar
from supportctl.domain.sla import DEFAULT_POLICY, due_dates
from supportctl.services.sla import breaches, recompute
from supportctl.services.sla import changes as sla_admin
from tests.factories import insert_tickets
from tests.helpers import NOW

OFFICE = BusinessCalendar.parse("Europe/Berlin", "mon-fri 09:00-17:00", ["2026-11-26"])


def seed(engine):
    """Unresolved tickets of every priority over two weeks, some paused before, one resolved per priority."""
    for n, priority in enumerate(DEFAULT_POLICY):
        for hours in range(0, 14 * 24, 17):
            insert_tickets(engine, 1, NOW - timedelta(hours=hours + n), priority)
    with engine.begin() as conn:
        conn.execute(text("UPDATE tickets SET paused_seconds = (id % 4) * 5400 WHERE id % 3 = 0"))
        conn.execute(text(
            "UPDATE tickets SET status = 'resolved', resolved_at = created_at + interval '1 hour', "
            "first_response_at = created_at WHERE id IN (SELECT min(id) FROM tickets GROUP BY priority)"
        ))


def snapshot(session):
    rows = session.execute(select(Ticket.id, Ticket.status, Ticket.priority, Ticket.created_at, Ticket.paused_seconds,
                                  Ticket.response_due_at, Ticket.resolution_due_at).order_by(Ticket.id))
    return {r.id: r for r in rows}


def expected(row, targets, calendar):
    response, resolution = targets[row.priority]
    return due_dates(row.created_at, response, resolution, calendar, timedelta(seconds=row.paused_seconds))


def test_calendar_recompute_walks_batches_and_matches_the_rule_for_every_unresolved_ticket(
    engine, session, monkeypatch
):
    seed(engine)
    monkeypatch.setattr(recompute, "BATCH_SIZE", 7)  # many batches through the one cursor
    before = snapshot(session)
    _, done = sla_admin.calendar_set(session, NOW, timezone="Europe/Berlin", hours="mon-fri 09:00-17:00",
                                     holidays=["2026-11-26"])
    session.commit()
    after = snapshot(session)
    unresolved = [i for i, r in before.items() if r.status != "resolved"]
    assert done.tickets == len(unresolved) == len(before) - 4
    for ticket_id in unresolved:
        row = after[ticket_id]
        assert (row.response_due_at, row.resolution_due_at) == expected(row, DEFAULT_POLICY, OFFICE), ticket_id
    for ticket_id in set(before) - set(unresolved):
        assert after[ticket_id] == before[ticket_id]


def test_24x7_recompute_in_sql_gives_what_the_python_rule_gives(engine, session):
    seed(engine)
    sla_admin.calendar_set(session, NOW, timezone="Europe/Berlin", hours="mon-fri 09:00-17:00")
    _, after_targets, _ = sla_admin.set_targets(session, NOW, "low", response="36h", resolution="1h30m")
    _, done = sla_admin.calendar_clear(session, NOW)
    session.commit()
    targets = {**DEFAULT_POLICY, "low": (timedelta(hours=36), timedelta(minutes=90))}
    assert after_targets["response_seconds"] == 36 * 3600
    rows = snapshot(session)
    unresolved = [r for r in rows.values() if r.status != "resolved"]
    assert done.tickets == len(unresolved)
    for row in unresolved:
        assert (row.response_due_at, row.resolution_due_at) == expected(row, targets, None), row.id


def test_each_branch_of_the_breach_report_can_use_its_partial_index(engine):
    insert_tickets(engine, 200, NOW - timedelta(days=5), "high")
    connection = engine.raw_connection().dbapi_connection
    with connection, connection.cursor() as cursor:
        report = breaches.query(cursor, NOW, at_risk="2h")
        cursor.execute("ANALYZE tickets")
        # A table this small would be read whole; forbid that to see which index the
        # planner can prove usable: a WHERE that stops implying the index predicate fails here.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + report.sql(), report.params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "ix_tickets_response_due_unmet" in plan
    assert "ix_tickets_resolution_due_unmet" in plan
    assert "Seq Scan on tickets" not in plan


def _run(barrier, env, args, results):
    os.environ.update(env)
    from typer.testing import CliRunner

    from supportctl.cli.app import app

    barrier.wait()
    result = CliRunner().invoke(app, args)
    results.put((args[0], result.exit_code, result.stderr))


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_a_policy_change_during_an_escalation_run_leaves_every_due_date_on_the_new_policy(
    round_, database_url, engine, session
):
    # Escalation moves medium tickets to high while `sla set` changes the high targets:
    # whichever runs first, no escalated ticket may keep due dates of the old high policy.
    insert_tickets(engine, 300, NOW - timedelta(days=3), "medium")
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat()}
    commands = [["queue", "escalate"], ["sla", "set", "high", "--response", "2h", "--resolution", "30h"]]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(commands)), ctx.Queue()
    workers = [ctx.Process(target=_run, args=(barrier, env, args, results)) for args in commands]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(60)
    assert sorted(code for _, code, _ in outcomes) == [0, 0], outcomes
    targets = {**DEFAULT_POLICY, "high": (timedelta(hours=2), timedelta(hours=30))}
    rows = snapshot(session).values()
    assert {r.priority for r in rows} == {"high"}
    assert [r.id for r in rows if (r.response_due_at, r.resolution_due_at) != expected(r, targets, None)] == []
