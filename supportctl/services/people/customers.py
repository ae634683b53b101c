"""Customers: the people tickets are for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportctl.db.models import Customer
from supportctl.domain.enums import Tier
from supportctl.errors import Refused
from supportctl.services import lookup, validation
from supportctl.services.views import CustomerView


def add(
    session: Session,
    now: datetime,
    *,
    email: str,
    name: str,
    tier: str = Tier.BASIC.value,
    company: str | None = None,
) -> CustomerView:
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
    return CustomerView.model_validate(customer)


def get(session: Session, email: str) -> CustomerView:
    return CustomerView.model_validate(lookup.customer(session, email))


def list_all(session: Session) -> list[CustomerView]:
    customers = session.scalars(select(Customer).order_by(Customer.email))
    return [CustomerView.model_validate(c) for c in customers]


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
