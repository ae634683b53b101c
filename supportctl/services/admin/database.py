"""Looking after the database itself: status, upgrade, stopping the embedded server."""

from __future__ import annotations

from typing import Any

from supportctl.db import migrate
from supportctl.db.database import Database, ping
from supportctl.errors import Refused


def _server():
    from supportctl.db.embedded import EmbeddedServer

    return EmbeddedServer()


def status(database: Database) -> dict[str, Any]:
    """Where the database is and whether its schema is at head. Never exits 5 for a stale schema."""
    settings = database.settings
    info: dict[str, Any] = {"mode": "embedded" if settings.embedded else "external"}
    if settings.embedded:
        server = _server()
        info["data_dir"] = str(server.data_dir)
        info["socket_dir"] = str(server.socket_dir)
    else:
        info["database_url"] = database.shown_url
        info["configured_by"] = settings.database_source
    info["server_version"] = ping(database)
    current = database.revision()
    if current is None and settings.embedded:
        current = database.upgrade()[1]  # first use of the embedded server
    head = migrate.head_revision()
    info.update(current_revision=current, head_revision=head, up_to_date=current == head)
    return info


def upgrade(database: Database) -> tuple[str | None, str | None]:
    return database.upgrade()


def stop(database: Database) -> bool:
    """Stop the embedded server; returns whether it was running."""
    if not database.settings.embedded:
        raise Refused(
            f"the database is external ({database.settings.database_source}); "
            "supportctl only stops its embedded server"
        )
    return _server().stop()
