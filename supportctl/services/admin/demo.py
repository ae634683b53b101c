"""`supportctl demo`: a small, realistic help desk, made through the real services.

Every ticket is created, commented on and moved through its statuses by the same
functions the commands use, at times in the past, so its history, due dates and
SLA state are exactly what a team would see after a few busy days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportctl.db.models import Ticket
from supportctl.domain.enums import Status
from supportctl.errors import Refused
from supportctl.services import lookup
from supportctl.services.people import agents, customers
from supportctl.services.tickets import changes

ACTOR = "demo"

CUSTOMERS = [
    ("ana@acme.example", "Ana Lima", "enterprise", "Acme"),
    ("ben@globex.example", "Ben Ode", "premium", "Globex"),
    ("chloe@initech.example", "Chloe Park", "basic", "Initech"),
    ("dev@umbrella.example", "Dev Rao", "premium", "Umbrella"),
    ("eli@hooli.example", "Eli Novak", "free", None),
    ("fay@stark.example", "Fay Stone", "enterprise", "Stark"),
]
AGENTS = [
    ("lena@support.example", "Lena (lead)", "lead", None),
    ("sam@support.example", "Sam", "senior", None),
    ("ria@support.example", "Ria", "senior", 8),
    ("tom@support.example", "Tom", "agent", 6),
    ("uma@support.example", "Uma", "agent", None),
]
# (hours ago, priority, title, customer, category, tags, status, description)
TICKETS = [
    (74, "medium", "Invoice shows the wrong VAT rate", "ana@acme.example", "billing", ["invoice"], "open",
     "Our November invoice applies 19% instead of 7%."),
    (52, "low", "Typo on the pricing page", "eli@hooli.example", "website", [], "open", "'Anual' should be 'Annual'."),
    (30, "high", "SSO login loops back to the sign-in page", "fay@stark.example", "auth", ["sso", "login"], "open",
     "Since this morning every Okta login redirects to /login again."),
    (27, "medium", "Export to CSV misses the notes column", "ben@globex.example", "reports", ["export"], "in_progress",
     "The notes column is blank in every exported file."),
    (20, "critical", "API returns 500 for every order", "dev@umbrella.example", "api", ["outage", "api"], "open",
     "POST /orders fails with 500 since the 14:00 deploy."),
    (9, "high", "Password reset email never arrives", "chloe@initech.example", "auth", ["email"], "pending",
     "Checked spam; nothing. Waiting for the customer's mail logs."),
    (6, "medium", "Add a second admin to our account", "ana@acme.example", "account", [], "open",
     "Please make jo@acme.example an admin too."),
    (5, "low", "Dark mode request", "eli@hooli.example", "feature", ["idea"], "open", "Would love a dark theme."),
    (3, "critical", "Data sync stopped for EU customers", "fay@stark.example", "sync", ["outage"], "open",
     "No records synced since 07:10 UTC for the EU region."),
    (2, "high", "Webhook signature does not validate", "dev@umbrella.example", "api", ["webhook"], "open",
     "HMAC computed over the raw body does not match the header."),
    (1.5, "medium", "Cannot upload files over 10 MB", "ben@globex.example", "storage", ["upload"], "open",
     "Upload stops at 99% for large PDFs."),
    (0.5, "low", "How do I change my billing email?", "chloe@initech.example", "billing", [], "open",
     "Where is the setting?"),
    (48, "medium", "Two-factor codes rejected", "ben@globex.example", "auth", ["2fa"], "resolved",
     "Codes from the app were rejected; clock drift on the phone."),
    (96, "high", "Dashboard very slow", "ana@acme.example", "performance", ["dashboard"], "closed",
     "Took 40 s to load; fixed by the index added on Tuesday."),
]


def has_tickets(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Ticket)))


def load(session: Session, now: datetime, *, force: bool = False) -> dict[str, int]:
    """Add the sample; refuses a database that already has tickets unless force."""
    if has_tickets(session) and not force:
        raise Refused("this database already has tickets; the demo adds its sample only with --force")
    start = now - timedelta(days=5)
    for email, name, tier, company in CUSTOMERS:
        if lookup.find_customer(session, email) is None:
            customers.add(session, start, email=email, name=name, tier=tier, company=company)
    for email, name, role, capacity in AGENTS:
        if lookup.find_agent(session, email) is None:
            agents.add(session, start, email=email, name=name, role=role, capacity=capacity)
    made = 0
    for hours, priority, title, customer, category, tag_list, status, description in TICKETS:
        created_at = now - timedelta(hours=hours)
        ticket = changes.create(
            session, created_at, ACTOR, title=title, customer_email=customer, description=description,
            priority=priority, category=category, tag_list=tag_list,
        )
        made += 1
        _walk(session, ticket.id, created_at, now, Status(status))
    return {"customers": len(CUSTOMERS), "agents": len(AGENTS), "tickets": made}


def _walk(session: Session, ticket_id: int, created_at: datetime, now: datetime, status: Status) -> None:
    """Move a ticket to its sample status the way an agent would, leaving a real history."""
    if status is Status.OPEN:
        return
    step = min((now - created_at) / 4, timedelta(hours=2))
    agent = AGENTS[1][0]
    changes.comment(session, created_at + step, ACTOR, ticket_id, author=agent,
                    body="Thanks for the report, we are looking into it.")
    moves = {
        Status.IN_PROGRESS: [Status.IN_PROGRESS],
        Status.PENDING: [Status.IN_PROGRESS, Status.PENDING],
        Status.RESOLVED: [Status.IN_PROGRESS, Status.RESOLVED],
        Status.CLOSED: [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
    }[status]
    for i, move in enumerate(moves, start=2):
        changes.update(session, created_at + step * i, ACTOR, ticket_id, status=move.value)
