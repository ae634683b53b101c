"""A read query as SQL text, with the kind of every column it returns.

Services write their read queries this way; cli/output.py turns each column into a csv,
tsv or JSON cell inside PostgreSQL by its kind (a time becomes ISO 8601 with a Z, tags
are joined with `;`, free text gets the formula guard) and streams the result. Nothing
here imports SQLAlchemy: the read path runs on psycopg2 alone (db/direct.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"  # typed by people: guarded in csv/tsv, '' is an empty cell
    TIME = "time"  # timestamptz
    TAGS = "tags"  # text[]
    BOOL = "bool"
    NUMBER = "number"
    JSON = "json"  # json or jsonb: embedded in JSON, its text in csv/tsv


@dataclass(frozen=True)
class Column:
    name: str
    sql: str
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Query:
    """SELECT <columns> <body> <order>; `body` is FROM … WHERE …, `order` ORDER BY … LIMIT …,
    their values in `params` (psycopg2's %(name)s placeholders)."""

    columns: tuple[Column, ...]
    body: str
    params: dict = field(default_factory=dict)
    order: str = ""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def sql(self, cell=lambda c: c.sql) -> str:
        """The SELECT with each column as `cell(column)` gives it, labelled with its name."""
        selected = ", ".join(f'{cell(c)} AS "{c.name}"' for c in self.columns)
        return f"SELECT {selected} {self.body} {self.order}"

    def only(self, names: list[str]) -> Query:
        """The same query with just these columns, in this order."""
        by_name = {c.name: c for c in self.columns}
        return Query(tuple(by_name[n] for n in names), self.body, self.params, self.order)


def iso_sql(sql: str) -> str:
    """domain.timestamps.iso_z in SQL: ISO 8601 UTC with a Z, fractions only when there are any."""
    return f"""rtrim(rtrim(to_char(({sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'"""


def json_cell(column: Column) -> str:
    """A column as the JSON formats carry it: times as ISO 8601 text, the rest as PostgreSQL has it."""
    return iso_sql(column.sql) if column.kind is Kind.TIME else column.sql


def fetch(cursor, query: Query) -> list[dict]:
    """The rows as dicts with the values the JSON formats carry (a page, a record: not a million)."""
    cursor.execute(f"SELECT row_to_json(r)::text FROM ({query.sql(json_cell)}) AS r", query.params)
    return [json.loads(text) for (text,) in cursor.fetchall()]
