"""Fill an empty supportctl database with a realistic help desk, fast, for benchmarks.

    python bench/generate.py --tickets 1000000 --database-url URL [--overdue 10000] [--seed 1]

The database is migrated with `supportctl db upgrade`, then loaded with COPY: a forked
child writes the customers/agents/tickets CSV into a pipe while the server parses it (two
cores busy), the tickets table is freshly truncated so COPY FREEZE applies, and the
secondary indexes are dropped before and rebuilt after the load (from their own
definitions, so they stay whatever the migrations say). Comments and events are derived
from the tickets on the server (INSERT … SELECT). Then VACUUM ANALYZE, as autovacuum would
have left a live database.

The data follows the rules supportctl keeps: due dates from the default 24x7 policy
(critical 1h/8h, high 4h/24h, medium 24h/72h, low 72h/168h after created_at); first
response, pause and resolution times consistent with the status; about 20% unresolved,
of which exactly --overdue are breached at --now (the rest are pending with their clock
stopped before the due time, or recent and still within their targets). Ticket ids rise
with created_at over about two years. Titles and descriptions come from a small
vocabulary: COMMON_WORD is in roughly one ticket in eight, RARE_WORD in one in 10,000.
Everything is deterministic for a given --seed and --now.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg2
from psycopg2.extensions import make_dsn
from sqlalchemy.engine import make_url

DEFAULT_NOW = "2026-11-23T10:00:00Z"  # every benchmark command gets the same --now
COMMON_WORD = "password"
RARE_WORD = "kerberos"
HOUR, DAY = 3600, 86400
# priority: (response, resolution) seconds, the default policy of the migrations
TARGETS = {"low": (72 * HOUR, 168 * HOUR), "medium": (24 * HOUR, 72 * HOUR),
           "high": (4 * HOUR, 24 * HOUR), "critical": (1 * HOUR, 8 * HOUR)}
PRIORITIES, PRIORITY_WEIGHTS = ("low", "medium", "high", "critical"), (25, 50, 20, 5)
DONE, OVERDUE, PENDING, RECENT = range(4)  # the kinds of ticket, see ticket_rows
AGENTS = 50
TABLES = ("tickets", "comments", "ticket_events")

CATEGORIES = ["billing", "login", "bug", "feature", "account", "shipping", "integration", "performance", ""]
TAGS = ["vip", "refund", "outage", "mobile", "web", "api", "sso", "export", "invoice", "onboarding",
        "feedback", "security", "ios", "android", "webhook", "upload"]
SUBJECTS = ["invoice", "password", "login page", "mobile app", "export", "dashboard", "API key", "webhook",
            "report", "checkout", "shipment", "account", "subscription", "search", "upload", "email",
            "integration", "refund", "notification", "profile"]
PROBLEMS = ["is broken", "shows an error", "does not load", "is very slow", "fails since the update",
            "returns the wrong data", "cannot be changed", "times out", "was charged twice",
            "keeps asking again", "is missing", "looks wrong on my phone"]
OPENERS = ["Hello team,", "Hi,", "Good morning,", "Dear support,", "Hey there,", ""]
WORDS = ["customer", "order", "account", "invoice", "payment", "error", "screen", "button", "page", "browser", "update", "version", "server", "request", "response", "report", "data", "file", "export", "import", "email", "message", "setting", "profile", "user", "admin", "team", "project", "month", "week", "today", "yesterday", "morning", "night", "again", "still", "always", "never", "please", "urgent", "quickly", "help", "thanks", "issue", "problem", "bug", "crash", "slow", "timeout", "reset", "change", "delete", "create", "open", "close", "save", "load", "send", "receive", "sync", "mobile", "desktop", "chrome", "firefox", "safari", "android", "iphone", "network", "proxy", "firewall", "certificate", "token", "session", "cookie", "cache", "database", "backup"]
RARE_SENTENCES = [f"Our {RARE_WORD} ticket expires before the sync.",
                  "The zeppelin warehouse label printer jams.", "A quokka appears in the logo."]
FIRST_NAMES = ["ana", "ben", "chloe", "dev", "eli", "fay", "gus", "hana", "ivan", "jo", "kai", "lea",
               "mo", "nina", "omar", "pia", "quinn", "rae", "sven", "tara", "ugo", "vera", "wes", "yara"]
DOMAINS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne",
           "soylent", "wonka", "aperture", "vandelay", "dunder", "oscorp", "gringotts"]
TIERS, TIER_WEIGHTS = ("free", "basic", "premium", "enterprise"), (20, 50, 20, 10)


def libpq_dsn(url: str, dbname: str | None = None) -> str:
    """A libpq connection string (psycopg2, psql) from a supportctl SQLAlchemy URL."""
    u = make_url(url)
    host = u.query.get("host") or u.host
    return make_dsn(dbname=dbname or u.database, user=u.username, password=u.password,
                    host=host if isinstance(host, str) else None, port=u.port)


def supportctl_command() -> list[str]:
    """The console script beside this interpreter (what users run), else python -m supportctl."""
    script = os.path.join(os.path.dirname(sys.executable), "supportctl")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "supportctl"]


# -- the rows, produced in a forked child ------------------------------------------------


class Stamps:
    """Epoch seconds to timestamptz text, the date part cached (formatting is the hot loop)."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}

    def __call__(self, sec: int | None) -> str:
        if sec is None:
            return ""
        day, rest = divmod(sec, DAY)
        date = self.days.get(day)
        if date is None:
            date = self.days[day] = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
        h, rest = divmod(rest, 3600)
        return f"{date} {h:02d}:{rest // 60:02d}:{rest % 60:02d}+00"


def sentences(rng: random.Random) -> list[str]:
    """A pool of sentences; about one in 30 mentions COMMON_WORD."""
    pool = []
    for i in range(3000):
        words = rng.choices(WORDS, k=rng.randint(6, 14))
        if i % 30 == 0:
            words[rng.randrange(len(words))] = COMMON_WORD
        pool.append(" ".join(words).capitalize() + rng.choice([".", ".", "!", "?", ", thanks."]))
    return pool


def schedule(rng: random.Random, n: int, overdue: int, now: int) -> list[int]:
    """(created_at, kind, priority) of every ticket, packed in one int and sorted, so ids rise with time."""
    unresolved = max(overdue, round(n * 0.2))
    if unresolved > n:
        raise SystemExit(f"--overdue {overdue} is more than --tickets {n}")
    pending = round((unresolved - overdue) * 0.75)
    kinds = [(OVERDUE, overdue), (PENDING, pending), (RECENT, unresolved - overdue - pending),
             (DONE, n - unresolved)]
    packed = []
    prios = rng.choices(range(4), weights=PRIORITY_WEIGHTS, k=n)
    i = 0
    for kind, count in kinds:
        for _ in range(count):
            p = prios[i]
            i += 1
            response, resolution = TARGETS[PRIORITIES[p]]
            if kind == DONE:
                age = rng.randint(2 * HOUR, 730 * DAY)
            elif kind == OVERDUE:  # half never answered (bit 1), half answered but not resolved in time
                unanswered = rng.random() < 0.5
                target = response if unanswered else resolution
                age = rng.randint(target + 60, target + 30 * DAY)
                packed.append(((now - age) * 16 + kind * 4 + p) * 2 + unanswered)
                continue
            elif kind == PENDING:
                age = rng.randint(DAY, 180 * DAY)
            else:  # RECENT: still within both targets
                age = rng.randint(60, resolution - 60)
            packed.append(((now - age) * 16 + kind * 4 + p) * 2)
    packed.sort()
    return packed


def ticket_rows(seed: int, n: int, overdue: int, now: int, customers: int):
    """Yield CSV chunks of the tickets table, in id order."""
    rng = random.Random(seed)
    stamp = Stamps()
    pool = sentences(rng)
    titles = [f"{s.capitalize()} {p}" for s in SUBJECTS for p in PROBLEMS]
    active = [a for a in range(1, AGENTS + 1) if agent_role(a) != "lead" and not agent_inactive(a)]
    everyone = [a for a in range(1, AGENTS + 1) if agent_role(a) != "lead"]
    out = io.StringIO()
    write = csv.writer(out, lineterminator="\n").writerow
    for tid, packed in enumerate(schedule(rng, n, overdue, now), 1):
        packed, bit = divmod(packed, 2)
        created, code = divmod(packed, 16)
        kind, p = divmod(code, 4)
        priority = PRIORITIES[p]
        response, resolution = TARGETS[priority]
        age = now - created
        first = resolved = closed = paused = assignee = escalated_at = None
        level = 0
        if kind == DONE:
            late = rng.random()
            d1 = int(response * (rng.uniform(1, 3) if late < 0.15 else rng.uniform(0.05, 1)))
            d2 = int(resolution * (rng.uniform(1, 4) if late < 0.12 else rng.uniform(0.1, 1)))
            d2 = min(max(d2, d1 + 60), age - 60)
            d1 = min(d1, d2)
            first, resolved = created + d1, created + d2
            status = "resolved"
            if resolved + 3 * DAY <= now and rng.random() < 0.9:
                status, closed = "closed", resolved + 3 * DAY
            assignee = rng.choice(everyone)
            if late < 0.04:
                level, escalated_at = 1, created + min(response, d2)
        elif kind == OVERDUE:
            if bit:  # response breached: open and unassigned
                status = "open"
            else:
                status, assignee = "in_progress", rng.choice(active)
                first = created + int(response * rng.uniform(0.1, 1))
        elif kind == PENDING:
            status, assignee = "pending", rng.choice(active)
            pause_at = int(min(age, resolution) * rng.uniform(0.2, 0.95))
            first = created + int(min(response, pause_at) * rng.uniform(0.1, 1))
            paused = created + pause_at
        else:
            if age < response and rng.random() < 0.5:
                status = "open"
            else:
                status, assignee = "in_progress", rng.choice(active)
                first = created + int(min(age, response) * rng.uniform(0.05, 1))
        if rng.random() < 0.001:  # spreadsheet formula cells exist in real data
            title = "=HYPERLINK(\"x\") " + rng.choice(titles)
        else:
            title = rng.choice(titles)
        parts = [rng.choice(OPENERS), *rng.sample(pool, rng.randint(1, 3))]
        if rng.random() < 0.0001:
            parts.append(RARE_SENTENCES[0])
        elif rng.random() < 0.0005:
            parts.append(rng.choice(RARE_SENTENCES[1:]))
        ntags = rng.choice((0, 0, 1, 1, 1, 2, 3))
        tags = "{" + ",".join(rng.sample(TAGS, ntags)) + "}"
        customer = int(customers * rng.random() ** 2) + 1  # a few customers write most tickets
        updated = max(t for t in (created, first, resolved, closed, paused, escalated_at) if t is not None)
        write((tid, "", title, " ".join(parts).strip(), status, priority, rng.choice(CATEGORIES), tags,
               customer, assignee or "", "true" if level else "false", level, stamp(escalated_at),
               stamp(created), stamp(updated), stamp(first), stamp(resolved), stamp(closed),
               stamp(created + response), stamp(created + resolution), stamp(paused), 0))
        if tid % 5000 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


TICKET_COLUMNS = ("id, external_id, title, description, status, priority, category, tags, customer_id, "
                  "assignee_id, escalated, escalation_level, last_escalated_at, created_at, updated_at, "
                  "first_response_at, resolved_at, closed_at, response_due_at, resolution_due_at, "
                  "paused_at, paused_seconds")


def agent_role(agent: int) -> str:
    return "lead" if agent <= 4 else "senior" if agent <= 16 else "agent"


def agent_inactive(agent: int) -> bool:
    return agent in (20, 33, 47)  # people leave: their old tickets stay assigned to them


def agent_rows(now: int) -> str:
    stamp = Stamps()
    out = io.StringIO()
    write = csv.writer(out, lineterminator="\n").writerow
    for a in range(1, AGENTS + 1):
        name = f"{FIRST_NAMES[a % len(FIRST_NAMES)]} {a}"
        capacity = 20 + (a * 7) % 40 if a % 5 in (1, 3) and agent_role(a) != "lead" else ""
        write((a, f"agent{a}@support.example", name.title(), agent_role(a),
               "false" if agent_inactive(a) else "true", capacity, stamp(now - 800 * DAY + a * HOUR)))
    return out.getvalue()


def customer_rows(seed: int, count: int, now: int):
    rng = random.Random(seed + 1)
    stamp = Stamps()
    out = io.StringIO()
    write = csv.writer(out, lineterminator="\n").writerow
    for c in range(1, count + 1):
        first, domain = rng.choice(FIRST_NAMES), rng.choice(DOMAINS)
        tier = rng.choices(TIERS, weights=TIER_WEIGHTS)[0]
        write((c, f"{first}.{c}@{domain}.example", f"{first.title()} {c}", tier,
               domain.title() if rng.random() < 0.8 else "", stamp(now - rng.randint(735 * DAY, 900 * DAY))))
        if c % 10000 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _produce(fd: int, chunks) -> None:
    """In the forked child: write every chunk into the pipe, then exit without cleanup."""
    code = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20) as pipe:
            for chunk in chunks:
                pipe.write(chunk)
    except BaseException as exc:  # the parent sees a short COPY and our exit code
        print(f"generate: {exc!r}", file=sys.stderr)
        code = 1
    os._exit(code)


def copy_from_child(cursor, sql: str, chunks) -> None:
    """COPY sql FROM STDIN, fed by a forked child, so Python and the server work at once."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _produce(write_fd, chunks)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            cursor.copy_expert(sql, pipe, size=1 << 18)
    finally:
        _, status = os.waitpid(pid, 0)
    if status:
        raise SystemExit(f"the row generator failed (status {status})")


# -- comments and events, derived from the tickets on the server ---------------------------

# h(k) is a deterministic number in [0, 1000) per ticket and k, whatever the scan order.
_H = "(abs(hashint8extended(t.id, {seed} + {k})) % 1000)"
COMMENTS = """
INSERT INTO comments (ticket_id, author_email, author_kind, body, internal, created_at)
SELECT t.id,
       CASE WHEN n.i = 1 OR a.id IS NULL THEN c.email ELSE a.email END,
       CASE WHEN n.i = 1 OR a.id IS NULL THEN 'customer' ELSE 'agent' END,
       (ARRAY['Any update on this?', 'Thanks, that fixed it.', 'I attached a screenshot of the error.',
              'We reset the password and cleared the cache.', 'Escalating to the platform team.',
              'Could you send the exact time it happened?', 'The export works again after the update.',
              'Still failing on the mobile app.'])[1 + ({h1} + n.i) % 8],
       n.i > 1 AND {h2} < 150,
       t.created_at + (t.updated_at - t.created_at) * (n.i::float8 / 3)
FROM tickets t
JOIN customers c ON c.id = t.customer_id
LEFT JOIN agents a ON a.id = t.assignee_id
CROSS JOIN LATERAL generate_series(1, CASE WHEN {h3} < 350 THEN 0 WHEN {h3} < 750 THEN 1 ELSE 2 END) AS n(i)
"""
EVENTS = """
INSERT INTO ticket_events (ticket_id, at, actor, kind, from_value, to_value)
SELECT ticket_id, at, actor, kind, from_value, to_value FROM (
    SELECT t.id AS ticket_id, t.created_at AS at, c.email AS actor, 'created' AS kind, NULL::jsonb AS from_value,
           jsonb_build_object('title', t.title, 'status', 'open', 'priority', t.priority) AS to_value, 1 AS ord
    FROM tickets t JOIN customers c ON c.id = t.customer_id
    UNION ALL
    SELECT t.id, t.first_response_at, 'dispatcher', 'assigned', NULL,
           jsonb_build_object('assignee_email', a.email), 2
    FROM tickets t JOIN agents a ON a.id = t.assignee_id WHERE t.first_response_at IS NOT NULL
    UNION ALL
    SELECT t.id, coalesce(t.closed_at, t.resolved_at, t.paused_at, t.first_response_at), a.email,
           'status_changed', jsonb_build_object('status', 'open'), jsonb_build_object('status', t.status), 3
    FROM tickets t JOIN agents a ON a.id = t.assignee_id WHERE t.status <> 'open'
    UNION ALL
    SELECT t.id, t.last_escalated_at, 'cron', 'escalated', jsonb_build_object('escalation_level', 0),
           jsonb_build_object('escalation_level', 1), 4
    FROM tickets t WHERE t.last_escalated_at IS NOT NULL
    UNION ALL
    SELECT m.ticket_id, m.created_at, m.author_email, 'commented', NULL,
           jsonb_build_object('comment_id', m.id, 'internal', m.internal), 5
    FROM comments m
) AS e
ORDER BY ticket_id, ord, at
"""


def derived_sql(seed: int) -> tuple[str, str]:
    h = {f"h{k}": _H.format(seed=seed, k=k) for k in (1, 2, 3)}
    return COMMENTS.format(**h), EVENTS


# -- the load -----------------------------------------------------------------------------


def secondary_indexes(cursor) -> list[tuple[str, str]]:
    """(name, definition) of every index on our big tables that no constraint owns."""
    cursor.execute("""
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        ORDER BY pg_relation_size(t.oid) DESC, i.relname""", (list(TABLES),))
    return cursor.fetchall()


def _fast_session(cursor) -> None:
    """Skip FK triggers (the generator keeps the references right) where we may; build indexes with memory."""
    cursor.execute("SET maintenance_work_mem = '1GB'; SET work_mem = '256MB'; SET synchronize_seqscans = off")
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if cursor.fetchone()[0]:
        cursor.execute("SET session_replication_role = replica")


def log(message: str, started: float) -> None:
    print(f"  [{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)


def generate(url: str, tickets: int, overdue: int, seed: int = 1, now_text: str = DEFAULT_NOW,
             customers: int | None = None, quiet: bool = False) -> dict:
    """Migrate and fill the (empty) database at url. Returns the row counts."""
    started = time.monotonic()
    say = (lambda m: None) if quiet else (lambda m: log(m, started))
    now = int(datetime.fromisoformat(now_text.replace("Z", "+00:00")).timestamp())
    customers = customers or max(1, tickets // 20)
    subprocess.run([*supportctl_command(), "--database-url", url, "db", "upgrade"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    say("migrated")
    conn = psycopg2.connect(libpq_dsn(url))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM tickets) + (SELECT count(*) FROM customers)"
                        " + (SELECT count(*) FROM agents)")
            if cur.fetchone()[0]:
                raise SystemExit("the database already holds data: give an empty (new) database")
            _fast_session(cur)
            indexes = secondary_indexes(cur)
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            # Truncated in this transaction, so COPY … FREEZE writes the rows already frozen.
            cur.execute("TRUNCATE agents, customers, tickets, comments, ticket_events CASCADE")
            cur.copy_expert("COPY agents (id, email, name, role, active, capacity, created_at) "
                            "FROM STDIN WITH (FORMAT csv, FREEZE)", io.StringIO(agent_rows(now)))
            copy_from_child(cur, "COPY customers (id, email, name, tier, company, created_at) FROM STDIN "
                                 "WITH (FORMAT csv, FREEZE, FORCE_NULL (company))",
                            customer_rows(seed, customers, now))
            say(f"{customers} customers, {AGENTS} agents")
            # The SLA cycles are written by triggers on tickets (migration 0008): let them fire
            # for the tickets, as they do for every real write.
            cur.execute("SET session_replication_role = origin")
            copy_from_child(cur, f"COPY tickets ({TICKET_COLUMNS}) FROM STDIN WITH (FORMAT csv, FREEZE, "
                                 "FORCE_NULL (external_id, category))",
                            ticket_rows(seed, tickets, overdue, now, customers))
            _fast_session(cur)
            say(f"{tickets} tickets")
            comments_sql, events_sql = derived_sql(seed)
            cur.execute(comments_sql)
            say(f"{cur.rowcount} comments")
            cur.execute(events_sql)
            say(f"{cur.rowcount} events")
        _rebuild(url, indexes, say)
        conn.autocommit = True
        with conn.cursor() as cur:
            for table in ("agents", "customers", "tickets", "comments", "ticket_events"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
            cur.execute("VACUUM (ANALYZE) agents, customers, tickets, comments, ticket_events, sla_cycles")
            say("vacuumed and analyzed")
            cur.execute("SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM comments), "
                        "(SELECT count(*) FROM ticket_events), (SELECT count(*) FROM customers)")
            counts = dict(zip(("tickets", "comments", "events", "customers"), cur.fetchone()))
    finally:
        conn.close()
    counts["seconds"] = round(time.monotonic() - started, 1)
    return counts


def _rebuild(url: str, indexes: list[tuple[str, str]], say) -> None:
    """CREATE the dropped indexes again, two at a time (one per core), largest tables first."""

    def build(definition: str) -> None:
        conn = psycopg2.connect(libpq_dsn(url))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SET maintenance_work_mem = '512MB'")
                cur.execute(definition)
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(build, [definition for _, definition in indexes]))
    say(f"{len(indexes)} indexes rebuilt")


IMPORT_COLUMNS = ("external_id", "title", "description", "status", "priority", "category", "tags",
                  "customer_email", "assignee_email", "created_at")


def _import_rows(rows: int, customer_emails: list[str], seed: int, now_text: str):
    """Tickets from another system (new external ids), mostly resolved, for known customers
    and some new ones, assigned to agents who may take them: (IMPORT_COLUMNS values, created)."""
    rng = random.Random(seed + 2)
    now = int(datetime.fromisoformat(now_text.replace("Z", "+00:00")).timestamp())
    pool = sentences(rng)
    titles = [f"{s.capitalize()} {p}" for s in SUBJECTS for p in PROBLEMS]
    active = [a for a in range(1, AGENTS + 1) if agent_role(a) != "lead" and not agent_inactive(a)]
    for i in range(1, rows + 1):
        status = rng.choices(("closed", "resolved", "open", "in_progress", "pending"), (60, 20, 8, 8, 4))[0]
        assignee = "" if status == "open" else f"agent{rng.choice(active)}@support.example"
        customer = (rng.choice(customer_emails) if customer_emails and rng.random() < 0.9
                    else f"newcustomer.{i}@imported.example")
        created = now - rng.randint(HOUR, 365 * DAY)
        yield (f"legacy-{seed}-{i}", rng.choice(titles), " ".join(rng.sample(pool, rng.randint(1, 3))),
               status, rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0], rng.choice(CATEGORIES),
               ";".join(rng.sample(TAGS, rng.choice((0, 1, 1, 2)))), customer, assignee, _iso(created)), created


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_import_csv(path: str, rows: int, customer_emails: list[str], seed: int = 1,
                     now_text: str = DEFAULT_NOW) -> None:
    """A CSV for `ticket import` (_import_rows)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        write = csv.writer(fh, lineterminator="\n").writerow
        write(IMPORT_COLUMNS)
        for row, _ in _import_rows(rows, customer_emails, seed, now_text):
            write(row)


def write_import_ndjson(path: str, rows: int, customer_emails: list[str], seed: int = 1,
                        now_text: str = DEFAULT_NOW) -> None:
    """The same tickets as NDJSON for `ticket import --format ndjson` (§17): each with the state
    a migration carries (response, resolution and close times, due dates) and two comments,
    the customer's question and the agent's answer."""
    now = int(datetime.fromisoformat(now_text.replace("Z", "+00:00")).timestamp())
    with open(path, "w", encoding="utf-8") as fh:
        for row, created in _import_rows(rows, customer_emails, seed, now_text):
            ticket = dict(zip(IMPORT_COLUMNS, row))
            created = min(created, now - 2 * DAY)  # answered and resolved before now
            ticket["created_at"] = _iso(created)
            ticket["tags"] = ticket["tags"].split(";") if ticket["tags"] else []
            ticket["assignee_email"] = ticket["assignee_email"] or None
            status, answered = ticket["status"], created + 2 * HOUR
            done = status in ("resolved", "closed")
            ticket.update(
                updated_at=_iso(answered + (DAY if done else 0)),
                first_response_at=_iso(answered) if status != "open" else None,
                resolved_at=_iso(answered + DAY) if done else None,
                closed_at=_iso(answered + DAY) if status == "closed" else None,
                paused_at=_iso(answered) if status == "pending" else None,
                response_due_at=_iso(created + 4 * HOUR), resolution_due_at=_iso(created + 3 * DAY),
                comments=[{"author": ticket["customer_email"], "body": ticket["description"] or "Any news?",
                           "internal": False, "created_at": ticket["created_at"]},
                          {"author": ticket["assignee_email"] or "agent2@support.example",
                           "body": "Thanks, we are on it.", "internal": False, "created_at": _iso(answered)}])
            fh.write(json.dumps(ticket) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, required=True, help="How many tickets.")
    parser.add_argument("--database-url", required=True,
                        help="An empty database (supportctl URL form); it is migrated first.")
    parser.add_argument("--overdue", type=int, default=None,
                        help="Unresolved tickets breached at --now (default min(10000, tickets/10)).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", default=DEFAULT_NOW, help=f"The benchmark's now (default {DEFAULT_NOW}).")
    args = parser.parse_args(argv)
    if args.tickets < 1:
        parser.error("--tickets must be at least 1")
    overdue = args.overdue if args.overdue is not None else min(10_000, args.tickets // 10)
    if not 0 <= overdue <= args.tickets:
        parser.error(f"--overdue must be between 0 and --tickets ({args.tickets})")
    counts = generate(args.database_url, args.tickets, overdue, args.seed, args.now)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
