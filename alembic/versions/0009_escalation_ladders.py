"""Escalation ladders and quiet hours.

- escalation_ladders: named ladders, their filters (priorities, team slugs, policy names:
  empty = any) and their steps (JSON, as domain/ladders.py stores them).
- sla_cycles.ladder: the ladder a cycle follows, chosen when the cycle starts (a row
  trigger: the first ladder by name whose filters match the cycle's priority, team and
  policy) and kept for that cycle; removing the ladder sets it back to none (§5 escalation).
- ladder_firings: the claim rows of `queue escalate`, one per ticket, metric, cycle, step
  and repeat, fired or skipped. The primary key is the exactly-once promise: a step's
  actions are written in the transaction that inserted its row, and a second host's insert
  of the same row does nothing.
- quiet_hours: one row, or none: when the notifications of ladder steps wait.
- the `ladder_step_fired` and `ladder_step_skipped` history kinds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KINDS = ("created", "assigned", "unassigned", "status_changed", "priority_changed", "commented", "escalated",
         "updated", "sla_breached", "imported", "team_changed", "sla_policy_changed")

CYCLE_LADDER = """
CREATE FUNCTION supportctl_cycle_ladder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.ladder := (
        SELECT l.name FROM escalation_ladders l
        WHERE (cardinality(l.priorities) = 0 OR NEW.priority = ANY(l.priorities))
          AND (cardinality(l.teams) = 0 OR EXISTS (SELECT 1 FROM teams tm WHERE tm.id = NEW.team_id
                                                                          AND tm.slug = ANY(l.teams)))
          AND (cardinality(l.policies) = 0 OR NEW.policy = ANY(l.policies))
        ORDER BY l.name LIMIT 1);
    RETURN NEW;
END $$
"""


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_ticket_events_kind"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_kind"), "ticket_events",
                               "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")")


def upgrade() -> None:
    op.create_table(
        "escalation_ladders",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("priorities", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("teams", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("policies", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_escalation_ladders")),
    )
    op.add_column("sla_cycles", sa.Column("ladder", sa.Text(), nullable=True))
    op.create_foreign_key(op.f("fk_sla_cycles_ladder_escalation_ladders"), "sla_cycles", "escalation_ladders",
                          ["ladder"], ["name"], ondelete="SET NULL")
    op.create_index("ix_sla_cycles_ladder", "sla_cycles", ["ladder"], postgresql_where=sa.text("ladder IS NOT NULL"))
    op.create_index("ix_sla_cycles_laddered_running", "sla_cycles", ["due_at"],
                    postgresql_where=sa.text("ladder IS NOT NULL AND state = 'running'"))
    op.create_table(
        "ladder_firings",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("ladder", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.CheckConstraint("action IN ('fired', 'skipped')", name=op.f("ck_ladder_firings_action")),
        sa.ForeignKeyConstraint(["ticket_id", "metric", "cycle"],
                                ["sla_cycles.ticket_id", "sla_cycles.metric", "sla_cycles.cycle"],
                                name=op.f("fk_ladder_firings_ticket_id_sla_cycles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id", "metric", "cycle", "step", "repeat", name=op.f("pk_ladder_firings")),
    )
    op.create_table(
        "quiet_hours",
        sa.Column("id", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("hours", sa.Text(), nullable=False),
        sa.Column("exempt", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id", name=op.f("ck_quiet_hours_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiet_hours")),
    )
    op.execute(CYCLE_LADDER)
    op.execute("""
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION %1$I.supportctl_cycle_ladder() SET search_path = pg_catalog, %1$I, pg_temp',
                   current_schema());
END $$
""")
    # Only a clock that still runs follows a ladder (an imported, resolved ticket's do not).
    op.execute("CREATE TRIGGER sla_cycles_ladder BEFORE INSERT ON sla_cycles FOR EACH ROW "
               "WHEN (NEW.state IN ('running', 'paused')) EXECUTE FUNCTION supportctl_cycle_ladder()")
    _kinds((*KINDS, "ladder_step_fired", "ladder_step_skipped"))


def downgrade() -> None:
    _kinds(KINDS)
    op.execute("DROP TRIGGER sla_cycles_ladder ON sla_cycles")
    op.execute("DROP FUNCTION supportctl_cycle_ladder()")
    op.drop_table("quiet_hours")
    op.drop_table("ladder_firings")
    op.drop_index("ix_sla_cycles_laddered_running", table_name="sla_cycles")
    op.drop_index("ix_sla_cycles_ladder", table_name="sla_cycles")
    op.drop_constraint(op.f("fk_sla_cycles_ladder_escalation_ladders"), "sla_cycles", type_="foreignkey")
    op.drop_column("sla_cycles", "ladder")
    op.drop_table("escalation_ladders")
