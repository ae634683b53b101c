"""A batch of rows as arrays: one parameter per column, whatever the batch's size.

A VALUES list or an executemany binds every value of every row in Python (measured: 0.3 s
of each 2000-ticket escalation batch); `unnest` of one array per column costs the
database one statement and Python one list per column. Every set-based write (queue
escalate, queue assign, ticket import) goes through here.
"""

from __future__ import annotations

from collections.abc import Sequence


def unnest(alias: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence]) -> tuple[str, dict]:
    """`unnest(%(alias_a)s::type[], …) WITH ORDINALITY AS alias(a, …, n)` and its parameters;
    `columns` are (name, PostgreSQL type) pairs, `n` numbers the rows from 1 in the given order."""
    arrays = ", ".join(f"%({alias}_{name})s::{kind}[]" for name, kind in columns)
    names = ", ".join(name for name, _ in columns)
    params = {f"{alias}_{name}": [row[i] for row in rows] for i, (name, _) in enumerate(columns)}
    return f"unnest({arrays}) WITH ORDINALITY AS {alias}({names}, n)", params
