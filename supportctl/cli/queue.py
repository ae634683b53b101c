"""supportctl queue …: the cron jobs that work the whole queue (assign, escalate)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Cron jobs over the whole queue: safe to repeat and to run on several hosts.", no_args_is_help=True)
