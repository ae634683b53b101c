"""Reading teams, their members and routes: SQL over any DB-API cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportctl.db.query import Column, Kind, Query, fetch
from supportctl.domain.lifecycle import UNRESOLVED
from supportctl.services import validation
from supportctl.services.sla import rules

_OPEN = "t.status = ANY(%(unresolved)s)"
TEAMS = (
    Column("slug", "tm.slug"), Column("name", "tm.name"), Column("lead_email", "l.email"),
    Column("calendar", "tm.calendar"), Column("active", "tm.active", Kind.BOOL),
    Column("members", "(SELECT count(*) FROM team_members m WHERE m.team_id = tm.id)", Kind.NUMBER),
    Column("open", f"(SELECT count(*) FROM tickets t WHERE t.team_id = tm.id AND {_OPEN})", Kind.NUMBER),
    Column("breaching", f"(SELECT count(*) FROM tickets t WHERE t.team_id = tm.id AND {rules.breached('%(now)s')})",
           Kind.NUMBER),
)
MEMBERS = (
    Column("email", "a.email"), Column("name", "a.name"), Column("role", "a.role"),
    # Open load across every team: what capacity counts.
    Column("open", f"(SELECT count(*) FROM tickets t WHERE t.assignee_id = a.id AND {_OPEN})", Kind.NUMBER),
    Column("capacity", "a.capacity", Kind.NUMBER), Column("away_until", "a.away_until", Kind.TIME),
)
ROUTES = (
    Column("id", "r.id", Kind.NUMBER), Column("team", "rt.slug"), Column("position", "r.position", Kind.NUMBER),
    Column("category", "r.category"), Column("tag", "r.tag"), Column("tier", "r.tier"),
    Column("company", "r.company"),
)


def teams(now: datetime, slug: str | None = None) -> Query:
    where, params = "", {"now": now, "unresolved": UNRESOLVED}
    if slug is not None:
        where, params["slug"] = "WHERE tm.slug = %(slug)s", validation.slug(slug)
    return Query(TEAMS, f"FROM teams tm LEFT JOIN agents l ON l.id = tm.lead_id {where}", params,
                 order="ORDER BY tm.slug")


def routes(slug: str | None = None, *, route_id: int | None = None) -> Query:
    """Every route in the order they are tried; or the team's; or one."""
    where, params = "", {}
    if slug is not None:
        where, params = "WHERE rt.slug = %(slug)s", {"slug": validation.slug(slug)}
    elif route_id is not None:
        where, params = "WHERE r.id = %(id)s", {"id": route_id}
    return Query(ROUTES, f"FROM team_routes r JOIN teams rt ON rt.id = r.team_id {where}", params,
                 order="ORDER BY r.position")


def team(cursor: Any, slug: str, now: datetime) -> dict:
    """`team show`: the team's row, its members with their open load, its routes."""
    [found] = fetch(cursor, teams(now, slug)) or [None]
    if found is None:
        raise validation.no_team(validation.slug(slug))
    members = Query(MEMBERS, "FROM team_members m JOIN teams tm ON tm.id = m.team_id JOIN agents a ON a.id = m.agent_id "
                             "WHERE tm.slug = %(slug)s", {"slug": found["slug"], "unresolved": UNRESOLVED},
                    order="ORDER BY a.email")
    team_routes = routes(found["slug"]).only(["id", "position", "category", "tag", "tier", "company"])
    return {**found, "members": fetch(cursor, members), "routes": fetch(cursor, team_routes)}


def team_id(cursor: Any, slug: str) -> int:
    """The id of the team with this slug, or NotFound (exit 3)."""
    key = validation.slug(slug)
    cursor.execute("SELECT id FROM teams WHERE slug = %s", (key,))
    row = cursor.fetchone()
    if row is None:
        raise validation.no_team(key)
    return row[0]
