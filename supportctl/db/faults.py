"""Database errors, translated into supportctl's exception tree (docs/output.md, "Exit codes").

Works on psycopg2's own errors, so the read path (db/direct.py), which never imports
SQLAlchemy, shares it; db/database.py hands it the driver error inside SQLAlchemy's wrapper.
"""

from __future__ import annotations

from supportctl import errors

# SQLSTATE codes (PostgreSQL appendix A) that mean something to a user.
_PERMISSION_DENIED = "42501"
_LOCK_NOT_AVAILABLE = "55P03"
_QUERY_CANCELED = "57014"  # statement_timeout or lock_timeout expired
_PROGRAM_LIMIT = "54"  # class 54: e.g. a description whose distinct words overflow the 1 MB tsvector
RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock: retry the whole transaction


def sqlstate(driver: BaseException | None) -> str | None:
    return getattr(driver, "pgcode", None)


def translate(driver: BaseException, shown_url: str) -> errors.SupportctlError:
    """Map a driver (psycopg2) error to supportctl's exit codes, with a one-line message."""
    code = sqlstate(driver)
    detail = (str(driver).strip().splitlines() or [type(driver).__name__])[0]
    if code == _PERMISSION_DENIED:
        # PostgreSQL already says "permission denied for table x"; saying it twice reads badly.
        return errors.Refused(
            detail if detail.startswith("permission denied") else f"permission denied: {detail}",
            hint="the database role in use may not do that: see `supportctl db roles`",
        )
    if code in (_LOCK_NOT_AVAILABLE, _QUERY_CANCELED) or code in RETRYABLE:
        # PostgreSQL says what it waited on in the context: "while updating tuple (0,3) in relation ...".
        context = getattr(getattr(driver, "diag", None), "context", None) or ""
        waited = f" ({context.splitlines()[0]})" if context.startswith("while ") else ""
        return errors.LockBusy(
            f"gave up waiting for the database: {detail}{waited}",
            hint="another run holds what this one needs; nothing was changed, try again later",
        )
    if code is not None and code.startswith(_PROGRAM_LIMIT):
        return errors.InvalidInput(
            f"a value is too large for the database: {detail}; nothing was changed",
            hint="a description's distinct words must fit PostgreSQL's 1 MB full-text index; shorten it",
        )
    if code is None or code.startswith(("08", "57P")):
        return errors.DatabaseUnavailable(
            f"cannot reach the database at {shown_url}: {detail}",
            hint="check --database-url / SUPPORTCTL_DATABASE_URL and that the server is running",
        )
    return errors.SupportctlError(f"database error {code}: {detail}")
