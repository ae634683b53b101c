"""Pydantic views: what services return and the CLI prints. Field names are API (PRODUCT.md §7)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    def row(self) -> dict:
        return self.model_dump(mode="python")


class CustomerView(View):
    email: str
    name: str
    tier: str
    company: str | None
    created_at: UtcDatetime


class AgentView(View):
    email: str
    name: str
    role: str
    active: bool
    capacity: int | None
    open_tickets: int = 0
    last_assigned_at: UtcDatetime | None
    created_at: UtcDatetime


class MetricView(View):
    state: str
    due_at: UtcDatetime
    remaining_seconds: int


class SlaView(View):
    response: MetricView
    resolution: MetricView


class TicketView(View):
    """A ticket as scripts see it: the field names of PRODUCT.md §2 and §7."""

    id: int
    external_id: str | None
    title: str
    description: str
    status: str
    priority: str
    category: str | None
    tags: list[str]
    customer_email: str
    assignee_email: str | None
    escalated: bool
    escalation_level: int
    created_at: UtcDatetime
    updated_at: UtcDatetime
    first_response_at: UtcDatetime | None
    resolved_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    response_due_at: UtcDatetime
    resolution_due_at: UtcDatetime
    sla: SlaView


class CommentView(View):
    id: int
    author: str
    author_kind: str
    internal: bool
    body: str
    created_at: UtcDatetime


class EventView(View):
    at: UtcDatetime
    actor: str
    kind: str
    from_: object | None = None
    to: object | None = None

    def row(self) -> dict:
        return {"at": self.at, "actor": self.actor, "kind": self.kind, "from": self.from_, "to": self.to}


class TicketDetail(TicketView):
    comments: list[CommentView]
    history: list[EventView]

    def row(self) -> dict:
        data = super().row()
        data["history"] = [e.row() for e in self.history]
        return data
