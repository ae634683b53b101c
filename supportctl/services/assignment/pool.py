"""The auto-assignment pool, the turn cursor, and handing tickets over, in SQL.

Who can be chosen automatically (docs/workflow.md, "Assignment"): active agents who
are not leads and are below their capacity (open load = unresolved tickets assigned
to them). The turn order is the database's cursor: never assigned first, then the
lowest ``agents.assignment_seq`` (the next value of a sequence, taken on every
assignment, manual ones too), ties by lowest id. ``last_assigned_at`` cannot order
turns: every write of a command carries the same whole second.

Locks, so that concurrent processes keep the rotation exact and never assign a ticket
twice: first the ticket row(s), then the agents, in id order (``FOR UPDATE``), held to
the end of the short transaction. Everyone takes them in that order, so nobody
deadlocks, and whoever chooses next sees the cursor and load the previous one committed.

Everything here takes a DB-API cursor: the cron jobs' (db/direct.Batches) or an
interactive command's transaction (db/database.cursor_of), so one statement hands over
one ticket or a batch of 2000 alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportctl.db.bulk import unnest
from supportctl.db.query import iso_sql
from supportctl.domain import assignment
from supportctl.domain.assignment import Candidate
from supportctl.domain.enums import Role, Strategy
from supportctl.domain.lifecycle import UNRESOLVED


@dataclass(frozen=True)
class Assignment:
    """One ticket's change of hands: `ticket assign` / `queue assign` rows."""

    id: int
    title: str
    priority: str
    assignee_email: str | None
    previous_assignee_email: str | None
    strategy: str | None  # None for a manual assignment

    def row(self) -> dict:
        return {"id": self.id, "title": self.title, "priority": self.priority, "assignee_email": self.assignee_email,
                "previous_assignee_email": self.previous_assignee_email, "strategy": self.strategy}


@dataclass
class Pool:
    """The locked candidates, in id order."""

    candidates: list[Candidate]

    def choose(self, strategy: Strategy, priority: str) -> Candidate:
        """Whose turn it is (domain.assignment.choose); NoEligibleAgent when nobody's."""
        return assignment.choose(self.candidates, strategy, priority)

    @staticmethod
    def took(candidate: Candidate, seq: int) -> None:
        """The candidate was just given a ticket: their load and turn move on for the next choice."""
        candidate.load += 1
        candidate.seq = seq


def lock_pool(cursor: Any) -> Pool:
    """Lock every auto-assignable agent in id order (the deadlock-free order), with their load."""
    cursor.execute(
        "SELECT a.id, a.email, a.role, a.capacity, a.assignment_seq, "
        "(SELECT count(*) FROM tickets t WHERE t.assignee_id = a.id AND t.status = ANY(%(unresolved)s)) "
        "FROM agents a WHERE a.active AND a.role <> %(lead)s ORDER BY a.id FOR UPDATE OF a",
        {"unresolved": UNRESOLVED, "lead": Role.LEAD.value},
    )
    return Pool([Candidate(*row) for row in cursor.fetchall()])


def next_seqs(cursor: Any, count: int) -> list[int]:
    """`count` fresh cursor values, increasing, in one round trip."""
    cursor.execute("SELECT nextval('agent_assignment_seq') FROM generate_series(1, %s)", (count,))
    return sorted(seq for (seq,) in cursor.fetchall())


@dataclass(frozen=True)
class Handover:
    ticket_id: int
    agent_id: int
    seq: int  # the agent's new turn
    previous: str | None  # who had the ticket (for the history)
    strategy: Strategy | None = None


_COLUMNS = (("ticket_id", "bigint"), ("agent_id", "bigint"), ("seq", "bigint"), ("previous", "text"),
            ("strategy", "text"))


def hand_over(cursor: Any, now: datetime, actor: str, handovers: list[Handover]) -> list[Assignment]:
    """Give each ticket to its agent in one statement: the assignee (the first response, if none
    yet), the agents' cursors, an `assigned` event each, and the agent's ticket_assigned mail."""
    if not handovers:
        return []
    batch, params = unnest("u", _COLUMNS, [
        (h.ticket_id, h.agent_id, h.seq, h.previous, h.strategy.value if h.strategy else None) for h in handovers
    ])
    cursor.execute(_HAND_OVER.format(batch=batch, due=iso_sql("m.response_due_at"),
                                     resolution=iso_sql("m.resolution_due_at")),
                   {**params, "now": now, "actor": actor})
    return [Assignment(*row) for row in cursor.fetchall()]


_HAND_OVER = """
WITH u AS (SELECT * FROM {batch}),
moved AS (
    UPDATE tickets t SET assignee_id = u.agent_id, first_response_at = coalesce(t.first_response_at, %(now)s),
                         updated_at = %(now)s
    FROM u WHERE t.id = u.ticket_id
    RETURNING t.id, t.title, t.priority, t.status, t.response_due_at, t.resolution_due_at
),
turns AS (
    UPDATE agents a SET last_assigned_at = %(now)s, assignment_seq = s.seq
    FROM (SELECT agent_id, max(seq) AS seq FROM u GROUP BY agent_id) AS s WHERE a.id = s.agent_id
),
done AS (
    SELECT u.n, m.*, g.email, g.name, u.previous, u.strategy
    FROM u JOIN moved m ON m.id = u.ticket_id JOIN agents g ON g.id = u.agent_id
),
logged AS (
    INSERT INTO ticket_events (ticket_id, at, actor, kind, from_value, to_value)
    SELECT id, %(now)s, %(actor)s, 'assigned', jsonb_build_object('assignee_email', previous),
           jsonb_strip_nulls(jsonb_build_object('assignee_email', email, 'strategy', strategy))
    FROM done ORDER BY n
),
mailed AS (
    INSERT INTO notifications (created_at, recipient, template, data, status, attempts, next_attempt_at)
    SELECT %(now)s, m.email, 'ticket_assigned', jsonb_build_object(
               'ticket_id', m.id, 'title', m.title, 'priority', m.priority, 'status', m.status,
               'agent_email', m.email, 'agent_name', m.name, 'response_due_at', {due},
               'resolution_due_at', {resolution}), 'pending', 0, %(now)s
    FROM done m ORDER BY n
)
SELECT id, title, priority, email, previous, strategy FROM done ORDER BY n
"""
