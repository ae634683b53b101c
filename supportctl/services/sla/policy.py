"""SLA policies and calendars as stored, and the clock each ticket is measured by (docs/sla.md).

A `Book` is everything in one read: the policies (with their targets per priority), the
named calendars and the teams' calendars. A ticket's policy is chosen by the book
(domain/policies.py); its `Clock` is the policy's targets on the policy's calendar, else
its team's, else `default`, else 24x7.

Read through a plain DB-API cursor, so the read path (no SQLAlchemy) and the write
transactions (`Book.load(session)`) share one loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from supportctl.domain import policies, sla
from supportctl.domain.calendar import BusinessCalendar
from supportctl.domain.durations import format_target
from supportctl.domain.enums import FirstResponse, Priority
from supportctl.domain.policies import DEFAULT, Conditions, Facts, Rule
from supportctl.errors import NotFound
from supportctl.services import validation

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from supportctl.db.models import Ticket


@dataclass(frozen=True)
class Targets:
    response: timedelta
    next_reply: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    position: int | None
    conditions: Conditions
    calendar: str | None  # a calendar's name
    first_response: str
    active: bool
    removed: bool
    targets: dict[str, Targets]  # by priority

    @property
    def rule(self) -> Rule:
        return Rule(self.name, self.position, self.conditions, self.active and not self.removed)

    def row(self) -> dict:
        """`sla policies list`: the policy, its conditions as an object (only those given)."""
        return {"name": self.name, "position": self.position, "conditions": self.conditions.as_dict(),
                "calendar": self.calendar, "first_response": self.first_response, "active": self.active}

    def rows(self) -> list[dict]:
        """`sla policy`: response and resolution of every priority, highest priority first."""
        return [target_row(p.value, self.targets[p.value].response, self.targets[p.value].resolution)
                for p in reversed(Priority)]

    def target_rows(self) -> list[dict]:
        """`sla policies show`: every metric of every priority, highest first."""
        rows = []
        for p in reversed(Priority):
            t = self.targets[p.value]
            rows.append({"priority": p.value, **_target("response", t.response), **_target("next_reply", t.next_reply),
                         **_target("resolution", t.resolution)})
        return rows


@dataclass(frozen=True)
class Clock:
    """What a ticket's due dates are computed with: its policy's targets on one calendar (or 24x7)."""

    targets: dict[str, Targets]
    calendar: BusinessCalendar | None
    calendar_name: str | None = None
    first_response: str = FirstResponse.ANY.value

    def due_dates(self, created_at: datetime, priority: str, paused_seconds: int = 0,
                  reopened_at: datetime | None = None) -> tuple[datetime, datetime]:
        t = self.targets[priority]
        return sla.due_dates(created_at, t.response, t.resolution, self.calendar, timedelta(seconds=paused_seconds),
                             reopened_at)

    def next_reply_due(self, started_at: datetime, priority: str, paused_seconds: int = 0) -> datetime:
        """When a next-reply cycle started at `started_at` falls due (after `paused_seconds` pending)."""
        target = self.targets[priority].next_reply + timedelta(seconds=paused_seconds)
        return sla.add_target(started_at, target, self.calendar)

    def set_due_dates(self, ticket: Ticket) -> None:
        """All of the ticket's due dates, from its creation or reopening (and its running next reply)."""
        ticket.response_due_at, ticket.resolution_due_at = self.due_dates(
            ticket.created_at, ticket.priority, ticket.paused_seconds or 0, ticket.reopened_at
        )
        if ticket.next_reply_started_at is not None and ticket.next_reply_met_at is None:
            ticket.next_reply_due_at = self.next_reply_due(ticket.next_reply_started_at, ticket.priority,
                                                           ticket.next_reply_paused_seconds or 0)

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        return sla.elapsed(a, b, self.calendar)

    def response_target(self, priority: str) -> timedelta:
        return self.targets[priority].response

    @property
    def any_response(self) -> bool:
        """Whether an assignment or leaving `open` meets the response (else only a reply does)."""
        return self.first_response == FirstResponse.ANY.value


@dataclass(frozen=True)
class Book:
    """Every policy (removed ones too: tickets they measured keep them), calendar and team calendar."""

    policies: dict[int, Policy]
    calendars: dict[str, BusinessCalendar]
    teams: dict[int, tuple[str, str | None]]  # team id -> (slug, calendar name)

    @property
    def default(self) -> Policy:
        return next(p for p in self.policies.values() if p.name == DEFAULT and not p.removed)

    def live(self) -> list[Policy]:
        """The policies not removed: by position, the default last."""
        return sorted((p for p in self.policies.values() if not p.removed),
                      key=lambda p: (p.position is None, p.position or 0))

    def named(self, name: str) -> Policy | None:
        return next((p for p in self.live() if p.name == name), None)

    def facts(self, tier: str | None, company: str | None, team_id: int | None, category: str | None,
              tags: list[str] | tuple[str, ...]) -> Facts:
        team = self.teams[team_id][0] if team_id is not None else None
        return Facts(tier=tier, company=company, team=team, category=category, tags=tuple(tags or ()))

    def choose(self, facts: Facts) -> Policy:
        rule = policies.choose([p.rule for p in self.live()], facts)
        return self.named(rule.name)

    def trace(self, facts: Facts) -> list[policies.Step]:
        return policies.trace([p.rule for p in self.live()], facts)

    def test_rows(self, *, tier: str, company: str | None = None, team: str | None = None,
                  category: str | None = None, tags: list[str] | tuple[str, ...] = ()) -> list[dict]:
        """`sla policies test`: every active policy in order, matched or not and why."""
        slug = validation.slug(team) if team is not None else None
        if slug is not None and slug not in {s for s, _ in self.teams.values()}:
            raise validation.no_team(slug)
        facts = Facts(tier=tier, company=company.strip() if company else None, team=slug,
                      category=category.strip() if category else None, tags=tuple(t.strip() for t in tags))
        return [{"policy": s.rule.name, "position": s.rule.position, "matched": s.matched, "reason": s.reason}
                for s in self.trace(facts)]

    def policy(self, name: str) -> Policy:
        """The live policy of that name, or NotFound (exit 3)."""
        found = self.named(validation.slug(name, "policy"))
        if found is None:
            raise NotFound(f"no SLA policy {name.strip()}", hint="see `supportctl sla policies list`")
        return found

    def calendar_of(self, policy_id: int, team_id: int | None) -> str | None:
        """The name of the calendar a ticket of this policy and team is measured on, or None (24x7)."""
        name = self.policies[policy_id].calendar
        if name is None and team_id is not None:
            name = self.teams[team_id][1]
        if name is None and DEFAULT in self.calendars:
            name = DEFAULT
        return name

    def clock(self, policy_id: int, team_id: int | None = None) -> Clock:
        policy = self.policies[policy_id]
        name = self.calendar_of(policy_id, team_id)
        return Clock(policy.targets, self.calendars[name] if name else None, name, policy.first_response)

    def clock_of(self, ticket: Any) -> Clock:
        return self.clock(ticket.sla_policy_id, ticket.team_id)

    @property
    def all_24x7(self) -> bool:
        """Whether every ticket's clock runs 24x7 (then due dates are plain addition, in SQL too)."""
        return not self.calendars or (
            DEFAULT not in self.calendars
            and all(p.calendar is None for p in self.policies.values())
            and all(calendar is None for _, calendar in self.teams.values())
        )

    @classmethod
    def read(cls, cursor: Any) -> Book:
        """Every host reads the same policies: they live in the database, not in a local file."""
        cursor.execute("SELECT policy_id, priority, response_seconds, next_reply_seconds, resolution_seconds "
                       "FROM sla_targets")
        targets: dict[int, dict[str, Targets]] = {}
        for policy_id, priority, response, next_reply, resolution in cursor.fetchall():
            targets.setdefault(policy_id, {})[priority] = Targets(
                timedelta(seconds=response), timedelta(seconds=next_reply), timedelta(seconds=resolution))
        cursor.execute("SELECT id, name, position, tiers, companies, teams, categories, tags, calendar, "
                       "first_response, active, removed_at IS NOT NULL FROM sla_policies")
        found = {}
        for (policy_id, name, position, tiers, companies, teams, categories, tags, calendar, first_response, active,
             removed) in cursor.fetchall():
            conditions = Conditions(tuple(tiers), tuple(companies), tuple(teams), tuple(categories), tuple(tags))
            found[policy_id] = Policy(policy_id, name, position, conditions, calendar, first_response, active, removed,
                                      targets[policy_id])
        cursor.execute("SELECT name, timezone, hours, holidays FROM sla_calendars")
        calendars = {name: BusinessCalendar.parse(zone, hours, holidays)
                     for name, zone, hours, holidays in cursor.fetchall()}
        cursor.execute("SELECT id, slug, calendar FROM teams")
        teams = {team_id: (slug, calendar) for team_id, slug, calendar in cursor.fetchall()}
        return cls(found, calendars, teams)

    @classmethod
    def load(cls, session: Session) -> Book:
        """The book inside a write transaction (the session's own connection)."""
        from supportctl.db.database import cursor_of

        return cls.read(cursor_of(session))


def match_sql(tier: str, company: str, team: str, category: str, tags: str) -> str:
    """domain.policies.choose in SQL: the id of the policy for a ticket whose customer tier and
    company, team slug, category and tags (text[]) are these SQL expressions."""
    return (
        "(SELECT p.id FROM sla_policies p WHERE p.active AND p.removed_at IS NULL "
        f"AND (cardinality(p.tiers) = 0 OR {tier} = ANY(p.tiers)) "
        f"AND (cardinality(p.companies) = 0 OR {company} = ANY(p.companies)) "
        f"AND (cardinality(p.teams) = 0 OR {team} = ANY(p.teams)) "
        f"AND (cardinality(p.categories) = 0 OR {category} = ANY(p.categories)) "
        f"AND (cardinality(p.tags) = 0 OR p.tags && {tags}) "
        "ORDER BY p.position NULLS LAST LIMIT 1)"
    )


def _target(metric: str, value: timedelta) -> dict:
    return {metric: format_target(value), f"{metric}_seconds": int(value.total_seconds())}


def target_row(priority: str, response: timedelta, resolution: timedelta) -> dict:
    """One `sla policy` row: targets as written (``4h``) and in seconds, for scripts."""
    return {"priority": priority, "response": format_target(response), "resolution": format_target(resolution),
            "response_seconds": int(response.total_seconds()), "resolution_seconds": int(resolution.total_seconds())}


def calendar_shown(cursor: Any, name: str) -> dict:
    """`sla calendar show`: the named calendar's row; `default` may be unset (24x7), others not (3)."""
    key = validation.slug(name, "calendar")
    calendars = Book.read(cursor).calendars
    if key not in calendars and key != DEFAULT:
        raise NotFound(f"no calendar {key}", hint="see `supportctl sla calendar list`")
    return calendar_row(calendars.get(key))


def calendar_row(calendar: BusinessCalendar | None, name: str | None = None) -> dict:
    """The calendar as `sla calendar show` has it; ``clock`` is ``24x7`` (the rest empty) without one."""
    named = {"name": name} if name is not None else {}
    if calendar is None:
        return {**named, "clock": "24x7", "timezone": None, "hours": None, "holidays": []}
    return {**named, "clock": "business_hours", "timezone": calendar.timezone, "hours": calendar.hours_text,
            "holidays": [d.isoformat() for d in sorted(calendar.holidays)]}
