"""Benchmarks: the real supportctl CLI, timed as whole processes, beside the raw PostgreSQL floor.

    python bench/run.py --quick                 # 100k tickets, 3 runs each; under two minutes
    python bench/run.py                         # 1M tickets, 5 runs, and the 10k/100k/1M scaling table
    python bench/run.py --database-url URL      # scratch databases on that server instead

Without --database-url a throwaway PostgreSQL cluster is started from the embedded
server's binaries, exactly as the test suite does (tests/pgcluster.py: tmpfs when there is
one, fsync off): fine for relative timings, not for absolute durability costs. The data is
made by bench/generate.py. Each benchmark runs once to warm up, then --runs times, the
supportctl command and its psql equivalent in turn (commands that write get a fresh
`CREATE DATABASE … TEMPLATE` copy for every run). Wall time is measured around the whole
process; peak RSS is the child's own (wait4), so the server's memory is not in it.
The ratio is the median of the per-run ratios supportctl / psql.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # tests.pgcluster, and generate beside us
import generate  # noqa: E402
from generate import COMMON_WORD, DEFAULT_NOW, RARE_WORD, libpq_dsn, supportctl_command  # noqa: E402

from supportctl.services.tickets.queries import COUNT_CAP  # noqa: E402

BASE = f"bench_{os.getpid()}"


class BenchError(Exception):
    pass


@dataclass
class Sample:
    seconds: float
    rss_mb: float


# Forks the command from a small process and reports its wall time and peak RSS. Not from
# us: Linux counts the RSS a process had before exec in its peak, and a child forked from
# this (large) interpreter would report our size, not its own.
_MEASURE = """import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{time.perf_counter() - start} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def shown(arg) -> str:
    """An argument as it may appear in a report: passwords masked."""
    text = str(arg)
    if "://" in text:
        return make_url(text).render_as_string(hide_password=True)
    return re.sub(r"password=\S+", "password=***", text)


def timed(argv: list[str], *, stdout: Path | None = None, unbuffered: bool = False) -> Sample:
    """Run argv to completion: its wall time and its own peak RSS (wait4 in a small parent).
    `unbuffered`: with PYTHONUNBUFFERED=1, as many container images set it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "SUPPORTCTL_", "PYTHONUNBUFFERED"))}
    env.update(PGCLIENTENCODING="UTF8", SUPPORTCTL_ACTOR="bench")
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    with open(stdout or os.devnull, "wb") as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as measured:
        subprocess.run([sys.executable, "-S", "-E", "-c", _MEASURE, measured.name, *map(str, argv)],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, check=True)
        seconds, rss_kb, code = measured.read().split()
        if int(code):
            err.seek(0)
            raise BenchError(f"{' '.join(map(shown, argv))[:200]} exited {code}: "
                             f"{err.read().decode(errors='replace')[-600:]}")
    return Sample(float(seconds), int(rss_kb) / 1024)


@dataclass
class Result:
    name: str
    cli: list[Sample] = field(default_factory=list)
    raw: list[Sample] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    extra: list[Sample] = field(default_factory=list)  # a second floor, where there is one
    extra_ratios: list[float] = field(default_factory=list)
    note: str = ""
    target: str = ""
    met: bool | None = None
    skipped: str = ""

    @staticmethod
    def spread(samples: list[Sample]) -> str:
        if not samples:
            return "—"
        s = [x.seconds for x in samples]
        return f"{statistics.median(s):.3f} ({min(s):.3f}–{max(s):.3f})"

    def median(self, side: str = "cli") -> float:
        return statistics.median(x.seconds for x in getattr(self, side))

    def rss(self) -> float:
        return max(x.rss_mb for x in self.cli)

    def ratio(self, side: str = "raw") -> float | None:
        ratios = self.ratios if side == "raw" else self.extra_ratios
        return statistics.median(ratios) if ratios else None


class Server:
    """Where the scratch databases live: a throwaway cluster of ours, or a server given by URL."""

    def __init__(self, url: str | None) -> None:
        self.cluster = None
        if url is None:
            from tests.pgcluster import ThrowawayCluster

            self.cluster = ThrowawayCluster().start()
            url = self.cluster.url("postgres")
        self.base_url = url
        self.created: set[str] = set()

    def url(self, dbname: str) -> str:
        return make_url(self.base_url).set(database=dbname).render_as_string(hide_password=False)

    def admin(self, sql: str) -> None:
        conn = psycopg2.connect(libpq_dsn(self.base_url, "postgres"))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def query(self, dbname: str, sql: str) -> list[tuple]:
        conn = psycopg2.connect(libpq_dsn(self.base_url, dbname))
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def create(self, name: str, template: str | None = None) -> str:
        if template is None:
            self.admin(f'CREATE DATABASE "{name}"')
        else:  # FILE_COPY: one file copy per relation instead of WAL for every block
            try:
                self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
            except psycopg2.errors.SyntaxError:  # before PostgreSQL 15
                self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.created.add(name)
        return name

    def drop(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.discard(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        if self.cluster is not None:
            self.cluster.stop()


def psql_path() -> str:
    """psql from the same wheel as the embedded server (found as supportctl finds its bin/)."""
    from supportctl.db.embedded import bin_dir

    return str(bin_dir() / "psql")


def one_line(sql: str) -> str:
    return " ".join(sql.split())  # psql's \copy reads one line


def copy_floor(url: str, what: str, fmt: str, path: Path, now: str) -> str:
    """psql's \\copy of the very statement the CLI streams (cli/output.copy_statement) for `what`:
    the floor of a read command is PostgreSQL making the same bytes, and psql writing them."""
    from supportctl.cli.output import copy_statement
    from supportctl.config import parse_timestamp
    from supportctl.services.reports import backlog, compliance
    from supportctl.services.reports.window import Window
    from supportctl.services.sla import breaches
    from supportctl.services.tickets import columns, queries
    from supportctl.services.tickets.filters import TicketFilter

    when = parse_timestamp(now)
    conn = psycopg2.connect(libpq_dsn(url))
    try:
        cursor = conn.cursor()
        if what == "breaches":
            query = breaches.query(cursor, when)
        elif what == "backlog":
            query = backlog.query(when)
        elif what == "sla-by-week":
            query = compliance.query(cursor, when, Window.of(when, None, None), by="week")
        else:
            chosen = list(columns.LIST_COLUMNS if fmt in ("json", "ndjson") else columns.DEFAULT_COLUMNS)
            sort = "id" if what == "export" else "-created_at"
            query = queries.listing(cursor, TicketFilter(), when, chosen, sort=sort, limit=0).query
        statement = copy_statement(cursor, query, fmt).decode()
    finally:
        conn.close()
    head, _, options = statement.rpartition(" TO STDOUT WITH ")
    return one_line("\\copy " + head.removeprefix("COPY ") + f" TO '{path}' WITH " + options)


IMPORT_TABLE = ("CREATE TABLE import_scratch (external_id text, title text NOT NULL, description text, "
                "status text, priority text, category text, tags text, customer_email text NOT NULL, "
                "assignee_email text, created_at timestamptz)")


def import_copy(path: Path) -> str:
    return rf"\copy import_scratch FROM '{path}' WITH (FORMAT csv, HEADER)"


# NDJSON as COPY reads it: one jsonb a line (no control character in JSON text can end a field).
IMPORT_JSON_TABLE = "CREATE TABLE import_scratch (ticket jsonb)"


def import_json_copy(path: Path) -> str:
    return rf"\copy import_scratch FROM '{path}' WITH (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02')"


class Sql:
    """Hand-written SQL doing the same work as each command, run by psql: the floor."""

    def __init__(self, now: str) -> None:
        self.now = f"'{now}'::timestamptz"

    def breached(self) -> tuple[str, str]:
        """sla/rules.py: response_breached / resolution_breached at now."""
        return (f"t.first_response_at IS NULL AND t.response_due_at < {self.now}",
                f"t.resolved_at IS NULL AND t.status NOT IN ('resolved', 'closed') "
                f"AND t.resolution_due_at < {self.now} "
                f"AND (t.paused_at IS NULL OR t.resolution_due_at < t.paused_at)")

    def escalate(self) -> str:
        """`queue escalate` (services/escalation/queue.py) as one set-based UPDATE + INSERT: every batch at once."""
        response, resolution = self.breached()
        return f"""BEGIN;
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
WITH due AS (
    SELECT t.id, t.priority AS old_priority, t.escalation_level AS old_level,
           CASE WHEN {response} THEN 'response' ELSE 'resolution' END AS metric,
           CASE WHEN {response} THEN t.response_due_at ELSE t.resolution_due_at END AS due_at,
           CASE t.priority WHEN 'low' THEN 'medium' WHEN 'medium' THEN 'high' ELSE 'critical' END AS new_priority
    FROM tickets t JOIN sla_targets p ON p.policy_id = t.sla_policy_id AND p.priority = t.priority
    WHERE t.status NOT IN ('resolved', 'closed') AND (({response}) OR ({resolution}))
      AND (t.last_escalated_at IS NULL
           OR t.last_escalated_at + make_interval(secs => p.response_seconds) <= {self.now})
    FOR UPDATE OF t SKIP LOCKED
), changed AS (
    UPDATE tickets t SET priority = d.new_priority, escalation_level = d.old_level + 1,
        response_due_at = t.created_at + make_interval(secs => np.response_seconds),
        resolution_due_at = t.created_at + make_interval(secs => np.resolution_seconds + t.paused_seconds),
        escalated = true, last_escalated_at = {self.now}, updated_at = {self.now}
    FROM due d JOIN sla_targets np ON np.priority = d.new_priority
    WHERE t.id = d.id AND np.policy_id = t.sla_policy_id
    RETURNING t.id, t.title, d.old_priority, d.old_level, t.priority, t.escalation_level, d.metric, d.due_at
), logged AS (
    INSERT INTO ticket_events (ticket_id, at, actor, kind, from_value, to_value)
    SELECT id, {self.now}, 'bench', 'escalated',
           jsonb_build_object('priority', old_priority, 'escalation_level', old_level),
           jsonb_build_object('priority', priority, 'escalation_level', escalation_level, 'metric', metric,
               'reason', metric || ' SLA breached (due '
                         || to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ')')
    FROM changed ORDER BY id
)
SELECT id, old_priority AS previous_priority, priority, escalation_level, metric, title FROM changed ORDER BY id;
COMMIT;"""

    def import_full(self, path: Path) -> list[str]:
        """`ticket import` as set-based SQL: what the writes cost without the per-row checks."""
        insert = f"""WITH inserted AS (
            INSERT INTO tickets (external_id, title, description, status, priority, category, tags, customer_id,
                assignee_id, escalated, escalation_level, created_at, updated_at, first_response_at,
                resolved_at, closed_at, paused_at, paused_seconds, response_due_at, resolution_due_at)
            SELECT r.external_id, r.title, coalesce(r.description, ''), r.status, r.priority, r.category,
                coalesce(string_to_array(r.tags, ';'), '{{}}'), c.id, a.id, false, 0, r.created_at, {self.now},
                CASE WHEN r.status <> 'open' OR a.id IS NOT NULL THEN r.created_at END,
                CASE WHEN r.status IN ('resolved', 'closed') THEN r.created_at END,
                CASE WHEN r.status = 'closed' THEN r.created_at END,
                CASE WHEN r.status = 'pending' THEN r.created_at END, 0,
                r.created_at + make_interval(secs => p.response_seconds),
                r.created_at + make_interval(secs => p.resolution_seconds)
            FROM import_rows r JOIN customers c ON c.email = r.customer_email
            LEFT JOIN agents a ON a.email = r.assignee_email
            JOIN sla_targets p ON p.priority = r.priority AND p.policy_id = 1
            ON CONFLICT (external_id) DO NOTHING
            RETURNING id, title, status, priority, external_id, created_at, customer_id, assignee_id)
        INSERT INTO ticket_events (ticket_id, at, actor, kind, to_value)
        SELECT i.id, {self.now}, 'bench', 'created', jsonb_strip_nulls(jsonb_build_object(
            'title', i.title, 'status', i.status, 'priority', i.priority, 'customer_email', c.email,
            'assignee_email', a.email, 'external_id', i.external_id, 'created_at', i.created_at, 'source', 'import'))
        FROM inserted i JOIN customers c ON c.id = i.customer_id LEFT JOIN agents a ON a.id = i.assignee_id"""
        return ["BEGIN", IMPORT_TABLE.replace("CREATE TABLE import_scratch", "CREATE TEMPORARY TABLE import_rows"),
                rf"\copy import_rows FROM '{path}' WITH (FORMAT csv, HEADER)",
                "INSERT INTO customers (email, name, created_at) SELECT DISTINCT customer_email, "
                f"split_part(customer_email, '@', 1), {self.now} FROM import_rows ON CONFLICT (email) DO NOTHING",
                insert, "COMMIT"]

    def search(self, word: str) -> tuple[str, str]:
        """The page of `ticket list --search`, and the count of matches up to the CLI's cap
        (it asks for both)."""
        match = f"t.search @@ websearch_to_tsquery('english', '{word}')"
        return (f"SELECT t.*, c.email, a.email FROM tickets t JOIN customers c ON c.id = t.customer_id "
                f"LEFT JOIN agents a ON a.id = t.assignee_id WHERE {match} "
                "ORDER BY t.created_at DESC, t.id DESC LIMIT 50",
                f"SELECT count(*) FROM (SELECT 1 FROM tickets t WHERE {match} LIMIT {COUNT_CAP + 1}) s")

    def show(self, ticket: int) -> tuple[str, str, str]:
        return (f"SELECT t.*, c.email, a.email FROM tickets t JOIN customers c ON c.id = t.customer_id "
                f"LEFT JOIN agents a ON a.id = t.assignee_id WHERE t.id = {ticket}",
                f"SELECT * FROM comments WHERE ticket_id = {ticket} ORDER BY id",
                f"SELECT * FROM ticket_events WHERE ticket_id = {ticket} ORDER BY id")


def available(command: str) -> bool:
    """Whether `supportctl COMMAND --help` works: measuring an older install, a command it
    lacks is reported as missing instead of failing the run."""
    probe = subprocess.run([*supportctl_command(), *command.split(), "--help"], capture_output=True, check=False)
    return probe.returncode == 0


@dataclass
class Bench:
    name: str
    command: str  # the supportctl command checked with --help
    cli: Callable[[str, Path], list[str]]  # (database url, out dir) -> argv after `supportctl`
    raw: Callable[[str, Path], list[str]] | None  # (database url, out dir) -> full argv
    target: str = ""
    fresh_copy: bool = False
    add_startup: bool = False  # the floor is psql + the CLI's bare start-up (`--help`)
    check: Callable[[Result], bool] | None = None
    floor: str = ""  # what the raw side is, for the legend
    compare: tuple[str, str] | None = None  # output files (in the out dir) that should be equal
    extra: Callable[[str, Path], list[str]] | None = None  # a second floor, informative
    extra_floor: str = ""
    unbuffered: bool = False  # the supportctl side runs with PYTHONUNBUFFERED=1
    runs: int | None = None  # timed runs, when not the harness's (a slow floor)


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


class Harness:
    def __init__(self, server: Server, out: Path, runs: int, now: str, quick: bool = False) -> None:
        self.server, self.out, self.runs, self.now = server, out, runs, now
        # --quick skips the warm-up of what runs on a fresh copy: every such run starts as cold as a warm-up.
        self.warm_fresh = not quick
        self.psql = psql_path()
        self.startup = 0.0

    def ids_file(self, count: int) -> Path:
        """The ids of `count` unresolved tickets (closed ones refuse changes), one a line, for `--ids`."""
        path = self.out / f"ids-{count}.txt"
        if not path.exists():
            ids = self.server.query(BASE, "SELECT id FROM tickets WHERE status NOT IN ('resolved', 'closed') "
                                          f"ORDER BY id LIMIT {count}")
            path.write_text("".join(f"{n}\n" for (n,) in ids))
        return path

    def update_loop(self, url: str, ids: Path) -> list[str]:
        """A shell loop of one `ticket update` process per id (the way bulk changes were made before)."""
        command = " ".join(map(shlex.quote, self.supportctl(url, ["ticket", "update"])))
        return ["sh", "-c", f'while read -r id; do {command} "$id" {" ".join(BULK_CHANGE)} >/dev/null || exit 1; '
                            f"done < {shlex.quote(str(ids))}"]

    def supportctl(self, url: str, args: list[str]) -> list[str]:
        return [*supportctl_command(), "--database-url", url, "--now", self.now, *args]

    def psql_cmd(self, url: str, *commands: str, csv_out: Path | None = None) -> list[str]:
        argv = [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", libpq_dsn(url)]
        if csv_out is not None:
            argv += ["--csv", "-o", str(csv_out)]
        for command in commands:
            argv += ["-c", command]
        return argv

    def run(self, bench: Bench, dbname: str, runs: int | None = None) -> Result:
        result = Result(bench.name, target=bench.target)
        warmup = 0 if bench.fresh_copy and not self.warm_fresh else 1
        if not available(bench.command):
            result.skipped = f"`supportctl {bench.command}` is not in this install"
            print(f"  {bench.name}: not in this install", file=sys.stderr)
            return result
        try:
            self._repeat(bench, dbname, result, warmup, runs or bench.runs or self.runs)
        except BenchError as exc:  # one broken command must not cost the other measurements
            result.skipped = f"failed: {' '.join(str(exc).split())[-300:]}"
            print(f"  {bench.name}: {result.skipped}", file=sys.stderr)
            return result
        if bench.check is not None:
            result.met = bench.check(result)
        if bench.compare:
            result.note = same_bytes(*(self.out / name for name in bench.compare))
        ratio = f", ratio {result.ratio():.2f}" if result.ratio() else ""
        print(f"  {bench.name}: {result.median():.3f}s{ratio}, {result.rss():.0f} MB", file=sys.stderr)
        return result

    def _repeat(self, bench: Bench, dbname: str, result: Result, warmup: int, runs: int) -> None:
        for i in range(warmup + runs):
            pair: dict[str, Sample] = {}
            for side, make in (("cli", bench.cli), ("raw", bench.raw), ("extra", bench.extra)):
                if make is None:
                    continue
                db = self.server.create(f"{dbname}_run", dbname) if bench.fresh_copy else dbname
                try:
                    url = self.server.url(db)
                    argv = self.supportctl(url, make(url, self.out)) if side == "cli" else make(url, self.out)
                    sample = timed(argv, stdout=self.out / f"{slug(bench.name)}.{side}.out",
                                   unbuffered=bench.unbuffered and side == "cli")
                finally:
                    if bench.fresh_copy:
                        self.server.drop(db)
                pair[side] = sample
                if i >= warmup:
                    getattr(result, side).append(sample)
            if i < warmup:
                continue
            for side, ratios in (("raw", result.ratios), ("extra", result.extra_ratios)):
                if side in pair:
                    floor = pair[side].seconds + (self.startup if bench.add_startup else 0)
                    ratios.append(pair["cli"].seconds / floor)


def same_bytes(a: Path, b: Path) -> str:
    if not (a.exists() and b.exists()):
        return ""
    if a.read_bytes() == b.read_bytes():
        return "same bytes as psql's"
    return f"output differs from psql's ({a.stat().st_size} vs {b.stat().st_size} bytes)"


READS = (  # (name, the supportctl command, what copy_floor makes, format)
    ("ticket list --limit 0 (csv)", ["ticket", "list", "--limit", "0", "--format", "csv"], "list", "csv"),
    ("ticket list --limit 0 (ndjson)", ["ticket", "list", "--limit", "0", "--format", "ndjson"], "list", "ndjson"),
    ("sla breaches (csv)", ["sla", "breaches", "--format", "csv"], "breaches", "csv"),
    ("sla breaches (ndjson)", ["sla", "breaches", "--format", "ndjson"], "breaches", "ndjson"),
)


REPORTS = (  # (name, the supportctl command, what copy_floor makes): each in csv
    ("report backlog", ["report", "backlog", "--format", "csv"], "backlog"),
    ("report sla --by week", ["report", "sla", "--by", "week", "--format", "csv"], "sla-by-week"),
)


def read_benches(h: Harness, at: str) -> list[Bench]:
    """Each read command in csv and ndjson (and ticket export), beside psql's \\copy of the same
    statement (same bytes), once more with PYTHONUNBUFFERED=1; ≤ 1.3x, under 100 MB. The
    reports, in csv: under 2 s."""
    def bench(name: str, argv: list[str], what: str, fmt: str, unbuffered: bool = False, *,
              target: str = f"≤ 1.3× psql \\copy, RSS < 100 MB{at}",
              check: Callable[[Result], bool] = lambda r: r.ratio() <= 1.3 and r.rss() < 100) -> Bench:
        label = name + (" PYTHONUNBUFFERED=1" if unbuffered else "")
        raw_file = f"{slug(label)}.floor.{fmt}"
        out_file = f"{slug(label)}.cli.out"
        if what == "export":
            argv = [*argv, "-o", "{out}"]
        return Bench(label, " ".join(argv[:2]),
                     lambda u, o: [a.replace("{out}", str(o / out_file)) for a in argv],
                     lambda u, o: h.psql_cmd(u, copy_floor(u, what, fmt, o / raw_file, h.now)),
                     compare=(out_file, raw_file), unbuffered=unbuffered, target=target, check=check,
                     floor="psql `\\copy` of the statement the CLI streams (cli/output.copy_statement) to a file")

    export = ("ticket export", ["ticket", "export"], "export", "csv")
    return [*(bench(*case) for case in (*READS, export)),
            *(bench(*case, unbuffered=True) for case in (READS[0], READS[2], export)),
            *(bench(name, argv, what, "csv", target=f"< 2 s{at}", check=lambda r: r.median() < 2)
              for name, argv, what in REPORTS)]


def benches(h: Harness, import_csv: Path, quick: bool, import_ndjson: Path | None = None) -> dict[str, Bench]:
    at = " (target is for 1M)" if quick else ""
    sql = Sql(h.now)
    return {b.name: b for b in [
        Bench("--help", "", lambda u, o: ["--help"], lambda u, o: [sys.executable, "-c", "pass"],
              target="≤ 0.2 s", check=lambda r: r.median() <= 0.2,
              floor="the interpreter alone: `python -c pass`"),
        Bench("ticket show 1", "ticket show", lambda u, o: ["ticket", "show", "1"],
              lambda u, o: h.psql_cmd(u, *sql.show(1)), target="≤ `--help` + 0.25 s",
              check=lambda r: r.median() <= h.startup + 0.25,
              floor="psql: the ticket with its people, its comments, its events (3 SELECTs)"),
        *read_benches(h, at),
        *[Bench(f"ticket list --search {w}", "ticket list",
                lambda u, o, w=w: ["ticket", "list", "--search", w, "--limit", "50", "--format", "csv"],
                lambda u, o, w=w: h.psql_cmd(u, *sql.search(w), csv_out=o / "search.raw.csv"),
                target=f"< 0.5 s{at}", check=lambda r: r.median() < 0.5,
                floor=f"psql: the page of 50 (same joins and order) and the count of matches up to {COUNT_CAP + 1:,}")
          for w in (COMMON_WORD, RARE_WORD)],
        Bench("queue escalate", "queue escalate", lambda u, o: ["queue", "escalate", "--format", "csv"],
              lambda u, o: h.psql_cmd(u, sql.escalate(), csv_out=o / "escalate.raw.csv"), fresh_copy=True,
              target="≤ 2× set-based UPDATE + INSERT", check=lambda r: r.ratio() <= 2,
              floor="psql: one transaction, one UPDATE … FROM (the due tickets, FOR UPDATE SKIP LOCKED) "
                    "and one INSERT of the events, the escalated rows printed"),
        Bench("ticket import", "ticket import", lambda u, o: ["ticket", "import", str(import_csv)],
              lambda u, o: h.psql_cmd(u, IMPORT_TABLE, import_copy(import_csv)), fresh_copy=True,
              target="≤ 3× psql \\copy into a scratch table", check=lambda r: r.ratio() <= 3,
              floor="psql `\\copy` of the same file into a new unindexed table with the file's columns",
              extra=lambda u, o: h.psql_cmd(u, *sql.import_full(import_csv)),
              extra_floor="psql, one transaction: `\\copy` into a temporary table, then the INSERTs of "
                          "services/importing.py (customers, tickets with due dates, `created` events) "
                          "without its per-row checks: the cost of the tickets table's indexes"),
        *([Bench("ticket import --format ndjson", "ticket import",
                 lambda u, o: ["ticket", "import", "--format", "ndjson", str(import_ndjson)],
                 lambda u, o: h.psql_cmd(u, IMPORT_JSON_TABLE, import_json_copy(import_ndjson)), fresh_copy=True,
                 target="information (§17)",
                 floor="psql `\\copy` of the same NDJSON file into a new table of one jsonb column")]
          if import_ndjson else []),
        Bench("queue assign", "queue assign", lambda u, o: ["queue", "assign", "--format", "csv"], None,
              fresh_copy=True, target="< 3 s", check=lambda r: r.median() < 3,
              floor="none: capacity and the round-robin cursor make it no single statement"),
        Bench("ticket bulk-update 1000", "ticket bulk-update",
              lambda u, o: ["ticket", "bulk-update", "--ids", str(h.ids_file(1000)), *BULK_CHANGE, "--yes",
                            "--format", "csv"],
              lambda u, o: h.update_loop(u, h.ids_file(1000)), fresh_copy=True, runs=1,
              target="a few seconds (< 5 s)", check=lambda r: r.median() < 5,
              floor="1,000 `supportctl ticket update ID " + " ".join(BULK_CHANGE) + "` processes, one after "
                    "another (the shell loop it replaces); one run"),
    ]}


BULK_CHANGE = ["--priority", "high", "--add-tag", "incident-1123"]


def machine(server: Server, dbname: str, load: tuple[float, ...]) -> list[str]:
    version, fsync, shm = server.query(dbname, "SELECT current_setting('server_version'), "
                                               "current_setting('fsync'), current_setting('shared_buffers')")[0]
    with open("/proc/meminfo") as fh:
        mem = next(line.split()[1] for line in fh if line.startswith("MemTotal"))
    where = (f"throwaway cluster (tests/pgcluster.py) in {server.cluster.root.parent}"
             if server.cluster else "the server given by --database-url")
    return [f"- machine: {os.cpu_count()} cores, {int(mem) / 1024 / 1024:.0f} GiB RAM, {platform.platform()}, "
            f"Python {platform.python_version()}",
            f"- PostgreSQL {version}, fsync={fsync}, shared_buffers={shm}, server: {where}",
            "- load average (1, 5, 15 min) when the benchmarks started: "
            + ", ".join(f"{x:.2f}" for x in load) + " (this machine may be shared: see the min–max spread)",
            f"- supportctl measured: {revision()}"]


def revision() -> str:
    """The commit of the checkout, and whether the product code differs from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--", "supportctl", "alembic")
    return f"commit {commit}" + (" plus uncommitted changes to supportctl/ or alembic/" if dirty else "")


def legend(chosen: dict[str, Bench]) -> list[str]:
    return ["Raw floors:", "", *[f"- {b.name}: {b.floor}" for b in chosen.values() if b.floor],
            *[f"- {b.name}, second floor: {b.extra_floor}" for b in chosen.values() if b.extra_floor], ""]


def table(results: list[Result], tickets: int) -> list[str]:
    lines = [f"| benchmark ({tickets:,} tickets) | supportctl s, median (min–max) | raw floor s, median (min–max) "
             "| ratio | supportctl peak RSS | target | met |", "|---|---|---|---|---|---|---|"]
    for r in results:
        if r.skipped:
            lines.append(f"| {r.name} | {r.skipped} | | | | {r.target} | |")
            continue
        ratio = f"{r.ratio():.2f}×" if r.ratio() else "—"
        met = "" if r.met is None else "yes" if r.met else "**no**"
        name = r.name + (f" ({r.note})" if r.note else "")
        lines.append(f"| {name} | {Result.spread(r.cli)} | {Result.spread(r.raw)} | {ratio} | {r.rss():.0f} MB "
                     f"| {r.target} | {met} |")
        if r.extra:
            lines.append(f"| {r.name}, second floor (see below) | same runs | {Result.spread(r.extra)} "
                         f"| {r.ratio('extra'):.2f}× | | information | |")
    return lines


def explain(server: Server, dbname: str, now: str) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the very SQL the CLI sends, built by the services."""
    from supportctl.config import parse_timestamp
    from supportctl.services.sla import breaches
    from supportctl.services.tickets import columns, queries
    from supportctl.services.tickets.filters import TicketFilter

    when = parse_timestamp(now)
    lines = []
    conn = psycopg2.connect(libpq_dsn(server.url(dbname)))
    try:
        cursor = conn.cursor()
        work = {"sla breaches": breaches.query(cursor, when)}
        for word in (COMMON_WORD, RARE_WORD):
            work[f"ticket list --search {word} --limit 50"] = queries.listing(
                cursor, TicketFilter(search=word), when, list(columns.DEFAULT_COLUMNS), limit=50).query
        for title, query in work.items():
            sql = cursor.mogrify(query.sql(), query.params).decode()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = [row[0] for row in cursor.fetchall()]
            lines += [f"`{title}`: `{' '.join(sql.split())[:150]}…`", "", "```", *excerpt(plan), "```", ""]
    finally:
        conn.close()
    return lines


_NOISE = ("Buckets:", "Cache Key:", "Cache Mode:", "Hits:", "Index Searches:")


def excerpt(plan: list[str]) -> list[str]:
    """The plan without the lines that say nothing about where the time goes."""
    return [line for line in plan if not line.strip().startswith(_NOISE)]


def build(server: Server, name: str, tickets: int, overdue: int, seed: int, now: str) -> float:
    print(f"generating {tickets:,} tickets into {name}", file=sys.stderr)
    server.create(name)
    return generate.generate(server.url(name), tickets, overdue, seed, now)["seconds"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k tickets, 3 runs, no scaling table.")
    parser.add_argument("--tickets", type=int, help="Tickets in the main database (default 1M, --quick 100k).")
    parser.add_argument("--runs", type=int, help="Timed runs per benchmark after one warm-up (default 5, --quick 3).")
    parser.add_argument("--overdue", type=int, default=10_000, help="Breached unresolved tickets (default 10000).")
    parser.add_argument("--import-rows", type=int, default=100_000, help="Rows in the import file (default 100000).")
    parser.add_argument("--database-url", help="Make the scratch databases on this server (needs CREATE DATABASE).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report", help="Also write the markdown report to this file.")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="Run only the benchmarks whose name contains TEXT (repeatable), e.g. 'sla breaches'; "
                             "no scaling table.")
    args = parser.parse_args(argv)
    tickets = args.tickets or (100_000 if args.quick else 1_000_000)
    runs = args.runs or (3 if args.quick else 5)
    started, load = time.monotonic(), os.getloadavg()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    server = Server(args.database_url)
    if server.cluster is not None:  # inside the cluster's directory: a killed run's is removed by the next
        out = server.cluster.root / "bench-out"
        out.mkdir()
    else:
        out = Path(tempfile.mkdtemp(prefix="supportctl-bench-", dir=scratch_dir()))
    report: list[str] = []
    try:
        overdue = min(args.overdue, tickets // 10)
        gen_seconds = build(server, BASE, tickets, overdue, args.seed, DEFAULT_NOW)
        emails = [e for (e,) in server.query(BASE, "SELECT email FROM customers ORDER BY id")]
        import_csv = out / "import.csv"
        generate.write_import_csv(str(import_csv), args.import_rows, emails, args.seed)
        import_ndjson = out / "import.ndjson"  # the same tickets, with their state and two comments each
        generate.write_import_ndjson(str(import_ndjson), args.import_rows, emails, args.seed)
        h = Harness(server, out, runs, DEFAULT_NOW, quick=args.quick)
        chosen = benches(h, import_csv, args.quick, import_ndjson)
        if args.only:  # --help stays: its median is the start-up some floors include
            chosen = {n: b for n, b in chosen.items() if n == "--help" or any(t in n for t in args.only)}
        unassigned = server.query(BASE, "SELECT count(*) FROM tickets WHERE assignee_id IS NULL "
                                        "AND status NOT IN ('resolved', 'closed')")[0][0]
        results = []
        for name, bench in chosen.items():
            results.append(h.run(bench, BASE))
            if name == "--help":  # the floor of `sla breaches` includes the CLI's bare start-up
                h.startup = results[-1].median()
        report += [f"## {tickets:,} tickets, {runs} runs after a warm-up", "",
                   *machine(server, BASE, load),
                   f"- data: `python bench/generate.py --tickets {tickets} --overdue {overdue} --seed {args.seed}` "
                   f"took {gen_seconds:.0f} s; the import files have {args.import_rows:,} rows (the NDJSON one with 2 "
                   "comments each); "
                   f"{unassigned:,} unresolved tickets have no assignee (what `queue assign` assigns)",
                   f"- every supportctl command ran with `--now {DEFAULT_NOW}`; `--help` median "
                   f"{h.startup:.3f} s", "", *table(results, tickets), "", *legend(chosen)]
        if not args.quick and (not args.only or any("breaches" in t for t in args.only)):
            report += many_breaches(server, h, args)
        if not args.quick and not args.only:
            report += scaling(server, h, results, tickets, args, import_csv)
        report += ["### EXPLAIN (ANALYZE, BUFFERS) of the CLI's own queries", "", *explain(server, BASE, DEFAULT_NOW)]
        report.append(f"(whole run: {time.monotonic() - started:.0f} s)")
    finally:
        shutil.rmtree(out, ignore_errors=True)
        server.close()
    text = "\n".join(report) + "\n"
    print(text)
    if args.report:
        Path(args.report).write_text(text, encoding="utf-8")


def many_breaches(server: Server, h: Harness, args) -> list[str]:
    """The breach report where most unresolved tickets are overdue: about 400,000 rows."""
    db = f"{BASE}_breaches"
    build(server, db, 300_000, 272_000, args.seed, DEFAULT_NOW)
    rows = server.query(db, "SELECT count(*) FROM tickets WHERE status NOT IN ('resolved', 'closed')")[0][0]
    chosen = [b for b in read_benches(h, "") if b.name.startswith("sla breaches")]
    results = [h.run(b, db) for b in chosen]
    server.drop(db)
    return [f"### The breach report at 300,000 tickets, {rows:,} unresolved and overdue", "",
            *table(results, 300_000), ""]


def scaling(server: Server, h: Harness, results: list[Result], tickets: int, args, import_csv: Path) -> list[str]:
    """The same list/breaches/export at 10k, 100k and the main size."""
    names = ("ticket list --search " + COMMON_WORD, "sla breaches (csv)", "ticket export")
    chosen = benches(h, import_csv, quick=False)
    rows = {tickets: {r.name: r for r in results}}
    for size in (10_000, 100_000):
        if size >= tickets:
            continue
        db = f"{BASE}_{size}"
        build(server, db, size, min(args.overdue, size // 10), args.seed, DEFAULT_NOW)
        rows[size] = {name: h.run(chosen[name], db, runs=3) for name in names}
        server.drop(db)
    lines = ["### Scaling (supportctl median s / psql median s)", "",
             "| tickets | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for size in sorted(rows):
        cells = []
        for name in names:
            r = rows[size].get(name)
            cells.append("—" if r is None or r.skipped else f"{r.median():.3f} / {r.median('raw'):.3f}")
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return lines + [""]


def scratch_dir() -> str:
    from tests.pgcluster import scratch_parent

    return str(scratch_parent())


if __name__ == "__main__":
    main()
