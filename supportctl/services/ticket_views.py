"""From rows to views: tickets with their SLA state, comments, history."""

from __future__ import annotations

from datetime import datetime

from supportctl.db.models import Comment, Ticket, TicketEvent
from supportctl.domain import sla
from supportctl.services.policy import Policy
from supportctl.services.views import CommentView, EventView, MetricView, SlaView, TicketView


def _metric(met_at: datetime | None, due_at: datetime, now: datetime, paused_since: datetime | None, policy: Policy, ticket: Ticket) -> MetricView:
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
    """Both metrics at `now` (PRODUCT.md §3, §7). Only resolution pauses."""
    return SlaView(
        response=_metric(ticket.first_response_at, ticket.response_due_at, now, None, policy, ticket),
        resolution=_metric(ticket.resolved_at, ticket.resolution_due_at, now, ticket.paused_at, policy, ticket),
    )


def ticket_view(ticket: Ticket, policy: Policy, now: datetime) -> TicketView:
    return TicketView(
        id=ticket.id,
        external_id=ticket.external_id,
        title=ticket.title,
        description=ticket.description,
        status=ticket.status,
        priority=ticket.priority,
        category=ticket.category,
        tags=list(ticket.tags),
        customer_email=ticket.customer.email,
        assignee_email=ticket.assignee.email if ticket.assignee else None,
        escalated=ticket.escalated,
        escalation_level=ticket.escalation_level,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        response_due_at=ticket.response_due_at,
        resolution_due_at=ticket.resolution_due_at,
        sla=sla_view(ticket, policy, now),
    )


def comment_view(comment: Comment) -> CommentView:
    return CommentView(
        id=comment.id, author=comment.author_email, author_kind=comment.author_kind,
        internal=comment.internal, body=comment.body, created_at=comment.created_at,
    )


def event_view(event: TicketEvent) -> EventView:
    return EventView(at=event.at, actor=event.actor, kind=event.kind, from_=event.from_value, to=event.to_value)
