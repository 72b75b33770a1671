"""Command-center feedback and the outcomes it credits to detectors, for their precision."""

from __future__ import annotations

from sqlalchemy import case, delete, func, select

from riskwatch.alerts.disposal.lifecycle import UnknownWarning
from riskwatch.alerts.disposal.outcomes import (
    DetectorPrecision,
    Outcome,
    outcome_of,
    resolve_seconds,
    signals_by_detector,
)
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import DetectorOutcomeRow, DisposalRow, FeedbackRow, WarningRow
from riskwatch.contracts import Feedback, WarningStatus

__all__ = ["OutcomeRepository"]


class OutcomeRepository:
    """Keeps feedback messages once each and each detector's true and false alarms."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def record(self, feedback: Feedback) -> bool:
        """Keep a feedback message and credit its outcome to the warning's detectors.

        True if it was new, False for a redelivery (nothing changes). A resolved or closed
        warning is a true alarm, a false alarm a false one; each detector with a signal in the
        warning gets the outcome and the resolve time (queue entry to resolution). Re-opening
        a resolved warning withdraws the outcome until it is settled again.
        """
        insert = self._sessions.insert
        with self._sessions.write() as session:
            warning = session.get(WarningRow, feedback.warning_id)
            if warning is None:
                raise UnknownWarning(feedback.warning_id)
            stmt = (
                insert(FeedbackRow)
                .values(feedback_id=feedback.feedback_id, **feedback.model_dump(mode="json") | {"at": feedback.at})
                .on_conflict_do_nothing(index_elements=[FeedbackRow.feedback_id])
                .returning(FeedbackRow.feedback_id)
            )
            if session.execute(stmt).first() is None:
                return False
            outcome = outcome_of(feedback.to_status)
            if outcome is None:
                if feedback.from_status is WarningStatus.resolved:
                    session.execute(delete(DetectorOutcomeRow).where(DetectorOutcomeRow.warning_id == feedback.warning_id))
                return True
            disposal = session.get(DisposalRow, feedback.warning_id)
            settled_at = feedback.at
            if outcome is Outcome.true_alarm and disposal is not None and disposal.resolved_at is not None:
                settled_at = disposal.resolved_at
            seconds = resolve_seconds(disposal.raised_at if disposal else None, settled_at)
            for detector, signal_ids in signals_by_detector(warning.signals).items():
                values = {
                    "true_alarm": outcome is Outcome.true_alarm,
                    "signal_ids": signal_ids,
                    "resolve_seconds": seconds,
                    "decided_at": feedback.at,
                }
                upsert = insert(DetectorOutcomeRow).values(warning_id=feedback.warning_id, detector=detector, **values)
                session.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[DetectorOutcomeRow.warning_id, DetectorOutcomeRow.detector],
                        set_={k: upsert.excluded[k] for k in values},
                    )
                )
        return True

    def detector_precision(self) -> list[DetectorPrecision]:
        """Each detector's true and false alarms, precision and mean resolve time, by name."""
        true_alarm = DetectorOutcomeRow.true_alarm.is_(True)
        stmt = (
            select(
                DetectorOutcomeRow.detector,
                func.count().filter(true_alarm),
                func.count().filter(DetectorOutcomeRow.true_alarm.is_(False)),
                func.avg(case((true_alarm, DetectorOutcomeRow.resolve_seconds))),
            )
            .group_by(DetectorOutcomeRow.detector)
            .order_by(DetectorOutcomeRow.detector)
        )
        with self._sessions.read() as session:
            rows = session.execute(stmt).all()
        return [
            DetectorPrecision(
                detector=detector,
                true_alarms=true_count,
                false_alarms=false_count,
                precision=true_count / (true_count + false_count) if true_count + false_count else None,
                mean_resolve_seconds=float(mean) if mean is not None else None,
            )
            for detector, true_count, false_count, mean in rows
        ]
