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
            "SELECT priority, response_seconds / 3600, resolution_seconds / 3600 FROM sla_policies ORDER BY 2"
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("critical", 1, 8), ("high", 4, 24), ("medium", 24, 72), ("low", 72, 168)]


@pytest.mark.slow
def test_four_db_upgrades_at_once_on_an_empty_database_all_succeed(new_database):
    url = new_database(migrated=False)
    outcomes = run_at_once(["db", "upgrade"], {"SUPPORTCTL_DATABASE_URL": url}, processes=4, timeout=120)
    assert [code for code, _, _ in outcomes] == [0] * 4, [err for _, _, err in outcomes]
    notes = sorted(err for _, _, err in outcomes)
    assert notes == [f"already at head ({migrate.HEAD})\n"] * 3 + [f"upgraded empty database -> {migrate.HEAD}\n"]
