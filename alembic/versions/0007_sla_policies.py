"""SLA policies by contract, named calendars, and the next-reply clock.

- sla_calendars: named business-hours calendars; the old single calendar becomes `default`.
- sla_policies: named, ordered policies with conditions (tiers, companies, teams,
  categories, tags: several values = any of them), an optional calendar, what counts as
  the first response, active, and removed_at (a removed policy stays for the tickets
  that were measured by it). `default` has no position and no conditions.
- sla_targets: per policy and priority, the response, next-reply and resolution targets;
  the old per-priority targets become the default policy's (missing priorities get the
  built-in defaults; next reply starts equal to response).
- tickets.sla_policy_id (every ticket starts on `default`), and the next-reply cycle:
  next_reply_started_at, next_reply_due_at, next_reply_met_at, next_reply_paused_seconds,
  with a partial index on unmet due times for the breach report.
- teams.calendar; the `sla_policy_changed` history kind.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KINDS = ("created", "assigned", "unassigned", "status_changed", "priority_changed", "commented", "escalated",
         "updated", "sla_breached", "imported", "team_changed")
DEFAULTS = {"critical": (3600, 28800), "high": (14400, 86400), "medium": (86400, 259200), "low": (259200, 604800)}
_NO_CONDITIONS = ("cardinality(tiers) = 0 AND cardinality(companies) = 0 AND cardinality(teams) = 0 "
                  "AND cardinality(categories) = 0 AND cardinality(tags) = 0")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_ticket_events_kind"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_kind"), "ticket_events",
                               "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")")


def _texts(name: str) -> sa.Column:
    return sa.Column(name, postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False)


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("hours", sa.Text(), nullable=False),
        sa.Column("holidays", postgresql.ARRAY(sa.Date()), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]*$' AND length(name) <= 40", name=op.f("ck_sla_calendars_name")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sla_calendars")),
    )
    op.execute("INSERT INTO sla_calendars (name, timezone, hours, holidays, updated_at) "
               "SELECT 'default', timezone, hours, holidays, updated_at FROM sla_calendar")
    op.drop_table("sla_calendar")

    # The old per-priority table's name and constraint names go to the new table.
    op.execute("CREATE TEMPORARY TABLE old_targets AS SELECT * FROM sla_policies")
    op.drop_table("sla_policies")
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        _texts("tiers"), _texts("companies"), _texts("teams"), _texts("categories"), _texts("tags"),
        sa.Column("calendar", sa.Text(), nullable=True),
        sa.Column("first_response", sa.Text(), server_default="any", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9-]*$' AND length(name) <= 40", name=op.f("ck_sla_policies_name")),
        sa.CheckConstraint("first_response IN ('any', 'reply')", name=op.f("ck_sla_policies_first_response")),
        sa.CheckConstraint("position > 0", name=op.f("ck_sla_policies_position_positive")),
        # The default policy is matched last, by everyone: no position, no conditions, never off.
        sa.CheckConstraint(f"(name = 'default') = (position IS NULL) AND (name <> 'default' OR ({_NO_CONDITIONS} "
                           "AND active AND removed_at IS NULL))", name=op.f("ck_sla_policies_default")),
        sa.ForeignKeyConstraint(["calendar"], ["sla_calendars.name"], name=op.f("fk_sla_policies_calendar_sla_calendars")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
    )
    op.create_index("uq_sla_policies_name", "sla_policies", ["name"], unique=True,
                    postgresql_where=sa.text("removed_at IS NULL"))
    op.create_index("uq_sla_policies_position", "sla_policies", ["position"], unique=True,
                    postgresql_where=sa.text("removed_at IS NULL"))
    op.execute("INSERT INTO sla_policies (name, created_at, updated_at) VALUES ('default', now(), now())")
    op.create_table(
        "sla_targets",
        sa.Column("policy_id", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("response_seconds", sa.Integer(), nullable=False),
        sa.Column("next_reply_seconds", sa.Integer(), nullable=False),
        sa.Column("resolution_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_sla_targets_priority")),
        sa.CheckConstraint("response_seconds > 0 AND next_reply_seconds > 0 AND resolution_seconds > 0",
                           name=op.f("ck_sla_targets_positive")),
        sa.ForeignKeyConstraint(["policy_id"], ["sla_policies.id"], name=op.f("fk_sla_targets_policy_id_sla_policies")),
        sa.PrimaryKeyConstraint("policy_id", "priority", name=op.f("pk_sla_targets")),
    )
    defaults = ", ".join(f"('{p}', {r}, {s})" for p, (r, s) in DEFAULTS.items())
    op.execute(
        "INSERT INTO sla_targets (policy_id, priority, response_seconds, next_reply_seconds, resolution_seconds, "
        "updated_at) "
        "SELECT (SELECT id FROM sla_policies WHERE name = 'default'), d.priority, "
        "coalesce(o.response_seconds, d.r), coalesce(o.response_seconds, d.r), coalesce(o.resolution_seconds, d.s), "
        f"coalesce(o.updated_at, now()) FROM (VALUES {defaults}) AS d (priority, r, s) "
        "LEFT JOIN old_targets o ON o.priority = d.priority"
    )
    op.execute("DROP TABLE old_targets")

    # A constant default is a catalog change, not a rewrite of every ticket (PostgreSQL 11+). It
    # stays: 1 is the default policy (made first, just above, and never removed), so a row
    # written without a policy, by hand or by a loader, is measured by `default`.
    op.add_column("tickets", sa.Column("sla_policy_id", sa.BigInteger(), server_default="1", nullable=False))
    op.create_foreign_key(op.f("fk_tickets_sla_policy_id_sla_policies"), "tickets", "sla_policies",
                          ["sla_policy_id"], ["id"])
    op.create_index(op.f("ix_tickets_sla_policy_id"), "tickets", ["sla_policy_id"], unique=False)
    op.add_column("tickets", sa.Column("next_reply_started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("next_reply_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("next_reply_met_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("next_reply_paused_seconds", sa.Integer(), server_default=sa.text("0"),
                                       nullable=False))
    op.create_index("ix_tickets_next_reply_due_unmet", "tickets", ["next_reply_due_at"], unique=False,
                    postgresql_where=sa.text("next_reply_met_at IS NULL AND next_reply_due_at IS NOT NULL"))

    op.add_column("teams", sa.Column("calendar", sa.Text(), nullable=True))
    op.create_foreign_key(op.f("fk_teams_calendar_sla_calendars"), "teams", "sla_calendars", ["calendar"], ["name"])
    _kinds((*KINDS, "sla_policy_changed"))


def downgrade() -> None:
    op.execute("DELETE FROM ticket_events WHERE kind = 'sla_policy_changed'")
    _kinds(KINDS)
    op.drop_constraint(op.f("fk_teams_calendar_sla_calendars"), "teams", type_="foreignkey")
    op.drop_column("teams", "calendar")
    op.drop_index("ix_tickets_next_reply_due_unmet", table_name="tickets")
    for column in ("next_reply_paused_seconds", "next_reply_met_at", "next_reply_due_at", "next_reply_started_at"):
        op.drop_column("tickets", column)
    op.drop_index(op.f("ix_tickets_sla_policy_id"), table_name="tickets")
    op.drop_constraint(op.f("fk_tickets_sla_policy_id_sla_policies"), "tickets", type_="foreignkey")
    op.drop_column("tickets", "sla_policy_id")

    op.execute("CREATE TEMPORARY TABLE old_targets AS "
               "SELECT t.priority, t.response_seconds, t.resolution_seconds, t.updated_at FROM sla_targets t "
               "JOIN sla_policies p ON p.id = t.policy_id WHERE p.name = 'default' AND p.removed_at IS NULL")
    op.drop_table("sla_targets")
    op.drop_index("uq_sla_policies_position", table_name="sla_policies")
    op.drop_index("uq_sla_policies_name", table_name="sla_policies")
    op.drop_table("sla_policies")
    op.create_table(
        "sla_policies",
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("response_seconds", sa.Integer(), nullable=False),
        sa.Column("resolution_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_sla_policies_priority")),
        sa.CheckConstraint("response_seconds > 0 AND resolution_seconds > 0", name=op.f("ck_sla_policies_positive")),
        sa.PrimaryKeyConstraint("priority", name=op.f("pk_sla_policies")),
    )
    op.execute("INSERT INTO sla_policies SELECT * FROM old_targets")
    op.execute("DROP TABLE old_targets")

    op.create_table(
        "sla_calendar",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("hours", sa.Text(), nullable=False),
        sa.Column("holidays", postgresql.ARRAY(sa.Date()), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_sla_calendar_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendar")),
    )
    op.execute("INSERT INTO sla_calendar (id, timezone, hours, holidays, updated_at) "
               "SELECT 1, timezone, hours, holidays, updated_at FROM sla_calendars WHERE name = 'default'")
    op.drop_table("sla_calendars")
