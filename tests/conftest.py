"""Test harness: a throwaway PostgreSQL, a migrated template, a fresh database per test.

The server is a cluster of our own (tests/pgcluster.py) from the same binaries the
embedded default uses, unless SUPPORTCTL_TEST_DATABASE_URL names an existing server
(its user must be allowed to CREATE DATABASE). Each test gets
``CREATE DATABASE … TEMPLATE`` of a database migrated once by `alembic upgrade head`,
and it is dropped WITH (FORCE) afterwards. CLI tests run the real commands through
CliRunner against that database; nothing is mocked but what leaves the machine.
"""

from __future__ import annotations

import itertools
import os
import shlex
from collections.abc import Iterator
from datetime import datetime

import psycopg2
import pytest
from hypothesis import settings
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from supportctl.cli.app import app
from supportctl.config import resolve
from supportctl.db.database import Database
from tests.helpers import NOW
from tests.pgcluster import admin

# Property tests check correctness, not speed: a busy 2-core CI machine must not fail them.
settings.register_profile("supportctl", deadline=None)
settings.load_profile("supportctl")
_counter = itertools.count()


class ExistingServer:
    """SUPPORTCTL_TEST_DATABASE_URL: a server someone else runs."""

    def __init__(self, url: str) -> None:
        self.base = make_url(url)

    def url(self, dbname: str) -> str:
        return self.base.set(database=dbname).render_as_string(hide_password=False)

    def admin_connect(self):
        u = self.base
        conn = psycopg2.connect(
            dbname=u.database or "postgres", user=u.username, password=u.password,
            host=u.host or u.query.get("host"), port=u.port,
        )
        conn.autocommit = True
        return conn

    def stop(self) -> None:
        pass


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    existing = os.environ.get("SUPPORTCTL_TEST_DATABASE_URL")
    if existing:
        yield ExistingServer(existing)
        return
    from tests.pgcluster import ThrowawayCluster

    cluster = ThrowawayCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def template_db(pg_server) -> Iterator[str]:
    name = f"supportctl_template_{os.getpid()}"
    admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(pg_server, f"CREATE DATABASE {name}")
    database = Database(resolve(database_url=pg_server.url(name), from_env=False, actor="t", now=None, debug=False))
    database.upgrade()
    database.close()  # no connection may stay open on a template, or cloning it fails
    yield name
    admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def new_database(pg_server, template_db):
    """A factory of fresh databases, migrated unless asked for an empty one; all dropped
    when the test ends."""
    made: list[str] = []

    def make(migrated: bool = True) -> str:
        name = f"t_{os.getpid()}_{next(_counter)}"
        admin(pg_server, f"CREATE DATABASE {name}" + (f" TEMPLATE {template_db}" if migrated else ""))
        made.append(name)
        return pg_server.url(name)

    yield make
    for name in made:
        admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(new_database, monkeypatch) -> str:
    url = new_database()
    for var in ("SUPPORTCTL_NOW", "SUPPORTCTL_READ_DATABASE_URL", "SUPPORTCTL_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SUPPORTCTL_DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTCTL_ACTOR", "tester")
    return url


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session for service tests; the test commits what it wants kept."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


class Cli:
    """Runs `supportctl ARGS` in-process; stdout and stderr stay apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, args: str | list[str], input: str | None = None, now: datetime | str | None = NOW):
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        if now is not None:
            argv = ["--now", now.isoformat() if isinstance(now, datetime) else now, *argv]
        return self.runner.invoke(app, argv, input=input, catch_exceptions=False)


@pytest.fixture
def cli(database_url) -> Cli:
    return Cli()
