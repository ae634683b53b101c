"""The unit of work: one command, one transaction, against the configured database.

The CLI opens a ``Database`` from its Settings and runs each command inside
``transaction()`` (or ``run()``, which retries a whole transaction on a serialization
failure or deadlock). The first use checks that the schema is at the migration head
(the embedded server is migrated on first use instead).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg2
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from supportctl import errors
from supportctl.config import Settings, mask_url
from supportctl.db import migrate
from supportctl.db.engine import make_engine
from supportctl.db.faults import RETRYABLE, sqlstate, translate
from supportctl.db.connecting import LOCK_TIMEOUT, resolve_url

T = TypeVar("T")

# What the database layer raises: SQLAlchemy's wrapper, or psycopg2's own error from the
# raw cursor the COPY paths use.
DatabaseError = (DBAPIError, psycopg2.Error)


def _driver(exc: BaseException) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self._url: str | None = settings.database_url

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = resolve_url(self.settings)
        return self._url

    @property
    def shown_url(self) -> str:
        return mask_url(self._url or "embedded server")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def translated_errors(self) -> Iterator[None]:
        try:
            yield
        except DatabaseError as exc:
            raise translate(_driver(exc), self.shown_url) from exc
        except UnicodeEncodeError as exc:
            # Text the driver cannot send as UTF-8: bytes of another encoding that Python kept as
            # surrogate escapes (a command line, an environment variable). Refused, not a bug.
            bad = _escaped(exc.object[exc.start:exc.end])
            raise errors.InvalidInput(
                f"a value holds a byte that is not UTF-8 ({bad}); nothing was changed",
                hint="give arguments, files and the environment in UTF-8",
            ) from exc

    def revision(self) -> str | None:
        with self.translated_errors(), self.engine.connect() as conn:
            return migrate.current_revision(conn)

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Apply migrations; returns (before, after) revisions.

        Under a transaction-level advisory lock, so any number of first commands (or `db
        upgrade`s) at once take turns: the first migrates, the others find it done.
        """
        with self.translated_errors(), self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('supportctl: migrate'))"))
            before = migrate.current_revision(conn)
            migrate.upgrade(conn, revision)
            return before, migrate.current_revision(conn)

    def check_schema(self) -> None:
        current = self.revision()
        if current is None and self.settings.embedded:
            self.upgrade()  # first use of the embedded server
            return
        migrate.check_revision(current, shown_url=self.shown_url)

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Session]:
        """One transaction: committed when the block ends (rolled back instead with commit=False,
        for dry runs), and rolled back, changing nothing, on error. `checkpoint` commits early
        and goes on in a new one on the same connection (an import in batches)."""
        if self._engine is None:
            self.check_schema()
        with self.translated_errors():
            connection = self.engine.connect()
        # Bound to one connection, so temporary tables outlive a checkpoint.
        session = Session(bind=connection, expire_on_commit=False)
        failed = True
        try:
            with self.translated_errors():
                self._begin(session)
                yield session
                if commit:
                    session.commit()
            failed = False
        finally:
            try:
                session.close()  # rolls back whatever was not committed
                connection.close()
            except DatabaseError as exc:
                if not failed:  # a failure of its own; after another one it is only an echo of it
                    raise translate(_driver(exc), self.shown_url) from exc

    def _begin(self, session: Session) -> None:
        session.begin()
        # No command waits for ever behind a row or table someone else holds: exit 6.
        # The audit triggers (migration 0011) stamp their entries with the command's
        # actor and --now.
        fixed = self.settings.fixed_now
        session.execute(text("SELECT set_config('lock_timeout', :timeout, true), "
                             "set_config('supportctl.actor', :actor, true), "
                             "set_config('supportctl.now', :now, true)"),
                        {"timeout": LOCK_TIMEOUT, "actor": self.settings.actor,
                         "now": fixed.isoformat() if fixed else ""})

    def checkpoint(self, session: Session) -> None:
        """Commit what the transaction() block has done so far; the block goes on in a new transaction."""
        with self.translated_errors():
            session.commit()
            self._begin(session)

    def run(self, work: Callable[[Session], T], attempts: int = 4) -> T:
        """Run work in a transaction, retried whole on serialization failure or deadlock."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as session:
                    return work(session)
            except errors.LockBusy as exc:
                cause = exc.__cause__
                retryable = isinstance(cause, DatabaseError) and sqlstate(_driver(cause)) in RETRYABLE
                if not retryable or attempt == attempts:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # jitter so racers part ways
        raise AssertionError("unreachable")


def _escaped(text: str) -> str:
    """Surrogate escapes back to the bytes they stand for, e.g. 0xff."""
    return ", ".join(f"0x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else repr(c) for c in text)


STATEMENT_TIMEOUT = "60s"


def set_cron_timeouts(session: Session) -> None:
    """Bound how long a cron transaction waits: a stuck lock ends in exit 6, not a hang.

    SET LOCAL, so nothing outlives the transaction or leaks through a pooler to the next client.
    """
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"))


def ping(database: Database) -> str:
    with database.translated_errors(), database.engine.connect() as conn:
        return conn.execute(text("SHOW server_version")).scalar_one()


def cursor_of(session: Session):
    """A DB-API cursor inside the session's transaction: for the SQL the read path shares."""
    return session.connection().connection.dbapi_connection.cursor()
