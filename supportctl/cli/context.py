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
    _read_database: Any = field(default=None, repr=False)

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
    def read_database(self) -> "Database":
        """SUPPORTCTL_READ_DATABASE_URL (e.g. a streaming replica) when set, else the database."""
        if not self.settings.read_database_url:
            return self.database
        if self._read_database is None:
            from supportctl.db.database import Database

            self._read_database = Database(replace(self.settings, database_url=self.settings.read_database_url))
        return self._read_database

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.database.transaction() as session:
            yield session

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        """For reports that may run on a replica: list, show, breaches, export. Never writes."""
        with self.read_database.transaction(commit=False) as session:
            yield session

    def close(self) -> None:
        for database in (self._database, self._read_database):
            if database is not None:
                database.close()


def app_context(ctx: typer.Context) -> AppContext:
    return ctx.find_root().obj
