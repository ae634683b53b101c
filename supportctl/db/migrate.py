"""Alembic, driven from inside supportctl: upgrade, downgrade and revision checks.

The migration scripts live at the repository's top level (``alembic/``) and ship in
the wheel as ``supportctl/_alembic``; both places are looked for here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from supportctl import errors

if TYPE_CHECKING:  # SQLAlchemy is imported only by what migrates: the read path checks HEAD without it
    from sqlalchemy import Connection

# The revision this code expects. A test checks it equals the scripts' head, so the
# per-command schema check needs no Alembic import (that costs start-up time).
HEAD = "0013"
UPGRADE_HINT = "run `supportctl db upgrade`"


def script_location() -> str:
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "_alembic", package_dir.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return str(candidate)
    raise FileNotFoundError("supportctl's migration scripts are missing from this installation")


def _config(connection: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location())
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(_config(connection), revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(script_location()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The database's revision, or None when it has no supportctl schema at all."""
    return revision(connection.connection.cursor())


def revision(cursor) -> str | None:  # a DB-API cursor
    """The database's migration revision, or None when it has no supportctl schema at all."""
    cursor.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT version_num FROM alembic_version")
    row = cursor.fetchone()  # none after a downgrade to base
    return row[0] if row else None


def check_revision(current: str | None, *, shown_url: str) -> None:
    """SchemaOutdated (exit 5) unless the schema is at the head this code expects."""
    if current == HEAD:
        return
    if current is None:
        raise errors.SchemaOutdated(f"the database at {shown_url} has no supportctl schema", hint=UPGRADE_HINT)
    raise errors.SchemaOutdated(
        f"the database schema is at revision {current}, this supportctl needs {HEAD}",
        hint=UPGRADE_HINT if current < HEAD else "upgrade supportctl to match the database",
    )
