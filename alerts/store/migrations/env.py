"""Alembic environment for the warning store: migrations are generated from `Base.metadata`.

Normally run through `riskwatch.alerts.store.schema.upgrade`, which passes an open connection in
`config.attributes["connection"]`. Without one (plain `alembic -x url=...`), it connects to
the URL given with `-x url=` or in `RISKWATCH_DATABASE_URL`.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

import riskwatch.alerts.store.tables  # noqa: F401 - registers every table on Base.metadata
from riskwatch.alerts.store.db import Base, make_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("RISKWATCH_DATABASE_URL")
    if not url:
        raise SystemExit("no database: pass -x url=... or set RISKWATCH_DATABASE_URL")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
