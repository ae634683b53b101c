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
