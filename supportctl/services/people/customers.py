"""Customers: the people tickets are for (adding and changing them; reading them is people/queries.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supportctl.db.database import cursor_of
from supportctl.db.models import Customer
from supportctl.domain.enums import Tier
from supportctl.errors import Refused
from supportctl.services import lookup, validation
from supportctl.services.privacy import audit


def add(
    session: Session,
    now: datetime,
    *,
    email: str,
    name: str,
    tier: str = Tier.BASIC.value,
    company: str | None = None,
) -> str:
    """Add a customer; returns the email as stored."""
    address = validation.email(email)
    values = {"email": address, "name": validation.non_empty(name, "name"),
              "tier": validation.choice(Tier, tier, "tier").value,
              "company": company.strip() or None if company else None, "created_at": now}
    if _insert(session, values) is None:
        raise Refused(f"a customer with email {address} already exists")
    return address


def _insert(session: Session, values: dict) -> int | None:
    """The new customer's id, or None when one with that email is there. ON CONFLICT, so that two
    commands adding the same new customer at once (two ticket creates from cron) both succeed:
    the second waits for the first, then finds its row."""
    session.flush()
    return session.scalar(insert(Customer).values(**values).on_conflict_do_nothing(index_elements=["email"])
                          .returning(Customer.id))


def changes(*, name: str | None = None, email: str | None = None, tier: str | None = None,
            company: str | None = None) -> dict[str, str | None]:
    """The checked new values of `customer update`, by field; None is a value not given, and an
    empty company clears it. Needs no database, so a bad value is exit 2 before anything opens."""
    found: dict[str, str | None] = {}
    if name is not None:
        found["name"] = validation.non_empty(name, "name")
    if email is not None:
        found["email"] = validation.email(email, "--email")
    if tier is not None:
        found["tier"] = validation.choice(Tier, tier, "tier").value
    if company is not None:
        found["company"] = company.strip() or None
    return found


def update(session: Session, now: datetime, actor: str, email: str, new: dict[str, str | None]) -> str:
    """Apply `changes(...)` to the customer, with an audit entry naming the fields changed;
    returns their email as it now is.

    Their tickets keep the team and SLA policy chosen when each was created: a new tier or
    company counts for new tickets, and for an existing one only when its policy is chosen
    again (its team, category, tags or priority change). A new email is carried into their
    tickets' history, comment authors and pending mail (migration 0013), so that the old
    address is kept nowhere.
    """
    address = validation.email(email, "customer")
    # Locked, so two updates of one customer do not interleave their checks and writes.
    customer = session.scalar(select(Customer).where(Customer.email == address).with_for_update())
    if customer is None:
        raise validation.no_customer(address)
    customer_id = customer.id
    changed = sorted(field for field, value in new.items() if value != getattr(customer, field))
    for field in set(changed) - {"email"}:
        setattr(customer, field, new[field])
    session.flush()
    if "email" in changed:
        try:  # the unique email index decides, so an address taken a moment ago is refused too
            session.execute(text("SELECT supportctl_rename_customer(:id, :email)"),
                            {"id": customer_id, "email": new["email"]})
        except IntegrityError:
            raise Refused(f"a customer with email {new['email']} already exists",
                          hint=f"see `supportctl customer show {new['email']}`") from None
        session.expire(customer)
    if changed:  # the names of the fields alone: the log keeps no address an anonymize would miss
        audit.write(cursor_of(session), now, actor, "customer_changed", "customer", customer_id, {"fields": changed})
    return customer.email


def find_or_create(session: Session, now: datetime, email: str) -> tuple[Customer, bool]:
    """The customer with this email, created (named after the local part) when unknown."""
    address = validation.email(email, "customer")
    customer = lookup.find_customer(session, address)
    if customer is not None:
        return customer, False
    made = _insert(session, {"email": address, "name": address.split("@")[0], "created_at": now})
    return lookup.find_customer(session, address), made is not None
