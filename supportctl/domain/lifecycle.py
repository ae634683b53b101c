"""The ticket status lifecycle: which moves are allowed (docs/workflow.md, "Statuses")."""

from supportctl.domain.enums import Status

ALLOWED_MOVES: dict[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.IN_PROGRESS, Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.PENDING, Status.RESOLVED, Status.CLOSED, Status.OPEN}),
    Status.PENDING: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED, Status.OPEN}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.OPEN}),
    Status.CLOSED: frozenset(),
}


def can_move(current: Status, target: Status) -> bool:
    return target in ALLOWED_MOVES[current]


def allowed_from(current: Status) -> list[str]:
    return sorted(s.value for s in ALLOWED_MOVES[current])


# As lists, since they go into SQL `IN (...)` as well as Python membership tests.
DONE = [s.value for s in Status if s.is_done]  # resolved, closed: no SLA clock runs
UNRESOLVED = [s.value for s in Status if not s.is_done]
