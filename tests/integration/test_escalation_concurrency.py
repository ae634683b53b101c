import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from tests.factories import days_ago, insert_tickets
from tests.processes import run_at_once

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_four_runs_at_once_escalate_each_overdue_ticket_exactly_once(round_, database_url, engine):
    ids = insert_tickets(engine, 300, days_ago(NOW, 3))
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat()}
    outcomes = run_at_once(["queue", "escalate", "--format", "json"], env, processes=4)
    assert [code for code, _, _ in outcomes] == [0] * 4, [err for _, _, err in outcomes]
    reported = [row["id"] for _, out, _ in outcomes for row in json.loads(out)]
    assert sorted(reported) == ids  # every ticket once, across all four runs
    with engine.connect() as conn:
        levels = conn.execute(text("SELECT escalation_level, count(*) FROM tickets GROUP BY 1")).all()
        events = conn.execute(
            text("SELECT count(*), count(DISTINCT ticket_id) FROM ticket_events WHERE kind = 'escalated'")
        ).one()
        breaches = conn.execute(text(
            "SELECT count(*), count(DISTINCT (ticket_id, to_value ->> 'metric', to_value ->> 'cycle')), "
            "count(*) FILTER (WHERE to_value ->> 'metric' = 'response') "
            "FROM ticket_events WHERE kind = 'sla_breached'")).one()
        noted = conn.execute(text("SELECT count(*) FROM sla_cycles WHERE breach_noted_at IS NOT NULL")).scalar()
    assert [tuple(r) for r in levels] == [(1, 300)]
    assert tuple(events) == (300, 300)
    # Each breached cycle written down once across the four runs: every response (due a day
    # after creation) and every resolution (72h, made 24h by the escalation to high).
    assert tuple(breaches) == (600, 600, 300) and noted == 600
