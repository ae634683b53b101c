"""Escalation ladders and quiet hours: set, read, remove (docs/escalation.md).

Which steps fire, and their actions, is escalation/steps.py. A ladder is validated whole
(every step, every team, policy and agent it names) before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from supportctl.domain.durations import format_duration
from supportctl.domain.enums import Priority
from supportctl.domain.ladders import Step, StepError, parse_steps
from supportctl.domain.quiet import QuietHours
from supportctl.errors import InvalidInput, NotFound
from supportctl.services import validation

STEP_COLUMNS = ["step", "at", "metric", "actions", "repeat", "max", "spec"]
LIST_COLUMNS = ["name", "priorities", "teams", "policies", "steps"]


@dataclass(frozen=True)
class Ladder:
    name: str
    priorities: list[str]
    teams: list[str]
    policies: list[str]
    steps: list[Step]

    def row(self) -> dict:
        return {"name": self.name, "priorities": self.priorities, "teams": self.teams, "policies": self.policies,
                "steps": [s.text() for s in self.steps]}

    def step_rows(self) -> list[dict]:
        return [{"step": s.number, "at": s.at, "metric": s.metric or "every",
                 "actions": " ".join(a if arg is None else f"{a}={arg}" for a, arg in s.actions),
                 "repeat": format_duration(timedelta(seconds=s.repeat)) if s.repeat else None,
                 "max": s.max, "spec": s.text()} for s in self.steps]


def read(cursor: Any, name: str | None = None) -> dict[str, Ladder]:
    """Every ladder by name (in the order they are tried), or the one named."""
    cursor.execute("SELECT name, priorities, teams, policies, steps FROM escalation_ladders "
                   + ("WHERE name = %(name)s " if name is not None else "") + "ORDER BY name", {"name": name})
    return {row[0]: Ladder(row[0], row[1], row[2], row[3], [Step.from_stored(s) for s in row[4]])
            for row in cursor.fetchall()}


def ladder(cursor: Any, name: str) -> Ladder:
    key = validation.slug(name, "ladder")
    found = read(cursor, key).get(key)
    if found is None:
        raise NotFound(f"no escalation ladder {key}", hint="see `supportctl escalation ladder list`")
    return found


def parse(specs: list[str]) -> list[Step]:
    """The steps, or exit 2 naming the first bad one; before any transaction."""
    def address(text: str) -> str:
        try:
            return validation.email(text, "address")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    try:
        return parse_steps(specs, address)
    except StepError as exc:
        raise InvalidInput(f"--step: {exc}", hint="see `supportctl escalation ladder set --help`") from None


def _known(cursor: Any, sql: str, values: list[str], what: str, hint: str) -> None:
    cursor.execute(sql, (values,))
    found = {row[0] for row in cursor.fetchall()}
    missing = [v for v in values if v not in found]
    if missing:
        raise NotFound(f"no {what} {', '.join(missing)}", hint=hint)


def set_(cursor: Any, now: datetime, name: str, steps: list[Step], *, priorities: list[str], teams: list[str],
         policies: list[str]) -> bool:
    """Create or replace the ladder; True when it is new. Cycles already running keep the
    ladder they follow (with these steps, if it is this one)."""
    key = validation.slug(name, "ladder")
    levels = sorted({validation.choice(Priority, p, "--priority").value for p in priorities},
                    key=lambda p: Priority(p).rank)
    slugs = sorted({validation.slug(t) for t in teams})
    names = sorted({validation.slug(p, "policy") for p in policies})
    _known(cursor, "SELECT slug FROM teams WHERE slug = ANY(%s)", slugs, "team", "see `supportctl team list`")
    _known(cursor, "SELECT name FROM sla_policies WHERE name = ANY(%s) AND removed_at IS NULL", names,
           "SLA policy", "see `supportctl sla policies list`")
    agents = sorted({s.reassign for s in steps if s.reassign and "@" in s.reassign})
    _known(cursor, "SELECT email FROM agents WHERE email = ANY(%s)", agents, "agent with email",
           "reassign= names an agent; see `supportctl agent list`")
    cursor.execute(
        "INSERT INTO escalation_ladders (name, priorities, teams, policies, steps, created_at, updated_at) "
        "VALUES (%(name)s, %(priorities)s, %(teams)s, %(policies)s, %(steps)s, %(now)s, %(now)s) "
        "ON CONFLICT (name) DO UPDATE SET priorities = excluded.priorities, teams = excluded.teams, "
        "policies = excluded.policies, steps = excluded.steps, updated_at = excluded.updated_at "
        "RETURNING created_at = updated_at",
        {"name": key, "priorities": levels, "teams": slugs, "policies": names,
         "steps": json.dumps([s.stored() for s in steps]), "now": now},
    )
    return cursor.fetchone()[0]


def remove(cursor: Any, name: str) -> int:
    """Remove the ladder; how many running cycles go back to the one-step escalation (§5)."""
    key = ladder(cursor, name).name
    cursor.execute("SELECT count(*) FROM sla_cycles WHERE ladder = %s AND state IN ('running', 'paused')", (key,))
    running = cursor.fetchone()[0]
    cursor.execute("DELETE FROM escalation_ladders WHERE name = %s", (key,))  # the cycles' ladder: SET NULL
    return running


def any_ladder(cursor: Any) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM escalation_ladders)")
    return cursor.fetchone()[0]


# Quiet hours


def quiet_hours(cursor: Any) -> QuietHours | None:
    cursor.execute("SELECT timezone, hours, exempt FROM quiet_hours")
    row = cursor.fetchone()
    return None if row is None else QuietHours.parse(row[0], row[1], tuple(row[2]))


def quiet_row(quiet: QuietHours | None) -> dict:
    if quiet is None:
        return {"timezone": None, "hours": None, "except": []}
    return {"timezone": quiet.calendar.timezone, "hours": quiet.calendar.hours_text,
            "except": sorted(quiet.exempt, key=lambda p: Priority(p).rank)}


def set_quiet(cursor: Any, now: datetime, timezone: str, hours: str, exempt: list[str]) -> QuietHours:
    levels = [] if [e.strip().lower() for e in exempt] == ["none"] else [
        validation.choice(Priority, e, "--except").value for e in exempt]
    try:
        quiet = QuietHours.parse(timezone, hours, tuple(levels))
    except ValueError as exc:
        raise InvalidInput(f"quiet hours: {exc}", hint="e.g. --timezone Europe/Berlin --hours 22:00-07:00") from None
    cursor.execute(
        "INSERT INTO quiet_hours (id, timezone, hours, exempt, updated_at) VALUES (true, %s, %s, %s, %s) "
        "ON CONFLICT (id) DO UPDATE SET timezone = excluded.timezone, hours = excluded.hours, "
        "exempt = excluded.exempt, updated_at = excluded.updated_at",
        (quiet.calendar.timezone, quiet.calendar.hours_text, sorted(quiet.exempt), now),
    )
    return quiet


def clear_quiet(cursor: Any) -> bool:
    cursor.execute("DELETE FROM quiet_hours")
    return cursor.rowcount > 0
