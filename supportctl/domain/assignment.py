"""Which agent's turn it is: the pure choice behind every automatic assignment.

The caller (services/assignment) locks and loads the pool; this module only decides,
so the rules of docs/workflow.md ("Assignment") can be tested without a database.
Turn order is the database's cursor: never assigned first, then the lowest
assignment sequence value, ties by lowest id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from supportctl.domain.enums import Priority, Role, Strategy
from supportctl.errors import Refused


class NoEligibleAgent(Refused):
    """Nobody may take this ticket now; the message says why (exit 4)."""


@dataclass
class Candidate:
    """An agent in the auto-assignment pool, with their open load as the choice goes on."""

    id: int
    email: str
    role: str
    capacity: int | None
    seq: int | None  # the cursor: the sequence value of their latest assignment
    load: int

    @property
    def has_room(self) -> bool:
        return self.capacity is None or self.load < self.capacity

    @property
    def turn(self) -> tuple[bool, int, int]:
        return (self.seq is not None, self.seq or 0, self.id)


def choose(pool: Sequence[Candidate], strategy: Strategy, priority: str) -> Candidate:
    """The candidate whose turn it is, or NoEligibleAgent saying why there is none."""
    if not pool:
        raise NoEligibleAgent(
            "no active agent to assign to (leads are never auto-assigned)",
            hint="add one with `supportctl agent add`, or `supportctl agent update EMAIL --active`",
        )
    if strategy is Strategy.BY_PRIORITY and priority == Priority.CRITICAL.value:
        pool = [c for c in pool if c.role == Role.SENIOR.value]
        if not pool:
            raise NoEligibleAgent(
                "no active senior agent for a critical ticket (by-priority gives critical tickets to seniors only)",
                hint="add or reactivate a senior, or assign it with --to",
            )
    room = [c for c in pool if c.has_room]
    if not room:
        full = ", ".join(f"{c.email} {c.load}/{c.capacity}" for c in pool[:3])
        more = f", and {len(pool) - 3} more" if len(pool) > 3 else ""
        everyone = "the only eligible agent is" if len(pool) == 1 else f"all {len(pool)} eligible agents are"
        raise NoEligibleAgent(
            f"{everyone} at capacity ({full}{more})",
            hint="raise a capacity with `supportctl agent update EMAIL --capacity N`, or resolve tickets",
        )
    if strategy is Strategy.LEAST_LOADED:
        return min(room, key=lambda c: (c.load, c.turn))
    return min(room, key=lambda c: c.turn)
