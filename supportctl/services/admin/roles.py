"""Least-privilege group roles: `supportctl db roles`.

Three NOLOGIN group roles; people and cron jobs log in as their own LOGIN roles,
made members of one of them (docs/operations.md shows how):

    supportctl_reader  SELECT on every table: list, show, breaches, export.
    supportctl_agent   ticket work: writes customers, tickets, comments, events and the
                       notification outbox; of agents only the round-robin cursor
                       columns; reads the SLA policy and calendar, never changes them.
    supportctl_admin   everything supportctl does: agents, SLA policy and calendar too.

ticket_events is the audit trail: nobody but the owner may UPDATE or DELETE it.
alembic_version belongs to `db upgrade`, which runs as the owner.

Grants are made schema-wide (ALL TABLES / ALL SEQUENCES IN SCHEMA) and as default
privileges of the tables' owner, so a table a later migration adds is readable at
once; re-running `db roles` after `db upgrade` applies the finer rules to it. Every
run first revokes what the three roles held, then grants afresh, in one transaction:
the result is the same whatever was there before, and nobody sees a half-way state.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from supportctl.errors import Refused
from supportctl.services.views import View

READER, AGENT, ADMIN = "supportctl_reader", "supportctl_agent", "supportctl_admin"
ROLES = (READER, AGENT, ADMIN)

# What the agent role may write beyond reading everything; tables a schema lacks are skipped.
AGENT_WRITES = {
    "customers": "INSERT",  # a ticket for an unknown customer creates them
    "tickets": "INSERT, UPDATE",
    "comments": "INSERT",
    "ticket_events": "INSERT",
    "notifications": "INSERT, UPDATE",  # queued with each change; `notify send` records outcomes
}
# The round-robin cursor moves on every assignment; the rest of an agent is the admin's.
AGENT_COLUMN_WRITES = {"agents": ("last_assigned_at", "assignment_seq")}
APPEND_ONLY = ("ticket_events",)
OWNER_ONLY = ("alembic_version",)
# `ticket import` ANALYZEs tickets after a big load (importing.py); PostgreSQL 17+ can grant that.
MAINTAINED = ("tickets",)


class RoleGrant(View):
    """One `db roles` row: what a role may do to one object, as the catalog says after the run."""

    role: str
    kind: str  # schema, table or sequence
    object: str
    privileges: str


class RolesOutcome(View):
    schema_name: str
    owner: str
    created: list[str]
    updated: list[str]
    grants: list[RoleGrant]


def _q(name: str) -> str:
    """A quoted SQL identifier (role, schema and table names come from the catalog)."""
    return '"' + name.replace('"', '""') + '"'


def _owner(session: Session, schema: str) -> str:
    """The owner of the schema's tables; refuses unless the current role may act as them."""
    rows = session.execute(text(
        "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, pg_has_role(current_user, c.relowner, 'USAGE') AS ok "
        "FROM pg_class c WHERE c.relnamespace = CAST(:s AS regnamespace) AND c.relkind IN ('r', 'p', 'S') "
        "ORDER BY c.relname"
    ), {"s": _q(schema)}).all()
    user = session.scalar(text("SELECT current_user"))
    owners = sorted({r.owner for r in rows})
    if not rows or "tickets" not in {r.relname for r in rows}:
        raise Refused(f"schema {schema} has no supportctl tables", hint="run `supportctl db upgrade` first")
    foreign = [r.relname for r in rows if not r.ok]
    if foreign:
        raise Refused(
            f"{user} does not own {', '.join(foreign[:5])}{' …' if len(foreign) > 5 else ''} (owned by {', '.join(owners)})",
            hint="run `supportctl db roles` as the role that ran `supportctl db upgrade`",
        )
    return session.scalar(text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'tickets'::regclass"))


def _ensure_roles(session: Session) -> tuple[list[str], list[str]]:
    created, updated = [], []
    existing = dict(session.execute(
        text("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(:r)"), {"r": list(ROLES)}
    ).all())
    for role in ROLES:
        if role not in existing:
            session.execute(text(f"CREATE ROLE {_q(role)} NOLOGIN"))
            created.append(role)
        else:
            if existing[role]:  # a group role: people log in as members, never as it
                session.execute(text(f"ALTER ROLE {_q(role)} NOLOGIN"))
            updated.append(role)
    return created, updated


def _statements(schema: str, owner: str, tables: set[str], maintain: bool) -> list[str]:
    s, everyone = _q(schema), ", ".join(_q(r) for r in ROLES)
    writers = f"{_q(AGENT)}, {_q(ADMIN)}"
    defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {_q(owner)} IN SCHEMA {s}"
    sql = [
        # A clean slate, so a second run converges on exactly the rules below.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {everyone}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {everyone}",
        f"{defaults} REVOKE ALL ON TABLES FROM {everyone}",
        f"{defaults} REVOKE ALL ON SEQUENCES FROM {everyone}",
        f"GRANT USAGE ON SCHEMA {s} TO {everyone}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {everyone}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {writers}",
        f"GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {_q(ADMIN)}",
        f"{defaults} GRANT SELECT ON TABLES TO {everyone}",
        f"{defaults} GRANT INSERT, UPDATE, DELETE ON TABLES TO {_q(ADMIN)}",
        f"{defaults} GRANT USAGE, SELECT ON SEQUENCES TO {writers}",
    ]
    for table, privileges in AGENT_WRITES.items():
        if table in tables:
            sql.append(f"GRANT {privileges} ON {s}.{_q(table)} TO {_q(AGENT)}")
    for table, columns in AGENT_COLUMN_WRITES.items():
        if table in tables:
            sql.append(f"GRANT UPDATE ({', '.join(map(_q, columns))}) ON {s}.{_q(table)} TO {_q(AGENT)}")
    for table in APPEND_ONLY:
        if table in tables:
            sql.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.{_q(table)} FROM {everyone}")
            sql.append(f"GRANT INSERT ON {s}.{_q(table)} TO {writers}")
    for table in OWNER_ONLY:
        if table in tables:
            sql.append(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {s}.{_q(table)} FROM {everyone}")
    if maintain:
        for table in MAINTAINED:
            if table in tables:
                sql.append(f"GRANT MAINTAIN ON {s}.{_q(table)} TO {writers}")
    return sql


_GRANTS = """
SELECT r.rolname AS role,
       CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
       c.relname AS object,
       string_agg(p.privilege, ', ' ORDER BY p.privilege) AS privileges
FROM pg_class c
JOIN LATERAL (
    SELECT a.grantee, a.privilege_type AS privilege FROM aclexplode(c.relacl) a
    UNION ALL
    SELECT a.grantee, a.privilege_type || ' (' || string_agg(att.attname, ', ' ORDER BY att.attnum) || ')'
    FROM pg_attribute att, aclexplode(att.attacl) a
    WHERE att.attrelid = c.oid AND att.attacl IS NOT NULL
    GROUP BY a.grantee, a.privilege_type
) p ON true
JOIN pg_roles r ON r.oid = p.grantee
WHERE c.relnamespace = CAST(:s AS regnamespace) AND c.relkind IN ('r', 'p', 'S', 'v', 'm') AND r.rolname = ANY(:r)
GROUP BY r.rolname, c.relkind, c.relname
ORDER BY array_position(:r, r.rolname), kind, c.relname
"""


def apply(session: Session) -> RolesOutcome:
    """Create or update the three group roles and their privileges, in the caller's transaction."""
    # Two runs at once would trip over each other's catalog updates ("tuple concurrently updated").
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('supportctl db roles'))"))
    schema = session.scalar(text("SELECT current_schema()"))
    owner = _owner(session, schema)
    created, updated = _ensure_roles(session)
    tables = set(session.scalars(text(
        "SELECT relname FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace) AND relkind IN ('r', 'p')"
    ), {"s": _q(schema)}))
    maintain = session.scalar(text("SELECT current_setting('server_version_num')::int >= 170000"))
    for statement in _statements(schema, owner, tables, maintain):
        session.execute(text(statement))
    grants = [RoleGrant(role=r, kind="schema", object=schema, privileges="USAGE") for r in ROLES]
    rows = session.execute(text(_GRANTS), {"s": _q(schema), "r": list(ROLES)}).mappings()
    grants += [RoleGrant(**row) for row in rows]
    grants.sort(key=lambda g: ROLES.index(g.role))  # stable: each role's schema row comes first
    return RolesOutcome(schema_name=schema, owner=owner, created=created, updated=updated, grants=grants)
