"""When a metric is breached, as SQL over the stored due dates (docs/sla.md, "Breaches").

One definition shared by the breach report, `ticket list --breached` and `queue
escalate`, written so that each predicate implies the partial index it is served by
(ix_tickets_response_due_unmet, ix_tickets_resolution_due_unmet,
ix_tickets_next_reply_due_unmet). `at` is the SQL of
the instant (a placeholder such as %(now)s); the ticket is `t`.

The same rule over an SLA cycle (sla_cycles, docs/sla.md "History"): `breached` is never
stored, it is an unmet cycle past due that was not paused before it, at `at`.
"""

from __future__ import annotations

from supportctl.domain.enums import Metric
from supportctl.domain.lifecycle import DONE

_DONE = ", ".join(f"'{s}'" for s in DONE)


def response_breached(at: str) -> str:
    return f"(t.first_response_at IS NULL AND t.response_due_at < {at})"


def resolution_breached(at: str) -> str:
    # A pending ticket's clock stands still, so it is breached only if it was already overdue
    # when it was paused.
    return (f"(t.resolved_at IS NULL AND t.status NOT IN ({_DONE}) AND t.resolution_due_at < {at}"
            " AND (t.paused_at IS NULL OR t.resolution_due_at < t.paused_at))")


def next_reply_breached(at: str) -> str:
    # A running cycle; like resolution it stands still while pending (and none runs once done).
    return (f"(t.next_reply_met_at IS NULL AND t.next_reply_due_at IS NOT NULL AND t.next_reply_due_at < {at} "
            f"AND t.status NOT IN ({_DONE}) AND (t.paused_at IS NULL OR t.next_reply_due_at < t.paused_at))")


def breached(at: str) -> str:
    """Any metric."""
    return f"({response_breached(at)} OR {resolution_breached(at)} OR {next_reply_breached(at)})"


UNMET_CYCLE = "('running', 'paused')"


def cycle_breached(at: str, c: str = "c") -> str:
    return (f"({c}.state IN {UNMET_CYCLE} AND {c}.due_at < {at} "
            f"AND ({c}.paused_at IS NULL OR {c}.due_at < {c}.paused_at))")


def cycle_state(at: str, c: str = "c") -> str:
    """The cycle's state at `at`: the stored one, or `breached`."""
    return f"CASE WHEN {cycle_breached(at, c)} THEN 'breached' ELSE {c}.state END"


def metric_order(column: str) -> str:
    """Metrics in their documented order (response, resolution, next reply), not alphabetically."""
    return "array_position(ARRAY[" + ", ".join(f"'{m.value}'" for m in Metric) + f"], {column})"
