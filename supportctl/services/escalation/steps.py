"""`queue escalate`'s ladder pass: every step that has come due fires exactly once
(docs/escalation.md).

A batch locks the tickets of running laddered cycles whose steps may have come due (FOR
UPDATE SKIP LOCKED: another host's tickets are left to it), reads what each cycle has
already fired or skipped, and decides on the cycle's own clock (domain/ladders.due). Then,
in the same transaction, it inserts one claim row per firing and per skipped step with ON
CONFLICT DO NOTHING: only the rows it inserted are carried out. The claim's primary key
(ticket, metric, cycle, step, repeat) is the exactly-once promise, whatever any other host
did in between; the ticket locks only keep hosts out of each other's way.

The SQL search is exact for 24x7 cycles; for cycles on a calendar it finds those whose wall
clock has run long enough (business time never runs faster), and the calendar decides.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from supportctl.db.bulk import unnest
from supportctl.domain.assignment import NoEligibleAgent
from supportctl.domain.enums import Priority, Role, Strategy
from supportctl.domain.ladders import Firing, Step, due
from supportctl.domain.lifecycle import DONE
from supportctl.domain.quiet import QuietHours
from supportctl.domain.timestamps import iso_z
from supportctl.services.assignment.pool import Handover, hand_over, lock_pool, next_seqs
from supportctl.services.escalation import effect, ladders
from supportctl.services.sla.policy import Book
from supportctl.services.tickets.filters import TicketFilter, where

BATCH_SIZE = 500
COLUMNS = ["id", "metric", "cycle", "ladder", "step", "action", "target", "repeat"]
_START = (datetime(1900, 1, 1, tzinfo=UTC), 0, "")

_CANDIDATES = """
SELECT c.ticket_id, c.metric, c.cycle, c.ladder, c.target_seconds, c.due_at, c.calendar
FROM sla_cycles c JOIN escalation_ladders l ON l.name = c.ladder JOIN tickets t ON t.id = c.ticket_id
WHERE c.ladder IS NOT NULL AND c.state = 'running' AND t.status <> ALL(%(done)s)
  AND (c.due_at, c.ticket_id, c.metric) > (%(after_due)s, %(after_id)s, %(after_metric)s)
  AND EXISTS (SELECT 1 FROM jsonb_to_recordset(l.steps) AS s(metric text, percent integer, "offset" integer)
              WHERE (s.metric IS NULL OR s.metric = c.metric)
                AND c.started_at + make_interval(secs => c.paused_seconds + greatest(0,
                        CASE WHEN s.percent IS NOT NULL THEN s.percent / 100.0 * c.target_seconds
                             ELSE c.target_seconds + s."offset" END)) <= %(now)s)
  AND (SELECT count(*) FROM ladder_firings f
       WHERE (f.ticket_id, f.metric, f.cycle) = (c.ticket_id, c.metric, c.cycle))
      < (SELECT sum(s.max) FROM jsonb_to_recordset(l.steps) AS s(metric text, max integer)
         WHERE s.metric IS NULL OR s.metric = c.metric)
  {scope}
ORDER BY c.due_at, c.ticket_id, c.metric LIMIT %(size)s
FOR UPDATE OF t SKIP LOCKED
"""

_CLAIMED = """
SELECT f.ticket_id, f.metric, f.cycle, f.step, f.repeat FROM ladder_firings f
JOIN {batch} ON (f.ticket_id, f.metric, f.cycle) = (k.ticket_id, k.metric, k.cycle)
"""

_CLAIM = """
INSERT INTO ladder_firings (ticket_id, metric, cycle, step, repeat, ladder, action, at, actor)
SELECT f.ticket_id, f.metric, f.cycle, f.step, f.repeat, f.ladder, f.action, %(now)s, %(actor)s
FROM {batch} ORDER BY f.n
ON CONFLICT DO NOTHING
RETURNING ticket_id, metric, cycle, step, repeat, action
"""

# A ticket as the actions need it: the escalation's fields (effect.plan), who holds it and
# whether they are here, and its team's lead.
_TICKETS = """
SELECT t.id, t.title, t.status, t.priority, t.escalation_level, t.created_at, t.reopened_at, t.paused_seconds,
       t.sla_policy_id, t.team_id, t.next_reply_started_at, t.next_reply_met_at, t.next_reply_paused_seconds,
       t.assignee_id, a.email AS assignee_email,
       a.active AND (a.away_until IS NULL OR a.away_until <= %(now)s) AS assignee_here, a.role AS assignee_role,
       CASE WHEN l.active AND (l.away_until IS NULL OR l.away_until <= %(now)s) THEN l.email END AS lead_email,
       c.email AS customer_email, tm.slug AS team
FROM tickets t JOIN customers c ON c.id = t.customer_id LEFT JOIN agents a ON a.id = t.assignee_id
LEFT JOIN teams tm ON tm.id = t.team_id LEFT JOIN agents l ON l.id = tm.lead_id
WHERE t.id = ANY(%(ids)s)
"""

_NOTIFY = """
INSERT INTO notifications (created_at, recipient, template, data, status, attempts, next_attempt_at)
SELECT %(now)s, m.recipient, 'escalation_step', m.data, 'pending', 0, m.at FROM {batch} ORDER BY m.n
"""

_EVENTS = """
INSERT INTO ticket_events (ticket_id, at, actor, kind, to_value)
SELECT v.ticket_id, %(now)s, v.actor, v.kind, v.data FROM {batch} ORDER BY v.n
"""


@dataclass(frozen=True)
class Done:
    """One action of a step (a `queue escalate` row); `skipped` for a step that will never fire."""

    id: int
    metric: str
    cycle: int
    ladder: str
    step: int
    repeat: int
    action: str
    target: str | None

    def row(self) -> dict:
        return {"id": self.id, "metric": self.metric, "cycle": self.cycle, "ladder": self.ladder, "step": self.step,
                "action": self.action, "target": self.target, "repeat": self.repeat}


@dataclass(frozen=True)
class _Cycle:
    ticket_id: int
    metric: str
    cycle: int
    ladder: str
    target_seconds: int
    due_at: datetime
    calendar: str | None


@dataclass
class Batch:
    done: list[Done]
    last: tuple | None  # the last cycle looked at (the next batch starts after it); None: no more


def _left(cycle: _Cycle, now: datetime, book: Book) -> float:
    """Seconds of the cycle's clock still to run; negative past due."""
    calendar = book.calendars.get(cycle.calendar) if cycle.calendar else None
    if calendar is None:
        return (cycle.due_at - now).total_seconds()
    if now <= cycle.due_at:
        return calendar.open_time_between(now, cycle.due_at).total_seconds()
    return -calendar.open_time_between(cycle.due_at, now).total_seconds()


def fire_batch(cursor: Any, now: datetime, actor: str, after: tuple, size: int = BATCH_SIZE,
               scope: TicketFilter = TicketFilter()) -> Batch:
    """Fire (and skip) the due steps of up to `size` cycles after `after`, in the caller's transaction."""
    clause, params = where(cursor, scope, now)
    cursor.execute(_CANDIDATES.format(scope=clause.replace("WHERE", "AND", 1)),
                   {**params, "now": now, "done": DONE, "size": size, "after_due": after[0],
                    "after_id": after[1], "after_metric": after[2]})
    cycles = [_Cycle(*row) for row in cursor.fetchall()]
    if not cycles:
        return Batch([], None)
    last = (cycles[-1].due_at, cycles[-1].ticket_id, cycles[-1].metric)
    batch, keys = unnest("k", (("ticket_id", "bigint"), ("metric", "text"), ("cycle", "integer")),
                         [(c.ticket_id, c.metric, c.cycle) for c in cycles])
    cursor.execute(_CLAIMED.format(batch=batch), keys)
    claimed: dict[tuple, set[Firing]] = defaultdict(set)
    for ticket_id, metric, number, step, repeat in cursor.fetchall():
        claimed[ticket_id, metric, number].add(Firing(step, repeat))
    book, ladder_of = Book.read(cursor), ladders.read(cursor)
    claims = []
    for c in cycles:
        fire, skip = due(ladder_of[c.ladder].steps, c.metric, c.target_seconds, _left(c, now, book),
                         claimed[c.ticket_id, c.metric, c.cycle])
        claims += [(c.ticket_id, c.metric, c.cycle, f.step, f.repeat, c.ladder, "fired") for f in fire]
        claims += [(c.ticket_id, c.metric, c.cycle, f.step, f.repeat, c.ladder, "skipped") for f in skip]
    if not claims:
        return Batch([], last)
    batch, params = unnest("f", (("ticket_id", "bigint"), ("metric", "text"), ("cycle", "integer"),
                                 ("step", "integer"), ("repeat", "integer"), ("ladder", "text"), ("action", "text")),
                           claims)
    cursor.execute(_CLAIM.format(batch=batch), {**params, "now": now, "actor": actor})
    won = {(t, m, n, s, r): action for t, m, n, s, r, action in cursor.fetchall()}
    ladder_by = {(c.ticket_id, c.metric, c.cycle): c.ladder for c in cycles}
    fired = [(key, ladder_by[key[:3]]) for key, action in won.items() if action == "fired"]
    skipped = [(key, ladder_by[key[:3]]) for key, action in won.items() if action == "skipped"]
    done = _skip(cursor, now, actor, skipped, fired, ladder_of)
    done += _carry_out(cursor, now, actor, fired, ladder_of, book)
    return Batch(done, last)


def _step(ladder_of: dict[str, ladders.Ladder], name: str, number: int) -> Step:
    return ladder_of[name].steps[number - 1]


def _by(actor: str, ladder: str, step: int) -> str:
    return f"{actor} (ladder {ladder} step {step})"


def _skip(cursor: Any, now: datetime, actor: str, skipped: list, fired: list,
          ladder_of: dict[str, ladders.Ladder]) -> list[Done]:
    """The `ladder_step_skipped` events: a later step of the cycle fired instead."""
    if not skipped:
        return []
    instead = {key[:3]: key[3] for key, _ in fired}
    events = []
    for (ticket_id, metric, cycle, step, repeat), ladder in sorted(skipped):
        events.append((ticket_id, _by(actor, ladder, step), "ladder_step_skipped", json.dumps({
            "ladder": ladder, "step": step, "repeat": repeat, "metric": metric, "cycle": cycle,
            "at": _step(ladder_of, ladder, step).at, "superseded_by": instead.get((ticket_id, metric, cycle))})))
    _write_events(cursor, now, events)
    return [Done(t, m, c, ladder, s, r, "skipped", None) for (t, m, c, s, r), ladder in sorted(skipped)]


def _write_events(cursor: Any, now: datetime, events: list[tuple]) -> None:
    if events:
        batch, params = unnest("v", (("ticket_id", "bigint"), ("actor", "text"), ("kind", "text"),
                                     ("data", "jsonb")), events)
        cursor.execute(_EVENTS.format(batch=batch), {**params, "now": now})


def _carry_out(cursor: Any, now: datetime, actor: str, fired: list, ladder_of: dict[str, ladders.Ladder],
               book: Book) -> list[Done]:
    """The fired steps' actions, in rounds of one step per ticket (a ticket whose response and
    resolution steps fire together is escalated twice, one after the other)."""
    queue: dict[int, list] = defaultdict(list)
    for key, ladder in sorted(fired):
        queue[key[0]].append((key, ladder))
    quiet = ladders.quiet_hours(cursor)
    done: list[Done] = []
    while queue:
        round_ = [steps.pop(0) for steps in queue.values()]
        queue = {t: steps for t, steps in queue.items() if steps}
        done += _round(cursor, now, actor, round_, ladder_of, book, quiet)
    return done


def _round(cursor: Any, now: datetime, actor: str, fired: list, ladder_of: dict[str, ladders.Ladder], book: Book,
           quiet: QuietHours | None) -> list[Done]:
    cursor.execute(_TICKETS, {"ids": [key[0] for key, _ in fired], "now": now})
    names = [d.name for d in cursor.description]
    tickets = {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}
    work = []
    for key, ladder in fired:
        ticket = tickets[key[0]]
        # Quiet hours hold the step's mails, unless the ticket was of an exempt priority before it.
        held = quiet.release(now, ticket["priority"]) if quiet else now
        work.append((key, ladder, _step(ladder_of, ladder, key[3]), ticket, held))
    targets: dict[tuple, list[tuple[str, str | None]]] = defaultdict(list)
    escalations = []
    for key, ladder, step, ticket, held in work:
        if step.escalate:
            fields = SimpleNamespace(**ticket)  # the attributes effect.plan and Book.clock_of read
            plan = effect.plan(fields, book.clock_of(fields), key[1],
                               f"ladder {ladder} step {step.number}: {key[1]} at {step.at}",
                               actor=_by(actor, ladder, step.number), notify_at=held)
            escalations.append(plan)
            targets[key].append(("escalate", plan.priority))
    effect.apply(cursor, now, actor, escalations)
    moved = _reassign(cursor, now, actor, [w for w in work if w[2].reassign])
    for key, ladder, step, ticket, held in work:
        if step.reassign:
            targets[key].append(("reassign", moved.get(key[0])))
    notes, events = [], []
    leads = _leads(cursor, now) if any(w[2].notify for w in work) else []
    for key, ladder, step, ticket, held in work:
        ticket = {**ticket, "assignee_email": moved.get(key[0], ticket["assignee_email"])}
        if key[0] in moved:
            ticket["assignee_here"] = True
        recipients = list(dict.fromkeys(e for target in step.notify for e in _recipients(target, ticket, leads)))
        for email in recipients:
            notes.append((email, held, json.dumps(_mail(ticket, key, ladder, step))))
        if step.notify:  # nobody to tell (no lead at all): the row says so with no target
            targets[key] += [("notify", email) for email in recipients] or [("notify", None)]
        events.append((key[0], _by(actor, ladder, step.number), "ladder_step_fired", json.dumps({
            "ladder": ladder, "step": step.number, "repeat": key[4], "metric": key[1], "cycle": key[2],
            "at": step.at, "actions": [f"{a}={t}" if t else a for a, t in targets[key]],
            **({"held_until": iso_z(held)} if recipients and held > now else {})})))
    if notes:
        batch, params = unnest("m", (("recipient", "text"), ("at", "timestamptz"), ("data", "jsonb")), notes)
        cursor.execute(_NOTIFY.format(batch=batch), {**params, "now": now})
    _write_events(cursor, now, events)
    return [Done(key[0], key[1], key[2], ladder, key[3], key[4], action, target)
            for key, ladder, *_ in work for action, target in targets[key]]


def _leads(cursor: Any, now: datetime) -> list[str]:
    cursor.execute("SELECT email FROM agents WHERE active AND role = %s "
                   "AND (away_until IS NULL OR away_until <= %s) ORDER BY id", (Role.LEAD.value, now))
    return [email for (email,) in cursor.fetchall()]


def _recipients(target: str, ticket: dict, leads: list[str]) -> list[str]:
    """Who `notify=target` reaches: an absent (away, inactive) or missing assignee is
    replaced by the team's lead, a missing or absent team lead by every lead."""
    if target == "leads":
        return leads
    if target == "assignee" and ticket["assignee_email"] and ticket["assignee_here"]:
        return [ticket["assignee_email"]]
    if target in ("assignee", "lead"):
        return [ticket["lead_email"]] if ticket["lead_email"] else leads
    return [target]


def _mail(ticket: dict, key: tuple, ladder: str, step: Step) -> dict:
    return {"ticket_id": ticket["id"], "title": ticket["title"], "status": ticket["status"],
            "priority": ticket["priority"], "metric": key[1], "cycle": key[2], "ladder": ladder,
            "step": step.number, "at": step.at, "assignee_email": ticket["assignee_email"],
            "customer_email": ticket["customer_email"], "team": ticket["team"]}


def _reassign(cursor: Any, now: datetime, actor: str, work: list) -> dict[int, str]:
    """`reassign=`: the new assignee's email by ticket, for those that changed hands.

    The tickets are locked; the agents are locked after them, the order every assignment
    takes. `senior` keeps a senior who is here; `team` gives it to the team's next member
    (round robin) other than its holder; an email to that agent if they are here.
    """
    if not work:
        return {}
    teams = {w[3]["team_id"] for w in work if w[3]["team_id"] is not None}
    pool = lock_pool(cursor, now, teams)
    by_email = {c.email: c for c in pool.agents.values()}
    chosen: list[tuple[tuple, dict, Any, str, datetime]] = []  # (key, ticket, agent, actor, mails at)
    for key, ladder, step, ticket, held in work:
        holder = ticket["assignee_id"] if ticket["assignee_here"] else None
        try:
            if step.reassign == "senior":
                if holder is not None and ticket["assignee_role"] == Role.SENIOR.value:
                    continue
                agent = pool.choose(Strategy.BY_PRIORITY, Priority.CRITICAL.value, ticket["team_id"])
            elif step.reassign == "team":
                agent = pool.choose(Strategy.ROUND_ROBIN, ticket["priority"], ticket["team_id"], exclude=holder)
            else:
                agent = by_email.get(step.reassign)
                if agent is None or agent.id == holder:
                    continue
        except NoEligibleAgent:
            continue  # nobody free: it stays where it is, the row says so
        chosen.append((key, ticket, agent, _by(actor, ladder, step.number), held))
    if not chosen:
        return {}
    seqs = iter(next_seqs(cursor, len(chosen)))
    given: dict[int, str] = {}
    for by in dict.fromkeys(c[3] for c in chosen):  # hand_over writes one actor per call
        handovers = []
        for key, ticket, agent, who, held in chosen:
            if who != by:
                continue
            seq = next(seqs)
            handovers.append(Handover(ticket["id"], agent.id, seq, ticket["assignee_email"], None, held))
            pool.took(agent, seq, ticket["team_id"])
        given.update({a.id: a.assignee_email for a in hand_over(cursor, now, by, handovers)})
    return given


def run(batches: Any, now: datetime, actor: str, *, dry_run_cursor: Any = None, batch_size: int | None = None,
        scope: TicketFilter = TicketFilter()) -> list[Done]:
    """Every due step, batch after batch (each its own transaction), or in the dry run's
    one transaction when `dry_run_cursor` is given."""
    batch_size = batch_size or BATCH_SIZE
    done: list[Done] = []
    after = _START
    while True:
        if dry_run_cursor is not None:
            batch = fire_batch(dry_run_cursor, now, actor, after, batch_size, scope)
        else:
            batch = batches.run(lambda cursor: fire_batch(cursor, now, actor, after, batch_size, scope))
        done += batch.done
        if batch.last is None:
            return done
        after = batch.last
