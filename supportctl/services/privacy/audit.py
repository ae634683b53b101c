"""The audit log: entries the commands write, and `audit export` (the ticket history and the
log of administrative changes, one stream). The triggers of migration 0011 write the rest."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from supportctl.config import When, instant
from supportctl.db.query import Column, Kind, Query

def write(cursor: Any, now: datetime, actor: str, kind: str, obj: str, object_id: Any, to: dict) -> None:
    """An entry for what no table change says by itself (an export, an erasure, a retention run)."""
    cursor.execute("INSERT INTO audit_log (at, actor, kind, object, object_id, to_value) "
                   "VALUES (%s, %s, %s, %s, %s, %s)", (now, actor, kind, obj, str(object_id), json.dumps(to)))


COLUMNS = (Column("at", "a.at", Kind.TIME), Column("actor", "a.actor"), Column("kind", "a.kind"),
           Column("object", "a.object"), Column("object_id", "a.object_id"),
           Column("from", "a.from_value", Kind.JSON), Column("to", "a.to_value", Kind.JSON))
# Both sources as one: a ticket's event is about the object `ticket` of its id.
_BOTH = """FROM (
    SELECT at, actor, kind, 'ticket' AS object, ticket_id::text AS object_id, from_value, to_value, 1 AS source, id
    FROM ticket_events
    UNION ALL
    SELECT at, actor, kind, object, object_id, from_value, to_value, 0, id FROM audit_log) AS a"""


def query(now: datetime, *, since: When | None = None, until: When | None = None, kinds: tuple[str, ...] = (),
          actor: str | None = None) -> Query:
    """Oldest first; an administrative change before the ticket events of the same instant."""
    clauses, params = [], {}
    if since is not None:
        clauses.append("a.at >= %(since)s")
        params["since"] = instant(since, now)
    if until is not None:
        clauses.append("a.at < %(until)s")
        params["until"] = instant(until, now)
    if kinds:
        clauses.append("a.kind = ANY(%(kinds)s)")
        params["kinds"] = [k.strip() for k in kinds]
    if actor is not None:
        clauses.append("a.actor = %(actor)s")
        params["actor"] = actor.strip()
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return Query(COLUMNS, _BOTH + where, params, order="ORDER BY a.at, a.source, a.id")
