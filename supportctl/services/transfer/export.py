"""`ticket export`: every ticket the filters of `ticket list` pick, in id order, streamed.

The query is the list's (tickets/queries.py); cli/output.py turns its cells into csv or
ndjson inside PostgreSQL and copies them out with COPY, so an export never touches Python
per row and its memory stays flat whatever the row count.

A ticket without an external id is exported as `sc-<id>`, which `ticket import` reads as
that ticket: re-importing an export is harmless, and a migration keeps its keys (§17).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from supportctl.db.query import Column, Kind, Query, iso_sql
from supportctl.services.tickets import queries
from supportctl.services.tickets.filters import TicketFilter

EXTERNAL_ID = Column("external_id", "coalesce(t.external_id, 'sc-' || t.id)")
# A ticket's comments in the order they were written, as `ticket import --format ndjson` takes them.
COMMENTS = Column("comments", f"""(SELECT coalesce(json_agg(json_build_object(
    'author', m.author_email, 'author_kind', m.author_kind, 'body', m.body, 'internal', m.internal,
    'created_at', {iso_sql("m.created_at")}) ORDER BY m.id), '[]') FROM comments m WHERE m.ticket_id = t.id)""",
                  Kind.JSON)


def query(cursor: Any, columns: list[str], f: TicketFilter, now: datetime, *, comments: bool = False) -> Query:
    """The matching tickets in id order with `columns` (names of tickets/columns.py), and
    with comments each one's `comments`."""
    listed = queries.listing(cursor, f, now, columns, sort="id").query
    chosen = tuple(EXTERNAL_ID if c.name == "external_id" else c for c in listed.columns)
    return replace(listed, columns=chosen + ((COMMENTS,) if comments else ()))
