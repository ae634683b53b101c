"""The closed vocabularies of PRODUCT.md §2. Their values are API: add, never rename."""

from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_done(self) -> bool:
        """Resolved or closed: the resolution metric is met and no SLA clock runs."""
        return self in (Status.RESOLVED, Status.CLOSED)


class Priority(StrEnum):
    """Declared lowest to highest: the order is the escalation ladder."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Priority).index(self)

    def raised(self) -> "Priority":
        """One level up, or the same when already critical."""
        ladder = list(Priority)
        return ladder[min(self.rank + 1, len(ladder) - 1)]


class Role(StrEnum):
    AGENT = "agent"
    SENIOR = "senior"
    LEAD = "lead"


class Tier(StrEnum):
    FREE = "free"
    BASIC = "basic"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


class EventKind(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    COMMENTED = "commented"
    ESCALATED = "escalated"
    UPDATED = "updated"
    SLA_BREACHED = "sla_breached"
    IMPORTED = "imported"


def values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def sql_in(column: str, enum: type[StrEnum]) -> str:
    """A CHECK constraint body that limits column to the enum's values."""
    return f"{column} IN ({', '.join(repr(v) for v in values(enum))})"
