"""The disposal queue: transitions, deadlines and escalations, silences, audit, tokens,
publication, feedback outcomes per detector, and pipeline health.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def utc() -> sa.DateTime:
    """An aware timestamp: `timestamptz` on PostgreSQL, naive UTC text on SQLite."""
    return sa.DateTime(timezone=True)


def warning_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["warning_id"], ["warnings.warning_id"], name=op.f(f"fk_{table}_warning_id_warnings"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=False),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", utc(), nullable=False),
        warning_fk("transitions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transitions")),
    )
    op.create_index("ix_transitions_at", "transitions", ["at"], unique=False)
    op.create_index("ix_transitions_warning_id_id", "transitions", ["warning_id", "id"], unique=False)

    op.create_table(
        "disposals",
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("acknowledge_due", utc(), nullable=False),
        sa.Column("resolve_due", utc(), nullable=False),
        sa.Column("acknowledged_at", utc(), nullable=True),
        sa.Column("resolved_at", utc(), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("raised_at", utc(), nullable=False),
        warning_fk("disposals"),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_disposals")),
    )
    for column in ("acknowledge_due", "department", "resolve_due"):
        op.create_index(op.f(f"ix_disposals_{column}"), "disposals", [column], unique=False)

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("deadline", sa.String(length=16), nullable=False),
        sa.Column("due", utc(), nullable=False),
        sa.Column("tier_from", sa.String(length=64), nullable=False),
        sa.Column("tier_to", sa.String(length=64), nullable=False),
        sa.Column("at", utc(), nullable=False),
        warning_fk("escalations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("warning_id", "deadline", "due", name="uq_escalations_warning_deadline_due"),
    )
    op.create_index("ix_escalations_at", "escalations", ["at"], unique=False)

    op.create_table(
        "silences",
        sa.Column("silence_id", sa.String(length=32), nullable=False),
        sa.Column("region_prefix", sa.String(length=32), nullable=False),
        sa.Column("categories", JSON, nullable=False),
        sa.Column("starts_at", utc(), nullable=False),
        sa.Column("ends_at", utc(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("expired_at", utc(), nullable=True),
        sa.Column("expired_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("silence_id", name=op.f("pk_silences")),
    )
    op.create_index(op.f("ix_silences_ends_at"), "silences", ["ends_at"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_log")),
    )
    for column in ("action", "actor", "target"):
        op.create_index(op.f(f"ix_audit_log_{column}"), "audit_log", [column], unique=False)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("revoked_at", utc(), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )

    op.create_table(
        "publications",
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("public_version", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", utc(), nullable=True),
        warning_fk("publications"),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_publications")),
    )
    op.create_index(op.f("ix_publications_state"), "publications", ["state"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("feedback_id", sa.String(length=64), nullable=False),
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=False),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", utc(), nullable=False),
        warning_fk("feedback"),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_feedback")),
    )
    op.create_index("ix_feedback_warning_id_at", "feedback", ["warning_id", "at"], unique=False)

    op.create_table(
        "detector_outcomes",
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("detector", sa.String(length=64), nullable=False),
        sa.Column("true_alarm", sa.Boolean(), nullable=False),
        sa.Column("signal_ids", JSON, nullable=False),
        sa.Column("resolve_seconds", sa.Double(), nullable=True),
        sa.Column("decided_at", utc(), nullable=False),
        warning_fk("detector_outcomes"),
        sa.PrimaryKeyConstraint("warning_id", "detector", name=op.f("pk_detector_outcomes")),
    )

    op.create_table(
        "pipeline_health",
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("component", name=op.f("pk_pipeline_health")),
    )


def downgrade() -> None:
    for table in (
        "pipeline_health",
        "detector_outcomes",
        "feedback",
        "publications",
        "api_tokens",
        "audit_log",
        "silences",
        "escalations",
        "disposals",
        "transitions",
    ):
        op.drop_table(table)
