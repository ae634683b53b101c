"""What many tests need, once: the fixed `now`, making and reading a ticket through the
CLI, running a command that must succeed, and a fingerprint of a whole database."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import Engine, text

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # a Monday, 10:00 UTC


def run(cli, args, code: int = 0, now=NOW, input: str | None = None):
    """`supportctl ARGS` that must exit with `code`; the result."""
    result = cli(args, input=input, now=now)
    assert result.exit_code == code, result.stderr
    return result


def create(cli, *extra: str, title: str = "Cannot log in", customer: str = "ana@example.com",
           priority: str | None = None, now=NOW) -> int:
    """A new ticket's id; `extra` are more `ticket create` flags."""
    args = ["ticket", "create", "--title", title, "--customer", customer, *extra]
    if priority is not None:
        args += ["--priority", priority]
    return int(run(cli, args, now=now).stdout)


def show(cli, ticket_id: int, now=NOW) -> dict:
    """`ticket show ID --format json`, parsed."""
    [ticket] = json.loads(run(cli, f"ticket show {ticket_id} --format json", now=now).stdout)
    return ticket


_TABLES = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY c.relname
"""


def fingerprint(engine: Engine) -> dict[str, tuple[int, str | None]]:
    """Every table of the schema: its row count and an md5 of all its rows, so any write
    anywhere, and any sequence value drawn into a row, changes it."""
    with engine.connect() as conn:
        tables = list(conn.scalars(text(_TABLES)))
        found = {}
        for table in tables:
            count, digest = conn.execute(text(
                f'SELECT count(*), md5(string_agg(t::text, E\'\\n\' ORDER BY t::text)) FROM "{table}" t'
            )).one()
            found[table] = (count, digest)
    return found
