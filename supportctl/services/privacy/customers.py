"""A customer's right to a copy and to erasure: export, anonymize, erase (docs/privacy.md).

Each is one transaction that first writes its audit entry (audit_log takes INSERTs from
the admin role alone, so an agent or a reader is refused before anything is read or
changed: exit 4). Rewriting and removing history goes through the two SECURITY DEFINER
functions of migration 0011, supportctl_redact() and supportctl_erase(), the only such path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportctl.services import validation
from supportctl.services.privacy import audit
from supportctl.services.people import queries as people
from supportctl.services.tickets import queries as tickets
from supportctl.services.tickets.columns import EXPORT_COLUMNS


def _customer(cursor: Any, email: str) -> tuple[int, str]:
    """(id, email) of the customer, or NotFound (exit 3)."""
    address = validation.email(email, "customer")
    cursor.execute("SELECT id FROM customers WHERE email = %s", (address,))
    found = cursor.fetchone()
    if found is None:
        raise validation.no_customer(address)
    return found[0], address


def export(cursor: Any, now: datetime, actor: str, email: str) -> dict:
    """The customer, and each of their tickets with its comments and history (`ticket show`'s)."""
    customer_id, address = _customer(cursor, email)
    cursor.execute("SELECT id FROM tickets WHERE customer_id = %s ORDER BY id", (customer_id,))
    ids = [row[0] for row in cursor.fetchall()]
    audit.write(cursor, now, actor, "customer_exported", "customer", customer_id, {"tickets": len(ids)})
    return {"customer": people.customer(cursor, address),
            "tickets": [tickets.detail(cursor, i, now, list(EXPORT_COLUMNS)) for i in ids]}


@dataclass(frozen=True)
class Counts:
    """What anonymize or erase changes: rows that mention the customer, by table."""

    tickets: int
    comments: int
    events: int
    notifications: int
    pending: int  # notifications to them not yet sent: cancelled (anonymize) or removed (erase)

    def row(self) -> dict:
        return {"tickets": self.tickets, "comments": self.comments, "events": self.events,
                "notifications": self.notifications, "pending_notifications": self.pending}


_COUNTS = """
SELECT (SELECT count(*) FROM tickets WHERE customer_id = %(c)s),
       (SELECT count(*) FROM comments m JOIN tickets t ON t.id = m.ticket_id WHERE t.customer_id = %(c)s),
       (SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.customer_id = %(c)s),
       (SELECT count(*) FROM notifications n WHERE lower(n.recipient) = %(email)s
            OR (n.data ->> 'ticket_id')::bigint IN (SELECT id FROM tickets WHERE customer_id = %(c)s)),
       (SELECT count(*) FROM notifications n WHERE lower(n.recipient) = %(email)s AND n.status = 'pending')
"""


def _counts(cursor: Any, customer_id: int, address: str) -> Counts:
    cursor.execute(_COUNTS, {"c": customer_id, "email": address})
    return Counts(*cursor.fetchone())


def anonymized_identity(customer_id: int) -> tuple[str, str]:
    return f"anonymized+{customer_id}@invalid", f"Anonymized customer {customer_id}"


def anonymize(cursor: Any, now: datetime, actor: str, email: str, *, redact_text: bool) -> tuple[int, Counts]:
    """The customer keeps id, tier and tickets; their email, name and company go, from the
    history and the outbox too (and, with redact_text, from ticket text). Returns (id, counts)."""
    customer_id, address = _customer(cursor, email)
    counts = _counts(cursor, customer_id, address)
    fields = ["customer_email", "customer_name", "history", "notifications"] + (
        ["title", "description", "comments"] if redact_text else [])
    audit.write(cursor, now, actor, "customer_anonymized", "customer", customer_id,
          {**counts.row(), "redact_text": redact_text})
    new_email, new_name = anonymized_identity(customer_id)
    cursor.execute("SELECT supportctl_redact(%s, %s, %s, %s)", (customer_id, new_email, new_name, redact_text))
    # One `redacted` event per ticket: that it happened and which fields, never what was there.
    cursor.execute("INSERT INTO ticket_events (ticket_id, at, actor, kind, to_value) "
                   "SELECT id, %s, %s, 'redacted', %s FROM tickets WHERE customer_id = %s ORDER BY id",
                   (now, actor, json.dumps({"fields": fields}), customer_id))
    return customer_id, counts


def erase(cursor: Any, now: datetime, actor: str, email: str, reason: str) -> tuple[int, Counts]:
    """The customer and everything of theirs deleted; a tombstone per ticket, an audit entry."""
    customer_id, address = _customer(cursor, email)
    counts = _counts(cursor, customer_id, address)
    audit.write(cursor, now, actor, "customer_erased", "customer", customer_id, {**counts.row(), "reason": reason})
    cursor.execute("INSERT INTO ticket_tombstones (ticket_id, external_id, created_at, closed_at, erased_at, actor, "
                   "reason) SELECT id, external_id, created_at, closed_at, %s, %s, %s FROM tickets "
                   "WHERE customer_id = %s", (now, actor, reason, customer_id))
    cursor.execute("SELECT supportctl_erase(%s)", (customer_id,))
    return customer_id, counts
