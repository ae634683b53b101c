"""Alembic, driven from inside supportctl: upgrade, downgrade and revision checks.

The migration scripts live at the repository's top level (``alembic/``) and ship in
the wheel as ``supportctl/_alembic``; both places are looked for here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # SQLAlchemy is imported only by what migrates: the read path checks HEAD without it
    from sqlalchemy import Connection

# The revision this code expects. A test checks it equals the scripts' head, so the
# per-command schema check needs no Alembic import (that costs start-up time).
HEAD = "0013"


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
    from supportctl.db.direct import revision

    return revision(connection.connection.cursor())
