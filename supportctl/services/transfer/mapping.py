"""`ticket import --map FILE`: another helpdesk's column names (and values) in supportctl's.

A TOML file maps columns with top-level keys, and may map values with one table per
supportctl column; a CSV file (header `from,to`) maps columns only (docs/migrating.md):

    "Id" = "external_id"
    "Subject" = "title"
    "Requester email" = "customer_email"

    [status]
    new = "open"
    solved = "resolved"

    [tags]
    separator = " "

Names and values are matched without regard to case or surrounding blanks. A mapped file's
columns that neither the map nor supportctl names are ignored (and listed once), so an
export with thirty columns imports through a map that names the six it needs.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from supportctl.errors import InvalidInput, unreadable

TAG_SEPARATOR = ";"


def _key(name: str) -> str:
    return name.strip().casefold()


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)  # _key(theirs) -> ours
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # ours -> _key(their value) -> ours
    tag_separator: str = TAG_SEPARATOR

    @property
    def given(self) -> bool:
        return bool(self.columns or self.values or self.tag_separator != TAG_SEPARATOR)

    def column(self, name: str) -> str:
        """supportctl's name for the file's column `name` (the name itself when not mapped)."""
        return self.columns.get(_key(name), name)

    def value(self, column: str, value: str) -> str:
        mapped = self.values.get(column)
        return mapped.get(_key(value), value) if mapped else value

    def tags(self, value: str) -> str:
        return value.replace(self.tag_separator, TAG_SEPARATOR) if self.tag_separator != TAG_SEPARATOR else value


def load(path: str, known: tuple[str, ...]) -> Mapping:
    """The mapping in the TOML or CSV file at path; every target must be one of `known` (exit 2)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise unreadable(f"--map {path}", exc) from exc
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"--map: {path} is not UTF-8 text") from None
    if path.lower().endswith(".csv"):
        columns, values, separator = _from_csv(path, source), {}, TAG_SEPARATOR
    else:
        columns, values, separator = _from_toml(path, source)
    for theirs, ours in columns.items():
        if ours not in known:
            raise InvalidInput(f"--map: {theirs!r} maps to {ours!r}, which is not a column of supportctl",
                               hint=f"columns: {', '.join(known)}")
    for ours in values:
        if ours not in known:
            raise InvalidInput(f"--map: [{ours}] is not a column of supportctl", hint=f"columns: {', '.join(known)}")
    return Mapping({_key(k): v for k, v in columns.items()},
                   {c: {_key(k): v for k, v in m.items()} for c, m in values.items()}, separator)


def _from_csv(path: str, source: str) -> dict[str, str]:
    rows = list(csv.reader(source.splitlines()))
    if not rows or [c.strip().lower() for c in rows[0]] != ["from", "to"]:
        raise InvalidInput(f"--map: {path}: the first line must be the header from,to")
    columns = {}
    for number, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise InvalidInput(f"--map: {path}: line {number}: give two cells, the file's column and supportctl's")
        columns[row[0].strip()] = row[1].strip()
    return columns


def _from_toml(path: str, source: str) -> tuple[dict[str, str], dict[str, dict[str, str]], str]:
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"--map: {path} is not TOML: {exc}",
                           hint='write one mapping a line, e.g. "Ticket ID" = "external_id"') from None
    columns, values, separator = {}, {}, TAG_SEPARATOR
    for key, value in document.items():
        if isinstance(value, str):
            columns[key] = value.strip()
        elif isinstance(value, dict) and key == "tags":
            separator = value.get("separator", TAG_SEPARATOR)
            if not isinstance(separator, str) or len(separator) != 1 or set(value) - {"separator"}:
                raise InvalidInput(f"--map: {path}: [tags] takes one key, separator, a single character")
        elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            values[key] = {k: v.strip() for k, v in value.items()}
        else:
            raise InvalidInput(f"--map: {path}: {key!r} must map to a column name (text) or be a table of values")
    return columns, values, separator
