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


class MetricExplanation(View):
    metric: str
    target: str
    target_seconds: int
    paused_seconds: int  # added to the target before walking the calendar (resolution, next reply)
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
    policy: str  # the policy that measures the ticket
    match: list[str]  # the policies tried, as today's policies and the ticket's facts have it
    clock: str
    calendar: str | None  # the calendar's name
    timezone: str | None
    hours: str | None
    holidays: list[date]
    paused_seconds: int
    paused_since: UtcDatetime | None
    response: MetricExplanation
    resolution: MetricExplanation
    next_reply: MetricExplanation | None  # while a customer waits (or waited) for a reply
