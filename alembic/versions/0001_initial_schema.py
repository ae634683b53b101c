"""Initial schema: customers, agents, tickets, comments, events, SLA policy and calendar.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agents',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('role', sa.Text(), server_default='agent', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('agent', 'senior', 'lead')", name=op.f('ck_agents_role')),
    sa.CheckConstraint('capacity IS NULL OR capacity >= 1', name=op.f('ck_agents_capacity_positive')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_agents_email_lower')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('email', name=op.f('uq_agents_email'))
    )
    op.create_table('customers',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('tier', sa.Text(), server_default='basic', nullable=False),
    sa.Column('company', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("tier IN ('free', 'basic', 'premium', 'enterprise')", name=op.f('ck_customers_tier')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_customers_email_lower')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('email', name=op.f('uq_customers_email'))
    )
    op.create_table('sla_calendar',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('timezone', sa.Text(), nullable=False),
    sa.Column('hours', sa.Text(), nullable=False),
    sa.Column('holidays', sa.ARRAY(sa.Date()), server_default='{}', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_sla_calendar_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_calendar'))
    )
    op.create_table('sla_policies',
    sa.Column('priority', sa.Text(), nullable=False),
    sa.Column('response_seconds', sa.Integer(), nullable=False),
    sa.Column('resolution_seconds', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')", name=op.f('ck_sla_policies_priority')),
    sa.CheckConstraint('response_seconds > 0 AND resolution_seconds > 0', name=op.f('ck_sla_policies_positive')),
    sa.PrimaryKeyConstraint('priority', name=op.f('pk_sla_policies'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('priority', sa.Text(), server_default='medium', nullable=False),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('tags', sa.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('assignee_id', sa.BigInteger(), nullable=True),
    sa.Column('escalated', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('escalation_level', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('last_escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_seconds', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('search', postgresql.TSVECTOR(), sa.Computed("to_tsvector('english'::regconfig, title || ' ' || description)", persisted=True), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')", name=op.f('ck_tickets_priority')),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'pending', 'resolved', 'closed')", name=op.f('ck_tickets_status')),
    sa.CheckConstraint('escalation_level >= 0', name=op.f('ck_tickets_escalation_level_nonnegative')),
    sa.ForeignKeyConstraint(['assignee_id'], ['agents.id'], name=op.f('fk_tickets_assignee_id_agents')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_tickets_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('external_id', name=op.f('uq_tickets_external_id'))
    )
    op.create_index('ix_tickets_assignee_id_status', 'tickets', ['assignee_id', 'status'], unique=False)
    op.create_index('ix_tickets_created_at_id', 'tickets', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_tickets_customer_id'), 'tickets', ['customer_id'], unique=False)
    op.create_index('ix_tickets_resolution_due_unmet', 'tickets', ['resolution_due_at'], unique=False, postgresql_where=sa.text("resolved_at IS NULL AND status NOT IN ('resolved', 'closed')"))
    op.create_index('ix_tickets_response_due_unmet', 'tickets', ['response_due_at'], unique=False, postgresql_where=sa.text('first_response_at IS NULL'))
    op.create_index('ix_tickets_search', 'tickets', ['search'], unique=False, postgresql_using='gin')
    op.create_index('ix_tickets_status_priority', 'tickets', ['status', 'priority'], unique=False)
    op.create_index('ix_tickets_tags', 'tickets', ['tags'], unique=False, postgresql_using='gin')
    op.create_index('ix_tickets_updated_at_id', 'tickets', ['updated_at', 'id'], unique=False)
    op.create_table('comments',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('author_email', sa.Text(), nullable=False),
    sa.Column('author_kind', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('internal', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("author_kind IN ('agent', 'customer')", name=op.f('ck_comments_author_kind')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_comments_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments'))
    )
    op.create_index(op.f('ix_comments_ticket_id'), 'comments', ['ticket_id'], unique=False)
    op.create_table('ticket_events',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('from_value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('to_value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("kind IN ('created', 'assigned', 'unassigned', 'status_changed', 'priority_changed', 'commented', 'escalated', 'updated', 'sla_breached', 'imported')", name=op.f('ck_ticket_events_kind')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    op.create_index('ix_ticket_events_ticket_id_id', 'ticket_events', ['ticket_id', 'id'], unique=False)
    # The default targets (docs/sla.md), frozen here as history: later changes
    # to the defaults need a migration of their own, and `sla set` edits these rows.
    policies = sa.table(
        "sla_policies",
        sa.column("priority", sa.Text),
        sa.column("response_seconds", sa.Integer),
        sa.column("resolution_seconds", sa.Integer),
    )
    hour = 3600
    op.bulk_insert(
        policies,
        [
            {"priority": "critical", "response_seconds": 1 * hour, "resolution_seconds": 8 * hour},
            {"priority": "high", "response_seconds": 4 * hour, "resolution_seconds": 24 * hour},
            {"priority": "medium", "response_seconds": 24 * hour, "resolution_seconds": 72 * hour},
            {"priority": "low", "response_seconds": 72 * hour, "resolution_seconds": 168 * hour},
        ],
    )


def downgrade() -> None:
    op.drop_index('ix_ticket_events_ticket_id_id', table_name='ticket_events')
    op.drop_table('ticket_events')
    op.drop_index(op.f('ix_comments_ticket_id'), table_name='comments')
    op.drop_table('comments')
    op.drop_index('ix_tickets_updated_at_id', table_name='tickets')
    op.drop_index('ix_tickets_tags', table_name='tickets', postgresql_using='gin')
    op.drop_index('ix_tickets_status_priority', table_name='tickets')
    op.drop_index('ix_tickets_search', table_name='tickets', postgresql_using='gin')
    op.drop_index('ix_tickets_response_due_unmet', table_name='tickets', postgresql_where=sa.text('first_response_at IS NULL'))
    op.drop_index('ix_tickets_resolution_due_unmet', table_name='tickets', postgresql_where=sa.text("resolved_at IS NULL AND status NOT IN ('resolved', 'closed')"))
    op.drop_index(op.f('ix_tickets_customer_id'), table_name='tickets')
    op.drop_index('ix_tickets_created_at_id', table_name='tickets')
    op.drop_index('ix_tickets_assignee_id_status', table_name='tickets')
    op.drop_table('tickets')
    op.drop_table('sla_policies')
    op.drop_table('sla_calendar')
    op.drop_table('customers')
    op.drop_table('agents')
