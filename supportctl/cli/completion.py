"""Shell completion of values that live in the database: agent emails, team slugs, ticket ids.

Called by the shell (`supportctl --install-completion`) while a word is being typed, so
it must be quick and quiet: one indexed query over psycopg2, and on any failure (no
database, a wrong password) no suggestions rather than an error in the middle of a line.
"""

from __future__ import annotations

import os

_QUERIES = {
    "agents": "SELECT email FROM agents WHERE active AND email LIKE %s ORDER BY email LIMIT 50",
    "teams": "SELECT slug FROM teams WHERE active AND slug LIKE %s ORDER BY slug LIMIT 50",
    # The tickets being worked, newest first, each with its title (zsh and fish show it). The
    # ids come from the unresolved tickets' partial index alone (id + 0: never a walk down the
    # primary key, which is long when few ids start so): 50 ms on 200,000 unresolved tickets.
    "tickets": "SELECT t.id::text, left(t.title, 60) FROM tickets t JOIN (SELECT id FROM tickets "
               "WHERE status NOT IN ('resolved', 'closed') AND id::text LIKE %s ORDER BY id + 0 DESC LIMIT 50) "
               "AS u ON u.id = t.id ORDER BY t.id DESC",
}


def _values(kind: str, incomplete: str) -> list[str]:
    from supportctl.config import resolve
    from supportctl.constants import EnvVars
    from supportctl.db.direct import Snapshot

    try:
        settings = resolve(database_url=os.environ.get(EnvVars.DATABASE_URL), from_env=True, actor=None,
                           now=None, debug=False)
        with Snapshot(settings) as cursor:
            cursor.execute(_QUERIES[kind], (incomplete.replace("\\", "\\\\").replace("%", r"\%")
                                            .replace("_", r"\_") + "%",))
            return [value if len(value) > 1 else value[0] for value in cursor.fetchall()]
    except Exception:  # completing must never fail loudly
        return []


def agent_emails(incomplete: str) -> list[str]:
    return _values("agents", incomplete)


def team_slugs(incomplete: str) -> list[str]:
    return _values("teams", incomplete)


def ticket_ids(incomplete: str) -> list[tuple[str, str]]:
    return _values("tickets", incomplete)
