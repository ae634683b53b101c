"""SLA history: one row per ticket x metric x cycle, kept by the database itself.

- tickets.reopened_at: when the ticket was last reopened; the resolution clock of a
  reopened ticket runs from then (a new cycle, due after the full target), not from
  created_at.
- sla_cycles: ticket, metric, cycle number, the policy and target seconds it is measured
  against, the calendar it runs on, started_at, due_at, paused_seconds, paused_at, met_at,
  state (running, paused, met, met_late, cancelled: `breached` is derived from due_at and
  now), and the priority, team and assignee as of its end; breach_noted_at, set once by
  `queue escalate` when it writes the cycle's `sla_breached` event.
- Two statement-level triggers on tickets keep the cycles in the same transaction as
  every change to a clock, whoever makes it (a command, an import, a recompute, a cron
  batch): a new cycle when a clock starts (creation, a reopen, a customer's message that
  starts a next reply), and the latest cycle follows the ticket until it is met or
  cancelled; after that it never changes. They are SECURITY DEFINER: nobody but the
  tickets' own changes writes history, and the roles only read it.
- ix_tickets_unresolved: the unresolved tickets' created_at with their groups, for
  `report backlog` (an index-only scan instead of reading every ticket row).
- Backfill: every ticket's current cycles, the met ones attributed to the assignee, team
  and priority the ticket had when they were met (from its history). Tickets reopened
  before this revision were measured on one resolution clock that kept its original due
  time, so they get one resolution cycle, as they were measured.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Each of a ticket row's three clocks as (metric, started_at, due_at, met_at, paused_seconds,
# paused_at, target_seconds), over the ticket `n` and its targets `st`.
CLOCKS = """
CROSS JOIN LATERAL (VALUES
    ('response', n.created_at, n.response_due_at, n.first_response_at, 0, NULL::timestamptz, st.response_seconds),
    ('resolution', coalesce(n.reopened_at, n.created_at), n.resolution_due_at, n.resolved_at, n.paused_seconds,
     n.paused_at, st.resolution_seconds),
    ('next_reply', n.next_reply_started_at, n.next_reply_due_at, n.next_reply_met_at, n.next_reply_paused_seconds,
     n.paused_at, st.next_reply_seconds)
) AS m(metric, started_at, due_at, met_at, paused_seconds, paused_at, target_seconds)
"""
# What a ticket row's clocks are measured with: its policy, its targets, its calendar.
MEASURED = """
JOIN sla_policies sp ON sp.id = n.sla_policy_id
JOIN sla_targets st ON st.policy_id = n.sla_policy_id AND st.priority = n.priority
LEFT JOIN teams tm ON tm.id = n.team_id
"""
CALENDAR = "coalesce(sp.calendar, tm.calendar, (SELECT c.name FROM sla_calendars c WHERE c.name = 'default'))"
STATE = ("CASE WHEN m.met_at IS NOT NULL THEN CASE WHEN m.met_at <= m.due_at THEN 'met' ELSE 'met_late' END "
         "WHEN m.paused_at IS NOT NULL THEN 'paused' ELSE 'running' END")
COLUMNS = ("ticket_id, metric, cycle, policy, target_seconds, calendar, started_at, due_at, paused_seconds, "
           "paused_at, met_at, state, priority, team_id, assignee_id")

CYCLES_STARTED = f"""
CREATE FUNCTION supportctl_cycles_started() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO sla_cycles ({COLUMNS})
    SELECT n.id, m.metric, 1, sp.name, m.target_seconds, {CALENDAR}, m.started_at, m.due_at, m.paused_seconds,
           m.paused_at, m.met_at, {STATE}, n.priority, n.team_id, n.assignee_id
    FROM new_rows n {MEASURED} {CLOCKS}
    WHERE m.started_at IS NOT NULL AND m.due_at IS NOT NULL;
    RETURN NULL;
END $$
"""

# On every UPDATE of tickets, one statement over the rows whose clocks changed (`k`):
# - a clock that restarted (a reopen, a new next reply) cancels its latest cycle if that
#   was still unmet (the state machine never leaves one so; a cycle must not stay running),
# - and starts cycle N+1;
# - otherwise the clock's latest unmet cycle follows the ticket: due, pause, met, policy,
#   target, calendar, and the priority, team and assignee (frozen once it is met).
# The three parts touch different rows and see the same snapshot.
CYCLES_FOLLOW = f"""
CREATE FUNCTION supportctl_cycles_follow() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    WITH k AS (
        SELECT n.id, m.metric, m.started_at IS DISTINCT FROM CASE m.metric WHEN 'response' THEN o.created_at
               WHEN 'resolution' THEN coalesce(o.reopened_at, o.created_at) ELSE o.next_reply_started_at END
               AS restarted, m.started_at, m.due_at,
               m.met_at, m.paused_seconds, m.paused_at, m.target_seconds, sp.name AS policy, {CALENDAR} AS calendar,
               n.priority, n.team_id, n.assignee_id
        FROM new_rows n JOIN old_rows o ON o.id = n.id {MEASURED} {CLOCKS}
        WHERE (o.priority, o.team_id, o.assignee_id, o.sla_policy_id, o.reopened_at, o.response_due_at,
               o.first_response_at, o.resolution_due_at, o.resolved_at, o.paused_seconds, o.paused_at,
               o.next_reply_started_at, o.next_reply_due_at, o.next_reply_met_at, o.next_reply_paused_seconds)
              IS DISTINCT FROM
              (n.priority, n.team_id, n.assignee_id, n.sla_policy_id, n.reopened_at, n.response_due_at,
               n.first_response_at, n.resolution_due_at, n.resolved_at, n.paused_seconds, n.paused_at,
               n.next_reply_started_at, n.next_reply_due_at, n.next_reply_met_at, n.next_reply_paused_seconds)
    ), cancelled AS (
        UPDATE sla_cycles c SET state = 'cancelled'
        FROM k WHERE k.restarted AND c.ticket_id = k.id AND c.metric = k.metric AND c.state IN ('running', 'paused')
    ), started AS (
        INSERT INTO sla_cycles ({COLUMNS})
        SELECT k.id, k.metric,
               coalesce((SELECT max(c.cycle) FROM sla_cycles c WHERE c.ticket_id = k.id AND c.metric = k.metric),
                        0) + 1,
               k.policy, k.target_seconds, k.calendar, k.started_at, k.due_at, k.paused_seconds, k.paused_at,
               k.met_at, {STATE.replace('m.', 'k.')}, k.priority, k.team_id, k.assignee_id
        FROM k WHERE k.restarted AND k.started_at IS NOT NULL AND k.due_at IS NOT NULL
    )
    UPDATE sla_cycles c SET policy = k.policy, target_seconds = k.target_seconds, calendar = k.calendar,
           due_at = k.due_at, paused_seconds = k.paused_seconds, paused_at = k.paused_at, met_at = k.met_at,
           state = {STATE.replace('m.', 'k.')}, priority = k.priority, team_id = k.team_id,
           assignee_id = k.assignee_id
    FROM k
    WHERE NOT k.restarted AND k.due_at IS NOT NULL AND c.ticket_id = k.id AND c.metric = k.metric
      AND c.state IN ('running', 'paused');
    RETURN NULL;
END $$
"""

# A ticket's assignee, team or priority at the instant `at`, from its history: the value
# the last change at or before `at` set, else the value the first later change replaced,
# else the ticket's current one.
AS_OF = """(SELECT coalesce(
    (SELECT {value} FROM ticket_events e WHERE e.ticket_id = n.id AND e.kind IN ({kinds}) AND e.at <= {at}
     ORDER BY e.at DESC, e.id DESC LIMIT 1),
    (SELECT {before} FROM ticket_events e WHERE e.ticket_id = n.id AND e.kind IN ({kinds}) AND e.at > {at}
     ORDER BY e.at, e.id LIMIT 1),
    jsonb_build_object('v', {current})) ->> 'v')"""


def _as_of(at: str, kinds: str, value: str, before: str, current: str) -> str:
    return AS_OF.format(at=at, kinds=kinds, value=value, before=before, current=current)


def _backfill() -> None:
    at = "m.met_at"
    assignee = _as_of(at, "'assigned', 'unassigned'", "jsonb_build_object('v', e.to_value -> 'assignee_email')",
                      "jsonb_build_object('v', e.from_value -> 'assignee_email')",
                      "(SELECT a.email FROM agents a WHERE a.id = n.assignee_id)")
    team = _as_of(at, "'team_changed'", "jsonb_build_object('v', e.to_value -> 'team')",
                  "jsonb_build_object('v', e.from_value -> 'team')", "tm.slug")
    priority = _as_of(at, "'priority_changed', 'escalated'",
                      "jsonb_build_object('v', CASE e.kind WHEN 'escalated' THEN e.to_value -> 'priority' "
                      "ELSE e.to_value END)",
                      "jsonb_build_object('v', CASE e.kind WHEN 'escalated' THEN e.from_value -> 'priority' "
                      "ELSE e.from_value END)", "n.priority")
    op.execute(f"""
INSERT INTO sla_cycles ({COLUMNS})
SELECT n.id, m.metric, 1, sp.name, m.target_seconds, {CALENDAR}, m.started_at, m.due_at, m.paused_seconds,
       m.paused_at, m.met_at, {STATE},
       CASE WHEN m.met_at IS NULL THEN n.priority ELSE {priority} END,
       CASE WHEN m.met_at IS NULL THEN n.team_id ELSE (SELECT x.id FROM teams x WHERE x.slug = {team}) END,
       CASE WHEN m.met_at IS NULL THEN n.assignee_id ELSE (SELECT a.id FROM agents a WHERE a.email = {assignee}) END
FROM tickets n {MEASURED} {CLOCKS}
WHERE m.started_at IS NOT NULL AND m.due_at IS NOT NULL
""")


def upgrade() -> None:
    op.add_column("tickets", sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sla_cycles",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("target_seconds", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("breach_noted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("metric IN ('response', 'resolution', 'next_reply')", name=op.f("ck_sla_cycles_metric")),
        sa.CheckConstraint("state IN ('running', 'paused', 'met', 'met_late', 'cancelled')",
                           name=op.f("ck_sla_cycles_state")),
        sa.CheckConstraint("cycle > 0", name=op.f("ck_sla_cycles_cycle_positive")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_sla_cycles_ticket_id_tickets"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_sla_cycles_team_id_teams")),
        sa.ForeignKeyConstraint(["assignee_id"], ["agents.id"], name=op.f("fk_sla_cycles_assignee_id_agents")),
        sa.PrimaryKeyConstraint("ticket_id", "metric", "cycle", name=op.f("pk_sla_cycles")),
    )
    op.create_index("ix_sla_cycles_due_at", "sla_cycles", ["due_at"])
    op.create_index("ix_sla_cycles_started_at", "sla_cycles", ["started_at"])
    op.create_index("ix_sla_cycles_met_at", "sla_cycles", ["met_at"], postgresql_where=sa.text("met_at IS NOT NULL"))
    op.create_index("ix_sla_cycles_breach_unnoted", "sla_cycles", ["due_at"],
                    postgresql_where=sa.text("state IN ('running', 'paused') AND breach_noted_at IS NULL"))
    # report backlog reads the unresolved tickets' ages and groups from this index alone.
    op.create_index("ix_tickets_unresolved", "tickets", ["created_at"],
                    postgresql_include=["id", "team_id", "assignee_id", "priority", "status"],
                    postgresql_where=sa.text("status NOT IN ('resolved', 'closed')"))
    _backfill()
    op.execute("ANALYZE sla_cycles")
    for function in (CYCLES_STARTED, CYCLES_FOLLOW):
        op.execute(function)
    # The functions find the tables in this schema whatever the caller's search_path says.
    op.execute("""
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION %1$I.supportctl_cycles_started() SET search_path = pg_catalog, %1$I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION %1$I.supportctl_cycles_follow() SET search_path = pg_catalog, %1$I, pg_temp',
                   current_schema());
END $$
""")
    for function in ("supportctl_cycles_started()", "supportctl_cycles_follow()"):
        op.execute(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
    op.execute("CREATE TRIGGER sla_cycles_started AFTER INSERT ON tickets REFERENCING NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION supportctl_cycles_started()")
    op.execute("CREATE TRIGGER sla_cycles_follow AFTER UPDATE ON tickets REFERENCING OLD TABLE AS old_rows "
               "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION supportctl_cycles_follow()")


def downgrade() -> None:
    op.execute("DROP TRIGGER sla_cycles_follow ON tickets")
    op.execute("DROP TRIGGER sla_cycles_started ON tickets")
    op.execute("DROP FUNCTION supportctl_cycles_follow()")
    op.execute("DROP FUNCTION supportctl_cycles_started()")
    op.drop_table("sla_cycles")
    op.drop_index("ix_tickets_unresolved", table_name="tickets")
    op.drop_column("tickets", "reopened_at")
