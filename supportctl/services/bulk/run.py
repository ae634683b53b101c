"""`ticket bulk-update`: which tickets, and one Change applied to each in its own transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from supportctl.db.database import cursor_of
from supportctl.errors import InvalidInput, LockBusy, NotFound, Refused
from supportctl.services.bulk import changes, macros
from supportctl.services.bulk.changes import Change
from supportctl.services.tickets.filters import TicketFilter, where

COLUMNS = ["id", "result", "reason"]
MAX_IDS = 1_000_000


@dataclass(frozen=True)
class Outcome:
    id: int
    result: str  # changed, unchanged, refused
    reason: str | None = None

    def row(self) -> dict:
        return {"id": self.id, "result": self.result, "reason": self.reason}


def read_ids(lines: Iterable[str], name: str) -> list[int]:
    """Ticket ids one a line (a first line `id` is a header; blank lines are skipped), each once."""
    ids: dict[int, None] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or (number == 1 and text.lower() == "id"):
            continue
        if not text.isdigit() or not 0 < int(text) < 2**63:
            raise InvalidInput(f"--ids {name}: line {number}: {text[:40]!r} is not a ticket id",
                               hint="one id a line, e.g. from `supportctl ticket list --format tsv | cut -f1`")
        ids[int(text)] = None
        if len(ids) > MAX_IDS:
            raise InvalidInput(f"--ids {name}: more than {MAX_IDS:,} ids")
    return list(ids)


def select(session: Any, now: datetime, filters: TicketFilter, ids: list[int] | None) -> tuple[list[int], list[int]]:
    """(the tickets the filters and ids pick, in id order; the given ids no ticket has)."""
    if filters == TicketFilter() and ids is None:
        raise InvalidInput("say which tickets: give a filter (as for `ticket list`) or --ids FILE",
                           hint="e.g. --tag billing, --with-status open, or --ids - to read ids from stdin")
    cursor = cursor_of(session)
    scope = replace(filters, ids=tuple(ids)) if ids is not None else filters
    clause, params = where(cursor, scope, now)
    cursor.execute(f"SELECT t.id FROM tickets t {clause} ORDER BY t.id", params)
    chosen = [row[0] for row in cursor.fetchall()]
    missing: list[int] = []
    if ids:
        cursor.execute("SELECT id FROM tickets WHERE id = ANY(%s)", (ids,))
        known = {row[0] for row in cursor.fetchall()}
        missing = [i for i in ids if i not in known]
    return chosen, missing


def prepare(session: Any, actor: str, change: Change) -> str | None:
    """Refuse the whole run before any ticket: an unknown team or agent (exit 3), a comment
    whose actor is no agent (exit 4). Returns the commenting agent's name."""
    if change.empty:
        raise InvalidInput("say what to change: --status, --priority, --team, --assign, --add-tag, --comment, "
                           "--macro …")
    macros.verify(session, change)
    return changes.commenting_agent(session, actor) if change.comment is not None else None


def apply_each(database: Any, now: datetime, actor: str, ticket_ids: list[int], change: Change, *,
               agent_name: str | None, dry_run: bool = False,
               advance: Callable[[int], None] = lambda done: None) -> list[Outcome]:
    """Each ticket in its own transaction (rolled back with dry_run): a refusal is that ticket's.
    `advance` hears how many are done after each."""
    done = []
    for ticket_id in ticket_ids:
        try:
            with database.transaction(commit=not dry_run) as session:
                changed, notes = changes.apply(session, now, actor, ticket_id, change, agent_name)
            done.append(Outcome(ticket_id, "changed" if changed else "unchanged", "; ".join(notes) or None))
        except (Refused, NotFound, LockBusy) as exc:
            done.append(Outcome(ticket_id, "refused", exc.message))
        advance(len(done))
    return done
