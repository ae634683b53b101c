"""The ticket fields scripts see, by name: JSON keys, CSV/TSV columns, `--columns` choices.

Names are API (docs/output.md, "Ticket fields"): add, never rename.
"""

from __future__ import annotations

from supportctl.errors import InvalidInput

# Every stored field that `ticket export` can write.
EXPORT_COLUMNS = (
    "id", "external_id", "title", "description", "status", "priority", "category", "tags",
    "customer_email", "assignee_email", "team", "sla_policy", "escalated", "escalation_level", "created_at", "updated_at",
    "first_response_at", "resolved_at", "closed_at", "response_due_at", "resolution_due_at",
    # the rest of the SLA state, so a migration export (§17) carries the clocks as they stand
    "reopened_at", "paused_at", "paused_seconds", "last_escalated_at", "next_reply_started_at", "next_reply_due_at",
    "next_reply_met_at", "next_reply_paused_seconds",
)
# `ticket list` and `show` add the SLA state of both metrics.
LIST_COLUMNS = (*EXPORT_COLUMNS, "sla")
# csv without --columns, for list and export alike.
DEFAULT_COLUMNS = (
    "id", "title", "status", "priority", "category", "tags", "customer_email", "assignee_email",
    "escalated", "escalation_level", "created_at", "updated_at", "first_response_at", "resolved_at",
    "response_due_at", "resolution_due_at",
)
# A table for a person at a terminal, and `ticket list` piped (tsv): the same columns, the
# title second (`cut -f2`); at 80 columns a terminal drops them from the right.
TABLE_COLUMNS = ("id", "title", "status", "priority", "sla", "assignee_email", "created_at", "customer_email")


def pick(requested: str | None, valid: tuple[str, ...], default: tuple[str, ...]) -> list[str]:
    """The columns of `--columns a,b,c` (each one of `valid`), or `default` without it."""
    if requested is None:
        return list(default)
    columns = [c.strip() for c in requested.split(",") if c.strip()]
    unknown = [c for c in columns if c not in valid]
    if unknown or not columns:
        raise InvalidInput(f"--columns: unknown column {', '.join(unknown) or '(none given)'}; valid: {','.join(valid)}")
    return columns
