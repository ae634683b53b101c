"""SQLAlchemy engines for the commands that write (the read path needs none: db/direct.py).

Nothing here runs at import time; an engine is made only when a command needs one.
"""

from __future__ import annotations

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError

from supportctl import errors


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
