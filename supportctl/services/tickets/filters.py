"""The ticket filters of `ticket list` and `ticket export` (and, later, bulk changes), as SQL.

`where` checks every value first (a bad status is exit 2, an unknown agent or customer
exit 3) and returns a WHERE clause over the ticket `t` with its parameters, for any DB-API
cursor: the read path's, or a write transaction's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportctl.config import When, instant
from supportctl.domain.enums import Priority, Status
from supportctl.errors import InvalidInput
from supportctl.services import validation
from supportctl.services.people import queries as people
from supportctl.services.sla import rules
from supportctl.services.teams import queries as teams

SORT_KEYS = ("id", "created_at", "updated_at", "priority", "status", "response_due_at", "resolution_due_at")


@dataclass(frozen=True)
class TicketFilter:
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    # A repeated filter means any of its values (`--tag a --tag b`: either tag).
    assignees: tuple[str, ...] = ()
    unassigned: bool = False
    customers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    escalated: bool | None = None
    breached: bool = False
    search: str | None = None
    created_since: When | None = None  # an instant, or a span back from the command's now
    updated_since: When | None = None
    team: str | None = None  # the team's slug
    no_team: bool = False
    ids: tuple[int, ...] | None = None  # exactly these tickets


def where(cursor: Any, f: TicketFilter, now: datetime) -> tuple[str, dict]:
    """`WHERE …` (or '') and its parameters; raises before any row is read when a value is bad."""
    clauses, params = [], {"now": now}
    if f.statuses:
        clauses.append("t.status = ANY(%(statuses)s)")
        params["statuses"] = [validation.choice(Status, s, "--status").value for s in f.statuses]
    if f.priorities:
        clauses.append("t.priority = ANY(%(priorities)s)")
        params["priorities"] = [validation.choice(Priority, p, "--priority").value for p in f.priorities]
    if f.assignees and f.unassigned:
        raise InvalidInput("give --assignee or --unassigned, not both")
    if f.assignees:
        clauses.append("t.assignee_id = ANY(%(assignee_ids)s)")
        params["assignee_ids"] = [people.agent_id(cursor, a) for a in f.assignees]
    if f.unassigned:
        clauses.append("t.assignee_id IS NULL")
    if f.customers:
        clauses.append("t.customer_id = ANY(%(customer_ids)s)")
        params["customer_ids"] = [people.customer_id(cursor, c) for c in f.customers]
    if f.team is not None and f.no_team:
        raise InvalidInput("give --team or --no-team, not both")
    if f.team is not None:
        clauses.append("t.team_id = %(team_id)s")
        params["team_id"] = teams.team_id(cursor, f.team)
    if f.no_team:
        clauses.append("t.team_id IS NULL")
    if f.categories:
        clauses.append("t.category = ANY(%(categories)s)")
        params["categories"] = [c.strip() for c in f.categories]
    if f.tags:
        clauses.append("t.tags && %(tags)s::text[]")
        params["tags"] = [t.strip() for t in f.tags]
    if f.escalated is not None:
        clauses.append("t.escalated = %(escalated)s")
        params["escalated"] = f.escalated
    if f.breached:
        clauses.append(rules.breached("%(now)s"))
    if f.search is not None:
        text = f.search.strip()
        if not text:
            raise InvalidInput("--search needs at least one word")
        clauses.append("t.search @@ websearch_to_tsquery('english', %(search)s)")
        params["search"] = text
    if f.created_since:
        clauses.append("t.created_at >= %(created_since)s")
        params["created_since"] = instant(f.created_since, now)
    if f.updated_since:
        clauses.append("t.updated_at >= %(updated_since)s")
        params["updated_since"] = instant(f.updated_since, now)
    if f.ids is not None:
        clauses.append("t.id = ANY(%(ids)s)")
        params["ids"] = list(f.ids)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def order_by(sort: str) -> str:
    """`ORDER BY …` for `--sort KEY` (`-KEY` descending), ties by id in the same direction."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        raise InvalidInput(f"--sort {sort!r}: sort by one of {', '.join(SORT_KEYS)} (prefix - for descending)")
    column = f"t.{key}"
    if key == "priority":  # by rank, not alphabetically
        column = "CASE t.priority " + " ".join(f"WHEN '{p.value}' THEN {p.rank}" for p in Priority) + " END"
    way = "DESC" if descending else "ASC"
    return f"ORDER BY {column} {way}, t.id {way}"
