"""Assignment cursor: agents.assignment_seq, fed by a sequence on every assignment.

`now` is whole seconds and the same for every write of a command, so
last_assigned_at ties constantly; round-robin needs a strictly increasing cursor.
Agents assigned before this revision get cursor values in last_assigned_at order,
so the rotation carries on where it was.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEQUENCE = "agent_assignment_seq"


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence(SEQUENCE)))
    op.add_column("agents", sa.Column("assignment_seq", sa.BigInteger(), nullable=True))
    op.execute(
        """
        UPDATE agents SET assignment_seq = ranked.n
        FROM (SELECT id, row_number() OVER (ORDER BY last_assigned_at, id) AS n
              FROM agents WHERE last_assigned_at IS NOT NULL) AS ranked
        WHERE agents.id = ranked.id
        """
    )
    op.execute(f"SELECT setval('{SEQUENCE}', COALESCE(max(assignment_seq), 0) + 1, false) FROM agents")


def downgrade() -> None:
    op.drop_column("agents", "assignment_seq")
    op.execute(sa.schema.DropSequence(sa.Sequence(SEQUENCE)))
