"""Six `queue escalate` processes at once over the same laddered tickets: every step once."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.factories import insert_tickets
from tests.helpers import run
from tests.processes import run_at_once

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_six_runs_at_once_fire_each_step_once_per_ticket(round_, cli, database_url, engine):
    run(cli, "agent add lee@example.com --name Lee --role lead", now=NOW)
    run(cli, ["escalation", "ladder", "set", "standard", "--step", "at=50% metric=resolution notify=leads",
              "--step", "at=100% metric=resolution escalate"], now=NOW)
    # Medium tickets (72h resolution) created 40h ago: the 50% step (36h) is due, the 100% one not.
    ids = insert_tickets(engine, 40, NOW - timedelta(hours=40))
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_ACTOR": "cron"}
    patch = ("supportctl.services.escalation.steps", "BATCH_SIZE", 5)  # runs take turns, batch by batch

    def race(now):
        outcomes = run_at_once(["queue", "escalate", "--format", "json"], {**env, "SUPPORTCTL_NOW": now.isoformat()},
                               processes=6, patch=patch)
        assert [code for code, _, _ in outcomes] == [0] * 6, [err for _, _, err in outcomes]
        return [row for _, out, _ in outcomes for row in json.loads(out)]

    warned = race(NOW)
    assert sorted(r["id"] for r in warned) == ids  # one warning row per ticket, across the six runs
    assert {(r["step"], r["action"], r["target"]) for r in warned} == {(1, "notify", "lee@example.com")}
    escalated = race(NOW + timedelta(hours=32))  # 72h: every ticket's step 2
    assert sorted(r["id"] for r in escalated) == ids
    assert {(r["step"], r["action"], r["target"]) for r in escalated} == {(2, "escalate", "high")}
    assert race(NOW + timedelta(hours=33)) == []
    with engine.connect() as conn:
        fired = conn.execute(text(
            "SELECT to_value ->> 'step', count(*), count(DISTINCT ticket_id) FROM ticket_events "
            "WHERE kind = 'ladder_step_fired' GROUP BY 1 ORDER BY 1")).all()
        mails = conn.execute(text(
            "SELECT template, count(*), count(DISTINCT data ->> 'ticket_id') FROM notifications "
            "GROUP BY 1 ORDER BY 1")).all()
        levels = conn.execute(text("SELECT escalation_level, count(*) FROM tickets GROUP BY 1")).all()
        claims = conn.execute(text("SELECT action, count(*) FROM ladder_firings GROUP BY 1")).all()
        # The one-step escalation at breach never touched them: the response (24h) was long
        # breached at the first race, yet only step 2 escalated, once.
        escalations = conn.execute(text("SELECT count(*) FROM ticket_events WHERE kind = 'escalated'")).scalar()
    assert [tuple(r) for r in fired] == [("1", 40, 40), ("2", 40, 40)]
    # 40 warnings to the one lead; each escalation mails the lead (no assignees).
    assert [tuple(r) for r in mails] == [("escalation_step", 40, 40), ("ticket_escalated", 40, 40)]
    assert [tuple(r) for r in levels] == [(1, 40)] and escalations == 40
    assert [tuple(r) for r in claims] == [("fired", 80)]
