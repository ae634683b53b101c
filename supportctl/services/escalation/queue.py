"""`queue escalate`: the cron run that is safe to repeat and to run on several hosts.

The rule (docs/workflow.md, "Escalation"): a ticket is escalated when it is unresolved,
a metric is breached, and it was not escalated within the re-escalation interval (the
response target of its current priority, counted from its last escalation).

Each batch is claimed with ``FOR UPDATE SKIP LOCKED``, written with one statement
(escalation/effect.py) and committed, so concurrent runs split the work, nobody waits on
another run's rows, and a crash loses no finished batch. It runs on psycopg2 alone
(db/direct.Batches): no ORM object is made for a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from supportctl.db.direct import Batches
from supportctl.domain.assignment import NoEligibleAgent
from supportctl.domain.enums import Priority, Role, Strategy
from supportctl.domain.lifecycle import DONE
from supportctl.services.assignment.pool import Handover, hand_over, lock_pool, next_seqs
from supportctl.services.escalation import breaches, effect, ladders, steps
from supportctl.services.escalation.effect import Escalation
from supportctl.services.sla import rules
from supportctl.services.sla.policy import Book
from supportctl.services.tickets.filters import TicketFilter, where

BATCH_SIZE = 2000
_FIELDS = ("id", "title", "priority", "escalation_level", "created_at", "reopened_at", "paused_seconds",
           "sla_policy_id", "team_id", "next_reply_started_at", "next_reply_met_at", "next_reply_paused_seconds",
           "metric", "due_at")


# A ticket whose running SLA cycle follows a ladder is escalated by its steps alone (steps.py).
_NOT_LADDERED = ("AND NOT EXISTS (SELECT 1 FROM sla_cycles lc WHERE lc.ticket_id = t.id AND lc.ladder IS NOT NULL "
                 "AND lc.state IN ('running', 'paused')) ")


def claim_batch(cursor: Any, now: datetime, size: int, scope: TicketFilter = TicketFilter(),
                ladders_exist: bool = False) -> list[SimpleNamespace]:
    """Lock up to `size` tickets due for escalation that no other run holds; most overdue first.

    The re-escalation interval is read from the ticket's policy targets in the same statement:
    the policies the batch escalates by are read only after its rows are locked (see
    escalate_batch). The metric named is the first breached of response, resolution, next reply.
    """
    response = rules.response_breached("%(now)s")
    resolution = rules.resolution_breached("%(now)s")
    clause, params = where(cursor, scope, now)
    cursor.execute(
        f"SELECT t.id, t.title, t.priority, t.escalation_level, t.created_at, t.reopened_at, t.paused_seconds, "
        f"t.sla_policy_id, t.team_id, t.next_reply_started_at, t.next_reply_met_at, t.next_reply_paused_seconds, "
        f"CASE WHEN {response} THEN 'response' WHEN {resolution} THEN 'resolution' ELSE 'next_reply' END AS metric, "
        f"CASE WHEN {response} THEN t.response_due_at WHEN {resolution} THEN t.resolution_due_at "
        f"ELSE t.next_reply_due_at END AS due_at "
        f"FROM tickets t JOIN sla_targets st ON st.policy_id = t.sla_policy_id AND st.priority = t.priority "
        f"WHERE t.status <> ALL(%(done)s) AND {rules.breached('%(now)s')} {clause.replace('WHERE', 'AND', 1)} "
        f"AND (t.last_escalated_at IS NULL OR t.last_escalated_at + make_interval(secs => st.response_seconds) "
        f"<= %(now)s) {_NOT_LADDERED if ladders_exist else ''}"
        f"ORDER BY due_at, t.id LIMIT %(size)s FOR UPDATE OF t SKIP LOCKED",
        {**params, "now": now, "done": DONE, "size": size},
    )
    return [SimpleNamespace(**dict(zip(_FIELDS, row))) for row in cursor.fetchall()]


def escalate_batch(cursor: Any, now: datetime, actor: str, size: int = BATCH_SIZE,
                   reassign: bool = False, scope: TicketFilter = TicketFilter(),
                   ladders_exist: bool = False) -> list[Escalation]:
    """Escalate one batch in the caller's transaction; an empty list means the queue is done."""
    claimed = claim_batch(cursor, now, size, scope, ladders_exist)
    if not claimed:
        return []
    # After the claim: its row locks hold off `sla set` and `sla calendar` (they lock tickets
    # EXCLUSIVE), so the policy read now is the one in force until this batch commits.
    book = Book.read(cursor)
    done = [effect.plan(t, book.clock_of(t), t.metric, effect.breach_reason(t.metric, t.due_at)) for t in claimed]
    if reassign:
        done = _give_critical_to_seniors(cursor, now, actor, done)
    effect.apply(cursor, now, actor, done)
    return done


def _give_critical_to_seniors(cursor: Any, now: datetime, actor: str, done: list[Escalation]) -> list[Escalation]:
    """--reassign: a ticket escalated to critical goes to a senior (by-priority) unless it has one.

    The tickets are already locked; the agents are locked after them, the order every
    assignment takes, so this cannot deadlock with a concurrent `queue assign`. Who holds
    each ticket is read now, after its lock.
    """
    critical = [e.id for e in done if e.priority == Priority.CRITICAL.value]
    if not critical:
        return done
    # An away assignee is as good as none.
    cursor.execute("SELECT t.id, a.email, t.team_id FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id "
                   "WHERE t.id = ANY(%(ids)s) AND (a.id IS NULL OR a.role <> %(senior)s OR a.away_until > %(now)s)",
                   {"ids": critical, "senior": Role.SENIOR.value, "now": now})
    holders = {ticket: (email, team) for ticket, email, team in cursor.fetchall()}
    if not holders:
        return done
    pool, handovers = lock_pool(cursor, now, {team for _, team in holders.values() if team is not None}), {}
    seqs = iter(next_seqs(cursor, len(holders)))
    for e in done:
        if e.id not in holders:
            continue
        holder, team = holders[e.id]
        try:
            chosen = pool.choose(Strategy.BY_PRIORITY, Priority.CRITICAL.value, team)
        except NoEligibleAgent:
            continue  # it stays escalated; `queue assign` reports who cannot take it
        seq = next(seqs)
        handovers[e.id] = Handover(e.id, chosen.id, seq, holder, Strategy.BY_PRIORITY)
        pool.took(chosen, seq, team)
    given = {a.id: a.assignee_email for a in hand_over(cursor, now, actor, list(handovers.values()))}
    return [e.reassigned(given[e.id]) if e.id in given else e for e in done]


@dataclass(frozen=True)
class Run:
    escalated: list[Escalation]
    breaches_noted: int  # cycles whose `sla_breached` event this run wrote
    steps: list[steps.Done] | None = None  # the ladders' actions; None: there is no ladder

    def rows(self) -> list[dict]:
        """With ladders, one row per action (docs/escalation.md): the one-step escalations of
        tickets that follow no ladder are `escalate` rows without a ladder."""
        if self.steps is None:
            return [e.row() for e in self.escalated]
        return [s.row() for s in self.steps] + [
            steps.Done(e.id, e.metric, None, None, None, None, "escalate", e.priority).row() for e in self.escalated]


def run(batches: Batches, now: datetime, actor: str, *, limit: int | None = None, dry_run: bool = False,
        reassign: bool = False, batch_size: int = BATCH_SIZE, team: str | None = None,
        no_team: bool = False) -> Run:
    """`queue escalate`: the escalations, then the `sla_breached` event of every cycle newly
    breached (an escalation's shorter targets may have just breached some); batch after
    batch, each its own transaction, until nothing is left. Whatever runs were killed on
    the way, the next one ends in the state of a run never interrupted.

    A dry run escalates in one transaction and rolls it back, so it lists exactly what a
    real run would escalate; it writes down no breach.
    """
    done: list[Escalation] = []
    scope = TicketFilter(team=team, no_team=no_team)
    laddered = batches.run(ladders.any_ladder)

    def batch(cursor: Any) -> list[Escalation]:
        size = batch_size if limit is None else min(batch_size, limit - len(done))
        return escalate_batch(cursor, now, actor, size, reassign, scope, laddered) if size > 0 else []

    if dry_run:
        def every_batch(cursor: Any) -> list[steps.Done] | None:
            fired = steps.run(batches, now, actor, dry_run_cursor=cursor, scope=scope) if laddered else None
            while chunk := batch(cursor):
                done.extend(chunk)
            return fired

        return Run(done, 0, batches.rolled_back(every_batch))
    # The ladders' steps first: a step's escalation is due at its own time, not the breach's.
    fired = steps.run(batches, now, actor, scope=scope) if laddered else None
    while chunk := batches.run(batch):
        done.extend(chunk)
    noted = 0
    while count := batches.run(lambda cursor: breaches.note_breaches(cursor, now, actor, batch_size, scope)):
        noted += count
    return Run(done, noted, fired)
