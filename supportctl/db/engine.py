"""Engines, and the translation of database errors into supportctl's exception tree.

Nothing here runs at import time; an engine is made only when a command needs one.
"""

from __future__ import annotations

import psycopg2
from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from supportctl import errors

# What the database layer raises: SQLAlchemy's wrapper, or psycopg2's own error from the
# raw cursor the COPY paths use.
DatabaseError = (DBAPIError, psycopg2.Error)

# SQLSTATE codes (PostgreSQL appendix A) that mean something to a user.
_PERMISSION_DENIED = "42501"
_LOCK_NOT_AVAILABLE = "55P03"
_QUERY_CANCELED = "57014"  # statement_timeout or lock_timeout expired
_PROGRAM_LIMIT = "54"  # class 54: e.g. a description whose distinct words overflow the 1 MB tsvector
RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock: retry the whole transaction


def normalise_url(url: str) -> URL:
    """Any PostgreSQL URL, driven by psycopg2 (SQLAlchemy 2.1 would pick psycopg 3 for postgresql://)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise errors.InvalidInput("the database URL is not a valid URL", hint="e.g. postgresql://user@host/db") from exc
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise errors.InvalidInput(
            f"supportctl works with PostgreSQL only, not {parsed.get_backend_name()!r}",
            hint="e.g. postgresql://user@host/db",
        )
    return parsed.set(drivername="postgresql+psycopg2")


def make_engine(url: str) -> Engine:
    return create_engine(
        normalise_url(url),
        # Statement parameters carry customer text and, on connect errors, could carry secrets.
        hide_parameters=True,
        pool_pre_ping=False,
        pool_size=2,
        max_overflow=2,
        connect_args={"connect_timeout": 5, "application_name": "supportctl"},
    )


def _driver_error(exc: BaseException) -> BaseException | None:
    return exc.orig if isinstance(exc, DBAPIError) else exc


def sqlstate(exc: BaseException) -> str | None:
    return getattr(_driver_error(exc), "pgcode", None)


def translate(exc: BaseException, shown_url: str) -> errors.SupportctlError:
    """Map a database error (see DatabaseError) to supportctl's exit codes (docs/output.md),
    with a one-line message."""
    code = sqlstate(exc)
    driver = _driver_error(exc)
    detail = (str(driver).strip().splitlines() or [type(driver).__name__])[0] if driver is not None else str(exc)
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
