"""One set of ticket changes, applied to one ticket with exactly the rules and history of
`ticket update`, `ticket assign` / `unassign` and `ticket comment` (docs/bulk.md).

`ticket bulk-update` applies a Change to each ticket in its own transaction, and `ticket
apply` a macro's; a refusal (an illegal status move, a closed ticket) is that ticket's
alone. Within a ticket the order is fixed: priority, team and tags first, then the
assignee, then the comment, then the status, so a macro can comment and resolve, or
assign and move to pending, whatever order its flags were written in.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime

from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of
from supportctl.domain.enums import Priority, Status
from supportctl.errors import InvalidInput, Refused
from supportctl.services import lookup, validation
from supportctl.services.assignment import manual
from supportctl.services.tickets import changes as tickets

PLACEHOLDERS = ("ticket.id", "ticket.title", "customer.name", "customer.email", "agent.name")
# A placeholder, a doubled brace (a literal one), or a brace that is neither: an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def check_template(text: str, flag: str = "--comment") -> str:
    """The template, if every `{…}` in it is a known placeholder (else exit 2)."""
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        if m.group(1) is None:
            raise InvalidInput(f"{flag}: a lone {token!r} at position {m.start() + 1}; write {token * 2} for a brace")
        if m.group(1) not in PLACEHOLDERS:
            raise InvalidInput(f"{flag}: unknown placeholder {token}",
                               hint="known: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
    return text


def render(text: str, values: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        token = m.group(0)
        return token[0] if token in ("{{", "}}") else values[m.group(1)]

    return _TOKEN.sub(one, text)


@dataclass(frozen=True)
class Change:
    """What to change; a field left at its default changes nothing."""

    status: str | None = None
    priority: str | None = None
    team: str | None = None
    no_team: bool = False
    assign: str | None = None
    unassign: bool = False
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    comment: str | None = None  # a template: placeholders filled per ticket
    internal: bool = False

    @property
    def empty(self) -> bool:
        return self == Change(internal=self.internal)

    def checked(self) -> Change:
        """The same change with its values normalised, or exit 2 before any transaction."""
        if self.team is not None and self.no_team:
            raise InvalidInput("give --team SLUG or --no-team, not both")
        if self.assign is not None and self.unassign:
            raise InvalidInput("give --assign EMAIL or --unassign, not both")
        if self.internal and self.comment is None:
            raise InvalidInput("--internal goes with --comment")
        return replace(
            self,
            status=validation.choice(Status, self.status, "--status").value if self.status else None,
            priority=validation.choice(Priority, self.priority, "--priority").value if self.priority else None,
            team=validation.slug(self.team) if self.team is not None else None,
            assign=validation.email(self.assign, "--assign") if self.assign is not None else None,
            add_tags=tuple(tickets.tags(list(self.add_tags))), remove_tags=tuple(tickets.tags(list(self.remove_tags))),
            comment=check_template(validation.non_empty(self.comment, "--comment"))
            if self.comment is not None else None,
        )

    def over(self, base: Change) -> Change:
        """This change on top of `base` (a macro): what is given here wins, tags add up."""
        merged = {f.name: getattr(self, f.name) if getattr(self, f.name) not in (None, False, ())
                  else getattr(base, f.name) for f in fields(self)}
        merged["add_tags"] = tuple(dict.fromkeys(base.add_tags + self.add_tags))
        merged["remove_tags"] = tuple(dict.fromkeys(base.remove_tags + self.remove_tags))
        if self.team is not None or self.no_team:
            merged["team"], merged["no_team"] = self.team, self.no_team
        if self.assign is not None or self.unassign:
            merged["assign"], merged["unassign"] = self.assign, self.unassign
        return Change(**merged)

    def stored(self) -> dict:
        given = asdict(self)
        given["add_tags"], given["remove_tags"] = list(self.add_tags), list(self.remove_tags)
        return {k: v for k, v in given.items() if k not in ("comment", "internal") and v not in (None, False, [])}

    @classmethod
    def from_stored(cls, data: dict, comment: str | None, internal: bool) -> Change:
        return cls(**{**data, "add_tags": tuple(data.get("add_tags", ())),
                      "remove_tags": tuple(data.get("remove_tags", ()))}, comment=comment, internal=internal)

    def text(self) -> str:
        """`status=resolved add-tag=duplicate …`, for tables."""
        words = [f"{k}={v}" for k, v in (("status", self.status), ("priority", self.priority), ("team", self.team),
                                         ("assign", self.assign)) if v]
        words += ["no-team"] * self.no_team + ["unassign"] * self.unassign
        words += [f"add-tag={t}" for t in self.add_tags] + [f"remove-tag={t}" for t in self.remove_tags]
        if self.comment is not None:
            words.append("internal-comment" if self.internal else "comment")
        return " ".join(words)


def commenting_agent(session: Session, actor: str) -> str | None:
    """The actor's agent's name: a comment a bulk change or a macro writes is theirs (exit 4 if none)."""
    agent = lookup.find_agent(session, actor) if "@" in actor else None
    if agent is None:
        raise Refused(f"the actor {actor!r} is not an agent's email; bulk and macro comments are written by the "
                      "actor's agent", hint="run it with --actor EMAIL (or SUPPORTCTL_ACTOR) of an agent")
    return agent.name


def _last_event(session: Session, ticket_id: int) -> int | None:
    """The ticket's latest event (ix_ticket_events_ticket_id_id): a change is a new one."""
    session.flush()
    with cursor_of(session) as cursor:  # a plain cursor: a third of the ORM's time per call
        cursor.execute("SELECT max(id) FROM ticket_events WHERE ticket_id = %s", (ticket_id,))
        return cursor.fetchone()[0]


def apply(session: Session, now: datetime, actor: str, ticket_id: int, change: Change,
          agent_name: str | None = None) -> tuple[bool, list[str]]:
    """Apply a checked change to one ticket in the caller's transaction: (changed, notes).
    Refused / NotFound propagate: the caller rolls this ticket back."""
    before = _last_event(session, ticket_id)
    notes = tickets.update(session, now, actor, ticket_id, priority=change.priority, add_tags=change.add_tags,
                           remove_tags=change.remove_tags, team=change.team, no_team=change.no_team)
    if change.assign is not None:
        notes += manual.assign_to(session, now, actor, ticket_id, change.assign)[1]
    if change.unassign:
        notes += manual.unassign(session, now, actor, ticket_id)[1]
    if change.comment is not None:
        ticket = lookup.ticket(session, ticket_id)
        body = render(change.comment, {"ticket.id": str(ticket.id), "ticket.title": ticket.title,
                                       "customer.name": ticket.customer.name, "customer.email": ticket.customer.email,
                                       "agent.name": agent_name or ""})
        tickets.comment(session, now, actor, ticket_id, body=body, author=actor, internal=change.internal)
    if change.status is not None:
        notes += tickets.update(session, now, actor, ticket_id, status=change.status)
    return _last_event(session, ticket_id) != before, notes
