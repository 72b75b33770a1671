"""Lifecycle moves of warnings: each status change with who, when and why.

A move locks the warning's row, checks the lifecycle, sets the status, records the
transition and stamps the disposal's acknowledged/resolved times, all in one transaction
(with its audit entry when the caller gives one). `apply_transition` does the same inside a
transaction that is already open, for the Cancel a warning's own version brings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskwatch.alerts.disposal.lifecycle import Transition, UnknownWarning, check_transition
from riskwatch.alerts.store.audit import AuditFor, write_audit
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import DisposalRow, TransitionRow, WarningRow
from riskwatch.contracts import WarningStatus

__all__ = ["TransitionRepository", "apply_transition", "row_to_transition"]


def row_to_transition(row: TransitionRow) -> Transition:
    """Rebuild a lifecycle transition from its `transitions` row."""
    return Transition.model_validate(row, from_attributes=True)


def apply_transition(
    session: Session,
    row: WarningRow,
    target: WarningStatus,
    *,
    actor: str,
    role: str,
    reason: str,
    at: datetime,
) -> Transition:
    """Move the (locked) warning `row` to `target` in `session`; `IllegalTransition` if not allowed."""
    current = WarningStatus(row.status)
    check_transition(row.warning_id, current, target)
    row.status = target.value
    session.add(
        TransitionRow(
            warning_id=row.warning_id,
            from_status=current.value,
            to_status=target.value,
            actor=actor,
            role=role,
            reason=reason,
            at=at,
        )
    )
    disposal = session.get(DisposalRow, row.warning_id, with_for_update=True)
    if disposal is not None:
        if target is WarningStatus.acknowledged and disposal.acknowledged_at is None:
            disposal.acknowledged_at = at
        elif target is WarningStatus.resolved:
            disposal.resolved_at = at
        elif target is WarningStatus.in_progress and current is WarningStatus.resolved:
            disposal.resolved_at = None  # re-opened: not resolved any more
    return Transition(
        warning_id=row.warning_id,
        from_status=current,
        to_status=target,
        actor=actor,
        role=role,
        reason=reason,
        at=at,
    )


class TransitionRepository:
    """Applies lifecycle moves and lists them."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def apply(
        self,
        warning_id: str,
        target: WarningStatus,
        *,
        actor: str,
        role: str,
        reason: str,
        at: datetime | None = None,
        audit: AuditFor[Transition] | None = None,
    ) -> Transition:
        """Move a warning to `target` and record who, when (default now) and why.

        Raises `UnknownWarning` for an id not in the store and `IllegalTransition` (nothing
        written) when the lifecycle does not allow the move from the current status. `audit`
        (a record, or a function of the transition) is written in the same transaction with
        the transition's time: both are stored or neither.
        """
        target = WarningStatus(target)
        if not actor.strip():
            raise ValueError("a transition needs an actor: who made it")
        when = self._sessions.at_or_now(at, "transition at")
        with self._sessions.write() as session:
            row = session.get(WarningRow, warning_id, with_for_update=True)
            if row is None:
                raise UnknownWarning(warning_id)
            transition = apply_transition(session, row, target, actor=actor, role=role, reason=reason, at=when)
            write_audit(session, audit, transition, when)
            return transition

    def of(self, warning_id: str) -> list[Transition]:
        """Every transition of a warning, oldest first."""
        stmt = select(TransitionRow).where(TransitionRow.warning_id == warning_id).order_by(TransitionRow.id)
        with self._sessions.read() as session:
            return [row_to_transition(row) for row in session.scalars(stmt)]
