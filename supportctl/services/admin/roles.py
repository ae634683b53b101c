"""Least-privilege group roles: `supportctl db roles`.

Three NOLOGIN group roles; people and cron jobs log in as their own LOGIN roles,
made members of one of them (docs/operations.md shows how, and the matrix below):

    supportctl_reader  reads supportctl's tables: list, show, breaches, export, explain.
    supportctl_agent   ticket work: creates customers, tickets, comments, history and
                       notifications; changes only the ticket columns commands change
                       (never id, external_id, customer_id, created_at, description), only
                       the delivery columns of the outbox (never recipient or data), only
                       the round-robin cursor of agents.
    supportctl_admin   what the agent does, plus customers' details, agents (and their
                       absence), teams, their members and routes, the SLA policies, their
                       targets and the calendars, the escalation ladders, the quiet hours
                       and the macros.

Nobody writes the SLA history (sla_cycles) but the triggers on tickets, which run as the
owner; a role may only stamp the breach `queue escalate` wrote down.

Grants are made on supportctl's own tables, by name: a table someone else adds to the
schema is readable by nobody here, and no default privileges reach future tables (a
migration that adds a table adds it to MATRIX, and `db roles` is run again after
`db upgrade`). Nothing may DELETE but what a command deletes (the calendar, on `sla
calendar clear`; a member or a route, on `team member remove` and `team route remove`; a
ladder, the quiet hours or a macro, on `escalation ladder remove`, `escalation quiet-hours
clear` and `macro remove`);
ticket history and the audit log are INSERT-only for everyone, but for the one path that
rewrites or removes a customer's history (anonymize, erase, retention: the admin's
SECURITY DEFINER functions of migration 0011, each use itself audited); alembic_version
belongs to the owner. Every run first revokes whatever the three roles held in the schema,
then grants afresh, in one transaction: the result is the same whatever was there before;
the run is written to the audit log.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from supportctl.errors import Refused
from supportctl.services.views import View

READER, AGENT, ADMIN = "supportctl_reader", "supportctl_agent", "supportctl_admin"
ROLES = (READER, AGENT, ADMIN)

# The ticket columns a command changes (update, assign, escalate, pause, resolve).
_TICKET_CHANGES = (
    "title", "status", "priority", "category", "tags", "assignee_id", "escalated", "escalation_level",
    "last_escalated_at", "updated_at", "first_response_at", "resolved_at", "closed_at", "response_due_at",
    "resolution_due_at", "paused_at", "paused_seconds", "team_id", "reopened_at", "sla_policy_id",
    "next_reply_started_at", "next_reply_due_at", "next_reply_met_at", "next_reply_paused_seconds",
)
_DELIVERY = ("status", "attempts", "last_error", "next_attempt_at", "sent_at")  # notify send's record
_CURSOR = ("last_assigned_at", "assignment_seq")

# table -> role -> privileges; ("UPDATE", columns) is a column-level UPDATE. Each role lists
# everything it holds (the agent's and the admin's include SELECT).
Privilege = str | tuple[str, tuple[str, ...]]
MATRIX: dict[str, dict[str, tuple[Privilege, ...]]] = {
    # A customer's email changes only through supportctl_rename_customer (or anonymize's function).
    "customers": {READER: ("SELECT",), AGENT: ("SELECT", "INSERT"),
                  ADMIN: ("SELECT", "INSERT", ("UPDATE", ("name", "tier", "company")))},
    "agents": {
        READER: ("SELECT",), AGENT: ("SELECT", ("UPDATE", _CURSOR)),
        ADMIN: ("SELECT", "INSERT",
                ("UPDATE", ("name", "role", "capacity", "active", "away_until", "away_reason", *_CURSOR))),
    },
    "teams": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", ("UPDATE", ("name", "lead_id", "active", "calendar"))),
    },
    # Assignment moves a member's cursor in the team; only the admin changes who is a member.
    "team_members": {
        READER: ("SELECT",), AGENT: ("SELECT", ("UPDATE", _CURSOR)), ADMIN: ("SELECT", "INSERT", "DELETE", ("UPDATE", _CURSOR)),
    },
    "team_routes": {READER: ("SELECT",), AGENT: ("SELECT",), ADMIN: ("SELECT", "INSERT", "DELETE")},
    "tickets": {
        READER: ("SELECT",), AGENT: ("SELECT", "INSERT", ("UPDATE", _TICKET_CHANGES)),
        ADMIN: ("SELECT", "INSERT", ("UPDATE", _TICKET_CHANGES)),
    },
    "comments": {READER: ("SELECT",), AGENT: ("SELECT", "INSERT"), ADMIN: ("SELECT", "INSERT")},
    "ticket_events": {READER: ("SELECT",), AGENT: ("SELECT", "INSERT"), ADMIN: ("SELECT", "INSERT")},
    "notifications": {
        READER: ("SELECT",), AGENT: ("SELECT", "INSERT", ("UPDATE", _DELIVERY)),
        ADMIN: ("SELECT", "INSERT", ("UPDATE", _DELIVERY)),
    },
    "sla_policies": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", ("UPDATE", ("position", "tiers", "companies", "teams", "categories", "tags",
                                                "calendar", "first_response", "active", "updated_at", "removed_at"))),
    },
    "sla_targets": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", ("UPDATE", ("response_seconds", "next_reply_seconds", "resolution_seconds",
                                                "updated_at"))),
    },
    "sla_calendars": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", "DELETE", ("UPDATE", ("timezone", "hours", "holidays", "updated_at"))),
    },
    # Written by the tickets' own triggers (migration 0008, as the owner); `queue escalate`
    # stamps only the breach it wrote down.
    "sla_cycles": {
        READER: ("SELECT",), AGENT: ("SELECT", ("UPDATE", ("breach_noted_at",))),
        ADMIN: ("SELECT", ("UPDATE", ("breach_noted_at",))),
    },
    # Ladders and quiet hours are the admin's, like the SLA policies; `queue escalate` (an
    # agent's job) inserts the claim of each step it fires, and nothing ever changes one.
    "escalation_ladders": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", "DELETE", ("UPDATE", ("priorities", "teams", "policies", "steps", "updated_at"))),
    },
    "ladder_firings": {READER: ("SELECT",), AGENT: ("SELECT", "INSERT"), ADMIN: ("SELECT", "INSERT")},
    "quiet_hours": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", "DELETE", ("UPDATE", ("timezone", "hours", "exempt", "updated_at"))),
    },
    # Macros are the desk's shared vocabulary: the admin keeps them, every agent applies them.
    "macros": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", "DELETE", ("UPDATE", ("changes", "comment", "internal", "updated_at"))),
    },
    # Written by triggers (as the owner) and, for what no table change says, by the admin's
    # commands: a customer export must leave its entry, so it is the admin's alone.
    "audit_log": {READER: ("SELECT",), AGENT: ("SELECT",), ADMIN: ("SELECT", "INSERT")},
    "retention_policy": {
        READER: ("SELECT",), AGENT: ("SELECT",),
        ADMIN: ("SELECT", "INSERT", ("UPDATE", ("closed_older_than_seconds", "action", "except_tag", "updated_at"))),
    },
    "ticket_tombstones": {READER: ("SELECT",), AGENT: ("SELECT",), ADMIN: ("SELECT", "INSERT")},
    "alembic_version": {READER: ("SELECT",), AGENT: ("SELECT",), ADMIN: ("SELECT",)},
}
# Sequences a role draws from by hand (identity columns need no grant).
# tickets_id_seq: `ticket import` draws its ids first, to know each ticket by its line (0012).
SEQUENCES = {"agent_assignment_seq": (AGENT, ADMIN), "tickets_id_seq": (AGENT, ADMIN)}
# What a role does as the owner, one thing each (migration 0005): `ticket import` ANALYZEs
# tickets (MAINTAIN would also let it LOCK the table ACCESS EXCLUSIVE); `sla set` and `sla
# calendar` lock tickets EXCLUSIVE (LOCK TABLE would need UPDATE on the whole table).
# `customer anonymize` and `erase` rewrite and remove history through these two alone (0011).
FUNCTIONS = {"supportctl_analyze_tickets()": (AGENT, ADMIN), "supportctl_lock_tickets()": (ADMIN,),
             "supportctl_redact(bigint, text, text, boolean)": (ADMIN,), "supportctl_erase(bigint)": (ADMIN,),
             "supportctl_redact_tickets(bigint[], text, text, text, text, boolean)": (ADMIN,),
             "supportctl_rename_customer(bigint, text)": (ADMIN,),
             "supportctl_erase_tickets(bigint[])": (ADMIN,)}


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


def _grant(privilege: Privilege) -> str:
    if isinstance(privilege, str):
        return privilege
    kind, columns = privilege
    return f"{kind} ({', '.join(map(_q, columns))})"


def _statements(schema: str, owner: str, columns: dict[str, list[str]], sequences: set[str],
                functions: set[str]) -> list[str]:
    s, everyone = _q(schema), ", ".join(_q(r) for r in ROLES)
    defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {_q(owner)} IN SCHEMA {s}"
    sql = [
        # A clean slate: whatever these roles held in the schema (earlier versions granted
        # schema-wide and by default privileges), so a run converges on exactly MATRIX.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {everyone}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {everyone}",
        f"{defaults} REVOKE ALL ON TABLES FROM {everyone}",
        f"{defaults} REVOKE ALL ON SEQUENCES FROM {everyone}",
        f"GRANT USAGE ON SCHEMA {s} TO {everyone}",
    ]
    for table, grants in MATRIX.items():
        if table not in columns:  # a schema behind head
            continue
        # REVOKE ALL ON ALL TABLES leaves column grants in place; drop them by name.
        sql.append(f"REVOKE ALL ({', '.join(map(_q, columns[table]))}) ON {s}.{_q(table)} FROM {everyone}")
        for role, privileges in grants.items():
            sql.append(f"GRANT {', '.join(map(_grant, privileges))} ON {s}.{_q(table)} TO {_q(role)}")
    for sequence, roles in SEQUENCES.items():
        if sequence in sequences:
            sql.append(f"GRANT USAGE ON SEQUENCE {s}.{_q(sequence)} TO {', '.join(map(_q, roles))}")
    for function, roles in FUNCTIONS.items():
        if function.split("(")[0] in functions:
            sql.append(f"REVOKE ALL ON FUNCTION {s}.{function} FROM {everyone}")
            sql.append(f"GRANT EXECUTE ON FUNCTION {s}.{function} TO {', '.join(map(_q, roles))}")
    return sql


_COLUMNS = """
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = CAST(:s AS regnamespace) AND c.relkind IN ('r', 'p') AND c.relname = ANY(:t)
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

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
UNION ALL
SELECT r.rolname, 'function', p.proname || '()', string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
FROM pg_proc p, aclexplode(p.proacl) a JOIN pg_roles r ON r.oid = a.grantee
WHERE p.pronamespace = CAST(:s AS regnamespace) AND r.rolname = ANY(:r)
GROUP BY r.rolname, p.proname
ORDER BY 1, 2, 3
"""


_AUDITED = """
INSERT INTO audit_log (at, actor, kind, object, object_id, to_value)
VALUES (coalesce(nullif(current_setting('supportctl.now', true), '')::timestamptz, now()),
        coalesce(nullif(current_setting('supportctl.actor', true), ''), session_user), 'roles_granted',
        'database_roles', :schema, CAST(:to AS jsonb))
"""


def apply(session: Session) -> RolesOutcome:
    """Create or update the three group roles and their privileges, in the caller's transaction."""
    # Two runs at once would trip over each other's catalog updates ("tuple concurrently updated").
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('supportctl db roles'))"))
    schema = session.scalar(text("SELECT current_schema()"))
    owner = _owner(session, schema)
    created, updated = _ensure_roles(session)
    columns: dict[str, list[str]] = {}
    for table, column in session.execute(text(_COLUMNS), {"s": _q(schema), "t": list(MATRIX)}):
        columns.setdefault(table, []).append(column)
    sequences = set(session.scalars(text(
        "SELECT relname FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace) AND relkind = 'S'"
    ), {"s": _q(schema)}))
    functions = set(session.scalars(text("SELECT proname FROM pg_proc WHERE pronamespace = CAST(:s AS regnamespace)"),
                                    {"s": _q(schema)}))
    for statement in _statements(schema, owner, columns, sequences, functions):
        session.execute(text(statement))
    grants = [RoleGrant(role=r, kind="schema", object=schema, privileges="USAGE") for r in ROLES]
    rows = session.execute(text(_GRANTS), {"s": _q(schema), "r": list(ROLES)}).mappings()
    grants += [RoleGrant(**row) for row in rows]
    grants.sort(key=lambda g: ROLES.index(g.role))  # stable: each role's schema row comes first
    if "audit_log" in columns:  # a schema at 0011 or later keeps a record of every run
        session.execute(text(_AUDITED), {"schema": schema, "to": json.dumps(
            {"created": created, "updated": updated, "grants": len(grants)})})
    return RolesOutcome(schema_name=schema, owner=owner, created=created, updated=updated, grants=grants)
