"""The `sla_breached` events `queue escalate` writes: one per SLA cycle, the first run
after it became breached (docs/workflow.md, "Escalation")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportctl.db.query import iso_sql
from supportctl.services.sla import rules
from supportctl.services.tickets.filters import TicketFilter, where

# queue escalate: each newly breached cycle gets its `sla_breached` event once. The cycles
# are locked SKIP LOCKED and re-checked after the lock (READ COMMITTED re-evaluates the
# WHERE on the row another run just noted), so two hosts never write the same breach. The
# event's foreign key takes KEY SHARE on its ticket, which waits for whoever is changing
# it: taken here SKIP LOCKED too, so a ticket someone holds is noted by the next run, and
# no run ever waits.
_NOTE = """
WITH picked AS (
    SELECT c.ticket_id, c.metric, c.cycle FROM sla_cycles c JOIN tickets t ON t.id = c.ticket_id
    WHERE c.breach_noted_at IS NULL AND {breached} {scope}
    ORDER BY c.due_at LIMIT %(size)s FOR UPDATE OF c SKIP LOCKED FOR KEY SHARE OF t SKIP LOCKED
), noted AS (
    UPDATE sla_cycles c SET breach_noted_at = %(now)s FROM picked p
    WHERE (c.ticket_id, c.metric, c.cycle) = (p.ticket_id, p.metric, p.cycle)
    RETURNING c.ticket_id, c.metric, c.cycle, c.policy, c.due_at
)
INSERT INTO ticket_events (ticket_id, at, actor, kind, from_value, to_value)
SELECT n.ticket_id, %(now)s, %(actor)s, 'sla_breached', NULL,
       jsonb_build_object('metric', n.metric, 'cycle', n.cycle, 'policy', n.policy, 'due_at', {due})
FROM noted n
"""


def note_breaches(cursor: Any, now: datetime, actor: str, size: int, scope: TicketFilter = TicketFilter()) -> int:
    """Write the `sla_breached` event of up to `size` breached cycles not yet noted; how many."""
    clause, params = where(cursor, scope, now)
    cursor.execute(_NOTE.format(breached=rules.cycle_breached("%(now)s"), scope=clause.replace("WHERE", "AND", 1),
                                due=iso_sql("n.due_at")),
                   {**params, "now": now, "actor": actor, "size": size})
    return cursor.rowcount
