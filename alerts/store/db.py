"""Database plumbing shared by every table: the declarative base, column types, engines.

SQLite is the embedded default and PostgreSQL the deployment database. On SQLite every
connection runs in WAL mode with foreign keys on, and write transactions start with
`BEGIN IMMEDIATE` so the worker and the API writing the same file queue up on the busy
timeout instead of failing when a read transaction tries to become a write one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Engine, MetaData, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

__all__ = [
    "JSON_TYPE",
    "SUPPORTED_BACKENDS",
    "Base",
    "UtcDateTime",
    "make_engine",
    "upsert_for",
    "write_engine",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "riskwatch_begin_immediate"


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC: naive UTC text on SQLite, `timestamptz` on PostgreSQL.

    Naive datetimes are refused rather than guessed; values always come back aware in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware datetimes")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC so text comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base; its `metadata` is the schema the Alembic migrations create."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


_UPSERT: dict[str, Callable[..., Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
SUPPORTED_BACKENDS = tuple(_UPSERT)


def upsert_for(engine: Engine) -> Callable[..., Any]:
    """The dialect's `insert` that has `on_conflict_do_update/nothing`."""
    return _UPSERT[engine.dialect.name]


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event (below) issue BEGIN itself instead of the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")


def make_engine(url: str | URL) -> Engine:
    """An engine for a SQLite or PostgreSQL URL; a SQLite file's directory is created."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _UPSERT:
        raise ValueError(f"unsupported database {backend!r} in {parsed!r}: use sqlite or postgresql")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def write_engine(engine: Engine) -> Engine:
    """A view of `engine` whose transactions take the write lock at once (SQLite only)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_IMMEDIATE: True})
