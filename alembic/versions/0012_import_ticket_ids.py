"""`ticket import` draws its tickets' ids itself, so each is known by its file line (its
comments and given clocks follow it): the roles that import may use tickets_id_seq.

`supportctl db roles` grants it from now on (services/admin/roles.py, SEQUENCES); this
grants it where the roles already exist, so an upgrade needs no second step.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ROLES = ("supportctl_agent", "supportctl_admin")


def _each_role(statement: str) -> None:
    for role in _ROLES:
        op.execute(f"""DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                {statement.format(role=role)};
            END IF; END $$""")


def upgrade() -> None:
    _each_role("GRANT USAGE ON SEQUENCE tickets_id_seq TO {role}")


def downgrade() -> None:
    _each_role("REVOKE USAGE ON SEQUENCE tickets_id_seq FROM {role}")
