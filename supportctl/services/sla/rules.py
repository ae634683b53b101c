"""When a metric is breached, as SQL over the stored due dates (docs/sla.md, "Breaches").

One definition shared by the breach report, `ticket list --breached` and `queue
escalate`, written so that each predicate implies the partial index it is served by
(ix_tickets_response_due_unmet, ix_tickets_resolution_due_unmet,
ix_tickets_next_reply_due_unmet). `at` is the SQL of
the instant (a placeholder such as %(now)s); the ticket is `t`.
"""

from __future__ import annotations

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
