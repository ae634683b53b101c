"""Alembic environment: online migrations only, on the connection supportctl hands over.

`supportctl db upgrade` passes its connection in ``config.attributes["connection"]``;
the plain `alembic` command falls back to SUPPORTCTL_DATABASE_URL.
"""

import os

from alembic import context
from sqlalchemy import create_engine, pool

from supportctl.db.models import Base

target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = os.environ.get("SUPPORTCTL_DATABASE_URL")
    if not url:
        raise SystemExit("set SUPPORTCTL_DATABASE_URL, or use `supportctl db upgrade`")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        run_migrations(conn)
