"""From rows to views: tickets with their SLA state, comments, history."""

from __future__ import annotations

from datetime import datetime

from supportctl.db.models import Comment, Ticket, TicketEvent
from supportctl.services.sla.policy import Policy
from supportctl.services.sla.state import sla_view
from supportctl.services.views import CommentView, EventView, TicketView


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
