"""supportctl sla explain: why a ticket is due when it is, as lines a person can check."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from supportctl.cli.context import app_context
from supportctl.cli.options import IdArgument, TextFormat
from supportctl.cli.output import visible, write_rows
from supportctl.domain.durations import format_brief, format_target
from supportctl.domain.timestamps import iso_z

if TYPE_CHECKING:
    from supportctl.services.views import Explanation, MetricExplanation


def explain(
    ctx: typer.Context,
    ticket_id: IdArgument,
    fmt: Annotated[TextFormat, typer.Option("--format", "-f")] = TextFormat.TEXT,
) -> None:
    """Show why a ticket is due when it is: policy, calendar, pauses and the arithmetic.

    First which SLA policy measures it and why the ones before did not match; then every
    open day between creation and each due time with the open hours it counted; closed
    days and holidays are named, so the sum can be checked by hand.

    Example: supportctl sla explain 42
    """
    from supportctl.services.sla import explain as explaining

    app_ctx = app_context(ctx)
    with app_ctx.reading() as cursor:
        view = explaining.explain(cursor, ticket_id, app_ctx.now)
    if fmt is TextFormat.TEXT:
        typer.echo(visible("\n".join(render(view))))
        return
    row = view.row()
    write_rows([row], list(row), fmt.value)


def render(e: Explanation) -> list[str]:
    """The explanation as plain lines for a person."""
    lines = [
        f"ticket {e.id}: {e.title}",
        f"  {e.priority}, {e.status}, created {iso_z(e.created_at)}",
        *(f"match: {line}" for line in e.match),
        f"policy: {_named(e)}{e.priority} -> response {e.response.target}, resolution {e.resolution.target}",
    ]
    if e.clock == "24x7":
        lines.append("calendar: none, the SLA clock runs 24x7")
    else:
        holidays = f"; holidays: {', '.join(d.isoformat() for d in e.holidays)}" if e.holidays else "; no holidays"
        named = f" ({e.calendar})" if e.calendar != "default" else ""
        lines.append(f"calendar: {e.timezone}, {e.hours}{holidays}{named}")
    lines.append(_pauses(e))
    for m in (e.response, e.resolution, *([e.next_reply] if e.next_reply else [])):
        lines += ["", f"{m.metric}:"] + [f"  {step}" for step in m.steps]
        if m.stored_due_at != m.due_at:
            lines.append(
                f"  the ticket carries {iso_z(m.stored_due_at)}: set under an earlier policy or calendar"
                " (resolved and closed tickets keep their due dates)"
            )
        lines.append(f"  now: {_state(m, e)}")
    return lines


def _named(e: Explanation) -> str:
    """`enterprise, ` before the priority; nothing for the default policy, as before policies had names."""
    return "" if e.policy == "default" else f"{e.policy}, "


def _pauses(e: Explanation) -> str:
    done = f"{format_target(timedelta(seconds=e.paused_seconds))} of business time in pending" if e.paused_seconds else ""
    if e.paused_since is None:
        return f"pauses: {done}, not paused now" if done else "pauses: never pending, no pause"
    current = f"pending since {iso_z(e.paused_since)}: the resolution clock stands still"
    return f"pauses: {done} before this pause; {current}" if done else f"pauses: {current}"


def _state(m: MetricExplanation, e: Explanation) -> str:
    if m.met_at is not None:
        verdict = "on time" if m.state == "met" else f"late by {format_brief(m.met_at - m.stored_due_at)}"
        return f"{m.state}: met at {iso_z(m.met_at)}, {verdict}"
    left = timedelta(seconds=m.remaining_seconds)
    if m.state == "breached":
        text = f"breached: due {iso_z(m.effective_due_at)}, overdue by {format_brief(-left)}"
        if e.paused_since is not None and m.metric == "resolution":
            text += " (it was already overdue when paused, so the pause does not stop the breach)"
        return text
    if m.state == "paused":
        return (f"paused: if work resumed now, due {iso_z(m.effective_due_at)}"
                f" ({format_brief(left)} left, the pause so far added to the target)")
    return f"running: due {iso_z(m.effective_due_at)}, {format_brief(left)} left"
