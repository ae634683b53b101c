"""Instants as supportctl stores and shows them: aware, in UTC, written ISO 8601 with a Z."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "iso_z"]


def as_utc(value: datetime, name: str) -> datetime:
    """An aware datetime in UTC; naive or non-datetime input is a ValueError naming `name`."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def iso_z(value: datetime) -> str:
    """``2026-11-23T14:05:00Z``; fractions of a second only when there are any (``…:00.5Z``)."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"
