"""The closed vocabularies: stored in the database, typed on the command line, written in
output. Their values are API (docs/output.md): add, never rename."""

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


class Metric(StrEnum):
    """The SLA clocks of a ticket (docs/sla.md)."""

    RESPONSE = "response"
    RESOLUTION = "resolution"
    NEXT_REPLY = "next_reply"


class CycleState(StrEnum):
    """Where an SLA cycle stands (docs/sla.md, "History"). BREACHED is never stored: it is an
    unmet cycle whose due time has passed (and that was not paused before it)."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    MET_LATE = "met_late"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class FirstResponse(StrEnum):
    """What meets a policy's response metric (docs/sla.md, "First response")."""

    ANY = "any"  # an assignment, a public agent comment, or leaving open
    REPLY = "reply"  # only a public agent comment, or resolving the ticket


class Strategy(StrEnum):
    """How automatic assignment picks the agent whose turn it is (docs/workflow.md)."""

    ROUND_ROBIN = "round-robin"
    LEAST_LOADED = "least-loaded"
    BY_PRIORITY = "by-priority"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its recipient was anonymized or erased


class Channel(StrEnum):
    """How `notify send` delivers."""

    SMTP = "smtp"
    WEBHOOK = "webhook"


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
    TEAM_CHANGED = "team_changed"
    SLA_POLICY_CHANGED = "sla_policy_changed"
    LADDER_STEP_FIRED = "ladder_step_fired"
    LADDER_STEP_SKIPPED = "ladder_step_skipped"
    REDACTED = "redacted"


def values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def sql_in(column: str, enum: type[StrEnum]) -> str:
    """A CHECK constraint body that limits column to the enum's values."""
    return f"{column} IN ({', '.join(repr(v) for v in values(enum))})"
