"""The root command: global options, every command registered in one place, the one
error handler.

Command modules import only Typer (and the domain's enums) at start-up; services, and
with them SQLAlchemy, are imported inside the commands, so `supportctl --help` stays fast.
"""

from __future__ import annotations

import re
import sys
import traceback
from typing import Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

from supportctl import __version__, errors
from supportctl.cli import (
    agents,
    assign,
    bulk,
    customers,
    db,
    demo,
    escalation,
    explain,
    output,
    notify,
    policies,
    privacy,
    reports,
    sla,
    teams,
    tickets,
    transfer,
)
from supportctl.cli.context import AppContext
from supportctl.config import Settings, resolve, url_secrets
from supportctl.constants import EnvVars

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 breaches found (--fail-on-breach), 2 bad input, 3 not found, "
    "4 refused by a rule or permission, 5 database unreachable or schema behind, "
    "6 another run holds the lock, 70 internal error."
)


# pydantic's messages for a value of the wrong type, in our words.
_PYDANTIC_WORDS = [(re.compile(p), w) for p, w in (
    (r"Input should be a valid integer.*", "not a whole number"),
    (r"Input should be a valid number.*", "not a number"),
    (r"Input should be (greater|less) than or equal to (\S+)", r"must be \1 than or equal to \2"),
)]

# Help placeholders that read: Typer's own say `<str>`, `<list[str]>`, `<int range>`.
_PLACEHOLDERS = {"str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER", "float range": "NUMBER",
                 "datetime": "TIME", "bool": ""}


def _readable(display_type: Any) -> Any:
    def shown(self: Any, ctx: Any) -> str:
        label = display_type(self, ctx).strip("<>")
        if label.startswith("list[") and label.endswith("]"):
            label = label[5:-1]
        return _PLACEHOLDERS.get(label, label)
    return shown


TyperParameter = getattr(typer.core, "_TyperParameter", None)
if TyperParameter is not None and hasattr(TyperParameter, "display_type"):  # typer 0.29's helper
    TyperParameter.display_type = _readable(TyperParameter.display_type)


# The root options, and whether each takes a value: accepted after the command too.
GLOBAL_OPTIONS = {"--database-url": True, "--actor": True, "--now": True, "--debug": False, "--absolute": False,
                  "--no-pager": False}


def globals_first(args: list[str]) -> list[str]:
    """args with the root options given after the command moved before it, so
    `supportctl ticket list --now T` means `supportctl --now T ticket list` (`--` ends the search)."""
    front, rest, i = [], [], 0
    seen_command = False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        name = arg.split("=", 1)[0]
        if seen_command and name in GLOBAL_OPTIONS:
            takes = GLOBAL_OPTIONS[name] and "=" not in arg
            front += args[i:i + 1 + takes]
            i += 1 + takes
            continue
        if not arg.startswith("-"):
            seen_command = True
        rest.append(arg)
        i += 1
    return front + rest


def _completion_script(shell: str, standalone_mode: bool) -> int:
    """`supportctl --show-completion bash`: Typer's script for that shell (its own flag takes
    no value and guesses the shell from the parent process)."""
    from typer.completion import Shells, get_completion_script

    if shell not in {s.value for s in Shells}:  # Typer would exit 1, the code of "breaches found"
        raise errors.InvalidInput(f"no completion script for {shell}",
                                  hint=f"there is one for {', '.join(s.value for s in Shells)}")
    typer.echo(get_completion_script(prog_name="supportctl", complete_var="_SUPPORTCTL_COMPLETE", shell=shell))
    if standalone_mode:
        sys.exit(0)
    return 0


class SupportctlGroup(TyperGroup):
    """Runs every command through one error handler (exit codes: docs/output.md)."""

    current: AppContext | None = None

    def main(self, args: Any = None, prog_name: Any = None, standalone_mode: bool = True, **extra: Any):
        SupportctlGroup.current = None
        try:
            args = globals_first(list(sys.argv[1:] if args is None else args))
            if len(args) == 2 and args[0] == "--show-completion":  # the shell named, not guessed
                return _completion_script(args[1], standalone_mode)
            result = super().main(args, prog_name, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except NoArgsIsHelpError as exc:  # bare `supportctl` or `supportctl ticket`: the help, asked for
            typer.echo(exc.ctx.get_help())
            code = 0
        except TyperException as exc:  # bad flag or value: exit 2 with click's own wording
            # Typer checks values with pydantic, whose wording would leak into the message.
            message = exc.format_message().replace("Value error, ", "")
            for theirs, ours in _PYDANTIC_WORDS:
                message = theirs.sub(ours, message)
            code = self._report(f"{message} (see --help)", exc, exit_code=exc.exit_code)
        except Abort:
            code = self._report("aborted", None, exit_code=130)
        except errors.SupportctlError as exc:
            code = self._report(str(exc), exc, exit_code=exc.exit_code)
        except KeyboardInterrupt:
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

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # the reader went away (`| head`): it has what it wanted; exit 0
            from supportctl.cli.output import silence_stdout  # (caught here: click would exit 1)

            silence_stdout()
            return 0

    @staticmethod
    def _report(message: str, exc: BaseException | None, *, exit_code: int) -> int:
        current = SupportctlGroup.current
        settings = current.settings if current else None
        redact = settings.redact if settings else (lambda text: text)
        if exc is not None and settings is not None and settings.debug:
            sys.stderr.write(redact("".join(traceback.format_exception(exc))))
        try:
            sys.stdout.flush()  # what was printed before the error comes before it in a log
        except (OSError, ValueError):  # a reader gone, a stdout closed: the error still goes out
            pass
        sys.stderr.write(f"supportctl: error: {redact(message)}\n")
        return exit_code


app = typer.Typer(
    cls=SupportctlGroup,
    name="supportctl",
    help="Ticket operations for support teams: tickets, SLAs, assignment and escalation over PostgreSQL.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # locals in tracebacks leak passwords
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def group(name: str, help: str, **settings: Any) -> typer.Typer:
    sub = typer.Typer(help=help, no_args_is_help=not settings.get("invoke_without_command"), **settings)
    app.add_typer(sub, name=name)
    return sub


# Every command, in the order `--help` lists them.
database = group("db", "The database: migrations, where it is, the embedded server.")
database.command("upgrade")(db.upgrade)
database.command("status")(db.status)
database.command("stop")(db.stop)
database.command("roles")(db.roles)

customer = group("customer", "Customers: the people tickets are for.")
customer.command("add")(customers.add)
customer.command("list")(customers.list_)
customer.command("show")(customers.show)
customer.command("update")(customers.update)
customer.command("export")(privacy.customer_export)
customer.command("anonymize")(privacy.customer_anonymize)
customer.command("erase")(privacy.customer_erase)

agent = group("agent", "Agents: who works tickets, their role, capacity and open load.")
agent.command("add")(agents.add)
agent.command("list")(agents.list_)
agent.command("show")(agents.show)
agent.command("update")(agents.update)
agent.command("away")(agents.away)
agent.command("back")(agents.back)

team = group("team", "Teams: who owns which tickets, their members, and the routes that give new tickets a team.")
team.command("add")(teams.add)
team.command("list")(teams.list_)
team.command("show")(teams.show)
team.command("update")(teams.update)
member = typer.Typer(help="A team's members.", no_args_is_help=True)
team.add_typer(member, name="member")
member.command("add")(teams.member_add)
member.command("remove")(teams.member_remove)
route = typer.Typer(help="Routes: which team a new ticket gets.", no_args_is_help=True)
team.add_typer(route, name="route")
route.command("add")(teams.route_add)
route.command("list")(teams.route_list)
route.command("remove")(teams.route_remove)

ticket = group("ticket", "Tickets: create, list, show, update, comment, assign, escalate, export, import.")
ticket.command("create")(tickets.create)
ticket.command("list")(tickets.list_)
ticket.command("show")(tickets.show)
ticket.command("update")(tickets.update)
ticket.command("resolve")(tickets.resolve)
ticket.command("close")(tickets.close)
ticket.command("reopen")(tickets.reopen)
ticket.command("comment")(tickets.comment)
ticket.command("assign")(assign.assign)
ticket.command("unassign")(assign.unassign)
ticket.command("escalate")(escalation.escalate)
ticket.command("bulk-update")(bulk.bulk_update)
ticket.command("apply")(bulk.apply)
ticket.command("export")(transfer.export_)
ticket.command("import")(transfer.import_)

queue = group("queue", "Cron jobs over the whole queue: safe to repeat and to run on several hosts.")
queue.command("assign")(assign.queue_assign)
queue.command("escalate")(escalation.queue_escalate)

macros = group("macro", "Macros: named sets of changes and a comment template, for `ticket apply` and bulk-update.")
macros.command("add")(bulk.macro_add)
macros.command("list")(bulk.macro_list)
macros.command("show")(bulk.macro_show)
macros.command("remove")(bulk.macro_remove)

escalations = group("escalation", "Escalation ladders (warn, escalate, reassign, step by step) and quiet hours.")
ladder = typer.Typer(help="Ladders: the steps `queue escalate` fires for an SLA cycle.", no_args_is_help=True)
escalations.add_typer(ladder, name="ladder")
ladder.command("set")(escalation.ladder_set)
ladder.command("list")(escalation.ladder_list)
ladder.command("show")(escalation.ladder_show)
ladder.command("remove")(escalation.ladder_remove)
quiet = typer.Typer(help="Quiet hours: when ladder steps' notifications wait.", no_args_is_help=True)
escalations.add_typer(quiet, name="quiet-hours")
quiet.command("set")(escalation.quiet_set)
quiet.command("show")(escalation.quiet_show)
quiet.command("clear")(escalation.quiet_clear)

service_levels = group("sla", "SLA targets, business hours, the breach report, and why a ticket is due when it is.")
service_levels.command("policy")(sla.policy)
service_levels.command("set")(sla.set_)
calendar = typer.Typer(callback=sla.calendar, invoke_without_command=True)
service_levels.add_typer(calendar, name="calendar")
calendar.command("show")(sla.calendar_show)
calendar.command("list")(sla.calendar_list)
calendar.command("set")(sla.calendar_set)
calendar.command("clear")(sla.calendar_clear)
policy_group = typer.Typer(help="Named SLA policies: targets by customer tier, company, team, category or tag.",
                           no_args_is_help=True)
service_levels.add_typer(policy_group, name="policies")
policy_group.command("list")(policies.list_)
policy_group.command("show")(policies.show)
policy_group.command("add")(policies.add)
policy_group.command("target")(policies.target)
policy_group.command("update")(policies.update)
policy_group.command("remove")(policies.remove)
policy_group.command("test")(policies.test)
service_levels.command("breaches")(sla.breaches)
service_levels.command("history")(sla.history)
service_levels.command("explain")(explain.explain)

reporting = group("report", "Reports for leads: SLA compliance, backlog, response and resolution times, workload.")
reporting.command("sla")(reports.sla)
reporting.command("backlog")(reports.backlog)
reporting.command("response")(reports.response)
reporting.command("resolution")(reports.resolution)
reporting.command("workload")(reports.workload)

notifications = group("notify", "Notifications: the outbox that ticket changes fill, and its delivery by SMTP or webhook.")
notifications.command("send")(notify.send)
notifications.command("list")(notify.list_)

keeping = group("retention", "How long closed tickets are kept: the policy, and the cron job that applies it.")
keeping.command("set")(privacy.retention_set)
keeping.command("show")(privacy.retention_show)
keeping.command("run")(privacy.retention_run)

auditing = group("audit", "The audit log of administrative changes, with the ticket history.")
auditing.command("export")(privacy.audit_export)

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
            envvar=EnvVars.DATABASE_URL,
            help="PostgreSQL URL. Default: the config file's database_url, else the embedded server. "
            "Prefer the environment or ~/.pgpass to a password on the command line.",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", metavar="NAME", envvar=EnvVars.ACTOR, help="Who the history records. Default: your login name."),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIMESTAMP",
            envvar=EnvVars.NOW,
            help="Treat this ISO 8601 time as now (backfills, reproducible reports).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    absolute: Annotated[bool, typer.Option(
        "--absolute", help="Tables show times as ISO 8601, not `3h ago` / `in 45m`.")] = False,
    no_pager: Annotated[bool, typer.Option(
        "--no-pager", help="Never send a long table through $PAGER (default: less -FRX).")] = False,
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
    output.DISPLAY = output.Display(now=settings.fixed_now, absolute=absolute, pager=not no_pager)


def main() -> None:
    app(prog_name="supportctl")  # also under `python -m supportctl`: the name completion scripts bind
