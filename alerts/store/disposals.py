"""The disposal queue: who handles each warning, at which tier, by when, and its escalations.

A warning enters the queue with its first version (`enter_or_tighten`, inside the save's
transaction, as the disposal stage planned it); `check_deadlines` escalates what is overdue,
recording each escalation with the queue entry it moved, in one transaction.

Every worker replica (and `riskwatch disposal run`) checks deadlines on a timer; on PostgreSQL
a round first takes a transaction-scoped advisory lock, so while one replica checks, the others
skip their round instead of queueing on the same rows. Each escalation is recorded once either
way: the rows are locked, a missed due is re-armed in the same transaction, and the escalations
table is unique per missed due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from riskwatch.alerts.disposal.clock import require_aware
from riskwatch.alerts.disposal.deadlines import ACKNOWLEDGE_PENDING, RESOLVE_PENDING, Dues, escalate_missed
from riskwatch.alerts.disposal.lifecycle import Disposal, Escalation
from riskwatch.alerts.disposal.plan import DisposalPlan
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import DisposalRow, EscalationRow, WarningRow
from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import Level, WarningStatus

__all__ = ["DEADLINE_LOCK_KEY", "DisposalRepository", "enter_or_tighten", "row_to_escalation"]

#: PostgreSQL advisory lock key of a deadline round (the bytes of "rw-deadl" as a signed 64-bit integer).
DEADLINE_LOCK_KEY = int.from_bytes(b"rw-deadl", "big", signed=True)


def _take_round(session: Session) -> bool:
    """True when this transaction may run a deadline round: it holds the advisory lock (PostgreSQL),
    or the database runs one write transaction at a time anyway (SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.execute(select(func.pg_try_advisory_xact_lock(DEADLINE_LOCK_KEY))).scalar_one())


def _disposal(row: DisposalRow) -> Disposal:
    return Disposal.model_validate(row, from_attributes=True)


def row_to_escalation(row: EscalationRow) -> Escalation:
    """The escalation a row of `escalations` records."""
    return Escalation.model_validate(row, from_attributes=True)


def enter_or_tighten(session: Session, insert: Callable[..., Any], plan: DisposalPlan, status: WarningStatus) -> None:
    """Queue a warning as `plan` says, or bring its dues forward if it is queued already (in `session`)."""
    found = session.get(DisposalRow, plan.warning_id, with_for_update=True)
    if found is None:
        stmt = (
            insert(DisposalRow)
            .values(
                warning_id=plan.warning_id,
                department=plan.department,
                tier=plan.tier,
                acknowledge_due=plan.dues.acknowledge,
                resolve_due=plan.dues.resolve,
                escalations=0,
                raised_at=plan.at,
            )
            .on_conflict_do_nothing(index_elements=[DisposalRow.warning_id])
        )
        session.execute(stmt)
        return
    dues = plan.dues_after(Dues(found.acknowledge_due, found.resolve_due), status)
    found.acknowledge_due, found.resolve_due = dues.acknowledge, dues.resolve


class DisposalRepository:
    """Queue entries and escalations; `routing` gives the escalation chain and the re-armed deadlines."""

    def __init__(self, sessions: Sessions, routing: RoutingConfig) -> None:
        self._sessions = sessions
        self._routing = routing

    def get(self, warning_id: str) -> Disposal | None:
        """Department, tier and deadlines of a warning, or None if it is not in the queue."""
        with self._sessions.read() as session:
            row = session.get(DisposalRow, warning_id)
            return _disposal(row) if row is not None else None

    def check_deadlines(self, now: datetime | None = None) -> list[Escalation]:
        """Escalate every warning whose acknowledge or resolve deadline has passed at `now` (default now).

        Which dues are missed and what a miss does is `deadlines.escalate_missed`; here the
        overdue entries are locked, moved and their escalations recorded in one transaction.
        Calling it twice with the same `now` escalates nothing the second time, and a call while
        another replica's round holds the advisory lock returns [] at once (that round does the work).
        """
        when = self._sessions.at_or_now(now, "check_deadlines now")
        ack_pending = [s.value for s in ACKNOWLEDGE_PENDING]
        resolve_pending = [s.value for s in RESOLVE_PENDING]
        stmt = (
            select(DisposalRow, WarningRow.status, WarningRow.level)
            .join(WarningRow, WarningRow.warning_id == DisposalRow.warning_id)
            .where(
                or_(
                    and_(WarningRow.status.in_(ack_pending), DisposalRow.acknowledge_due < when),
                    and_(WarningRow.status.in_(resolve_pending), DisposalRow.resolve_due < when),
                )
            )
            .order_by(DisposalRow.warning_id)
            .with_for_update(of=DisposalRow)
        )
        escalated: list[Escalation] = []
        with self._sessions.write() as session:
            if not _take_round(session):
                return []
            for row, status, level in session.execute(stmt):
                after, escalations = escalate_missed(
                    self._routing, _disposal(row), WarningStatus(status), Level(level), when
                )
                session.add_all(EscalationRow(**escalation.model_dump()) for escalation in escalations)
                row.tier, row.escalations = after.tier, after.escalations
                row.acknowledge_due, row.resolve_due = after.acknowledge_due, after.resolve_due
                escalated.extend(escalations)
        return escalated

    def escalations(self, warning_id: str | None = None, since: datetime | None = None) -> list[Escalation]:
        """Recorded escalations, oldest first, of one warning and/or since a time."""
        stmt = select(EscalationRow).order_by(EscalationRow.at, EscalationRow.id)
        if warning_id is not None:
            stmt = stmt.where(EscalationRow.warning_id == warning_id)
        if since is not None:
            stmt = stmt.where(EscalationRow.at >= require_aware(since, "since"))
        with self._sessions.read() as session:
            return [row_to_escalation(row) for row in session.scalars(stmt)]
