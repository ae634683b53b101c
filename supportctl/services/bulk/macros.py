"""Macros: named Changes with a comment template (docs/bulk.md). `macro add|list|show|remove`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from supportctl.errors import InvalidInput, NotFound, Refused
from supportctl.services import lookup, validation
from supportctl.services.bulk.changes import Change

COLUMNS = ["name", "changes", "comment", "internal"]


@dataclass(frozen=True)
class Macro:
    name: str
    change: Change

    def row(self, fmt: str) -> dict:
        """Tables read the changes as words; data formats get the object."""
        changes = self.change.text() if fmt == "table" else self.change.stored()
        return {"name": self.name, "changes": changes, "comment": self.change.comment,
                "internal": self.change.internal}


def verify(session: Session, change: Change) -> None:
    """The team and the agent a change names exist (exit 3), before any ticket is touched."""
    if change.team is not None:
        lookup.team(session, change.team)
    if change.assign is not None:
        lookup.agent(session, change.assign)


def read(cursor: Any, name: str | None = None) -> list[Macro]:
    cursor.execute("SELECT name, changes, comment, internal FROM macros "
                   + ("WHERE name = %(name)s " if name is not None else "") + "ORDER BY name", {"name": name})
    return [Macro(n, Change.from_stored(changes, comment, internal)) for n, changes, comment, internal in cursor]


def macro(cursor: Any, name: str) -> Macro:
    key = validation.slug(name, "macro")
    found = read(cursor, key)
    if not found:
        raise NotFound(f"no macro {key}", hint="see `supportctl macro list`")
    return found[0]


def add(session: Session, cursor: Any, now: datetime, name: str, change: Change) -> None:
    key = validation.slug(name, "macro")
    if change.empty:
        raise InvalidInput("a macro needs at least one change or a --comment")
    verify(session, change)
    cursor.execute(
        "INSERT INTO macros (name, changes, comment, internal, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
        (key, json.dumps(change.stored()), change.comment, change.internal, now, now),
    )
    if cursor.rowcount == 0:
        raise Refused(f"a macro {key} already exists", hint=f"`supportctl macro remove {key}` first")


def remove(cursor: Any, name: str) -> None:
    key = macro(cursor, name).name
    cursor.execute("DELETE FROM macros WHERE name = %s", (key,))
