"""Warnings and their versions: each warning's current state and every version ever seen.

`save` is an idempotent UPSERT keyed by `warning_id`: a newer version replaces the current
row, a replay or an older version leaves it alone, and every version seen is kept once in
`warning_versions`. A new current version also enters or updates the disposal queue, cancels
the warning for a Cancel, and updates what the public may see, all as the disposal stage
planned it (`riskwatch.alerts.disposal.plan`) and in the version's own transaction.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskwatch.alerts.disposal.clock import require_aware
from riskwatch.alerts.disposal.plan import SYSTEM_ACTOR, DisposalPlan
from riskwatch.alerts.store.disposals import enter_or_tighten
from riskwatch.alerts.store.publications import publish_as_planned
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import DisposalRow, WarningRow, WarningVersionRow
from riskwatch.alerts.store.transitions import apply_transition
from riskwatch.contracts import Level, Warning, WarningStatus

__all__ = ["WarningRepository", "row_to_warning", "warning_payload", "warning_to_row"]


def _utc(value: Any) -> Any:
    """`value` with every datetime inside it moved to UTC."""
    if isinstance(value, datetime):
        return require_aware(value)
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
    return Warning.model_validate({name: getattr(row, name) for name in Warning.model_fields})


class WarningRepository:
    """Saves warning versions with their disposal plans; reads current warnings and history."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def save(self, warning: Warning, plan: DisposalPlan) -> bool:
        """Upsert a warning; True if the current state changed, False for a replay or older version.

        One transaction, timed at `plan.at`: the current row is replaced only by a newer version
        (its status is left to transitions), the version's history row is added if that version
        was never recorded, and a new current version applies `plan` (the version's disposal
        decisions, from `plan_disposal`). Calling it again after a crash or a redelivery is harmless.
        """
        if (plan.warning_id, plan.version) != (warning.warning_id, warning.version):
            raise ValueError(
                f"the plan is for {plan.warning_id} v{plan.version}, not {warning.warning_id} v{warning.version}"
            )
        with self._sessions.write() as session:
            changed = self._upsert_current(session, warning, plan.at)
            self._record_version(session, warning, plan.at)
            if changed:
                self._apply_plan(session, plan)
        return changed

    def _upsert_current(self, session: Session, warning: Warning, at: datetime) -> bool:
        values = warning_to_row(warning)
        values["created_at"] = at
        stmt = self._sessions.insert(WarningRow).values(**values)
        kept = ("warning_id", "created_at", "status")  # status belongs to transitions
        updates = {k: stmt.excluded[k] for k in values if k not in kept}
        stmt = stmt.on_conflict_do_update(
            index_elements=[WarningRow.warning_id],
            set_=updates,
            where=WarningRow.version < stmt.excluded.version,
        ).returning(WarningRow.warning_id)
        return session.execute(stmt).first() is not None

    def _record_version(self, session: Session, warning: Warning, at: datetime) -> None:
        stmt = (
            self._sessions.insert(WarningVersionRow)
            .values(
                warning_id=warning.warning_id,
                version=warning.version,
                msg_type=warning.msg_type.value,
                level=warning.level.value,
                payload=warning_payload(warning),
                recorded_at=at,
            )
            .on_conflict_do_nothing(index_elements=[WarningVersionRow.warning_id, WarningVersionRow.version])
        )
        session.execute(stmt)

    def _apply_plan(self, session: Session, plan: DisposalPlan) -> None:
        row = session.get(WarningRow, plan.warning_id, with_for_update=True)
        assert row is not None, "the upsert just wrote it"
        status = WarningStatus(row.status)
        enter_or_tighten(session, self._sessions.insert, plan, status)
        if plan.cancels(status):
            apply_transition(
                session,
                row,
                WarningStatus.cancelled,
                actor=SYSTEM_ACTOR,
                role=SYSTEM_ACTOR,
                reason=plan.cancel_reason,
                at=plan.at,
            )
        publish_as_planned(session, plan)

    def get(self, warning_id: str) -> Warning | None:
        """The current state of a warning, or None."""
        with self._sessions.read() as session:
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
        *,
        department: str | None = None,
    ) -> builtins.list[Warning]:
        """Current warnings, newest `updated_at` first, filtered by any of the arguments.

        `department` keeps the warnings the disposal queue routed to that department.
        """
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
        if department is not None:
            stmt = stmt.join(DisposalRow, DisposalRow.warning_id == WarningRow.warning_id).where(
                DisposalRow.department == department
            )
        stmt = stmt.order_by(WarningRow.updated_at.desc(), WarningRow.warning_id).limit(limit)
        with self._sessions.read() as session:
            return [row_to_warning(row) for row in session.scalars(stmt)]

    def versions(self, warning_id: str) -> builtins.list[Warning]:
        """Every recorded version of a warning, oldest first."""
        stmt = (
            select(WarningVersionRow.payload)
            .where(WarningVersionRow.warning_id == warning_id)
            .order_by(WarningVersionRow.version)
        )
        with self._sessions.read() as session:
            return [Warning.model_validate(payload) for payload in session.scalars(stmt)]

    def counts_by_level(self) -> dict[Level, int]:
        """Number of current warnings per level; every level present, zero if none."""
        counts = {level: 0 for level in Level}
        stmt = select(WarningRow.level, func.count()).group_by(WarningRow.level)
        with self._sessions.read() as session:
            for level, count in session.execute(stmt):
                counts[Level(level)] = count
        return counts
