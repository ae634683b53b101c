"""Pydantic views: what services return and the CLI prints. Field names are API (docs/output.md)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class View(BaseModel):
    # defer_build: a command builds the validators of the views it uses, not of all of them.
    model_config = ConfigDict(from_attributes=True, frozen=True, defer_build=True)

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
    """A ticket as scripts see it: the field names of docs/output.md, "Ticket fields"."""

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


class PolicyView(View):
    """One `sla policy` row: targets as written (``4h``) and in seconds, for scripts."""

    priority: str
    response: str
    resolution: str
    response_seconds: int
    resolution_seconds: int


class CalendarView(View):
    """The business-hours calendar; ``clock`` is ``24x7`` (and the rest empty) when none is set."""

    clock: str
    timezone: str | None
    hours: str | None
    holidays: list[date]


class BreachView(View):
    """One row of `sla breaches`: a (ticket, metric) pair that is breached or at risk."""

    id: int
    title: str
    priority: str
    status: str
    customer_email: str
    assignee_email: str | None
    metric: str
    state: str
    due_at: UtcDatetime
    overdue_seconds: int


class MetricExplanation(View):
    metric: str
    target: str
    target_seconds: int
    paused_seconds: int  # added to the target before walking the calendar (resolution only)
    due_at: UtcDatetime  # what the policy and calendar give today
    stored_due_at: UtcDatetime  # what the ticket carries (differs only for resolved tickets after a policy change)
    state: str
    effective_due_at: UtcDatetime
    remaining_seconds: int
    met_at: UtcDatetime | None
    steps: list[str]


class Explanation(View):
    """`sla explain`: everything a lead needs to redo the due-date arithmetic by hand."""

    id: int
    title: str
    priority: str
    status: str
    created_at: UtcDatetime
    clock: str
    timezone: str | None
    hours: str | None
    holidays: list[date]
    paused_seconds: int
    paused_since: UtcDatetime | None
    response: MetricExplanation
    resolution: MetricExplanation
