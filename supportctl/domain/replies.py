"""The next-reply clock (docs/sla.md, "Next reply"): how long the customer waits for an answer
after writing again. Zendesk's "next reply time", RT's KeepInLoop.

A cycle starts when the ticket's customer writes (a public comment) after the first
response, unless one is running; the next public agent comment meets it, and so does
resolving the ticket. While the ticket is pending the running cycle stands still: its due
time moves later by the (business) time paused, and a cycle the customer starts while
pending counts from the end of the pause. Internal notes change nothing.

Pure: a Cycle in, a Cycle out. `due(start, paused_seconds)` is the ticket's clock (its
policy's next-reply target on its calendar).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

Due = Callable[[datetime, int], datetime]


@dataclass(frozen=True)
class Cycle:
    started_at: datetime | None = None
    due_at: datetime | None = None
    met_at: datetime | None = None
    paused_seconds: int = 0

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.met_at is None


def customer_wrote(cycle: Cycle, now: datetime, *, answered: bool, due: Due) -> Cycle:
    """The ticket's customer wrote; `answered`: the first response has been given."""
    if not answered or cycle.running:
        return cycle
    return Cycle(started_at=now, due_at=due(now, 0), met_at=None, paused_seconds=0)


def agent_replied(cycle: Cycle, now: datetime) -> Cycle:
    """A public agent comment (or resolving the ticket) answers the customer."""
    return replace(cycle, met_at=now) if cycle.running else cycle


def resumed(cycle: Cycle, paused_at: datetime, now: datetime, *, paused: Callable[[datetime, datetime], int],
            due: Due) -> Cycle:
    """The ticket leaves pending: a running cycle gets the paused time (from the later of the
    pause and its own start, in business seconds) added, and its due time moves with it."""
    if not cycle.running:
        return cycle
    seconds = cycle.paused_seconds + paused(max(paused_at, cycle.started_at), now)
    return replace(cycle, paused_seconds=seconds, due_at=due(cycle.started_at, seconds))
