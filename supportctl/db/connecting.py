"""What every connection shares, with SQLAlchemy (db/database.py) or without (db/direct.py):
where the server is, how a URL is given to libpq, and how long to wait."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from supportctl import errors
from supportctl.config import Settings

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
