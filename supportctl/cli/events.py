"""A ticket's history in words, for `ticket show` on a table: `status open → pending by sam`.

The events keep their before and after as JSON (what --format json shows); a person reads
a sentence. An event kind this does not know yet still reads: its name and who did it.
"""

from __future__ import annotations

from typing import Any


def described(event: dict) -> str:
    """One event (`kind`, `actor`, `from`, `to` as ticket show reads them) as a line of words."""
    kind, before, after = event["kind"], event["from"], event["to"]
    words = _WORDS.get(kind, lambda b, a: kind.replace("_", " "))(before or {}, after or {})
    # a comment's author is who wrote it; whoever ran the command only typed it in
    return words if kind == "commented" else f"{words} by {event['actor']}"


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _change(name: str, before: Any, after: Any) -> str:
    return f"{name} {_value(before)} → {_value(after)}"


def _assigned(before: dict, after: dict) -> str:
    how = f" ({after['strategy']})" if after.get("strategy") else ""
    if before.get("assignee_email"):
        return f"reassigned {before['assignee_email']} → {after.get('assignee_email')}{how}"
    return f"assigned to {after.get('assignee_email')}{how}"


def _escalated(before: dict, after: dict) -> str:
    text = f"escalated to level {after.get('escalation_level')}"
    text += f" ({after['metric']})" if after.get("metric") else ""
    if before.get("priority") != after.get("priority"):
        text += f", {_change('priority', before.get('priority'), after.get('priority'))}"
    return text


def _updated(before: dict, after: dict) -> str:
    return "; ".join(_change(field, before.get(field), value) for field, value in after.items()) or "updated"


def _commented(before: dict, after: dict) -> str:
    return f"{'internal note' if after.get('internal') else 'comment'} from {after.get('author')}"


def _ladder(verb: str) -> Any:
    def words(before: dict, after: dict) -> str:
        text = f"ladder {after.get('ladder')} step {after.get('step')} {verb} ({after.get('metric')})"
        if after.get("actions"):
            text += f": {', '.join(after['actions'])}"
        if after.get("superseded_by") is not None:
            text += f": step {after['superseded_by']} fired instead"
        return text
    return words


_WORDS = {
    "created": lambda b, a: "created",
    "imported": lambda b, a: "imported" + (f" with {a['comments']} comments" if a.get("comments") else ""),
    "assigned": _assigned,
    "unassigned": lambda b, a: f"unassigned from {b.get('assignee_email')}",
    # status and priority changes keep bare strings
    "status_changed": lambda b, a: _change("status", b, a),
    "priority_changed": lambda b, a: _change("priority", b, a),
    "commented": _commented,
    "escalated": _escalated,
    "updated": _updated,
    "sla_breached": lambda b, a: f"{a.get('metric')} SLA breached",
    "team_changed": lambda b, a: _change("team", b.get("team"), a.get("team")),
    "sla_policy_changed": lambda b, a: _change("SLA policy", b.get("sla_policy"), a.get("sla_policy")),
    "ladder_step_fired": _ladder("fired"),
    "ladder_step_skipped": _ladder("skipped"),
    "redacted": lambda b, a: f"redacted: {_value(a.get('fields'))}",
}
