"""The SLA breach report: one row per (ticket, metric) that is breached, or at risk.

One set-based query, a UNION ALL of the two metrics. Each branch is the shared
definition of "breached" (sla/rules.py),
asked at ``now + window``: "breached at now + window" is exactly "breached now, or
due within the window". Each branch's WHERE implies the predicate of its partial
index (ix_tickets_response_due_unmet, ix_tickets_resolution_due_unmet), so the
report is an index range scan on due time however large the table grows. Overdue
seconds are computed in SQL and rows are streamed, never loaded all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Select,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from supportctl.db.database import set_cron_timeouts
from supportctl.db.models import Agent, Customer, Ticket
from supportctl.domain.durations import parse_duration
from supportctl.domain.enums import Metric, Priority
from supportctl.errors import InvalidInput
from supportctl.services import lookup, validation
from supportctl.services.sla.rules import resolution_breached, response_breached
from supportctl.services.views import BreachView

STREAM_BATCH = 1000


def at_risk_window(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidInput(f"--at-risk: {exc}") from None


def _branch(metric: str, due_column, until: datetime, now: datetime, conditions: list) -> Select:
    breached = response_breached(until) if metric == Metric.RESPONSE else resolution_breached(until)
    assignee = aliased(Agent)
    return (
        select(
            Ticket.id,
            Ticket.title,
            Ticket.priority,
            Ticket.status,
            Customer.email.label("customer_email"),
            assignee.email.label("assignee_email"),
            literal(metric).label("metric"),
            case((due_column < now, literal("breached")), else_=literal("at_risk")).label("state"),
            due_column.label("due_at"),
            cast(func.floor(extract("epoch", literal(now) - due_column)), BigInteger).label("overdue_seconds"),
        )
        .join(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .where(breached, *conditions)
    )


def report(
    session: Session,
    now: datetime,
    *,
    at_risk: str | None = None,
    metric: str | None = None,
    priorities: list[str] | tuple[str, ...] = (),
    assignee: str | None = None,
) -> Iterator[BreachView]:
    """Active breaches (and, with `at_risk`, what falls due within that window), most overdue first.

    Input is checked and the query run before the first row is yielded, so bad input
    writes nothing to stdout.
    """
    # The report is a cron job too: behind a migration's lock it must end in exit 6, not hang.
    set_cron_timeouts(session)
    query = breach_query(session, now, at_risk=at_risk, metric=metric, priorities=priorities, assignee=assignee)
    rows = session.execute(query.execution_options(yield_per=STREAM_BATCH)).mappings()
    return (BreachView(**row) for row in rows)


def breach_query(
    session: Session,
    now: datetime,
    *,
    at_risk: str | None = None,
    metric: str | None = None,
    priorities: list[str] | tuple[str, ...] = (),
    assignee: str | None = None,
):
    """The report's SQL (also what tests EXPLAIN to check the partial indexes are used)."""
    window = at_risk_window(at_risk)
    chosen = validation.choice(Metric, metric, "--metric") if metric is not None else None
    conditions = []
    if priorities:
        levels = sorted({validation.choice(Priority, p, "--priority").value for p in priorities})
        conditions.append(Ticket.priority.in_(levels))
    if assignee is not None:
        conditions.append(Ticket.assignee_id == lookup.agent(session, assignee).id)
    until = now + window if window else now
    due = {"response": Ticket.response_due_at, "resolution": Ticket.resolution_due_at}
    branches = [_branch(m.value, due[m], until, now, conditions) for m in Metric if chosen in (None, m)]
    query = union_all(*branches) if len(branches) > 1 else branches[0]
    # Ordered by due time (most overdue first) rather than by the computed seconds,
    # so PostgreSQL may merge the two index-ordered branches instead of sorting.
    return query.order_by(literal_column("due_at"), literal_column("id"), literal_column("metric").desc())
