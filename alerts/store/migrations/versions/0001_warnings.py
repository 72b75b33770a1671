"""Warnings and their version history (the tables that predate the migrations).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def utc() -> sa.DateTime:
    """An aware timestamp: `timestamptz` on PostgreSQL, naive UTC text on SQLite."""
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "warnings",
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("region_name", sa.Text(), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("category_name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("first_seen", utc(), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("sources", JSON, nullable=False),
        sa.Column("explanation", JSON, nullable=False),
        sa.Column("signals", JSON, nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_warnings")),
    )
    for column in ("category", "district_code", "level", "region_code", "status", "updated_at"):
        op.create_index(op.f(f"ix_warnings_{column}"), "warnings", [column], unique=False)

    op.create_table(
        "warning_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("recorded_at", utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["warnings.warning_id"],
            name=op.f("fk_warning_versions_warning_id_warnings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_versions")),
        sa.UniqueConstraint("warning_id", "version", name=op.f("uq_warning_versions_warning_id")),
    )
    op.create_index("ix_warning_versions_recorded_at", "warning_versions", ["recorded_at"], unique=False)


def downgrade() -> None:
    op.drop_table("warning_versions")
    op.drop_table("warnings")
