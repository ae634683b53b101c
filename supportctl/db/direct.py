"""psycopg2 directly: the read path and the set-based cron jobs, without SQLAlchemy.

Importing SQLAlchemy costs a command about 0.25 s before it has done anything, more than
PostgreSQL needs to answer `ticket show`, a breach report, or a batch of `queue
escalate`. So the read commands open a `Snapshot` (one REPEATABLE READ READ ONLY
transaction: the look-ups of a filter and the rows agree, and a hot standby can serve it)
and the cron jobs `Batches` (one short transaction per batch, retried on a serialization
failure or deadlock), with SQL written out in the services. The interactive writes keep
SQLAlchemy (db/database.py); both take the URL resolution from db/connecting.py, the
schema check from db/migrate.py and the error translation from db/faults.py.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg2
import psycopg2.extensions

from supportctl.config import Settings, mask_url
from supportctl.db import migrate
from supportctl.db.connecting import CONNECT, LOCK_TIMEOUT, libpq_url, resolve_url
from supportctl.db.faults import RETRYABLE, sqlstate, translate


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
                current = migrate.revision(cursor)
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
            migrate.check_revision(current, shown_url=self.shown_url)
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
