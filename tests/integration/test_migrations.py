import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from supportctl.db import migrate
from supportctl.db.models import Base
from tests.processes import run_at_once


def test_head_constant_matches_the_migration_scripts():
    assert migrate.HEAD == migrate.head_revision()


def test_upgrade_downgrade_upgrade_round_trips(new_database):
    engine = create_engine(new_database())
    with engine.begin() as conn:
        migrate.downgrade(conn, "base")
    with engine.connect() as conn:
        assert migrate.current_revision(conn) is None
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    with engine.begin() as conn:
        migrate.upgrade(conn)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
        assert {"tickets", "customers", "agents", "comments", "ticket_events"} <= set(
            inspect(conn).get_table_names()
        )
    engine.dispose()


def test_models_match_the_migrations(new_database):
    engine = create_engine(new_database())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrations_seed_the_default_sla_policy(new_database):
    engine = create_engine(new_database())
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT p.name, p.position, t.priority, t.response_seconds / 3600, t.next_reply_seconds / 3600, "
            "t.resolution_seconds / 3600 FROM sla_targets t JOIN sla_policies p ON p.id = t.policy_id ORDER BY 4"
        ).all()
    engine.dispose()
    # One policy, `default`, with no position; next reply starts equal to response.
    assert [tuple(r) for r in rows] == [("default", None, "critical", 1, 1, 8), ("default", None, "high", 4, 4, 24),
                                        ("default", None, "medium", 24, 24, 72), ("default", None, "low", 72, 72, 168)]


def test_0007_keeps_a_changed_policy_and_calendar_as_the_default_ones(new_database):
    engine = create_engine(new_database(migrated=False))
    with engine.begin() as conn:
        migrate.upgrade(conn, "0006")
        conn.exec_driver_sql("UPDATE sla_policies SET response_seconds = 1800 WHERE priority = 'critical'")
        conn.exec_driver_sql("INSERT INTO sla_calendar (id, timezone, hours) VALUES (1, 'Europe/Berlin', "
                             "'mon-fri 09:00-17:00')")
        migrate.upgrade(conn, "0007")
    with engine.connect() as conn:
        critical = conn.exec_driver_sql("SELECT response_seconds, next_reply_seconds FROM sla_targets "
                                        "WHERE priority = 'critical'").one()
        calendar = conn.exec_driver_sql("SELECT name, timezone FROM sla_calendars").all()
    with engine.begin() as conn:
        migrate.downgrade(conn, "0006")
    with engine.connect() as conn:
        back = conn.exec_driver_sql("SELECT response_seconds FROM sla_policies WHERE priority = 'critical'").scalar()
        old_calendar = conn.exec_driver_sql("SELECT timezone FROM sla_calendar").scalar()
    engine.dispose()
    assert tuple(critical) == (1800, 1800)
    assert [tuple(r) for r in calendar] == [("default", "Europe/Berlin")]
    assert (back, old_calendar) == (1800, "Europe/Berlin")


@pytest.mark.slow
def test_four_db_upgrades_at_once_on_an_empty_database_all_succeed(new_database):
    url = new_database(migrated=False)
    outcomes = run_at_once(["db", "upgrade"], {"SUPPORTCTL_DATABASE_URL": url}, processes=4, timeout=120)
    assert [code for code, _, _ in outcomes] == [0] * 4, [err for _, _, err in outcomes]
    notes = sorted(err for _, _, err in outcomes)
    assert notes == [f"already at head ({migrate.HEAD})\n"] * 3 + [f"upgraded empty database -> {migrate.HEAD}\n"]


def test_0008_backfills_cycles_crediting_met_ones_to_whoever_the_history_says_held_the_ticket(new_database):
    engine = create_engine(new_database(migrated=False))
    with engine.begin() as conn:
        migrate.upgrade(conn, "0007")
        conn.exec_driver_sql("""
            INSERT INTO agents (id, email, name, created_at) OVERRIDING SYSTEM VALUE VALUES
                (1, 'ann@support.example', 'Ann', '2026-11-01Z'), (2, 'bob@support.example', 'Bob', '2026-11-01Z');
            INSERT INTO teams (id, slug, name, created_at) OVERRIDING SYSTEM VALUE
                VALUES (1, 'billing', 'Billing', '2026-11-01Z');
            INSERT INTO customers (id, email, name, created_at) OVERRIDING SYSTEM VALUE
                VALUES (1, 'ana@example.com', 'Ana', '2026-11-01Z');
            -- 1: answered by ann at 10:00 while medium; given to bob and made high at 15:00;
            --    moved into billing at 16:00; resolved by bob at 20:00.
            -- 2: ann's, open, unanswered.  3: pending since 11-12 12:00.
            INSERT INTO tickets (id, title, status, priority, customer_id, assignee_id, team_id, created_at,
                                 updated_at, first_response_at, resolved_at, response_due_at, resolution_due_at,
                                 paused_at, paused_seconds) OVERRIDING SYSTEM VALUE VALUES
                (1, 'A', 'resolved', 'high', 1, 2, 1, '2026-11-10 09:00Z', '2026-11-10 20:00Z', '2026-11-10 10:00Z',
                 '2026-11-10 20:00Z', '2026-11-10 13:00Z', '2026-11-11 09:00Z', NULL, 0),
                (2, 'B', 'open', 'medium', 1, 1, NULL, '2026-11-12 09:00Z', '2026-11-12 09:00Z', NULL, NULL,
                 '2026-11-13 09:00Z', '2026-11-15 09:00Z', NULL, 0),
                (3, 'C', 'pending', 'low', 1, NULL, NULL, '2026-11-12 09:00Z', '2026-11-12 12:00Z',
                 '2026-11-12 10:00Z', NULL, '2026-11-15 09:00Z', '2026-11-19 09:00Z', '2026-11-12 12:00Z', 0);
            INSERT INTO ticket_events (ticket_id, at, actor, kind, from_value, to_value) VALUES
                (1, '2026-11-10 10:00Z', 't', 'assigned', '{"assignee_email": null}',
                 '{"assignee_email": "ann@support.example"}'),
                (1, '2026-11-10 15:00Z', 't', 'assigned', '{"assignee_email": "ann@support.example"}',
                 '{"assignee_email": "bob@support.example"}'),
                (1, '2026-11-10 15:00Z', 't', 'priority_changed', '"medium"', '"high"'),
                (1, '2026-11-10 16:00Z', 't', 'team_changed', '{"team": null}', '{"team": "billing"}');
        """)
        migrate.upgrade(conn, "0008")
    with engine.connect() as conn:
        cycles = conn.exec_driver_sql(
            "SELECT c.ticket_id, c.metric, c.cycle, c.state, c.priority, tm.slug, a.email, c.policy, "
            "c.target_seconds FROM sla_cycles c LEFT JOIN teams tm ON tm.id = c.team_id "
            "LEFT JOIN agents a ON a.id = c.assignee_id ORDER BY 1, 2").all()
    engine.dispose()
    assert [tuple(r) for r in cycles] == [
        # met at 10:00: ann had just taken it (the event at 10:00), still medium, in no team yet;
        # the target is the ticket's current priority's (high: 4h), the one its due date was set by
        (1, "resolution", 1, "met", "high", "billing", "bob@support.example", "default", 86400),
        (1, "response", 1, "met", "medium", None, "ann@support.example", "default", 14400),
        (2, "resolution", 1, "running", "medium", None, "ann@support.example", "default", 259200),
        (2, "response", 1, "running", "medium", None, "ann@support.example", "default", 86400),
        (3, "resolution", 1, "paused", "low", None, None, "default", 604800),
        (3, "response", 1, "met", "low", None, None, "default", 259200),
    ]
