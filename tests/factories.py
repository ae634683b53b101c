"""Fast test data: rows written straight to the database, for tests that need many.

Tickets made here get due dates from the default 24x7 policy, as `ticket create` would.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from supportctl.domain.sla import DEFAULT_POLICY


def insert_tickets(engine: Engine, count: int, created_at: datetime, priority: str = "medium",
                   customer: str = "bulk@example.com") -> list[int]:
    response, resolution = DEFAULT_POLICY[priority]
    with engine.begin() as conn:
        customer_id = conn.execute(
            text("INSERT INTO customers (email, name, created_at) VALUES (:e, 'Bulk', :t) "
                 "ON CONFLICT (email) DO UPDATE SET name = excluded.name RETURNING id"),
            {"e": customer, "t": created_at},
        ).scalar_one()
        ids = conn.execute(
            text(
                "INSERT INTO tickets (title, priority, customer_id, created_at, updated_at, response_due_at, "
                "resolution_due_at) SELECT 'Bulk ticket ' || n, :p, :c, :t, :t, :rd, :sd "
                "FROM generate_series(1, :n) AS n RETURNING id"
            ),
            {"p": priority, "c": customer_id, "t": created_at, "rd": created_at + response,
             "sd": created_at + resolution, "n": count},
        ).scalars().all()
        conn.execute(
            text("INSERT INTO ticket_events (ticket_id, at, actor, kind) SELECT id, :t, 'factory', 'created' "
                 "FROM unnest(CAST(:ids AS bigint[])) AS id"),
            {"t": created_at, "ids": list(ids)},
        )
    return sorted(ids)


def days_ago(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)
