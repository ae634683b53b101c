"""Input rules shared by the services: every failure is an InvalidInput (exit 2)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from supportctl.domain.timestamps import iso_z
from supportctl.errors import InvalidInput, NotFound

E = TypeVar("E", bound=StrEnum)


def email(text: str, what: str = "email") -> str:
    """A syntactically valid address, lower-cased. No DNS look-up."""
    # Imported here: its regular expressions cost 13 ms of every start-up, most of which
    # never check an address.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{what}: {text!r} is not a valid email address: {exc}") from exc
    return result.normalized.lower()


def choice(enum: type[E], text: str, what: str) -> E:
    try:
        return enum(text.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(f"{what}: {text!r} is not one of {allowed}") from None


def non_empty(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if "\x00" in text:
        raise InvalidInput(f"{what} must not contain NUL bytes")
    return text


def positive(value: int, what: str) -> int:
    if value < 1:
        raise InvalidInput(f"{what} must be at least 1, got {value}")
    return value


# Not found, said the same way wherever a key is looked up (lookup.py, the read queries).


def no_ticket(ticket_id: int) -> NotFound:
    return NotFound(f"no ticket {ticket_id}", hint="see `supportctl ticket list`")


def not_yet(ticket_id: int, created_at: datetime, now: datetime) -> None:
    """A read at a --now before the ticket existed would show a future it has not had: said instead."""
    if now < created_at:
        raise InvalidInput(f"--now {iso_z(now)} is before ticket {ticket_id} was created ({iso_z(created_at)})",
                           hint="there is nothing to show of a ticket before it exists")


def no_agent(address: str) -> NotFound:
    return NotFound(f"no agent with email {address}", hint="see `supportctl agent list`")


def no_customer(address: str) -> NotFound:
    return NotFound(f"no customer with email {address}", hint="see `supportctl customer list`")


_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*", re.ASCII)
MAX_SLUG = 40


def slug(text: str, what: str = "team") -> str:
    """A team's key: lower-case letters, digits and dashes, starting with a letter or digit."""
    value = text.strip()
    if not _SLUG.fullmatch(value) or len(value) > MAX_SLUG:
        raise InvalidInput(f"{what} slug {text!r} must be 1-{MAX_SLUG} lower-case letters, digits and dashes, "
                           "starting with a letter or digit", hint="e.g. billing or tier-2")
    return value


def no_team(slug_text: str) -> NotFound:
    return NotFound(f"no team {slug_text}", hint="see `supportctl team list`")
