"""Assignment inside a team under concurrency, with real processes (docs/teams.md)."""

import json
from collections import Counter

import pytest
from sqlalchemy import text

from tests.helpers import NOW
from tests.processes import run_at_once

ALPHA = ["a1@support.example", "a2@support.example", "a3@support.example"]
BETA = ["b1@support.example", "b2@support.example", "b3@support.example"]


def _teams_and_tickets(engine, alpha_tickets: int, beta_tickets: int) -> tuple[list[int], list[int]]:
    with engine.begin() as conn:
        for slug, members in (("alpha", ALPHA), ("beta", BETA)):
            team = conn.execute(text("INSERT INTO teams (slug, name, created_at) VALUES (:s, :s, :t) RETURNING id"),
                                {"s": slug, "t": NOW}).scalar_one()
            for email in members:
                agent = conn.execute(text("INSERT INTO agents (email, name, created_at) VALUES (:e, :e, :t) "
                                          "RETURNING id"), {"e": email, "t": NOW}).scalar_one()
                conn.execute(text("INSERT INTO team_members (team_id, agent_id) VALUES (:t, :a)"),
                             {"t": team, "a": agent})
        customer = conn.execute(text("INSERT INTO customers (email, name, created_at) VALUES ('c@example.com', 'C', "
                                     ":t) RETURNING id"), {"t": NOW}).scalar_one()
        ids = {}
        for slug, count in (("alpha", alpha_tickets), ("beta", beta_tickets)):
            ids[slug] = sorted(conn.execute(text(
                "INSERT INTO tickets (title, priority, customer_id, team_id, created_at, updated_at, "
                "response_due_at, resolution_due_at) "
                "SELECT 'T' || n, 'medium', :c, (SELECT id FROM teams WHERE slug = :s), :t, :t, :t, :t "
                "FROM generate_series(1, :n) AS n RETURNING id"), {"c": customer, "s": slug, "t": NOW, "n": count}
            ).scalars())
    return ids["alpha"], ids["beta"]


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [2, 7])
def test_six_queue_assign_team_a_runs_at_once_assign_each_ticket_once_evenly_inside_a(batch_size, database_url,
                                                                                     engine):
    alpha, beta = _teams_and_tickets(engine, 60, 5)
    env = {"SUPPORTCTL_DATABASE_URL": database_url, "SUPPORTCTL_NOW": NOW.isoformat()}
    outcomes = run_at_once(["queue", "assign", "--team", "alpha", "--format", "json"], env, processes=6,
                           timeout=120, patch=("supportctl.services.assignment.queue", "BATCH_SIZE", batch_size))
    assert [code for code, _, _ in outcomes] == [0] * 6, [err for _, _, err in outcomes]
    reported = [row["id"] for _, out, _ in outcomes for row in json.loads(out)]
    assert sorted(reported) == alpha  # every alpha ticket by exactly one run
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*), count(DISTINCT ticket_id) FROM ticket_events "
                                   "WHERE kind = 'assigned'")).one()
        holders = dict(conn.execute(text(
            "SELECT t.id, a.email FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id")).all())
        order = list(conn.scalars(text("SELECT to_value->>'assignee_email' FROM ticket_events "
                                       "WHERE kind = 'assigned' ORDER BY id")))
    assert tuple(events) == (60, 60)
    counts = Counter(holders[i] for i in alpha)
    assert set(counts) == set(ALPHA)  # nobody outside alpha
    assert max(counts.values()) - min(counts.values()) <= 1  # 60 over 3: 20 each
    assert all(holders[i] is None for i in beta)  # --team alpha left beta's queue alone
    # Round-robin on alpha's cursor stays exact across the processes: every three turns reach all three.
    assert all(set(order[i:i + 3]) == set(ALPHA) for i in range(0, 60, 3)), order
