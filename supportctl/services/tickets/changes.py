"""Ticket changes: create, update (status lifecycle, priority, fields, tags), comment.

Every change writes its event(s) in the caller's transaction, stamped with the
command's `now` and actor. Input is validated before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from supportctl.db.models import Comment, Ticket
from supportctl.domain import lifecycle
from supportctl.domain.enums import EventKind, Priority, Status
from supportctl.errors import InvalidInput, NotFound, Refused
from supportctl.services import lookup, validation
from supportctl.services.notify import outbox
from supportctl.services.people import customers
from supportctl.services.sla.policy import Book
from supportctl.services.tickets import history, measuring, moving

MAX_TAG_LENGTH = 64
MAX_TITLE = 1000  # characters
MAX_EXTERNAL_ID = 255  # characters; a unique btree key (PostgreSQL refuses keys over ~2.7 kB)
# Characters of a description or a comment: more is a mistake (or /dev/zero), not a ticket.
MAX_TEXT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Created:
    id: int
    new_customer: str | None  # the email of a customer created on the way


def tags(values: list[str] | tuple[str, ...]) -> list[str]:
    """Tags as stored: stripped, unique, in the order given. `;` joins them in CSV, so it is refused."""
    result: list[str] = []
    for raw in values:
        tag = raw.strip()
        if not tag or ";" in tag or len(tag) > MAX_TAG_LENGTH or "\x00" in tag:
            raise InvalidInput(f"tag {raw!r} must be 1-{MAX_TAG_LENGTH} characters without ';'")
        if tag not in result:
            result.append(tag)
    return result


def title_text(text: str) -> str:
    title = validation.non_empty(text, "title")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"title is {len(title):,} characters long; at most {MAX_TITLE:,}")
    return title


def description_text(text: str) -> str:
    # Within MAX_TEXT, the database still refuses a description whose distinct words
    # overflow the search column's tsvector (1 MB), and that error says so (db/engine.py).
    _within_limit(text, "description")
    if "\x00" in text:
        raise InvalidInput("description must not contain NUL bytes")
    return text


def _within_limit(text: str, what: str) -> None:
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{what} is {len(text):,} characters long; at most {MAX_TEXT:,} (16 MB)")


def external_id_text(text: str | None) -> str | None:
    value = text.strip() or None if text else None
    if value is not None and len(value) > MAX_EXTERNAL_ID:
        raise InvalidInput(f"external id is {len(value):,} characters long; at most {MAX_EXTERNAL_ID}")
    return value


def _category(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


def create(
    session: Session,
    now: datetime,
    actor: str,
    *,
    title: str,
    customer_email: str,
    description: str = "",
    priority: str = Priority.MEDIUM.value,
    category: str | None = None,
    tag_list: list[str] | tuple[str, ...] = (),
    external_id: str | None = None,
    team: str | None = None,
) -> Created:
    """A new ticket, in `team` (a slug) or the team its routes give, measured by the SLA policy
    its customer, team, category and tags match; its id."""
    title = title_text(title)
    description = description_text(description)
    level = validation.choice(Priority, priority, "priority")
    clean_tags = tags(tag_list)
    external_id = external_id_text(external_id)
    if external_id and session.scalar(select(Ticket.id).where(Ticket.external_id == external_id)):
        raise Refused(f"a ticket with external id {external_id!r} already exists")
    chosen_team = moving.given_team(session, team) if team is not None else None
    customer, created = customers.find_or_create(session, now, customer_email)
    team_id = chosen_team.id if chosen_team else moving.routed_team(session, _category(category), clean_tags, customer)
    # Take the lock the INSERT would take before reading the policy: a concurrent `sla set`
    # (which locks tickets EXCLUSIVE) then either sees this ticket or is seen by it.
    session.execute(text("LOCK TABLE tickets IN ROW EXCLUSIVE MODE"))
    ticket = Ticket(
        title=title,
        description=description,
        status=Status.OPEN.value,
        priority=level.value,
        category=_category(category),
        tags=clean_tags,
        customer=customer,
        team_id=team_id,
        external_id=external_id,
        escalated=False,
        escalation_level=0,
        paused_seconds=0,
        created_at=now,
        updated_at=now,
    )
    book = Book.load(session)
    policy = measuring.measure_new(book, ticket)
    session.add(ticket)
    session.flush()
    created_as = {"title": title, "status": ticket.status, "priority": ticket.priority, "customer_email": customer.email,
                  "sla_policy": policy.name}
    if team_id is not None:  # routing writes no team_changed: the created event carries the team
        created_as["team"] = book.teams[team_id][0]
    history.record(session, ticket, now, actor, EventKind.CREATED, to_value=created_as)
    session.flush()
    return Created(ticket.id, customer.email if created else None)


def mark_first_response(ticket: Ticket, now: datetime) -> None:
    """The response is met, if it was not yet (docs/sla.md, "First response")."""
    if ticket.first_response_at is None:
        ticket.first_response_at = now


def change_status(session: Session, ticket: Ticket, target: Status, now: datetime, actor: str,
                  book: Book) -> list[str]:
    """Move the ticket's status, with its SLA clocks, event and mail; returns notes for the person."""
    current = Status(ticket.status)
    if not lifecycle.can_move(current, target):
        allowed = ", ".join(lifecycle.allowed_from(current)) or "nothing: closed is final"
        raise Refused(f"ticket {ticket.id} cannot move from {current} to {target} (allowed: {allowed})")
    clock = book.clock_of(ticket)
    if current is Status.OPEN and clock.any_response:
        mark_first_response(ticket, now)
    if current is Status.PENDING and ticket.paused_at is not None:
        # The clocks restart: push the due times by the paused (business) time.
        measuring.resumed(clock, ticket, now)
        ticket.paused_seconds += int(clock.elapsed(ticket.paused_at, now).total_seconds())
        ticket.paused_at = None
        clock.set_due_dates(ticket)
    if target is Status.PENDING:
        ticket.paused_at = now
    if target.is_done:
        mark_first_response(ticket, now)  # resolving answers the customer, whatever the policy counts
        measuring.agent_replied(ticket, now)
    if target.is_done and ticket.resolved_at is None:
        ticket.resolved_at = now
    if target is Status.CLOSED:
        ticket.closed_at = now
    reopened = current.is_done and target is Status.OPEN
    if reopened:
        # Reopened: resolution cycle N+1, due after the full target from now (docs/sla.md, "History").
        ticket.resolved_at, ticket.reopened_at, ticket.paused_seconds = None, now, 0
        clock.set_due_dates(ticket)
    ticket.status = target.value
    history.record(session, ticket, now, actor, EventKind.STATUS_CHANGED, current.value, target.value)
    outbox.status_changed(session, now, ticket, current)
    if reopened and ticket.assignee is not None and not ticket.assignee.active:
        # Reopened for someone who takes no tickets now: queue assign gives it out again.
        gone = ticket.assignee.email
        ticket.assignee = None
        history.record(session, ticket, now, actor, EventKind.UNASSIGNED, {"assignee_email": gone},
                       {"assignee_email": None})
        return [f"ticket {ticket.id} unassigned: {gone} is inactive (queue assign gives it out)"]
    return []


def update(
    session: Session,
    now: datetime,
    actor: str,
    ticket_id: int,
    *,
    status: str | None = None,
    priority: str | None = None,
    title: str | None = None,
    category: str | None = None,
    add_tags: list[str] | tuple[str, ...] = (),
    remove_tags: list[str] | tuple[str, ...] = (),
    team: str | None = None,
    no_team: bool = False,
    keep_assignee: bool = False,
) -> list[str]:
    """Apply the given changes; returns notes for the person (e.g. no-ops)."""
    if team is not None and no_team:
        raise InvalidInput("give --team SLUG or --no-team, not both")
    if keep_assignee and team is None:
        raise InvalidInput("--keep-assignee goes with --team SLUG")
    target = validation.choice(Status, status, "status") if status is not None else None
    level = validation.choice(Priority, priority, "priority") if priority is not None else None
    new_title = title_text(title) if title is not None else None
    adding, removing = tags(add_tags), tags(remove_tags)
    new_team = moving.given_team(session, team) if team is not None else None
    ticket = lookup.ticket(session, ticket_id, lock=True)
    book = Book.load(session)
    measured = (ticket.team_id, ticket.category, list(ticket.tags), ticket.priority)
    notes: list[str] = []
    changes_fields = level or new_title or category is not None or adding or removing or new_team or no_team
    if ticket.status == Status.CLOSED.value and changes_fields:
        raise Refused(f"ticket {ticket.id} is closed; closed tickets do not change")
    if new_team is not None or no_team:
        notes += moving.move(session, now, actor, ticket, new_team, keep_assignee=keep_assignee)
    if target is not None:
        if target.value == ticket.status:
            notes.append(f"ticket {ticket.id} is already {target}")
        else:
            notes += change_status(session, ticket, target, now, actor, book)
    if level is not None and level.value != ticket.priority:
        history.record(session, ticket, now, actor, EventKind.PRIORITY_CHANGED, ticket.priority, level.value)
        ticket.priority = level.value
    fields = {"title": new_title} if new_title is not None else {}
    if category is not None:
        fields["category"] = _category(category)  # an empty --category clears it
    for field, value in fields.items():
        if value != getattr(ticket, field):
            history.record(session, ticket, now, actor, EventKind.UPDATED, {field: getattr(ticket, field)}, {field: value})
            setattr(ticket, field, value)
    new_tags = [t for t in ticket.tags if t not in removing] + [t for t in adding if t not in ticket.tags]
    if new_tags != list(ticket.tags):
        history.record(session, ticket, now, actor, EventKind.UPDATED, {"tags": list(ticket.tags)}, {"tags": new_tags})
        ticket.tags = new_tags
    if (ticket.team_id, ticket.category, list(ticket.tags), ticket.priority) != measured:
        if Status(ticket.status).is_done:  # measured and done: only a new priority moves its due dates
            book.clock_of(ticket).set_due_dates(ticket)
        else:
            measuring.remeasure(session, now, actor, ticket, book)
    session.flush()
    return notes


def comment(
    session: Session,
    now: datetime,
    actor: str,
    ticket_id: int,
    *,
    body: str,
    author: str | None = None,
    internal: bool = False,
) -> int:
    """Add a comment; returns its id.

    A public agent comment meets the response and a running next-reply cycle; a public comment
    by the ticket's customer starts one (after the first response), and on a resolved ticket
    reopens it first (docs/sla.md, "Next reply")."""
    body = validation.non_empty(body, "comment body")
    _within_limit(body, "comment body")
    ticket = lookup.ticket(session, ticket_id, lock=True)
    if ticket.status == Status.CLOSED.value:
        raise Refused(f"ticket {ticket.id} is closed; reopen is not possible, open a new ticket")
    address, kind = _author(session, ticket, author or actor, explicit=author is not None)
    note = Comment(
        ticket_id=ticket.id, author_email=address, author_kind=kind, body=body, internal=internal, created_at=now
    )
    session.add(note)
    session.flush()
    if kind == "agent" and not internal:
        mark_first_response(ticket, now)
        measuring.agent_replied(ticket, now)
    history.record(
        session, ticket, now, actor, EventKind.COMMENTED,
        to_value={"comment_id": note.id, "author": address, "internal": internal},
    )
    if kind == "customer" and not internal:
        book = Book.load(session)
        if ticket.status == Status.RESOLVED.value:  # the customer is not done: back to open, by them
            change_status(session, ticket, Status.OPEN, now, address, book)
        measuring.customer_wrote(book, ticket, now)
    session.flush()
    return note.id


def _author(session: Session, ticket: Ticket, who: str, *, explicit: bool) -> tuple[str, str]:
    """An agent or the ticket's customer; without --author, the actor when they are one."""
    if "@" not in who and not explicit:
        raise InvalidInput(f"give --author EMAIL (the actor {who!r} is not an email address)")
    address = validation.email(who, "author")
    if lookup.find_agent(session, address) is not None:
        return address, "agent"
    if address == ticket.customer.email:
        return address, "customer"
    raise NotFound(f"{address} is neither an agent nor ticket {ticket.id}'s customer ({ticket.customer.email})",
                   hint="add the agent first, or pass --author")
