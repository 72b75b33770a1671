"""Read-only queries the API needs beyond the store's repositories, over the store's tables.

Kept here (not in the store) because they serve presentation only: filtered lists with a
department scope, counts for metrics, trend buckets, and the change cursor the SSE feed polls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskwatch.alerts.disposal.lifecycle import Disposal, Escalation, Transition
from riskwatch.alerts.disposal.publication import Publication
from riskwatch.alerts.feed.changes import WarningChange
from riskwatch.alerts.store.disposals import row_to_escalation
from riskwatch.alerts.store.tables import (
    DisposalRow,
    EscalationRow,
    PublicationRow,
    TransitionRow,
    WarningRow,
    WarningVersionRow,
)
from riskwatch.alerts.store.transitions import row_to_transition
from riskwatch.alerts.store.warnings import row_to_warning
from riskwatch.contracts import Level, Warning, WarningStatus

M = TypeVar("M", bound=BaseModel)


def _model(model: type[M], row: object | None) -> M | None:
    """A pydantic model from a row whose columns carry the model's field names."""
    if row is None:
        return None
    return model.model_validate({name: getattr(row, name) for name in model.model_fields})


def _with_disposal_and_publication() -> Select[tuple[WarningRow, DisposalRow, PublicationRow]]:
    return (
        select(WarningRow, DisposalRow, PublicationRow)
        .outerjoin(DisposalRow, DisposalRow.warning_id == WarningRow.warning_id)
        .outerjoin(PublicationRow, PublicationRow.warning_id == WarningRow.warning_id)
    )


def _change(warning: WarningRow, disposal: DisposalRow | None, publication: PublicationRow | None) -> WarningChange:
    return WarningChange(
        warning=row_to_warning(warning),
        publication=_model(Publication, publication),
        disposal=_model(Disposal, disposal),
    )


def department_of(warning: Warning, disposal: Disposal | None) -> str | None:
    """The department responsible: the disposal's routing if known, else the warning's own."""
    if disposal is not None and disposal.department is not None:
        return disposal.department
    return warning.department


def _department_column() -> ColumnElement[Any]:
    return func.coalesce(DisposalRow.department, WarningRow.department)


@dataclass(frozen=True)
class WarningFilter:
    """The filters of GET /api/warnings; `department` is the operator scope (None = all)."""

    level: Level | None = None
    status: WarningStatus | None = None
    category: str | None = None
    region_prefix: str | None = None
    since: datetime | None = None
    department: str | None = None
    limit: int = 100


def list_warnings(engine: Engine, where: WarningFilter) -> list[WarningChange]:
    """Current warnings matching `where` with their disposal and publication, newest `updated_at` first."""
    stmt = _with_disposal_and_publication()
    if where.level is not None:
        stmt = stmt.where(WarningRow.level == where.level.value)
    if where.status is not None:
        stmt = stmt.where(WarningRow.status == where.status.value)
    if where.category:
        stmt = stmt.where(WarningRow.category == where.category)
    if where.region_prefix:
        stmt = stmt.where(WarningRow.region_code.startswith(where.region_prefix, autoescape=True))
    if where.since is not None:
        stmt = stmt.where(WarningRow.updated_at >= where.since)
    if where.department is not None:
        stmt = stmt.where(_department_column() == where.department)
    stmt = stmt.order_by(WarningRow.updated_at.desc(), WarningRow.warning_id).limit(where.limit)
    with Session(engine) as session:
        return [_change(*row) for row in session.execute(stmt)]


def warning_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """Number of current warnings per (level, status)."""
    stmt = select(WarningRow.level, WarningRow.status, func.count()).group_by(WarningRow.level, WarningRow.status)
    with engine.connect() as conn:
        return {(level, status): count for level, status, count in conn.execute(stmt)}


def first_seen_since(engine: Engine, since: datetime) -> list[tuple[str, datetime]]:
    """(category, first_seen) of every warning first seen at or after `since`."""
    stmt = select(WarningRow.category, WarningRow.first_seen).where(WarningRow.first_seen >= since)
    with Session(engine) as session:
        return [(category, at) for category, at in session.execute(stmt)]


@dataclass(frozen=True)
class Changes:
    """What was written since the last poll: new warning versions, transitions and escalations."""

    warnings: Sequence[WarningChange]
    transitions: Sequence[tuple[Transition, str | None]]  # with the warning's department
    escalations: Sequence[tuple[Escalation, str | None]] = ()  # with the warning's department


def _newer_with_department(row: type[TransitionRow] | type[EscalationRow], after_id: int, limit: int) -> Select[Any]:
    """Rows of a per-warning log table with an id above `after_id`, oldest first, each with the
    department responsible for its warning."""
    return (
        select(row, _department_column())
        .join(WarningRow, WarningRow.warning_id == row.warning_id)
        .outerjoin(DisposalRow, DisposalRow.warning_id == row.warning_id)
        .where(row.id > after_id)
        .order_by(row.id)
        .limit(limit)
    )


class ChangeCursor:
    """Remembers the newest `warning_versions.id`, `transitions.id` and `escalations.id` seen, and
    reads past them (escalations are written by whichever worker ran the deadline round).

    Starts at the current end, so a new subscriber sees changes from now on (the web view
    loads the current state through GET /api/warnings first).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._version_id: int | None = None
        self._transition_id: int | None = None
        self._escalation_id: int | None = None

    def _start_at_end(self) -> None:
        with self._engine.connect() as conn:
            self._version_id = conn.execute(select(func.coalesce(func.max(WarningVersionRow.id), 0))).scalar_one()
            self._transition_id = conn.execute(select(func.coalesce(func.max(TransitionRow.id), 0))).scalar_one()
            self._escalation_id = conn.execute(select(func.coalesce(func.max(EscalationRow.id), 0))).scalar_one()

    def poll(self, limit: int = 500) -> Changes:
        """New versions (as the current warning, so status and disposal are current), transitions
        and escalations.

        The first successful call only finds the current end and reports nothing.
        """
        if self._version_id is None or self._transition_id is None or self._escalation_id is None:
            self._start_at_end()
            return Changes(warnings=[], transitions=[])
        versions = (
            select(WarningVersionRow.id, WarningVersionRow.warning_id)
            .where(WarningVersionRow.id > self._version_id)
            .order_by(WarningVersionRow.id)
            .limit(limit)
        )
        transitions = _newer_with_department(TransitionRow, self._transition_id, limit)
        escalations = _newer_with_department(EscalationRow, self._escalation_id, limit)
        with Session(self._engine) as session:
            version_rows = session.execute(versions).all()
            transition_rows = session.execute(transitions).all()
            escalation_rows = session.execute(escalations).all()
            changed_ids = list(dict.fromkeys(warning_id for _, warning_id in version_rows))
            stmt = _with_disposal_and_publication().where(WarningRow.warning_id.in_(changed_ids))
            current = {row[0].warning_id: _change(*row) for row in session.execute(stmt)}
        if version_rows:
            self._version_id = version_rows[-1][0]
        if transition_rows:
            self._transition_id = transition_rows[-1][0].id
        if escalation_rows:
            self._escalation_id = escalation_rows[-1][0].id
        return Changes(
            warnings=[current[w] for w in changed_ids if w in current],
            transitions=[(row_to_transition(row), department) for row, department in transition_rows],
            escalations=[(row_to_escalation(row), department) for row, department in escalation_rows],
        )
