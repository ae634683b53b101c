"""Reading the outbox (`notify list`): SQL over any DB-API cursor."""

from __future__ import annotations

from supportctl.db.query import Column, Kind, Query
from supportctl.domain.enums import NotificationStatus
from supportctl.services import validation

COLUMNS = (
    Column("id", "n.id", Kind.NUMBER), Column("created_at", "n.created_at", Kind.TIME), Column("status", "n.status"),
    Column("template", "n.template"), Column("recipient", "n.recipient"),
    # The ticket a notification is about, when its data names one as a number.
    Column("ticket_id", "CASE WHEN jsonb_typeof(n.data -> 'ticket_id') = 'number' "
                        "THEN (n.data ->> 'ticket_id')::bigint END", Kind.NUMBER),
    Column("attempts", "n.attempts", Kind.NUMBER), Column("next_attempt_at", "n.next_attempt_at", Kind.TIME),
    Column("last_error", "n.last_error"), Column("sent_at", "n.sent_at", Kind.TIME),
    Column("delivery_id", "n.delivery_id::text"),
)


def outbox(status: str | None = None) -> Query:
    """Oldest first; a bad status is refused before anything is read."""
    where, params = "", {}
    if status is not None:
        where = "WHERE n.status = %(status)s"
        params["status"] = validation.choice(NotificationStatus, status, "--status").value
    return Query(COLUMNS, f"FROM notifications n {where}", params, order="ORDER BY n.created_at, n.id")  # oldest first
