"""Four `retention run` processes at once: every due ticket deleted once, one tombstone each."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.factories import insert_tickets
from tests.helpers import run
from tests.processes import run_at_once

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


@pytest.mark.slow
def test_four_runs_at_once_delete_each_due_ticket_once(cli, database_url, engine):
    ids = insert_tickets(engine, 60, NOW - timedelta(days=90))
    held = insert_tickets(engine, 5, NOW - timedelta(days=90))
    with engine.begin() as conn:  # closed 80 days ago; five of them on legal hold
        conn.execute(text("UPDATE tickets SET status = 'closed', closed_at = :at, resolved_at = :at, "
                          "first_response_at = :at"), {"at": NOW - timedelta(days=80)})
        conn.execute(text("UPDATE tickets SET tags = ARRAY['legal-hold'] WHERE id = ANY(:ids)"), {"ids": held})
    run(cli, "retention set --closed-older-than 30d --action delete", now=NOW)
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat()}
    outcomes = run_at_once(["retention", "run", "--format", "json"], env, processes=4,
                           patch=("supportctl.services.privacy.retention", "BATCH_SIZE", 5))
    assert [code for code, _, _ in outcomes] == [0] * 4, [err for _, _, err in outcomes]
    deleted = sorted(row["id"] for _, out, _ in outcomes for row in json.loads(out))
    assert deleted == ids  # each once, across the four runs
    with engine.connect() as conn:
        assert tuple(conn.execute(text("SELECT count(*), count(DISTINCT ticket_id) FROM ticket_tombstones")).one()
                     ) == (60, 60)
        assert conn.scalars(text("SELECT id FROM tickets ORDER BY id")).all() == held
        assert conn.scalar(text("SELECT sum((to_value ->> 'deleted')::int) FROM audit_log "
                                "WHERE kind = 'retention_run'")) == 60
