"""What a command gets from the root options: settings, the time, the database."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

import typer

from supportctl.config import Settings

if TYPE_CHECKING:
    from supportctl.db.database import Database


@dataclass
class AppContext:
    settings: Settings
    _now: datetime | None = None
    _database: Any = field(default=None, repr=False)
    _batches: Any = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        """One instant per command: every write of the command carries the same time."""
        if self._now is None:
            self._now = self.settings.now()
        return self._now

    @property
    def actor(self) -> str:
        return self.settings.actor

    @property
    def database(self) -> "Database":
        if self._database is None:
            from supportctl.db.database import Database  # heavy: only when needed

            self._database = Database(self.settings)
        return self._database

    @property
    def batches(self) -> Any:
        """The cron jobs' transactions, one per batch, on psycopg2 alone (db/direct.Batches)."""
        if self._batches is None:
            from supportctl.db.direct import Batches

            self._batches = Batches(self.settings)
        return self._batches

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.database.transaction() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only snapshot (a DB-API cursor, no SQLAlchemy: db/direct.py) for the read
        commands, served by SUPPORTCTL_READ_DATABASE_URL (e.g. a replica) when it is set."""
        from supportctl.db.direct import Snapshot

        settings = self.settings
        if settings.read_database_url:
            settings = replace(settings, database_url=settings.read_database_url)
        with Snapshot(settings) as cursor:
            _display_zone(cursor)
            yield cursor

    def close(self) -> None:
        for database in (self._database, self._batches):
            if database is not None:
                database.close()


def _display_zone(cursor: Any) -> None:
    """Times on a terminal are shown in the default calendar's zone, when there is one: the
    hours a team keeps are the clock its lead reads. Piped output stays UTC, and costs nothing."""
    import sys

    from supportctl.cli import output

    if not sys.stdout.isatty() or output.DISPLAY.zone is not None:
        return
    cursor.execute("SELECT timezone FROM sla_calendars WHERE name = 'default'")
    row = cursor.fetchone()
    if row is not None:
        from zoneinfo import ZoneInfo

        output.DISPLAY.zone = ZoneInfo(row[0])


def app_context(ctx: typer.Context) -> AppContext:
    return ctx.find_root().obj
