"""Ticket export: CSV formatted by the server (COPY … TO STDOUT), NDJSON from a server-side cursor.

Both stream: rows go from the server to `out` as they come, so memory stays flat
whatever the row count. Cells follow PRODUCT.md §7 exactly as `ticket list` writes
them (cli/output.py): timestamps ISO 8601 UTC with a Z, booleans true/false, tags
`;`-joined, empty values as empty cells, and, unless raw, the spreadsheet formula
guard on text cells. That formatting is done in SQL so the CSV path never touches
Python per row.

The filters are the ones of `ticket list` (ticket_queries.apply_filter); the query is
compiled by SQLAlchemy and its parameters quoted by psycopg2 (`mogrify`), never
formatted into the SQL by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import Select, Text, case, func, literal, select, text
from sqlalchemy.orm import Session, aliased

from supportctl.db.models import Agent, Customer, Ticket
from supportctl.errors import InvalidInput
from supportctl.services.ticket_queries import TicketFilter, apply_filter

DEFAULT_COLUMNS = (
    "id", "title", "status", "priority", "category", "tags", "customer_email", "assignee_email",
    "escalated", "escalation_level", "created_at", "updated_at", "first_response_at", "resolved_at",
    "response_due_at", "resolution_due_at",
)
COLUMNS = (
    "id", "external_id", "title", "description", "status", "priority", "category", "tags",
    "customer_email", "assignee_email", "escalated", "escalation_level", "created_at", "updated_at",
    "first_response_at", "resolved_at", "closed_at", "response_due_at", "resolution_due_at",
)
FORMATS = ("csv", "ndjson")
_TIMES = {"created_at", "updated_at", "first_response_at", "resolved_at", "closed_at", "response_due_at",
          "resolution_due_at"}
# Cells people or other systems typed; status and priority are closed vocabularies.
_FREE_TEXT = {"external_id", "title", "description", "category", "tags", "customer_email", "assignee_email"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # as cli/output.py
_BATCH = 2000

Progress = Callable[[int], None]  # called with the bytes written so far


def pick_columns(requested: str | None) -> list[str]:
    """The columns asked for with --columns (comma-separated), or the default export columns."""
    if requested is None:
        return list(DEFAULT_COLUMNS)
    columns = [c.strip() for c in requested.split(",") if c.strip()]
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown or not columns:
        raise InvalidInput(
            f"--columns: unknown column {', '.join(unknown) or '(none given)'}; valid: {','.join(COLUMNS)}"
        )
    return columns


def _iso(column):
    """ISO 8601 UTC with a Z, fractions only when there are any (as cli/output.timestamp)."""
    stamp = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US')
    return func.rtrim(func.rtrim(stamp, "0"), ".").concat("Z")


def _guarded(expr):
    """The OWASP CSV-injection guard of cli/output.formula_safe, in SQL; '' becomes NULL (an empty cell)."""
    expr = func.nullif(expr, "", type_=Text)
    return case((func.left(expr, 1).in_(_FORMULA_STARTS), literal("'", Text).concat(expr)), else_=expr)


def _expressions(assignee) -> dict:
    return {
        "id": Ticket.id,
        "external_id": Ticket.external_id,
        "title": Ticket.title,
        "description": Ticket.description,
        "status": Ticket.status,
        "priority": Ticket.priority,
        "category": Ticket.category,
        "tags": Ticket.tags,
        "customer_email": Customer.email,
        "assignee_email": assignee.email,
        "escalated": Ticket.escalated,
        "escalation_level": Ticket.escalation_level,
        **{name: Ticket.__table__.c[name] for name in _TIMES},
    }


def _query(session: Session, columns: list[str], f: TicketFilter, now: datetime, *, for_csv: bool, raw: bool) -> Select:
    assignee = aliased(Agent)
    exprs = _expressions(assignee)
    selected = []
    for name in columns:
        expr = exprs[name]
        if name in _TIMES:
            expr = _iso(expr)
        elif for_csv and name == "tags":
            expr = func.array_to_string(expr, ";", type_=Text)
        elif for_csv and name == "escalated":
            expr = expr.cast(Text)  # true/false, not COPY's t/f
        if for_csv and name in _FREE_TEXT:
            expr = func.nullif(expr, "", type_=Text) if raw else _guarded(expr)
        selected.append(expr.label(name))
    query = (
        select(*selected)
        .select_from(Ticket)
        .join(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .order_by(Ticket.id)
    )
    return apply_filter(session, query, f, now)


def _begin_snapshot(session: Session) -> None:
    # One snapshot for the look-ups of the filters and the rows; read-only, so an
    # export can never write and may run against a hot standby.
    session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


def _dbapi(session: Session):
    return session.connection().connection.dbapi_connection


def _sql(session: Session, query: Select) -> bytes:
    """The query as one SQL text, its parameters quoted by psycopg2 (COPY takes no parameters)."""
    compiled = query.compile(dialect=session.connection().dialect, compile_kwargs={"render_postcompile": True})
    with _dbapi(session).cursor() as cursor:
        return cursor.mogrify(str(compiled), compiled.params)


class _Counting:
    """A binary writer that reports how many bytes went through it."""

    def __init__(self, out: BinaryIO, progress: Progress | None) -> None:
        self.out, self.progress, self.written = out, progress, 0

    def write(self, data: bytes | memoryview) -> int:
        self.out.write(data)
        self.written += len(data)
        if self.progress is not None:
            self.progress(self.written)
        return len(data)


def export(
    session: Session,
    now: datetime,
    out: BinaryIO,
    *,
    filters: TicketFilter | None = None,
    columns: list[str] | None = None,
    fmt: str = "csv",
    raw: bool = False,
    progress: Progress | None = None,
) -> int:
    """Write the matching tickets to out (UTF-8) in id order; returns how many rows.

    Call it first thing in its transaction: it makes the transaction a read-only snapshot.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"--format: {fmt!r} is not one of {', '.join(FORMATS)} (for others see `ticket list`)")
    columns = columns or list(DEFAULT_COLUMNS)
    _begin_snapshot(session)
    query = _query(session, columns, filters or TicketFilter(), now, for_csv=fmt == "csv", raw=raw)
    sink = _Counting(out, progress)
    if fmt == "csv":
        return _copy_csv(session, query, sink)
    return _ndjson(session, query, columns, sink)


def _copy_csv(session: Session, query: Select, sink: _Counting) -> int:
    copy = b"COPY (" + _sql(session, query) + b") TO STDOUT WITH (FORMAT csv, HEADER, ENCODING 'UTF8')"
    with _dbapi(session).cursor() as cursor:
        # The server writes the CSV: quoting, NULL as an empty cell, the header row.
        cursor.copy_expert(copy, sink)
        return cursor.rowcount


def _ndjson(session: Session, query: Select, columns: list[str], sink: _Counting) -> int:
    count = 0
    result = session.connection().execute(query.execution_options(yield_per=_BATCH))
    for rows in result.partitions():
        lines = [json.dumps(dict(zip(columns, row)), ensure_ascii=False) for row in rows]
        sink.write(("\n".join(lines) + "\n").encode("utf-8"))
        count += len(lines)
    return count
