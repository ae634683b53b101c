"""Data protection: the audit log, tombstones, and the one path that rewrites history.

- audit_log: administrative changes (at, actor, kind, object, object_id, from, to). Row
  triggers on the configuration tables (SLA policies, targets and calendars, agents,
  teams, members, routes, ladders, quiet hours, macros) write it in the transaction of
  each change, whoever makes it; the commands add what no table change says (a customer
  exported, anonymized or erased, roles granted). The triggers run as the owner; only the
  admin role may write an entry by hand, so a command that must leave one (a customer
  export) is the admin's alone. The actor and the time are the command's (`supportctl.actor`
  and `supportctl.now`, set for each transaction); the routine columns (the assignment
  cursors, updated_at) make no entry.
- retention_policy: one row or none: closed tickets older than this get the action
  (anonymize or delete), except those carrying except_tag.
- ticket_tombstones: what is left of an erased ticket (id, external_id, created_at,
  closed_at, erased_at, actor, reason).
- supportctl_redact(), supportctl_redact_tickets(), supportctl_erase() and
  supportctl_erase_tickets(): the only rewriting and removal of a customer, their
  history, comments and the outbox (anonymize, erase, retention); SECURITY DEFINER,
  executable by the admin role alone.
- notifications may be `cancelled`; the `redacted` history kind.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KINDS = ("created", "assigned", "unassigned", "status_changed", "priority_changed", "commented", "escalated",
         "updated", "sla_breached", "imported", "team_changed", "sla_policy_changed", "ladder_step_fired",
         "ladder_step_skipped")
# table -> (the object's name in the log, its key columns, columns whose change is no entry)
AUDITED = {
    "sla_policies": ("sla_policy", "name", "updated_at"),
    "sla_targets": ("sla_target", "policy_id,priority", "updated_at"),
    "sla_calendars": ("sla_calendar", "name", "updated_at"),
    "agents": ("agent", "email", "last_assigned_at,assignment_seq"),
    "teams": ("team", "slug", ""),
    "team_members": ("team_member", "team_id,agent_id", "last_assigned_at,assignment_seq"),
    "team_routes": ("team_route", "id", ""),
    "escalation_ladders": ("escalation_ladder", "name", "updated_at"),
    "quiet_hours": ("quiet_hours", "id", "updated_at"),
    "macros": ("macro", "name", "updated_at"),
    "retention_policy": ("retention_policy", "id", "updated_at"),
}

AUDIT = """
CREATE FUNCTION supportctl_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    ignored text[] := string_to_array(TG_ARGV[2], ',');
    before jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - ignored END;
    after jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - ignored END;
BEGIN
    IF TG_OP = 'UPDATE' AND before = after THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (at, actor, kind, object, object_id, from_value, to_value)
    VALUES (coalesce(nullif(current_setting('supportctl.now', true), '')::timestamptz, now()),
            coalesce(nullif(current_setting('supportctl.actor', true), ''), session_user),
            TG_ARGV[0] || CASE TG_OP WHEN 'INSERT' THEN '_added' WHEN 'UPDATE' THEN '_changed' ELSE '_removed' END,
            TG_ARGV[0],
            array_to_string(ARRAY(SELECT coalesce(after, before) ->> k FROM unnest(string_to_array(TG_ARGV[1], ','))
                                  AS k), ':'),
            before, after);
    RETURN NULL;
END $$
"""

# A literal as a case-insensitive pattern: every character that means something to a regex escaped.
_QUOTE = r"regexp_replace({0}, '([.^$*+?()\[\]{{}}|\\-])', '\\\1', 'g')"
REDACT = f"""
CREATE FUNCTION supportctl_redact_tickets(p_tickets bigint[], p_email text, p_name text, p_new_email text,
                                          p_new_name text, p_text boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    email_re text := {_QUOTE.format('p_email')};
    -- Inside JSON text a name is written escaped (a quote as \\"): match it as written there.
    json_email_re text := {_QUOTE.format("substr(to_json(p_email)::text, 2, length(to_json(p_email)::text) - 2)")};
    json_name_re text := {_QUOTE.format("substr(to_json(p_name)::text, 2, length(to_json(p_name)::text) - 2)")};
    text_re text := email_re || '|' || {_QUOTE.format('p_name')};
    new_email_json text := substr(to_json(p_new_email)::text, 2, length(to_json(p_new_email)::text) - 2);
    new_name_json text := substr(to_json(p_new_name)::text, 2, length(to_json(p_new_name)::text) - 2);
BEGIN
    -- Structured mentions become the new identity; with p_text the free text loses both.
    UPDATE ticket_events e SET
        actor = regexp_replace(e.actor, email_re, p_new_email, 'gi'),
        from_value = CASE WHEN p_text THEN regexp_replace(regexp_replace(e.from_value::text, json_email_re,
                              new_email_json, 'gi'), json_name_re, new_name_json, 'gi')
                          ELSE regexp_replace(e.from_value::text, json_email_re, new_email_json, 'gi') END::jsonb,
        to_value = CASE WHEN p_text THEN regexp_replace(regexp_replace(e.to_value::text, json_email_re,
                            new_email_json, 'gi'), json_name_re, new_name_json, 'gi')
                        ELSE regexp_replace(e.to_value::text, json_email_re, new_email_json, 'gi') END::jsonb
    WHERE e.ticket_id = ANY(p_tickets);
    UPDATE comments c SET
        author_email = CASE WHEN lower(c.author_email) = lower(p_email) THEN p_new_email ELSE c.author_email END,
        body = CASE WHEN p_text THEN regexp_replace(c.body, text_re, '[redacted]', 'gi') ELSE c.body END
    WHERE c.ticket_id = ANY(p_tickets);
    IF p_text THEN
        UPDATE tickets t SET title = regexp_replace(t.title, text_re, '[redacted]', 'gi'),
                             description = regexp_replace(t.description, text_re, '[redacted]', 'gi')
        WHERE t.id = ANY(p_tickets);
    END IF;
    -- The outbox: what is still to go to them never goes; what mentions them forgets them.
    UPDATE notifications n SET
        status = CASE WHEN n.status = 'pending' AND lower(n.recipient) = lower(p_email)
                           AND lower(p_new_email) <> lower(p_email) THEN 'cancelled' ELSE n.status END,
        recipient = regexp_replace(n.recipient, email_re, p_new_email, 'gi'),
        data = regexp_replace(regexp_replace(n.data::text, json_email_re, new_email_json, 'gi'),
                              json_name_re, new_name_json, 'gi')::jsonb,
        last_error = regexp_replace(n.last_error, text_re, '[redacted]', 'gi')
    WHERE n.recipient ~* email_re OR n.data::text ~* json_email_re OR n.last_error ~* text_re
       OR (n.data ->> 'ticket_id')::bigint = ANY(p_tickets) AND n.data::text ~* json_name_re;
END $$
"""

# anonymize: the customer's identity replaced, on every one of their tickets.
REDACT_CUSTOMER = """
CREATE FUNCTION supportctl_redact(p_customer bigint, p_new_email text, p_new_name text, p_text boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    was customers%ROWTYPE;
BEGIN
    SELECT * INTO was FROM customers WHERE id = p_customer;
    UPDATE customers SET email = p_new_email, name = p_new_name, company = NULL WHERE id = p_customer;
    PERFORM supportctl_redact_tickets(ARRAY(SELECT id FROM tickets WHERE customer_id = p_customer), was.email,
                                      was.name, p_new_email, p_new_name, p_text);
END $$
"""

# retention's delete: the tickets and what is theirs (the customer stays).
ERASE_TICKETS = """
CREATE FUNCTION supportctl_erase_tickets(p_tickets bigint[]) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    DELETE FROM notifications n WHERE (n.data ->> 'ticket_id')::bigint = ANY(p_tickets);
    DELETE FROM ticket_events WHERE ticket_id = ANY(p_tickets);
    DELETE FROM comments WHERE ticket_id = ANY(p_tickets);
    DELETE FROM tickets WHERE id = ANY(p_tickets);
END $$
"""

ERASE = """
CREATE FUNCTION supportctl_erase(p_customer bigint) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    doomed bigint[] := ARRAY(SELECT id FROM tickets WHERE customer_id = p_customer);
    address text := (SELECT email FROM customers WHERE id = p_customer);
BEGIN
    DELETE FROM notifications n WHERE lower(n.recipient) = lower(address)
        OR (n.data ->> 'ticket_id')::bigint = ANY(doomed) OR strpos(lower(n.data::text), lower(address)) > 0;
    DELETE FROM ticket_events WHERE ticket_id = ANY(doomed);
    DELETE FROM comments WHERE ticket_id = ANY(doomed);
    DELETE FROM tickets WHERE id = ANY(doomed);  -- their SLA cycles and ladder claims go with them
    DELETE FROM customers WHERE id = p_customer;
END $$
"""
FUNCTIONS = ("supportctl_audit()", "supportctl_redact_tickets(bigint[], text, text, text, text, boolean)",
             "supportctl_redact(bigint, text, text, boolean)", "supportctl_erase_tickets(bigint[])",
             "supportctl_erase(bigint)")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_ticket_events_kind"), "ticket_events", type_="check")
    op.create_check_constraint(op.f("ck_ticket_events_kind"), "ticket_events",
                               "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")")


def _statuses(statuses: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_notifications_status"), "notifications", type_="check")
    op.create_check_constraint(op.f("ck_notifications_status"), "notifications",
                               "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column("from_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("to_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "ticket_tombstones",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_tombstones")),
    )
    op.create_table(
        "retention_policy",
        sa.Column("id", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("closed_older_than_seconds", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("except_tag", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id", name=op.f("ck_retention_policy_one_row")),
        sa.CheckConstraint("action IN ('anonymize', 'delete')", name=op.f("ck_retention_policy_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policy")),
    )
    _kinds((*KINDS, "redacted"))
    _statuses(("pending", "sent", "failed", "cancelled"))
    for function in (AUDIT, REDACT, REDACT_CUSTOMER, ERASE_TICKETS, ERASE):
        op.execute(function)
    for function in FUNCTIONS:
        op.execute(f"""
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION %1$I.{function} SET search_path = pg_catalog, %1$I, pg_temp', current_schema());
END $$
""")
        op.execute(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
    for table, (name, keys, ignored) in AUDITED.items():
        op.execute(f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
                   f"EXECUTE FUNCTION supportctl_audit('{name}', '{keys}', '{ignored}')")


def downgrade() -> None:
    for table in AUDITED:
        op.execute(f"DROP TRIGGER {table}_audit ON {table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.execute("UPDATE notifications SET status = 'failed' WHERE status = 'cancelled'")
    _statuses(("pending", "sent", "failed"))
    _kinds(KINDS)
    op.drop_table("retention_policy")
    op.drop_table("ticket_tombstones")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
