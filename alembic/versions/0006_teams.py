"""Teams: tickets owned by a team, agents in teams with a round-robin cursor each, routes, absence.

- teams: slug (lower-case letters, digits and dashes, at most 40), name, an optional lead
  (an agent, who is also a member), active.
- team_members: who is in which team, with that team's own round-robin cursor (the same
  sequence as agents.assignment_seq, so turns are ordered across processes and hosts).
- team_routes: conditions (category, tag, customer tier, customer company; at least one)
  and a unique position; a new ticket gets the team of the first route whose conditions
  all hold.
- tickets.team_id, indexed with status and priority (team lists, per-team queues).
- agents.away_until / away_reason: away agents keep their tickets but get no new ones.
- The `team_changed` history kind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

KINDS = ("created", "assigned", "unassigned", "status_changed", "priority_changed", "commented", "escalated",
         "updated", "sla_breached", "imported")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_ticket_events_kind"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_kind"), "ticket_events",
                               "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]*$' AND length(slug) <= 40", name=op.f("ck_teams_slug")),
        sa.ForeignKeyConstraint(["lead_id"], ["agents.id"], name=op.f("fk_teams_lead_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("slug", name=op.f("uq_teams_slug")),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("agent_id", sa.BigInteger(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignment_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_team_members_agent_id_agents")),
        sa.PrimaryKeyConstraint("team_id", "agent_id", name=op.f("pk_team_members")),
    )
    op.create_index(op.f("ix_team_members_agent_id"), "team_members", ["agent_id"], unique=False)
    op.create_table(
        "team_routes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("tag", sa.Text(), nullable=True),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("category IS NOT NULL OR tag IS NOT NULL OR tier IS NOT NULL OR company IS NOT NULL",
                           name=op.f("ck_team_routes_a_condition")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_team_routes_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_routes")),
        sa.UniqueConstraint("position", name=op.f("uq_team_routes_position")),
    )
    op.add_column("tickets", sa.Column("team_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(op.f("fk_tickets_team_id_teams"), "tickets", "teams", ["team_id"], ["id"])
    op.create_index("ix_tickets_team_id_status_priority", "tickets", ["team_id", "status", "priority"], unique=False)
    op.add_column("agents", sa.Column("away_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agents", sa.Column("away_reason", sa.Text(), nullable=True))
    _kinds((*KINDS, "team_changed"))


def downgrade() -> None:
    op.execute("DELETE FROM ticket_events WHERE kind = 'team_changed'")
    _kinds(KINDS)
    op.drop_column("agents", "away_reason")
    op.drop_column("agents", "away_until")
    op.drop_index("ix_tickets_team_id_status_priority", table_name="tickets")
    op.drop_constraint(op.f("fk_tickets_team_id_teams"), "tickets", type_="foreignkey")
    op.drop_column("tickets", "team_id")
    op.drop_table("team_routes")
    op.drop_index(op.f("ix_team_members_agent_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
