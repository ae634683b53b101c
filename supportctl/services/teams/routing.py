"""Which team a new ticket gets: the first route, by position, whose conditions all hold
(docs/teams.md, "Routing"). One SQL expression, for `ticket create` and for every row of an
import alike."""

from __future__ import annotations

from typing import Any


def route_sql(category: str, tags: str, tier: str, company: str) -> str:
    """The team id for a ticket whose category, tags (text[]), customer tier and company are
    these SQL expressions; NULL when no route of an active team matches. (Its aliases, route
    and routed, are spelled out so they cannot hide the caller's.)"""
    return (
        "(SELECT route.team_id FROM team_routes route JOIN teams routed ON routed.id = route.team_id "
        f"WHERE routed.active AND (route.category IS NULL OR route.category = {category}) "
        f"AND (route.tag IS NULL OR route.tag = ANY({tags})) AND (route.tier IS NULL OR route.tier = {tier}) "
        f"AND (route.company IS NULL OR route.company = {company}) ORDER BY route.position LIMIT 1)"
    )


def route(cursor: Any, category: str | None, tags: list[str], tier: str, company: str | None) -> int | None:
    cursor.execute("SELECT " + route_sql("%(category)s", "%(tags)s::text[]", "%(tier)s", "%(company)s"),
                   {"category": category, "tags": tags, "tier": tier, "company": company})
    return cursor.fetchone()[0]
