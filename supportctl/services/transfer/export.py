"""`ticket export`: every ticket the filters of `ticket list` pick, in id order, streamed.

The query is the list's (tickets/queries.py); cli/output.py turns its cells into csv or
ndjson inside PostgreSQL and copies them out with COPY, so an export never touches Python
per row and its memory stays flat whatever the row count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportctl.db.query import Query
from supportctl.services.tickets import queries
from supportctl.services.tickets.filters import TicketFilter


def query(cursor: Any, columns: list[str], f: TicketFilter, now: datetime) -> Query:
    """The matching tickets in id order with `columns` (names of tickets/columns.py)."""
    return queries.listing(cursor, f, now, columns, sort="id").query
