"""Read what a report needs from the warning store, for one UTC window, in a few set queries.

The store's repositories serve one warning at a time; a report needs the aggregate over a
period, so this module selects from the store's tables directly (read only): warnings that
entered the queue in the window or that a transition or escalation in the window refers to,
those transitions and escalations, and each detector's precision from the store.

A warning's `raised_at` is when it entered the disposal queue (the moment its deadlines count
from), or its `first_seen` if it has no disposal record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from riskwatch.alerts.reports.records import EscalationFact, PrecisionRow, ReportData, TransitionFact, WarningFact
from riskwatch.alerts.store.store import WarningStore
from riskwatch.alerts.store.tables import DisposalRow, EscalationRow, TransitionRow, WarningRow

__all__ = ["load_report_data"]


def _check_window(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"report window {name} must be timezone-aware, got naive {value!r}")
    if end <= start:
        raise ValueError(f"report window end {end.isoformat()} must be after its start {start.isoformat()}")


def load_report_data(store: WarningStore, start: datetime, end: datetime) -> ReportData:
    """Everything in [start, end) that `metrics.summarise` needs, from one read transaction."""
    _check_window(start, end)
    raised_at = func.coalesce(DisposalRow.raised_at, WarningRow.first_seen).label("raised_at")
    moved = select(TransitionRow.warning_id).where(TransitionRow.at >= start, TransitionRow.at < end)
    escalated = select(EscalationRow.warning_id).where(EscalationRow.at >= start, EscalationRow.at < end)
    warnings_stmt = (
        select(
            WarningRow.warning_id,
            WarningRow.level,
            WarningRow.category,
            WarningRow.category_name,
            WarningRow.region_code,
            WarningRow.region_name,
            WarningRow.district_code,
            func.coalesce(DisposalRow.department, WarningRow.department).label("department"),
            raised_at,
        )
        .outerjoin(DisposalRow, DisposalRow.warning_id == WarningRow.warning_id)
        .where(
            or_(
                (raised_at >= start) & (raised_at < end),
                WarningRow.warning_id.in_(moved),
                WarningRow.warning_id.in_(escalated),
            )
        )
    )
    transitions_stmt = (
        select(TransitionRow.warning_id, TransitionRow.from_status, TransitionRow.to_status, TransitionRow.at)
        .where(TransitionRow.at >= start, TransitionRow.at < end)
        .order_by(TransitionRow.at, TransitionRow.id)
    )
    escalations_stmt = (
        select(EscalationRow.warning_id, EscalationRow.deadline, EscalationRow.at)
        .where(EscalationRow.at >= start, EscalationRow.at < end)
        .order_by(EscalationRow.at, EscalationRow.id)
    )
    with Session(store.engine) as session, session.begin():
        warnings = [WarningFact.model_validate(row._asdict()) for row in session.execute(warnings_stmt)]
        transitions = tuple(TransitionFact.model_validate(row._asdict()) for row in session.execute(transitions_stmt))
        escalations = tuple(EscalationFact.model_validate(row._asdict()) for row in session.execute(escalations_stmt))
    precision = tuple(PrecisionRow.model_validate(row.model_dump()) for row in store.outcomes.detector_precision())
    return ReportData(
        start=start,
        end=end,
        warnings={w.warning_id: w for w in warnings},
        transitions=transitions,
        escalations=escalations,
        precision=precision,
    )
