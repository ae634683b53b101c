"""`customer update`: the admin changes a customer's name, tier and company, and their email
through supportctl_rename_customer(), which carries the new address everywhere the old one
is written (ticket history, comment authors, the outbox), so that the old address is kept
nowhere a later anonymize would not find it.

The admin's UPDATE is on those three columns alone: an email is only changed by this
function, or by anonymize's. Pending mail to the old address goes to the new one (it is
the same person's), unlike anonymize, which cancels it. `supportctl db roles` grants both
from now on (services/admin/roles.py); this grants them where the roles already exist.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FUNCTION = "supportctl_rename_customer(bigint, text)"
RENAME = """
CREATE FUNCTION supportctl_rename_customer(p_customer bigint, p_new_email text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    was customers%ROWTYPE;
BEGIN
    SELECT * INTO was FROM customers WHERE id = p_customer FOR UPDATE;
    IF NOT FOUND OR was.email = p_new_email THEN
        RETURN;
    END IF;
    UPDATE customers SET email = p_new_email WHERE id = p_customer;
    -- First what is still to go to them: to the new address (redact_tickets would cancel it).
    UPDATE notifications SET recipient = p_new_email
    WHERE status = 'pending' AND lower(recipient) = lower(was.email);
    -- Then every structured mention on their tickets; free text is left as they wrote it.
    PERFORM supportctl_redact_tickets(ARRAY(SELECT id FROM tickets WHERE customer_id = p_customer),
                                      was.email, was.name, p_new_email, was.name, false);
END $$
"""
_ADMIN = "supportctl_admin"


def _if_admin(statement: str) -> None:
    op.execute(f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{_ADMIN}') THEN
            {statement};
        END IF; END $$""")


def upgrade() -> None:
    op.execute(RENAME)
    op.execute(f"""
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION %1$I.{FUNCTION} SET search_path = pg_catalog, %1$I, pg_temp', current_schema());
END $$
""")
    op.execute(f"REVOKE EXECUTE ON FUNCTION {FUNCTION} FROM PUBLIC")
    _if_admin(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO {_ADMIN}")
    _if_admin(f"GRANT UPDATE (name, tier, company) ON customers TO {_ADMIN}")


def downgrade() -> None:
    _if_admin(f"REVOKE UPDATE (name, tier, company) ON customers FROM {_ADMIN}")
    op.execute(f"DROP FUNCTION {FUNCTION}")
