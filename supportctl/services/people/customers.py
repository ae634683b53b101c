"""Customers: the people tickets are for (adding them; reading them is people/queries.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from supportctl.db.models import Customer
from supportctl.domain.enums import Tier
from supportctl.errors import Refused
from supportctl.services import lookup, validation


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
    customer = Customer(
        email=address,
        name=validation.non_empty(name, "name"),
        tier=validation.choice(Tier, tier, "tier").value,
        company=company.strip() or None if company else None,
        created_at=now,
    )
    if lookup.find_customer(session, address) is not None:
        raise Refused(f"a customer with email {address} already exists")
    session.add(customer)
    session.flush()
    return address


def find_or_create(session: Session, now: datetime, email: str) -> tuple[Customer, bool]:
    """The customer with this email, created (named after the local part) when unknown."""
    address = validation.email(email, "customer")
    customer = lookup.find_customer(session, address)
    if customer is not None:
        return customer, False
    customer = Customer(email=address, name=address.split("@")[0], created_at=now)
    session.add(customer)
    session.flush()
    return customer, True
