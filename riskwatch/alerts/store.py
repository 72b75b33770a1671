"""The warning store: current state of every warning plus the history of every message.

SQLAlchemy 2 ORM over SQLite (the embedded default) or PostgreSQL. `save` is an idempotent
UPSERT keyed by `warning_id`: a newer version replaces the current row, a replay or an older
version leaves it alone, and every version seen is kept once in `warning_versions`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from riskwatch.schemas import Level, Warning, WarningStatus

__all__ = [
    "Base",
    "UtcDateTime",
    "WarningRow",
    "WarningStore",
    "WarningVersionRow",
    "row_to_warning",
    "warning_payload",
    "warning_to_row",
]


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


_JSON = JSON().with_variant(JSONB(), "postgresql")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base; its `metadata` is the one schema Alembic generates migrations from."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class WarningRow(Base):
    """The current state of one warning (its newest version)."""

    __tablename__ = "warnings"

    warning_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    msg_type: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(4), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    region_code: Mapped[str] = mapped_column(String(32), index=True)
    region_name: Mapped[str] = mapped_column(Text)
    district_code: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    category_name: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(128))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    score: Mapped[float] = mapped_column(Double)
    sources: Mapped[list[str]] = mapped_column(_JSON)
    explanation: Mapped[list[str]] = mapped_column(_JSON)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(_JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_utcnow)


class WarningVersionRow(Base):
    """One Alert/Update/Cancel of a warning, with the whole warning as it was then."""

    __tablename__ = "warning_versions"
    __table_args__ = (
        UniqueConstraint("warning_id", "version"),
        Index("ix_warning_versions_recorded_at", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[str] = mapped_column(String(64), ForeignKey("warnings.warning_id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    msg_type: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(4))
    payload: Mapped[dict[str, Any]] = mapped_column(_JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_utcnow)


# --------------------------------------------------------------------------- pydantic <-> row


def _utc(value: Any) -> Any:
    """`value` with every datetime inside it moved to UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_utc(v) for v in value]
    return value


def warning_payload(warning: Warning) -> dict[str, Any]:
    """The whole warning as JSON-ready data, every timestamp in UTC (ISO 8601, `Z`)."""
    return to_jsonable_python(_utc(warning.model_dump()))


def warning_to_row(warning: Warning) -> dict[str, Any]:
    """Column values of the `warnings` row for a warning (without `created_at`)."""
    data = warning_payload(warning)
    data["first_seen"] = warning.first_seen
    data["updated_at"] = warning.updated_at
    return data


def row_to_warning(row: WarningRow) -> Warning:
    """Rebuild the pydantic warning from its `warnings` row."""
    return Warning.model_validate(
        {name: getattr(row, name) for name in Warning.model_fields},
    )


# --------------------------------------------------------------------------- store


_UPSERT_DIALECTS: dict[str, Callable[..., Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


class WarningStore:
    """Persists warnings and their version history; safe to share between threads."""

    def __init__(self, url: str | URL) -> None:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend not in _UPSERT_DIALECTS:
            raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
        kwargs: dict[str, Any] = {}
        if backend == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.url = parsed
        self.engine: Engine = create_engine(parsed, **kwargs)
        if backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_on_connect)
        self._insert = _UPSERT_DIALECTS[backend]
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        """Create the tables if missing (migrations will later be generated from `Base.metadata`)."""
        Base.metadata.create_all(self.engine)

    # ----------------------------------------------------------------- writes

    def save(self, warning: Warning) -> bool:
        """Upsert a warning; True if the current state changed, False for a replay or older version.

        One transaction: the current row is replaced only by a newer version, and the version's
        history row is added if that version was never recorded. Calling it again after a crash
        (or a redelivery) is harmless.
        """
        with self._sessions.begin() as session:
            changed = self._upsert_current(session, warning)
            self._record_version(session, warning)
        return changed

    def _upsert_current(self, session: Session, warning: Warning) -> bool:
        values = warning_to_row(warning)
        values["created_at"] = _utcnow()
        stmt = self._insert(WarningRow).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k not in ("warning_id", "created_at")}
        stmt = stmt.on_conflict_do_update(
            index_elements=[WarningRow.warning_id],
            set_=updates,
            where=WarningRow.version < stmt.excluded.version,
        ).returning(WarningRow.warning_id)
        return session.execute(stmt).first() is not None

    def _record_version(self, session: Session, warning: Warning) -> None:
        stmt = (
            self._insert(WarningVersionRow)
            .values(
                warning_id=warning.warning_id,
                version=warning.version,
                msg_type=warning.msg_type.value,
                level=warning.level.value,
                payload=warning_payload(warning),
                recorded_at=_utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[WarningVersionRow.warning_id, WarningVersionRow.version])
        )
        session.execute(stmt)

    # ----------------------------------------------------------------- reads

    def get(self, warning_id: str) -> Warning | None:
        """The current state of a warning, or None."""
        with self._sessions() as session:
            row = session.get(WarningRow, warning_id)
            return row_to_warning(row) if row is not None else None

    def list(
        self,
        level: Level | None = None,
        region_prefix: str | None = None,
        category: str | None = None,
        status: WarningStatus | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[Warning]:
        """Current warnings, newest `updated_at` first, filtered by any of the arguments."""
        stmt = select(WarningRow)
        if level is not None:
            stmt = stmt.where(WarningRow.level == Level(level).value)
        if region_prefix:
            stmt = stmt.where(WarningRow.region_code.startswith(region_prefix, autoescape=True))
        if category is not None:
            stmt = stmt.where(WarningRow.category == category)
        if status is not None:
            stmt = stmt.where(WarningRow.status == WarningStatus(status).value)
        if since is not None:
            if since.tzinfo is None or since.utcoffset() is None:
                raise ValueError("since must be a timezone-aware datetime, not a naive one")
            stmt = stmt.where(WarningRow.updated_at >= since)
        stmt = stmt.order_by(WarningRow.updated_at.desc(), WarningRow.warning_id).limit(limit)
        with self._sessions() as session:
            return [row_to_warning(row) for row in session.scalars(stmt)]

    def versions(self, warning_id: str) -> builtins.list[Warning]:
        """Every recorded version of a warning, oldest first."""
        stmt = (
            select(WarningVersionRow.payload)
            .where(WarningVersionRow.warning_id == warning_id)
            .order_by(WarningVersionRow.version)
        )
        with self._sessions() as session:
            return [Warning.model_validate(payload) for payload in session.scalars(stmt)]

    def counts_by_level(self) -> dict[Level, int]:
        """Number of current warnings per level; every level present, zero if none."""
        counts = {level: 0 for level in Level}
        stmt = select(WarningRow.level, func.count()).group_by(WarningRow.level)
        with self._sessions() as session:
            for level, count in session.execute(stmt):
                counts[Level(level)] = count
        return counts

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
