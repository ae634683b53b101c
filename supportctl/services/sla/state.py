"""A ticket's SLA state at `now`: per metric, running, paused, met, met late or breached.

The rules are docs/sla.md's; the classification itself is domain.sla.metric_state.
"""

from __future__ import annotations

from datetime import datetime

from supportctl.db.models import Ticket
from supportctl.domain import sla
from supportctl.services.sla.policy import Policy
from supportctl.services.views import MetricView, SlaView


def _metric(met_at: datetime | None, due_at: datetime, now: datetime, paused_since: datetime | None,
            policy: Policy, ticket: Ticket) -> MetricView:
    effective_due = due_at
    if paused_since is not None and met_at is None and due_at >= paused_since:
        # While pending the resolution clock stands still, so its due time moves with now.
        effective_due = policy.due_dates(
            ticket.created_at, ticket.priority,
            ticket.paused_seconds + int(policy.elapsed(paused_since, now).total_seconds()),
        )[1]
    state = sla.metric_state(met_at, effective_due, now, paused=paused_since is not None)
    return MetricView(state=state, due_at=effective_due, remaining_seconds=int((effective_due - now).total_seconds()))


def sla_view(ticket: Ticket, policy: Policy, now: datetime) -> SlaView:
    """Both metrics at `now`. Only resolution pauses."""
    return SlaView(
        response=_metric(ticket.first_response_at, ticket.response_due_at, now, None, policy, ticket),
        resolution=_metric(ticket.resolved_at, ticket.resolution_due_at, now, ticket.paused_at, policy, ticket),
    )
