"""psycopg2 directly: the read path and the set-based cron jobs, without SQLAlchemy.

Importing SQLAlchemy costs a command about 0.25 s before it has done anything, more than
PostgreSQL needs to answer `ticket show`, a breach report, or a batch of `queue
escalate`. So the read commands open a `Snapshot` (one REPEATABLE READ READ ONLY
transaction: the look-ups of a filter and the rows agree, and a hot standby can serve it)
and the cron jobs `Batches` (one short transaction per batch, retried on a serialization
failure or deadlock), with SQL written out in the services. The interactive writes keep
SQLAlchemy (db/database.py); all share the URL resolution, the schema check and the error
translation kept here and in db/faults.py.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions

from supportctl import errors
from supportctl.config import Settings, mask_url
from supportctl.db import migrate
from supportctl.db.faults import RETRYABLE, sqlstate, translate

UPGRADE_HINT = "run `supportctl db upgrade`"
CONNECT = {"connect_timeout": 5, "application_name": "supportctl"}
LOCK_TIMEOUT = "5s"  # how long any command waits for a row or table someone else holds


def resolve_url(settings: Settings) -> str:
    """The configured database, or the embedded server's (started when it is not running)."""
    if settings.database_url is not None:
        return settings.database_url
    from supportctl.db.embedded import EmbeddedServer

    return EmbeddedServer().ensure_running()


def libpq_url(url: str) -> str:
    """A URL as libpq takes it: `postgresql+psycopg2://…` (SQLAlchemy's spelling) as `postgresql://…`."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise errors.InvalidInput("the database URL is not a valid URL", hint="e.g. postgresql://user@host/db") from exc
    backend = parts.scheme.split("+", 1)[0].lower()
    if backend not in ("postgresql", "postgres"):
        raise errors.InvalidInput(f"supportctl works with PostgreSQL only, not {backend or url!r}",
                                  hint="e.g. postgresql://user@host/db")
    return urlunsplit(("postgresql", *parts[1:]))


def check_revision(current: str | None, *, shown_url: str) -> None:
    """SchemaOutdated (exit 5) unless the schema is at the head this code expects."""
    if current == migrate.HEAD:
        return
    if current is None:
        raise errors.SchemaOutdated(f"the database at {shown_url} has no supportctl schema", hint=UPGRADE_HINT)
    raise errors.SchemaOutdated(
        f"the database schema is at revision {current}, this supportctl needs {migrate.HEAD}",
        hint=UPGRADE_HINT if current < migrate.HEAD else "upgrade supportctl to match the database",
    )




def revision(cursor) -> str | None:
    """The database's migration revision, or None when it has no supportctl schema at all."""
    cursor.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT version_num FROM alembic_version")
    row = cursor.fetchone()  # none after a downgrade to base
    return row[0] if row else None


class Direct:
    """One psycopg2 connection to the configured database, its schema checked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shown_url = mask_url(settings.database_url or "embedded server")
        self._connection = None

    def connect(self):
        """The connection (made on first use); translated errors, nothing left open on failure."""
        if self._connection is not None:
            return self._connection
        try:
            url = resolve_url(self.settings)
            self.shown_url = mask_url(url)
            self._connection = psycopg2.connect(libpq_url(url), **CONNECT)
            with self._connection.cursor() as cursor:
                current = revision(cursor)
            self._connection.rollback()  # the check's transaction: each use begins its own
        except psycopg2.Error as exc:
            self.close()
            raise translate(exc, self.shown_url) from exc
        except BaseException:
            self.close()
            raise
        if current is None and self.settings.embedded:
            self._first_use()
        else:
            check_revision(current, shown_url=self.shown_url)
        return self._connection

    def _first_use(self) -> None:
        """The embedded server's first command migrates it (with SQLAlchemy: only this once)."""
        from supportctl.db.database import Database

        database = Database(self.settings)
        try:
            database.check_schema()
        finally:
            database.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()  # whatever was not committed is rolled back
            except psycopg2.Error:
                pass


class Snapshot(Direct):
    """`with Snapshot(settings) as cursor:` a consistent, read-only view of the database."""

    def __enter__(self) -> psycopg2.extensions.cursor:
        connection = self.connect()
        try:
            connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
            cursor = connection.cursor()
            # Behind a migration's lock a report ends in exit 6, never hangs (SET LOCAL: nothing
            # outlives the transaction or leaks through a pooler to the next client).
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        except psycopg2.Error as exc:
            self.close()
            raise translate(exc, self.shown_url) from exc
        return cursor

    def __exit__(self, kind, value, traceback) -> None:
        self.close()
        if isinstance(value, psycopg2.Error):
            raise translate(value, self.shown_url) from value


T = TypeVar("T")


class Batches(Direct):
    """The cron jobs' transactions: one short one per batch, each with its timeouts, retried whole
    (bounded, with jitter) on SQLSTATE 40001 / 40P01."""

    def run(self, work: Callable[[psycopg2.extensions.cursor], T], attempts: int = 4) -> T:
        connection = self.connect()
        for attempt in range(1, attempts + 1):
            try:
                with connection.cursor() as cursor:
                    cron_timeouts(cursor)
                    result = work(cursor)
                connection.commit()
                return result
            except psycopg2.Error as exc:
                _rollback(connection)
                if sqlstate(exc) not in RETRYABLE or attempt == attempts:
                    raise translate(exc, self.shown_url) from exc
                time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # jitter so racers part ways
            except BaseException:
                _rollback(connection)
                raise
        raise AssertionError("unreachable")

    def rolled_back(self, work: Callable[[psycopg2.extensions.cursor], T]) -> T:
        """`work` in one transaction that is rolled back: a dry run sees what a run would do."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cron_timeouts(cursor)
                return work(cursor)
        except psycopg2.Error as exc:
            raise translate(exc, self.shown_url) from exc
        finally:
            _rollback(connection)


STATEMENT_TIMEOUT = "60s"


def cron_timeouts(cursor) -> None:
    """A stuck lock ends in exit 6, not a hang (SET LOCAL: nothing outlives the transaction or
    leaks through a pooler to the next client)."""
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    cursor.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")


def _rollback(connection) -> None:
    try:
        connection.rollback()
    except psycopg2.Error:  # the server is gone: the error that said so is the one to report
        pass
