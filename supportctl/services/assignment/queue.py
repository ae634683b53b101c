"""`queue assign`: the cron run that gives every unassigned, unresolved ticket an agent.

Order: highest priority first, then oldest. Work goes in batches, each its own short
transaction: claim up to BATCH_SIZE tickets of one priority with ``FOR UPDATE SKIP
LOCKED`` (concurrent runs split the queue and never wait on each other's tickets),
lock the agent pool in id order (so the runs take turns choosing, and round-robin
stays exact across processes and hosts), choose, write, commit. A crash or a lock
timeout loses no finished batch and leaves no ticket half-assigned.

Each priority is walked with a keyset cursor (created_at, id), so tickets nobody can
take are looked at once per run, not claimed again batch after batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from typing import Any

from supportctl.db.direct import Batches
from supportctl.domain.assignment import NoEligibleAgent
from supportctl.domain.enums import Priority, Strategy
from supportctl.domain.lifecycle import UNRESOLVED
from supportctl.errors import SupportctlError
from supportctl.services import validation
from supportctl.services.assignment.pool import Assignment, Handover, hand_over, lock_pool, next_seqs
from supportctl.services.tickets.filters import TicketFilter, where

BATCH_SIZE = 200
HIGHEST_FIRST = [p.value for p in reversed(Priority)]


@dataclass(frozen=True)
class NotAssigned:
    id: int
    title: str
    priority: str
    reason: str
    teamed: bool  # a team's ticket waits for its team (exit 0); another for anyone (exit 4)


@dataclass
class Outcome:
    assigned: list[Assignment] = field(default_factory=list)
    not_assigned: list[NotAssigned] = field(default_factory=list)
    # A batch that failed (e.g. a lock timeout) after earlier batches were committed.
    error: SupportctlError | None = None

    @property
    def looked_at(self) -> int:
        return len(self.assigned) + len(self.not_assigned)


@dataclass(frozen=True)
class Position:
    """Where the run is in the queue: a priority level and the last (created_at, id) seen in it."""

    level: int = 0
    after: tuple[datetime, int] | None = None


@dataclass(frozen=True)
class Batch:
    assigned: list[Assignment]
    not_assigned: list[NotAssigned]
    next: Position


@dataclass(frozen=True)
class Claimed:
    id: int
    title: str
    priority: str
    created_at: datetime
    team_id: int | None


def claim(cursor: Any, priority: str, after: tuple[datetime, int] | None, size: int,
          scope: TicketFilter = TicketFilter(), now: datetime | None = None) -> list[Claimed]:
    """Lock up to `size` unassigned unresolved tickets of one priority (of the scope: --team,
    --no-team) that no other run holds."""
    clause, params = where(cursor, scope, now)
    cursor.execute(
        "SELECT t.id, t.title, t.priority, t.created_at, t.team_id FROM tickets t "
        "WHERE t.assignee_id IS NULL AND t.status = ANY(%(unresolved)s) AND t.priority = %(priority)s "
        + (clause.replace("WHERE", "AND", 1) + " " if clause else "")
        + ("AND (t.created_at, t.id) > (%(after_at)s, %(after_id)s) " if after is not None else "")
        + "ORDER BY t.created_at, t.id LIMIT %(size)s FOR UPDATE OF t SKIP LOCKED",
        {**params, "unresolved": UNRESOLVED, "priority": priority, "size": size,
         "after_at": after[0] if after else None, "after_id": after[1] if after else None},
    )
    return [Claimed(*row) for row in cursor.fetchall()]


def assign_batch(cursor: Any, now: datetime, actor: str, strategy: Strategy, at: Position,
                 size: int, scope: TicketFilter = TicketFilter()) -> Batch | None:
    """One batch in the caller's transaction; None when the queue is done."""
    level, after = at.level, at.after
    claimed: list[Claimed] = []
    while level < len(HIGHEST_FIRST):
        claimed = claim(cursor, HIGHEST_FIRST[level], after, size, scope, now)
        if claimed:
            break
        level, after = level + 1, None
    if not claimed:
        return None
    pool = lock_pool(cursor, now, {t.team_id for t in claimed if t.team_id is not None})
    seqs = iter(next_seqs(cursor, len(claimed)))
    handovers, not_assigned = [], []
    for ticket in claimed:
        try:
            candidate = pool.choose(strategy, ticket.priority, ticket.team_id)
        except NoEligibleAgent as exc:
            not_assigned.append(NotAssigned(ticket.id, ticket.title, ticket.priority, exc.message,
                                            ticket.team_id is not None))
            continue
        seq = next(seqs)
        handovers.append(Handover(ticket.id, candidate.id, seq, None, strategy))
        pool.took(candidate, seq, ticket.team_id)
    last = claimed[-1]
    return Batch(hand_over(cursor, now, actor, handovers), not_assigned, Position(level, (last.created_at, last.id)))


def run(batches: Batches, now: datetime, actor: str, *, strategy: str = Strategy.ROUND_ROBIN.value,
        limit: int | None = None, dry_run: bool = False, batch_size: int | None = None,
        team: str | None = None, no_team: bool = False) -> Outcome:
    """Batch after batch, each committed on its own, until the queue is done or `limit` tickets were looked at.

    A dry run does the same work in one transaction and rolls it back, so it lists
    exactly what a real run would do at this moment (sequence values it drew are
    skipped, which is harmless: only their order matters).
    """
    chosen = validation.choice(Strategy, strategy, "--strategy")
    scope = TicketFilter(team=team, no_team=no_team)
    batch_size = batch_size or BATCH_SIZE
    outcome = Outcome()
    at = Position()

    def batch(cursor: Any) -> Batch | None:
        size = batch_size if limit is None else min(batch_size, limit - outcome.looked_at)
        return assign_batch(cursor, now, actor, chosen, at, size, scope) if size > 0 else None

    def keep(done: Batch) -> None:
        nonlocal at
        outcome.assigned.extend(done.assigned)
        outcome.not_assigned.extend(done.not_assigned)
        at = done.next

    if dry_run:
        def every_batch(cursor: Any) -> None:
            while done := batch(cursor):
                keep(done)

        batches.rolled_back(every_batch)
        return outcome
    try:
        while done := batches.run(batch):
            keep(done)
    except SupportctlError as exc:
        if not outcome.looked_at:
            raise
        outcome.error = exc  # the finished batches stand; the caller reports them, then the error
    return outcome
