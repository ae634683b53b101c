"""The root command: global options, the command groups, and the one error handler.

Command modules import only Typer at start-up; services (and with them SQLAlchemy)
are imported inside the commands, so `supportctl --help` stays fast.
"""

from __future__ import annotations

import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

from supportctl import __version__, errors
from supportctl.cli import agents, customers, db, demo, notify, queue, sla, tickets

# These add their commands to the ticket and queue groups when imported.
from supportctl.cli import escalation, ticket_assign, ticket_transfer  # noqa: F401, I001
from supportctl.cli.context import AppContext
from supportctl.config import Settings, resolve, url_secrets

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 breaches found (--fail-on-breach), 2 bad input, 3 not found, "
    "4 refused by a rule or permission, 5 database unreachable or schema behind, "
    "6 another run holds the lock, 70 internal error."
)


class SupportctlGroup(TyperGroup):
    """Runs every command through one error handler (PRODUCT.md §8)."""

    current: AppContext | None = None

    def main(self, args: Any = None, prog_name: Any = None, standalone_mode: bool = True, **extra: Any):
        SupportctlGroup.current = None
        try:
            result = super().main(args, prog_name, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except TyperException as exc:  # bad flag or value: exit 2 with click's own wording
            code = self._report(f"{exc.format_message()} (see --help)", exc, exit_code=exc.exit_code)
        except Abort:
            code = self._report("aborted", None, exit_code=130)
        except errors.SupportctlError as exc:
            code = self._report(str(exc), exc, exit_code=exc.exit_code)
        except (BrokenPipeError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: one line, the traceback only with --debug
            message = f"internal error: {type(exc).__name__}: {exc}"
            code = self._report(message + " (rerun with --debug for the traceback)", exc, exit_code=70)
        finally:
            if SupportctlGroup.current is not None:
                SupportctlGroup.current.close()
        if standalone_mode:
            sys.exit(code)
        return code

    @staticmethod
    def _report(message: str, exc: BaseException | None, *, exit_code: int) -> int:
        current = SupportctlGroup.current
        settings = current.settings if current else None
        redact = settings.redact if settings else (lambda text: text)
        if exc is not None and settings is not None and settings.debug:
            sys.stderr.write(redact("".join(traceback.format_exception(exc))))
        sys.stderr.write(f"supportctl: error: {redact(message)}\n")
        return exit_code


app = typer.Typer(
    cls=SupportctlGroup,
    name="supportctl",
    help="Ticket operations for support teams: tickets, SLAs, assignment and escalation over PostgreSQL.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # locals in tracebacks leak passwords
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
app.add_typer(db.app, name="db")
app.add_typer(customers.app, name="customer")
app.add_typer(agents.app, name="agent")
app.add_typer(tickets.app, name="ticket")
app.add_typer(queue.app, name="queue")
app.add_typer(sla.app, name="sla")
app.add_typer(notify.app, name="notify")
app.command("demo")(demo.demo)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"supportctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            envvar="SUPPORTCTL_DATABASE_URL",
            help="PostgreSQL URL. Default: the config file's database_url, else the embedded server. "
            "Prefer the environment or ~/.pgpass to a password on the command line.",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", metavar="NAME", envvar="SUPPORTCTL_ACTOR", help="Who the history records. Default: your login name."),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIMESTAMP",
            envvar="SUPPORTCTL_NOW",
            help="Treat this ISO 8601 time as now (backfills, reproducible reports).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    source = ctx.get_parameter_source("database_url")
    from_env = source is not None and source.name == "ENVIRONMENT"
    # Known before anything else can fail, so the handler can honour --debug and mask secrets.
    secrets = tuple(url_secrets(database_url)) if database_url else ()
    early = Settings(database_url, "", actor or "", debug=debug, secrets=secrets)
    SupportctlGroup.current = AppContext(early)
    settings = resolve(database_url=database_url, from_env=from_env, actor=actor, now=now, debug=debug)
    ctx.obj = SupportctlGroup.current = AppContext(settings)


def main() -> None:
    app()
