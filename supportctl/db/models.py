"""Typed SQLAlchemy models for every entity (docs/output.md lists their fields), plus SLA policy and calendar.

The Alembic migrations are the source of truth for the schema; a test checks that
these models and the migrations agree (autogenerate finds nothing to do).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Sequence,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from supportctl.db.base import Base
from supportctl.domain.enums import (
    EventKind,
    Metric,
    NotificationStatus,
    Priority,
    Role,
    Status,
    Tier,
    sql_in,
)

# Strictly increasing across processes and hosts; every assignment takes the next value.
ASSIGNMENT_SEQ = Sequence("agent_assignment_seq", metadata=Base.metadata)


def _ts(nullable: bool = True, **kw: Any) -> Any:
    """A timestamptz column: every time is stored with its zone."""
    return mapped_column(DateTime(timezone=True), nullable=nullable, **kw)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(sql_in("tier", Tier), name="tier"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(Text, server_default=Tier.BASIC.value)
    company: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(False)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(sql_in("role", Role), name="role"),
        CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity_positive"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, server_default=Role.AGENT.value)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    capacity: Mapped[int | None] = mapped_column(Integer)
    last_assigned_at: Mapped[datetime | None] = _ts()
    # The round-robin cursor: ASSIGNMENT_SEQ's value at the agent's latest assignment.
    # last_assigned_at cannot order turns: a command stamps all its writes with one whole second.
    assignment_seq: Mapped[int | None] = mapped_column(BigInteger)
    # Away agents keep their tickets but get no new ones until then.
    away_until: Mapped[datetime | None] = _ts()
    away_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(False)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]*$' AND length(slug) <= 40", name="slug"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = _ts(False)
    calendar: Mapped[str | None] = mapped_column(ForeignKey("sla_calendars.name"))


class TeamMember(Base):
    """An agent in a team, with that team's round-robin cursor (ASSIGNMENT_SEQ values)."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True, index=True)
    last_assigned_at: Mapped[datetime | None] = _ts()
    assignment_seq: Mapped[int | None] = mapped_column(BigInteger)


class TeamRoute(Base):
    """Conditions a new ticket must all meet to get the route's team; the lowest position wins."""

    __tablename__ = "team_routes"
    __table_args__ = (
        CheckConstraint("category IS NOT NULL OR tag IS NOT NULL OR tier IS NOT NULL OR company IS NOT NULL",
                        name="a_condition"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    position: Mapped[int] = mapped_column(Integer, unique=True)
    category: Mapped[str | None] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(Text)
    tier: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(False)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(sql_in("status", Status), name="status"),
        CheckConstraint(sql_in("priority", Priority), name="priority"),
        CheckConstraint("escalation_level >= 0", name="escalation_level_nonnegative"),
        # The breach report and queue escalate look only at unmet metrics: partial
        # indexes keep that an index range scan on due time, whatever the table size.
        Index(
            "ix_tickets_response_due_unmet",
            "response_due_at",
            postgresql_where=text("first_response_at IS NULL"),
        ),
        Index(
            "ix_tickets_resolution_due_unmet",
            "resolution_due_at",
            # Not the pending tickets paused before their due time: they are not breached.
            postgresql_where=text("resolved_at IS NULL AND status NOT IN ('resolved', 'closed') "
                                  "AND (paused_at IS NULL OR resolution_due_at < paused_at)"),
        ),
        Index(
            "ix_tickets_next_reply_due_unmet",
            "next_reply_due_at",
            postgresql_where=text("next_reply_met_at IS NULL AND next_reply_due_at IS NOT NULL"),
        ),
        # report backlog: the unresolved tickets' ages and groups, from the index alone.
        Index("ix_tickets_unresolved", "created_at",
              postgresql_include=["id", "team_id", "assignee_id", "priority", "status"],
              postgresql_where=text("status NOT IN ('resolved', 'closed')")),
        Index("ix_tickets_created_at_id", "created_at", "id"),
        Index("ix_tickets_updated_at_id", "updated_at", "id"),
        Index("ix_tickets_assignee_id_status", "assignee_id", "status"),
        Index("ix_tickets_status_priority", "status", "priority"),
        Index("ix_tickets_team_id_status_priority", "team_id", "status", "priority"),
        Index("ix_tickets_search", "search", postgresql_using="gin"),
        Index("ix_tickets_tags", "tags", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(Text, server_default=Status.OPEN.value)
    priority: Mapped[str] = mapped_column(Text, server_default=Priority.MEDIUM.value)
    category: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # 1 is the default policy (migration 0007 makes it first; it is never removed).
    sla_policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"), index=True, server_default="1")
    escalated: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    escalation_level: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_escalated_at: Mapped[datetime | None] = _ts()
    created_at: Mapped[datetime] = _ts(False)
    updated_at: Mapped[datetime] = _ts(False)
    first_response_at: Mapped[datetime | None] = _ts()
    resolved_at: Mapped[datetime | None] = _ts()
    closed_at: Mapped[datetime | None] = _ts()
    response_due_at: Mapped[datetime] = _ts(False)
    resolution_due_at: Mapped[datetime] = _ts(False)
    # When the ticket was last reopened: its resolution clock (a new cycle) runs from then.
    reopened_at: Mapped[datetime | None] = _ts()
    # Set while the ticket is pending: when the resolution clock stopped.
    paused_at: Mapped[datetime | None] = _ts()
    # Business time spent pending so far; resolution_due_at already includes it.
    paused_seconds: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # The running (or last) next-reply cycle: started by a customer's comment, met by an agent's.
    next_reply_started_at: Mapped[datetime | None] = _ts()
    next_reply_due_at: Mapped[datetime | None] = _ts()
    next_reply_met_at: Mapped[datetime | None] = _ts()
    # Business time the running cycle spent pending; next_reply_due_at already includes it.
    next_reply_paused_seconds: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Only ever filtered on (list --search): deferred, so loading a ticket does not ship
    # its tsvector, which is as big as its text.
    search: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english'::regconfig, title || ' ' || description)", persisted=True),
        deferred=True,
    )

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)
    assignee: Mapped[Agent | None] = relationship(lazy="joined")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (CheckConstraint("author_kind IN ('agent', 'customer')", name="author_kind"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_email: Mapped[str] = mapped_column(Text)
    author_kind: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _ts(False)


class TicketEvent(Base):
    """Append-only history: rows are inserted, never updated or deleted."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        CheckConstraint(sql_in("kind", EventKind), name="kind"),
        Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = _ts(False)
    actor: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    from_value: Mapped[Any | None] = mapped_column(JSONB)
    to_value: Mapped[Any | None] = mapped_column(JSONB)


_SLUG_CHECK = "name ~ '^[a-z0-9][a-z0-9-]*$' AND length(name) <= 40"
_NO_CONDITIONS = ("cardinality(tiers) = 0 AND cardinality(companies) = 0 AND cardinality(teams) = 0 "
                  "AND cardinality(categories) = 0 AND cardinality(tags) = 0")


class SlaCalendar(Base):
    """A named business-hours calendar (docs/sla.md); `default` is the clock of every ticket
    whose policy and team name none. No calendar at all means 24x7."""

    __tablename__ = "sla_calendars"
    __table_args__ = (CheckConstraint(_SLUG_CHECK, name="name"),)

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    timezone: Mapped[str] = mapped_column(Text)
    hours: Mapped[str] = mapped_column(Text)
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date), server_default="{}")
    updated_at: Mapped[datetime] = _ts(False, server_default=func.now())


class SlaPolicy(Base):
    """A named SLA policy: the first active one by position whose conditions all hold is a
    ticket's; `default` (no position, no conditions) is matched last. A removed policy stays,
    for the tickets it measured."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        CheckConstraint(_SLUG_CHECK, name="name"),
        CheckConstraint("first_response IN ('any', 'reply')", name="first_response"),
        CheckConstraint("position > 0", name="position_positive"),
        CheckConstraint(f"(name = 'default') = (position IS NULL) AND (name <> 'default' OR ({_NO_CONDITIONS} "
                        "AND active AND removed_at IS NULL))", name="default"),
        Index("uq_sla_policies_name", "name", unique=True, postgresql_where=text("removed_at IS NULL")),
        Index("uq_sla_policies_position", "position", unique=True, postgresql_where=text("removed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    position: Mapped[int | None] = mapped_column(Integer)
    tiers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    companies: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    teams: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")  # slugs
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    calendar: Mapped[str | None] = mapped_column(ForeignKey("sla_calendars.name"))
    first_response: Mapped[str] = mapped_column(Text, server_default="any")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = _ts(False)
    updated_at: Mapped[datetime] = _ts(False)
    removed_at: Mapped[datetime | None] = _ts()


class SlaTarget(Base):
    """A policy's targets for one priority."""

    __tablename__ = "sla_targets"
    __table_args__ = (
        CheckConstraint(sql_in("priority", Priority), name="priority"),
        CheckConstraint("response_seconds > 0 AND next_reply_seconds > 0 AND resolution_seconds > 0", name="positive"),
    )

    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"), primary_key=True)
    priority: Mapped[str] = mapped_column(Text, primary_key=True)
    response_seconds: Mapped[int] = mapped_column(Integer)
    next_reply_seconds: Mapped[int] = mapped_column(Integer)
    resolution_seconds: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = _ts(False, server_default=func.now())


class SlaCycle(Base):
    """One SLA clock of a ticket, from its start to its end (docs/sla.md, "History").

    Written only by the database: triggers on tickets (migration 0008) start a cycle when a
    clock starts and keep the latest one in step with the ticket until it is met or
    cancelled; then it never changes. `breached` is no stored state: an unmet cycle past its
    due time (and not paused before it) is breached now.
    """

    __tablename__ = "sla_cycles"
    __table_args__ = (
        CheckConstraint(sql_in("metric", Metric), name="metric"),
        CheckConstraint("state IN ('running', 'paused', 'met', 'met_late', 'cancelled')", name="state"),
        CheckConstraint("cycle > 0", name="cycle_positive"),
        Index("ix_sla_cycles_due_at", "due_at"),
        Index("ix_sla_cycles_started_at", "started_at"),
        Index("ix_sla_cycles_met_at", "met_at", postgresql_where=text("met_at IS NOT NULL")),
        # queue escalate's search for breaches it has not yet written down.
        Index("ix_sla_cycles_breach_unnoted", "due_at",
              postgresql_where=text("state IN ('running', 'paused') AND breach_noted_at IS NULL")),
        Index("ix_sla_cycles_ladder", "ladder", postgresql_where=text("ladder IS NOT NULL")),
        # queue escalate's search for ladder steps that have come due.
        Index("ix_sla_cycles_laddered_running", "due_at",
              postgresql_where=text("ladder IS NOT NULL AND state = 'running'")),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(Text, primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(Text)  # the name, kept if the policy is removed
    target_seconds: Mapped[int] = mapped_column(Integer)
    calendar: Mapped[str | None] = mapped_column(Text)  # None: 24x7
    started_at: Mapped[datetime] = _ts(False)
    due_at: Mapped[datetime] = _ts(False)
    paused_seconds: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    paused_at: Mapped[datetime | None] = _ts()
    met_at: Mapped[datetime | None] = _ts()
    state: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    breach_noted_at: Mapped[datetime | None] = _ts()
    # The ladder it follows, chosen when it starts (migration 0009); none: §5 escalation.
    ladder: Mapped[str | None] = mapped_column(ForeignKey("escalation_ladders.name", ondelete="SET NULL"))


class EscalationLadder(Base):
    """A named ladder of escalation steps (docs/escalation.md); empty filters match any."""

    __tablename__ = "escalation_ladders"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    priorities: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    teams: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")  # slugs
    policies: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")  # names
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # domain.ladders.Step.stored()
    created_at: Mapped[datetime] = _ts(False)
    updated_at: Mapped[datetime] = _ts(False)


class LadderFiring(Base):
    """`queue escalate`'s claim of one step firing (or its skipping) for one SLA cycle: the
    primary key makes it happen once, whichever host inserts the row first."""

    __tablename__ = "ladder_firings"
    __table_args__ = (
        CheckConstraint("action IN ('fired', 'skipped')", name="action"),
        ForeignKeyConstraint(["ticket_id", "metric", "cycle"],
                             ["sla_cycles.ticket_id", "sla_cycles.metric", "sla_cycles.cycle"],
                             name="fk_ladder_firings_ticket_id_sla_cycles", ondelete="CASCADE"),
    )

    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    metric: Mapped[str] = mapped_column(Text, primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    repeat: Mapped[int] = mapped_column(Integer, primary_key=True)
    ladder: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _ts(False)
    actor: Mapped[str] = mapped_column(Text)


class QuietHours(Base):
    """When ladder steps' notifications wait; one row or none."""

    __tablename__ = "quiet_hours"
    __table_args__ = (CheckConstraint("id", name="one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    timezone: Mapped[str] = mapped_column(Text)
    hours: Mapped[str] = mapped_column(Text)
    exempt: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    updated_at: Mapped[datetime] = _ts(False)


class Macro(Base):
    """A named set of ticket changes and an optional comment template (docs/bulk.md)."""

    __tablename__ = "macros"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    comment: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _ts(False)
    updated_at: Mapped[datetime] = _ts(False)


class AuditEntry(Base):
    """An administrative change (migration 0011): written by triggers on the configuration
    tables and by the commands that change people's data; never changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = _ts(False)
    actor: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    object: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str | None] = mapped_column(Text)
    from_value: Mapped[Any | None] = mapped_column(JSONB)
    to_value: Mapped[Any | None] = mapped_column(JSONB)


class RetentionPolicy(Base):
    """How long closed tickets are kept, and what happens to them then; one row or none."""

    __tablename__ = "retention_policy"
    __table_args__ = (CheckConstraint("id", name="one_row"),
                      CheckConstraint("action IN ('anonymize', 'delete')", name="action"))

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    closed_older_than_seconds: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(Text)
    except_tag: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _ts(False)


class TicketTombstone(Base):
    """What is left of an erased ticket: no person's data, only that it was, and why it is not."""

    __tablename__ = "ticket_tombstones"

    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts(False)
    closed_at: Mapped[datetime | None] = _ts()
    erased_at: Mapped[datetime] = _ts(False)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class Notification(Base):
    """The outbox: written with the change that causes it, delivered later by `notify send`."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(sql_in("status", NotificationStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        # The sender's claim: pending rows whose time has come, oldest first.
        Index(
            "ix_notifications_next_attempt_pending",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime] = _ts(False)
    recipient: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = _ts(False)
    sent_at: Mapped[datetime | None] = _ts()
    # What a receiver deduplicates on (webhook header, e-mail Message-ID).
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, server_default=text("gen_random_uuid()"))
