"""Every table of the warning store, as SQLAlchemy 2 ORM rows.

The Alembic migrations under `migrations/` create exactly this schema; a test compares the
two on SQLite and PostgreSQL. Rows are storage only: the store converts them to the pydantic
models of `lifecycle`, `silences`, `audit`, ... at its boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from riskwatch.alerts.store.db import JSON_TYPE, Base, UtcDateTime

__all__ = [
    "AuditRow",
    "DetectorOutcomeRow",
    "DisposalRow",
    "EscalationRow",
    "FeedbackRow",
    "HealthRow",
    "PartitionSnapshotRow",
    "PublicationRow",
    "SilenceRow",
    "TokenRow",
    "TransitionRow",
    "WarningRow",
    "WarningVersionRow",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _warning_fk() -> ForeignKey:
    """A new foreign key to the warning (a ForeignKey object belongs to one column only)."""
    return ForeignKey("warnings.warning_id", ondelete="CASCADE")


class WarningRow(Base):
    """The current state of one warning: its newest version, with the status transitions gave it."""

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
    sources: Mapped[list[str]] = mapped_column(JSON_TYPE)
    explanation: Mapped[list[str]] = mapped_column(JSON_TYPE)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON_TYPE)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_utcnow)


class WarningVersionRow(Base):
    """One Alert/Update/Cancel of a warning, with the whole warning as it was then."""

    __tablename__ = "warning_versions"
    __table_args__ = (
        UniqueConstraint("warning_id", "version"),
        Index("ix_warning_versions_recorded_at", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[str] = mapped_column(String(64), _warning_fk())
    version: Mapped[int] = mapped_column(Integer)
    msg_type: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(4))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_utcnow)


class _StatusMove:
    """Columns of a lifecycle move: which warning, from and to which status, who, why and when.

    Shared by applied transitions and by the feedback that asked for one, so the two stay alike.
    """

    warning_id: Mapped[str] = mapped_column(String(64), _warning_fk())
    from_status: Mapped[str] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class TransitionRow(_StatusMove, Base):
    """One applied lifecycle move; `id` grows with time, so change feeds can poll `id > last`."""

    __tablename__ = "transitions"
    __table_args__ = (Index("ix_transitions_warning_id_id", "warning_id", "id"), Index("ix_transitions_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)


class DisposalRow(Base):
    """Who handles a warning, at which tier of the escalation chain, and its deadlines."""

    __tablename__ = "disposals"

    warning_id: Mapped[str] = mapped_column(String(64), _warning_fk(), primary_key=True)
    department: Mapped[str | None] = mapped_column(String(128), index=True)
    tier: Mapped[str] = mapped_column(String(64))
    acknowledge_due: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    resolve_due: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EscalationRow(Base):
    """A missed deadline and the tier it escalated to; unique per missed due, so never twice."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("warning_id", "deadline", "due", name="uq_escalations_warning_deadline_due"),
        Index("ix_escalations_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[str] = mapped_column(String(64), _warning_fk())
    deadline: Mapped[str] = mapped_column(String(16))
    due: Mapped[datetime] = mapped_column(UtcDateTime())
    tier_from: Mapped[str] = mapped_column(String(64))
    tier_to: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class SilenceRow(Base):
    """A maintenance window that mutes matching warnings."""

    __tablename__ = "silences"

    silence_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_prefix: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[str]] = mapped_column(JSON_TYPE)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expired_by: Mapped[str | None] = mapped_column(String(128))


class AuditRow(Base):
    """An appended audit entry."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), index=True)
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class TokenRow(Base):
    """An API token, kept as its SHA-256 only."""

    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PublicationRow(Base):
    """Which version of a warning the public feed shows."""

    __tablename__ = "publications"

    warning_id: Mapped[str] = mapped_column(String(64), _warning_fk(), primary_key=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    public_version: Mapped[int | None] = mapped_column(Integer)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FeedbackRow(_StatusMove, Base):
    """A command-center action received as feedback; the id makes redelivery harmless."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_warning_id_at", "warning_id", "at"),)

    feedback_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(32))


class DetectorOutcomeRow(Base):
    """A warning's outcome credited to one detector that raised it (the latest judgement wins)."""

    __tablename__ = "detector_outcomes"

    warning_id: Mapped[str] = mapped_column(String(64), _warning_fk(), primary_key=True)
    detector: Mapped[str] = mapped_column(String(64), primary_key=True)
    true_alarm: Mapped[bool] = mapped_column(Boolean)
    signal_ids: Mapped[list[str]] = mapped_column(JSON_TYPE)
    resolve_seconds: Mapped[float | None] = mapped_column(Double)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())


class HealthRow(Base):
    """The latest health snapshot of one pipeline component."""

    __tablename__ = "pipeline_health"

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class PartitionSnapshotRow(Base):
    """The latest snapshot of one stateful stage's state for one partition of its topic."""

    __tablename__ = "partition_snapshots"

    group_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The next offset of the stage's topic partition the state has not seen.
    offset: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[int] = mapped_column(Integer)
    riskwatch_version: Mapped[str] = mapped_column(String(64))
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime())
