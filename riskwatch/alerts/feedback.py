"""Command-center feedback and what it says about the detectors.

Every transition is published on `riskwatch.feedback` as a `Feedback`. Outcomes (a resolved or
closed warning is a true alarm, a false alarm is a false one) are linked to every detector
whose signals raised the warning, so each detector's precision is measured on real outcomes.
"""

from __future__ import annotations

from enum import Enum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from riskwatch.alerts.lifecycle import Transition
from riskwatch.schemas import WarningStatus, stable_id

__all__ = ["DetectorPrecision", "Feedback", "Outcome", "outcome_of"]


class Outcome(str, Enum):
    true_alarm = "true_alarm"
    false_alarm = "false_alarm"


_OUTCOMES = {
    WarningStatus.resolved: Outcome.true_alarm,
    WarningStatus.closed: Outcome.true_alarm,
    WarningStatus.false_alarm: Outcome.false_alarm,
}


def outcome_of(status: WarningStatus) -> Outcome | None:
    """The outcome a status settles, or None if it settles nothing yet."""
    return _OUTCOMES.get(WarningStatus(status))


class Feedback(BaseModel):
    """One command-center action on a warning (payload of the `riskwatch.feedback` topic)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning_id: str
    action: str
    from_status: WarningStatus
    to_status: WarningStatus
    actor: str
    role: str
    reason: str
    at: AwareDatetime

    @classmethod
    def of(cls, transition: Transition, action: str) -> Feedback:
        return cls(action=action, **transition.model_dump())

    @property
    def feedback_id(self) -> str:
        """Deterministic id, so a redelivered message is recorded once."""
        return stable_id(self.warning_id, self.from_status.value, self.to_status.value, self.at.isoformat(), length=32)


class DetectorPrecision(BaseModel):
    """How often a detector's warnings turned out real."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str
    true_alarms: int = Field(ge=0)
    false_alarms: int = Field(ge=0)
    precision: float | None = Field(description="true / (true + false); None before any outcome")
    mean_resolve_seconds: float | None = Field(
        description="Mean time from the warning entering the queue to its resolution, over true alarms"
    )
