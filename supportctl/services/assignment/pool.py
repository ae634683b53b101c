"""The auto-assignment pool, the turn cursor, and handing tickets over, in SQL.

Who can be chosen automatically (docs/workflow.md, "Assignment"; docs/teams.md): active
agents who are not leads, not away, and below their capacity (open load = unresolved
tickets assigned to them, in every team); for a ticket of a team, only that team's
members, never anyone else. The turn order is the database's cursor: never assigned
first, then the lowest assignment sequence value (taken on every assignment, manual ones
too), ties by lowest id; a team's tickets follow the members' cursor of that team
(team_members.assignment_seq), the others the agents' own. ``last_assigned_at`` cannot
order turns: every write of a command carries the same whole second.

Locks, so that concurrent processes keep the rotation exact and never assign a ticket
twice: first the ticket row(s), then the agents in id order, then the team memberships
in (team, agent) order (``FOR UPDATE``), held to the end of the short transaction.
Everyone takes them in that order, so nobody deadlocks, and whoever chooses next sees
the cursors and load the previous one committed.

Everything here takes a DB-API cursor: the cron jobs' (db/direct.Batches) or an
interactive command's transaction (db/database.cursor_of), so one statement hands over
one ticket or a batch of 2000 alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from supportctl.db.bulk import unnest
from supportctl.db.query import iso_sql
from supportctl.domain import assignment
from supportctl.domain.assignment import Candidate, NoEligibleAgent
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
    """The locked agents who may be chosen (active, not leads, not away), and the teams'
    memberships with each member's cursor in that team."""

    agents: dict[int, Candidate]  # by id: their load, and their own cursor
    members: dict[int, dict[int, int | None]]  # team id -> agent id -> cursor in that team
    slugs: dict[int, str]

    def choose(self, strategy: Strategy, priority: str, team_id: int | None = None,
               exclude: int | None = None) -> Candidate:
        """Whose turn it is (domain.assignment.choose), among the team's members when the
        ticket has a team, never the agent `exclude`; NoEligibleAgent (naming the team) when nobody's."""
        if team_id is None:
            return assignment.choose([c for c in self.agents.values() if c.id != exclude], strategy, priority)
        members = self.members.get(team_id, {})
        pool = [replace(self.agents[a], seq=seq) for a, seq in members.items() if a in self.agents and a != exclude]
        try:
            chosen = assignment.choose(pool, strategy, priority)
        except NoEligibleAgent as exc:
            raise NoEligibleAgent(f"no eligible agent in {self.slugs[team_id]}",
                                  hint=f"{exc.message}; members must be active, not leads, not away, under capacity"
                                  ) from None
        return self.agents[chosen.id]

    def took(self, candidate: Candidate, seq: int, team_id: int | None = None) -> None:
        """The candidate was just given a ticket: their load and turns move on for the next choice."""
        candidate.load += 1
        candidate.seq = seq
        if team_id is not None and candidate.id in self.members.get(team_id, {}):
            self.members[team_id][candidate.id] = seq


def lock_pool(cursor: Any, now: datetime, teams: set[int] = frozenset()) -> Pool:
    """Lock the auto-assignable agents in id order, then these teams' memberships in (team, agent)
    order (the deadlock-free order), with every agent's open load."""
    cursor.execute(
        "SELECT a.id, a.email, a.role, a.capacity, a.assignment_seq, "
        "(SELECT count(*) FROM tickets t WHERE t.assignee_id = a.id AND t.status = ANY(%(unresolved)s)) "
        "FROM agents a WHERE a.active AND a.role <> %(lead)s AND (a.away_until IS NULL OR a.away_until <= %(now)s) "
        "ORDER BY a.id FOR UPDATE OF a",
        {"unresolved": UNRESOLVED, "lead": Role.LEAD.value, "now": now},
    )
    agents = {row[0]: Candidate(*row) for row in cursor.fetchall()}
    members: dict[int, dict[int, int | None]] = {team: {} for team in teams}
    slugs: dict[int, str] = {}
    if teams:
        cursor.execute("SELECT m.team_id, m.agent_id, m.assignment_seq FROM team_members m "
                       "WHERE m.team_id = ANY(%(teams)s) ORDER BY m.team_id, m.agent_id FOR UPDATE",
                       {"teams": sorted(teams)})
        for team, agent, seq in cursor.fetchall():
            members[team][agent] = seq
        cursor.execute("SELECT id, slug FROM teams WHERE id = ANY(%(teams)s)", {"teams": sorted(teams)})
        slugs = dict(cursor.fetchall())
    return Pool(agents, members, slugs)


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
    notify_at: datetime | None = None  # the mail's first attempt (a ladder's quiet hours); None: now


_COLUMNS = (("ticket_id", "bigint"), ("agent_id", "bigint"), ("seq", "bigint"), ("previous", "text"),
            ("strategy", "text"), ("notify_at", "timestamptz"))


def hand_over(cursor: Any, now: datetime, actor: str, handovers: list[Handover], *, mail: bool = True,
              ) -> list[Assignment]:
    """Give each ticket to its agent in one statement: the assignee (the first response, if none
    yet and the ticket's policy counts assignments), the agents' cursors, an `assigned` event
    each, and (unless not mail) the agent's ticket_assigned mail."""
    if not handovers:
        return []
    batch, params = unnest("u", _COLUMNS, [
        (h.ticket_id, h.agent_id, h.seq, h.previous, h.strategy.value if h.strategy else None, h.notify_at)
        for h in handovers
    ])
    cursor.execute(_HAND_OVER.format(batch=batch, due=iso_sql("m.response_due_at"),
                                     resolution=iso_sql("m.resolution_due_at")),
                   {**params, "now": now, "actor": actor, "mail": mail})
    return [Assignment(*row) for row in cursor.fetchall()]


_HAND_OVER = """
WITH u AS (SELECT * FROM {batch}),
moved AS (  -- an assignment is the first response, unless the ticket's policy counts only replies
    UPDATE tickets t SET assignee_id = u.agent_id, updated_at = %(now)s,
                         first_response_at = CASE WHEN p.first_response = 'any'
                                                  THEN coalesce(t.first_response_at, %(now)s)
                                                  ELSE t.first_response_at END
    FROM u, sla_policies p WHERE t.id = u.ticket_id AND p.id = t.sla_policy_id
    RETURNING t.id, t.title, t.priority, t.status, t.response_due_at, t.resolution_due_at
),
turns AS (
    UPDATE agents a SET last_assigned_at = %(now)s, assignment_seq = s.seq
    FROM (SELECT agent_id, max(seq) AS seq FROM u GROUP BY agent_id) AS s WHERE a.id = s.agent_id
),
team_turns AS (  -- a member's cursor in the ticket's team (manual assignments move it too)
    UPDATE team_members tm SET last_assigned_at = %(now)s, assignment_seq = s.seq
    FROM (SELECT t.team_id, u.agent_id, max(u.seq) AS seq FROM u JOIN tickets t ON t.id = u.ticket_id
          WHERE t.team_id IS NOT NULL GROUP BY t.team_id, u.agent_id) AS s
    WHERE tm.team_id = s.team_id AND tm.agent_id = s.agent_id
),
done AS (
    SELECT u.n, m.*, g.email, g.name, u.previous, u.strategy, u.notify_at
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
               'resolution_due_at', {resolution}), 'pending', 0, coalesce(m.notify_at, %(now)s)
    FROM done m WHERE %(mail)s ORDER BY n
)
SELECT id, title, priority, email, previous, strategy FROM done ORDER BY n
"""
