"""What the command center did to a warning: one lifecycle move (topic `riskwatch.feedback`).

The store records a `Transition` for every move; each is published on `riskwatch.feedback` as
a `Feedback`, which the worker uses to tell the grader and to credit detectors with outcomes.
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from riskwatch.contracts.base import Record
from riskwatch.contracts.ids import stable_id
from riskwatch.contracts.warning import WarningStatus


class Transition(Record):
    """One applied lifecycle move: who made it, when and why."""

    warning_id: str
    from_status: WarningStatus
    to_status: WarningStatus
    actor: str = Field(description="Token name, or 'system' for moves the pipeline makes itself")
    role: str
    reason: str
    at: AwareDatetime


class Feedback(Record):
    """One command-center action on a warning (payload of the `riskwatch.feedback` topic)."""

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
