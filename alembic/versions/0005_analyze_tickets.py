"""Two functions that do one thing each as the owner, so the group roles need less.

- `ticket import` ANALYZEs tickets after a large load (its plans otherwise treat the table
  as empty: services/transfer/importing.py). A role that does not own the table may do so
  only with MAINTAIN, and on PostgreSQL 17+ MAINTAIN also lets it LOCK the table ACCESS
  EXCLUSIVE: supportctl_analyze_tickets() does the ANALYZE alone.
- `sla set` and `sla calendar` lock tickets EXCLUSIVE while they recompute due dates
  (services/sla/recompute.py); LOCK TABLE asks for UPDATE on the whole table, which would
  let the admin rewrite any column of any ticket: supportctl_lock_tickets() takes the lock
  alone (it is held to the end of the caller's transaction).

Both are SECURITY DEFINER with a fixed search_path; EXECUTE is revoked from PUBLIC and
granted by `supportctl db roles`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FUNCTIONS = ("supportctl_analyze_tickets()", "supportctl_lock_tickets()")


def upgrade() -> None:
    # The schema is fixed when the function is made: a caller's search_path cannot redirect it.
    op.execute("""
DO $$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION %1$I.supportctl_analyze_tickets() RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $body$ BEGIN ANALYZE %1$I.tickets; END $body$
    $f$, current_schema());
END $$
""")
    op.execute("""
DO $$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION %1$I.supportctl_lock_tickets() RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $body$ BEGIN LOCK TABLE %1$I.tickets IN EXCLUSIVE MODE; END $body$
    $f$, current_schema());
END $$
""")
    for function in FUNCTIONS:
        op.execute(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
