"""Retention: closed tickets kept no longer than the policy says (docs/privacy.md, "Retention").

`retention run` is a cron job: batches of due tickets claimed FOR UPDATE SKIP LOCKED, each
batch one transaction (lock_timeout and statement_timeout: db/direct.Batches) with its audit
entry. A ticket is due when it is closed, closed longer ago than the window, carries no
except tag and (for anonymize) was not redacted yet, so a second run finds nothing.

- delete: the tickets, their comments, history and notifications go (the customer stays);
  a tombstone each.
- anonymize: a customer none of whose tickets is kept any longer (all are due) is
  anonymized as `customer anonymize --redact-text` does; otherwise only the due tickets'
  text loses their email and name. Either way a `redacted` event per ticket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from supportctl.domain.durations import format_duration, parse_duration
from supportctl.errors import InvalidInput
from supportctl.services.privacy import audit
from supportctl.services.privacy.customers import anonymized_identity
from supportctl.services.tickets import changes

BATCH_SIZE = 500
COLUMNS = ["id", "customer_id", "action"]
ACTIONS = ("anonymize", "delete")
HOLD = "legal-hold"


@dataclass(frozen=True)
class Policy:
    window: timedelta
    action: str
    except_tag: str | None

    def row(self) -> dict:
        return {"closed_older_than": format_duration(self.window), "action": self.action,
                "except_tag": self.except_tag}


def policy(cursor: Any) -> Policy | None:
    cursor.execute("SELECT closed_older_than_seconds, action, except_tag FROM retention_policy")
    row = cursor.fetchone()
    return None if row is None else Policy(timedelta(seconds=row[0]), row[1], row[2])


def required(cursor: Any) -> Policy:
    found = policy(cursor)
    if found is None:
        raise InvalidInput("no retention policy is set; nothing was done",
                           hint="e.g. supportctl retention set --closed-older-than 730d --action anonymize")
    return found


def set_(cursor: Any, now: datetime, window: str, action: str, except_tag: str | None) -> Policy:
    try:
        span = parse_duration(window)
    except ValueError as exc:
        raise InvalidInput(f"--closed-older-than: {exc}") from None
    if span < timedelta(days=1):
        raise InvalidInput(f"--closed-older-than {window}: keep closed tickets at least a day")
    kind = action.strip().lower()
    if kind not in ACTIONS:
        raise InvalidInput(f"--action {action!r}: not one of {', '.join(ACTIONS)}")
    tag = changes.tags([except_tag])[0] if except_tag else None
    cursor.execute(
        "INSERT INTO retention_policy (id, closed_older_than_seconds, action, except_tag, updated_at) "
        "VALUES (true, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
        "closed_older_than_seconds = excluded.closed_older_than_seconds, action = excluded.action, "
        "except_tag = excluded.except_tag, updated_at = excluded.updated_at",
        (int(span.total_seconds()), kind, tag, now))
    return Policy(span, kind, tag)


_DUE = """
SELECT t.id, t.customer_id FROM tickets t
WHERE t.status = 'closed' AND t.closed_at < %(before)s
  AND NOT (%(tag)s::text IS NOT NULL AND t.tags @> ARRAY[%(tag)s::text])
  AND (%(action)s = 'delete' OR NOT EXISTS (
      SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'redacted'))
ORDER BY t.closed_at, t.id LIMIT %(size)s
FOR UPDATE OF t SKIP LOCKED
"""


@dataclass(frozen=True)
class Done:
    id: int
    customer_id: int
    action: str  # deleted, anonymized (the customer with it), redacted (the ticket's text)

    def row(self) -> dict:
        return {"id": self.id, "customer_id": self.customer_id, "action": self.action}


def run_batch(cursor: Any, now: datetime, actor: str, rule: Policy, size: int) -> list[Done]:
    cursor.execute(_DUE, {"before": now - rule.window, "tag": rule.except_tag, "action": rule.action,
                          "size": size})
    due = cursor.fetchall()
    if not due:
        return []
    ids = [ticket for ticket, _ in due]
    if rule.action == "delete":
        reason = f"retention: closed more than {format_duration(rule.window)} ago"
        cursor.execute("INSERT INTO ticket_tombstones (ticket_id, external_id, created_at, closed_at, erased_at, "
                       "actor, reason) SELECT id, external_id, created_at, closed_at, %s, %s, %s FROM tickets "
                       "WHERE id = ANY(%s)", (now, actor, reason, ids))
        cursor.execute("SELECT supportctl_erase_tickets(%s)", (ids,))
        done = [Done(t, c, "deleted") for t, c in due]
    else:
        done = _anonymize(cursor, now, actor, rule, due)
    audit.write(cursor, now, actor, "retention_run", "retention_policy", "true",
          {**rule.row(), "tickets": len(done), **{a: sum(d.action == a for d in done)
                                                   for a in ("deleted", "anonymized", "redacted")}})
    return done


# A customer none of whose tickets is kept any longer keeps nothing worth a name.
_CUSTOMERS = """
SELECT c.id, c.email, c.name, NOT EXISTS (
    SELECT 1 FROM tickets t WHERE t.customer_id = c.id
      AND NOT (t.status = 'closed' AND t.closed_at < %(before)s
               AND NOT (%(tag)s::text IS NOT NULL AND t.tags @> ARRAY[%(tag)s::text])))
FROM customers c WHERE c.id = ANY(%(customers)s) ORDER BY c.id
"""


def _anonymize(cursor: Any, now: datetime, actor: str, rule: Policy, due: list[tuple[int, int]]) -> list[Done]:
    cursor.execute(_CUSTOMERS, {"before": now - rule.window, "tag": rule.except_tag,
                                "customers": sorted({c for _, c in due})})
    done = []
    for customer_id, email, name, whole in cursor.fetchall():
        tickets = [t for t, c in due if c == customer_id]
        if whole and not email.endswith("@invalid"):
            new_email, new_name = anonymized_identity(customer_id)
            cursor.execute("SELECT supportctl_redact(%s, %s, %s, true)", (customer_id, new_email, new_name))
            fields, action = ["customer_email", "customer_name", "history", "notifications", "title",
                              "description", "comments"], "anonymized"
        else:
            cursor.execute("SELECT supportctl_redact_tickets(%s, %s, %s, %s, %s, true)",
                           (tickets, email, name, email, name))
            fields, action = ["title", "description", "comments", "history"], "redacted"
        cursor.execute("INSERT INTO ticket_events (ticket_id, at, actor, kind, to_value) "
                       "SELECT id, %s, %s, 'redacted', %s FROM unnest(%s::bigint[]) AS id ORDER BY id",
                       (now, actor, json.dumps({"fields": fields, "by": "retention"}), tickets))
        done += [Done(t, customer_id, action) for t in tickets]
    return sorted(done, key=lambda d: d.id)


def run(batches: Any, now: datetime, actor: str, *, limit: int | None = None, dry_run: bool = False,
        batch_size: int | None = None) -> list[Done]:
    """Every due ticket, batch after batch (the dry run in one rolled-back transaction)."""
    size_of = batch_size or BATCH_SIZE
    done: list[Done] = []

    def batch(cursor: Any) -> list[Done]:
        rule = required(cursor)
        size = size_of if limit is None else min(size_of, limit - len(done))
        return run_batch(cursor, now, actor, rule, size) if size > 0 else []

    if dry_run:
        def every(cursor: Any) -> None:
            while chunk := batch(cursor):
                done.extend(chunk)

        batches.rolled_back(every)
        return done
    while chunk := batches.run(batch):
        done.extend(chunk)
    return done
