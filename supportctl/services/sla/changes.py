"""Changing the SLA: policies, their targets, and the named calendars (docs/sla.md).

Each change that moves due dates takes the tickets lock first and recomputes the due
dates of the unresolved tickets it concerns in the same transaction (sla/recompute.py).
Removing or deactivating a policy chooses again the policy of its unresolved tickets,
with an `sla_policy_changed` event each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of
from supportctl.db.models import SlaCalendar, SlaPolicy, SlaTarget, Team
from supportctl.domain.calendar import BusinessCalendar, parse_holiday
from supportctl.domain.durations import format_duration, parse_duration
from supportctl.domain.enums import FirstResponse, Priority, Tier
from supportctl.domain.lifecycle import DONE
from supportctl.domain.policies import DEFAULT
from supportctl.domain.sla import add_target
from supportctl.errors import InvalidInput, NotFound, Refused
from supportctl.services import validation
from supportctl.services.sla.policy import Book, Policy, calendar_row, match_sql
from supportctl.services.sla.recompute import Recomputed, lock_tickets, recompute, scope_of_calendar

MAX_TARGET = timedelta(days=366)
CONDITIONS = ("tiers", "companies", "teams", "categories", "tags")


def _duration(text: str | None, flag: str) -> timedelta | None:
    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise InvalidInput(f"{flag}: {exc}") from None
    if value > MAX_TARGET:  # a typo, and a walk of years of business days per ticket
        raise InvalidInput(f"{flag}: an SLA target of {text!r} is too long (at most {format_duration(MAX_TARGET)})")
    return value


def _calendar_name(session: Session, name: str) -> str:
    key = validation.slug(name, "calendar")
    if session.get(SlaCalendar, key) is None:
        raise NotFound(f"no calendar {key}", hint="see `supportctl sla calendar list`")
    return key


def _reachable(calendars: Iterable[BusinessCalendar | None], now: datetime, targets: Iterable[timedelta]) -> None:
    """Refuse (exit 2, before any lock) calendars and targets whose due times they cannot reach."""
    longest = max(targets)
    try:
        for calendar in calendars:
            add_target(now, longest, calendar)
    except ValueError as exc:
        raise InvalidInput(f"the SLA targets cannot be met on this calendar: {exc}") from None


def _clocks_of(book: Book, policy: Policy) -> list[BusinessCalendar | None]:
    """Every calendar a ticket of the policy may be measured on."""
    if policy.calendar is not None:
        return [book.calendars[policy.calendar]]
    names = {calendar for _, calendar in book.teams.values() if calendar} | ({DEFAULT} & set(book.calendars))
    return [book.calendars[n] for n in sorted(names)] + [None]


def set_targets(
    session: Session, now: datetime, priority: str, *, policy: str = DEFAULT, response: str | None = None,
    next_reply: str | None = None, resolution: str | None = None,
) -> tuple[dict, dict, Recomputed]:
    """Change one priority's targets of a policy; returns (before, after, tickets recomputed),
    each side as `sla policies show` has a target row."""
    level = validation.choice(Priority, priority, "priority").value
    given = {"response": _duration(response, "--response"), "next_reply": _duration(next_reply, "--next-reply"),
             "resolution": _duration(resolution, "--resolution")}
    if not any(given.values()):
        raise InvalidInput("give --response DURATION, --resolution DURATION or both (e.g. --response 4h)"
                           if policy == DEFAULT and next_reply is None else
                           "give --response, --next-reply or --resolution DURATION (e.g. --response 4h)")
    chosen = Book.load(session).policy(policy)  # checked before the lock, read again under it
    _reachable(_clocks_of(Book.load(session), chosen), now, [v for v in given.values() if v])
    lock_tickets(session)
    book = Book.load(session)
    chosen = book.policy(policy)
    old = chosen.targets[level]
    new = {metric: given[metric] or getattr(old, metric) for metric in given}
    seconds = {f"{m}_seconds": int(v.total_seconds()) for m, v in new.items()}
    session.execute(update(SlaTarget).where(SlaTarget.policy_id == chosen.id, SlaTarget.priority == level)
                    .values(**seconds, updated_at=now))
    after = Book.load(session)
    count = recompute(session, now, after, "t.sla_policy_id = %(policy)s AND t.priority = %(priority)s",
                      {"policy": chosen.id, "priority": level})
    [before_row] = [r for r in chosen.target_rows() if r["priority"] == level]
    [after_row] = [r for r in after.policies[chosen.id].target_rows() if r["priority"] == level]
    return before_row, after_row, count


# ---------------------------------------------------------------- calendars


def calendar_set(session: Session, now: datetime, *, name: str = DEFAULT, timezone: str, hours: str,
                 holidays: list[str] | tuple[str, ...] = (), remove_holidays: list[str] | tuple[str, ...] = (),
                 clear_holidays: bool = False) -> tuple[dict, Recomputed]:
    """Create or replace a named calendar; returns it and the tickets recomputed (those it measures).
    Its holidays are kept, with `holidays` added and `remove_holidays` taken out (all of them
    dropped first with clear_holidays)."""
    key = validation.slug(name, "calendar")
    existing = session.get(SlaCalendar, key)
    kept = [] if clear_holidays or existing is None else list(existing.holidays)
    try:
        removed = {parse_holiday(h) for h in remove_holidays}
        calendar = BusinessCalendar.parse(timezone, hours, [*kept, *holidays])
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    calendar = replace(calendar, holidays=calendar.holidays - removed)
    book = Book.load(session)
    _reachable([calendar], now, (getattr(t, m) for p in book.live() for t in p.targets.values()
                                 for m in ("response", "next_reply", "resolution")))
    lock_tickets(session)
    row = {"timezone": calendar.timezone, "hours": calendar.hours_text, "holidays": sorted(calendar.holidays),
           "updated_at": now}
    session.execute(insert(SlaCalendar).values(name=key, **row).on_conflict_do_update(
        index_elements=[SlaCalendar.name], set_=row))
    scope, params = scope_of_calendar(key)
    return calendar_row(calendar), recompute(session, now, Book.load(session), scope, params)


def calendar_clear(session: Session, now: datetime, name: str = DEFAULT) -> tuple[bool, Recomputed]:
    """Remove a calendar; returns (whether there was one, tickets recomputed). A calendar a policy
    or a team names is refused (4): `default` is the only one tickets use without naming it."""
    key = validation.slug(name, "calendar")
    users = [f"policy {p}" for p in session.scalars(
        select(SlaPolicy.name).where(SlaPolicy.calendar == key, SlaPolicy.removed_at.is_(None)).order_by(SlaPolicy.name))]
    users += [f"team {t}" for t in session.scalars(select(Team.slug).where(Team.calendar == key).order_by(Team.slug))]
    if users:
        raise Refused(f"calendar {key} is used by {', '.join(users)}", hint="give them another calendar first")
    if key != DEFAULT and session.get(SlaCalendar, key) is None:
        raise NotFound(f"no calendar {key}", hint="see `supportctl sla calendar list`")
    lock_tickets(session)
    # Removed policies keep their name for the tickets they measured; their calendar goes 24x7.
    session.execute(update(SlaPolicy).where(SlaPolicy.calendar == key).values(calendar=None))
    calendar = session.get(SlaCalendar, key)
    if calendar is not None:
        session.delete(calendar)
        session.flush()
    scope, params = scope_of_calendar(key)
    return calendar is not None, recompute(session, now, Book.load(session), scope, params)


# ---------------------------------------------------------------- policies


def _conditions(session: Session, *, tiers=(), companies=(), teams=(), categories=(), tags=()) -> dict[str, list[str]]:
    """The conditions as stored, each value checked: tiers are tiers, teams exist (3)."""
    def clean(values, what):
        out = []
        for value in values:
            text = value.strip()
            if not text:
                raise InvalidInput(f"--{what}: empty value")
            if text not in out:
                out.append(text)
        return out

    found = {"tiers": [validation.choice(Tier, t, "--tier").value for t in tiers],
             "companies": clean(companies, "company"), "categories": clean(categories, "category"),
             "tags": clean(tags, "tag"), "teams": [validation.slug(t) for t in teams]}
    known = set(session.scalars(select(Team.slug).where(Team.slug.in_(found["teams"]))))
    for slug in found["teams"]:
        if slug not in known:
            raise validation.no_team(slug)
    found["tiers"] = list(dict.fromkeys(found["tiers"]))
    found["teams"] = list(dict.fromkeys(found["teams"]))
    return found


def _position_free(session: Session, position: int, but: int | None = None) -> None:
    taken = session.scalar(select(SlaPolicy.name).where(SlaPolicy.position == position, SlaPolicy.removed_at.is_(None),
                                                        SlaPolicy.id != (but or 0)))
    if taken is not None:
        raise Refused(f"position {position} is taken by {taken}", hint="see `supportctl sla policies list`")


def add(session: Session, now: datetime, name: str, *, position: int | None = None, calendar: str | None = None,
        first_response: str = FirstResponse.ANY.value, **conditions) -> str:
    """A new policy with a copy of the default policy's targets as they are now; returns its name."""
    key = validation.slug(name, "policy")
    mode = validation.choice(FirstResponse, first_response, "--first-response").value
    if position is not None:
        validation.positive(position, "--position")
    stored = _conditions(session, **conditions)
    calendar_key = _calendar_name(session, calendar) if calendar is not None else None
    if session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == key, SlaPolicy.removed_at.is_(None))):
        raise Refused(f"an SLA policy {key} already exists", hint=f"`supportctl sla policies update {key}`")
    default = Book.load(session).default  # its targets are the new policy's
    # Positions are one sequence: two adds must agree on "after the last". An advisory lock,
    # because LOCK TABLE would need table-wide UPDATE, which the admin role does not hold.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('supportctl: sla policy positions'))"))
    if position is None:
        position = (session.scalar(select(func.max(SlaPolicy.position)).where(SlaPolicy.removed_at.is_(None))) or 0) + 1
    else:
        _position_free(session, position)
    policy = SlaPolicy(name=key, position=position, calendar=calendar_key, first_response=mode, active=True,
                       created_at=now, updated_at=now, **stored)
    session.add(policy)
    session.flush()
    for priority, t in default.targets.items():
        session.add(SlaTarget(policy_id=policy.id, priority=priority, response_seconds=int(t.response.total_seconds()),
                              next_reply_seconds=int(t.next_reply.total_seconds()),
                              resolution_seconds=int(t.resolution.total_seconds()), updated_at=now))
    session.flush()
    return key


def update_policy(session: Session, now: datetime, actor: str, name: str, *, position: int | None = None,
                  calendar: str | None = None, no_calendar: bool = False, first_response: str | None = None,
                  active: bool | None = None, **conditions) -> tuple[list[str], Recomputed | None]:
    """Change a policy; given conditions replace all of its old ones. Returns notes and, when
    due dates moved (a new calendar, or deactivated), the tickets recomputed."""
    if calendar is not None and no_calendar:
        raise InvalidInput("give --calendar NAME or --no-calendar, not both")
    mode = validation.choice(FirstResponse, first_response, "--first-response").value if first_response else None
    if position is not None:
        validation.positive(position, "--position")
    changing = any(conditions.get(c) for c in CONDITIONS)
    stored = _conditions(session, **conditions) if changing else None
    calendar_key = _calendar_name(session, calendar) if calendar is not None else None
    current = Book.load(session).policy(name)
    if current.name == DEFAULT and (changing or position is not None or active is False):
        raise Refused("the default policy is matched last, by every ticket: it takes no conditions or position "
                      "and cannot be deactivated", hint="add a policy with `supportctl sla policies add NAME`")
    moves = (calendar_key is not None or no_calendar) or active is False
    if moves:
        lock_tickets(session)
    row = session.get(SlaPolicy, current.id, with_for_update=True)
    if position is not None:
        _position_free(session, position, but=row.id)
        row.position = position
    if stored is not None:
        for column in CONDITIONS:
            setattr(row, column, stored[column])
    if calendar_key is not None or no_calendar:
        row.calendar = calendar_key
    if mode is not None:
        row.first_response = mode
    if active is not None:
        row.active = active
    row.updated_at = now
    session.flush()
    notes: list[str] = []
    if not moves:
        return notes, None
    moved = _rechoose(session, now, actor, row.id, row.name) if active is False else []
    if moved:
        notes.append(f"{len(moved)} unresolved ticket{'s' if len(moved) != 1 else ''} of {row.name} "
                     "got another policy")
    return notes, recompute(session, now, Book.load(session), "t.sla_policy_id = %(policy)s OR t.id = ANY(%(moved)s)",
                            {"policy": row.id, "moved": moved})


def remove(session: Session, now: datetime, actor: str, name: str) -> tuple[int, Recomputed]:
    """Remove a policy (its unresolved tickets get another; the others keep its name); returns how
    many tickets moved and the recompute."""
    current = Book.load(session).policy(name)
    if current.name == DEFAULT:
        raise Refused("the default policy cannot be removed: every ticket no other policy matches has it")
    lock_tickets(session)
    row = session.get(SlaPolicy, current.id, with_for_update=True)
    row.removed_at, row.updated_at = now, now
    session.flush()
    moved = _rechoose(session, now, actor, row.id, row.name)
    return len(moved), recompute(session, now, Book.load(session), "t.id = ANY(%(moved)s)", {"moved": moved})


_RECHOSEN = """
WITH chosen AS (
    SELECT t.id, {match} AS policy_id
    FROM tickets t JOIN customers c ON c.id = t.customer_id LEFT JOIN teams tm ON tm.id = t.team_id
    WHERE t.sla_policy_id = %(old)s AND t.status NOT IN ({done})
), moved AS (
    UPDATE tickets t SET sla_policy_id = chosen.policy_id, updated_at = %(now)s
    FROM chosen WHERE t.id = chosen.id RETURNING t.id, t.sla_policy_id
), logged AS (
    INSERT INTO ticket_events (ticket_id, at, actor, kind, from_value, to_value)
    SELECT m.id, %(now)s, %(actor)s, 'sla_policy_changed', jsonb_build_object('sla_policy', %(name)s),
           jsonb_build_object('sla_policy', p.name)
    FROM moved m JOIN sla_policies p ON p.id = m.sla_policy_id ORDER BY m.id
)
SELECT id FROM moved ORDER BY id
"""


def _rechoose(session: Session, now: datetime, actor: str, policy_id: int, name: str) -> list[int]:
    """Choose again the policy of the policy's unresolved tickets (it no longer matches); their ids."""
    cursor = cursor_of(session)
    done = ", ".join(f"'{s}'" for s in DONE)
    cursor.execute(_RECHOSEN.format(match=match_sql("c.tier", "c.company", "tm.slug", "t.category", "t.tags"),
                                    done=done),
                   {"old": policy_id, "now": now, "actor": actor, "name": name})
    return [ticket_id for (ticket_id,) in cursor.fetchall()]
