"""What a report reads from the store: warnings, transitions, escalations and detector outcomes.

These are the report's own input models, filled by `queries.py`, so the arithmetic in
`metrics.py` runs on plain values and can be tested without a database.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from riskwatch.contracts import Level, WarningStatus

__all__ = ["EscalationFact", "PrecisionRow", "ReportData", "TransitionFact", "WarningFact"]


class _Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class WarningFact(_Fact):
    """One warning as a report counts it; `raised_at` is when it entered the disposal queue."""

    warning_id: str
    level: Level
    category: str
    category_name: str
    region_code: str
    region_name: str
    district_code: str
    department: str | None
    raised_at: AwareDatetime

    @property
    def street_code(self) -> str | None:
        """The 9-digit street the warning lies in, or None for a district-wide one."""
        return self.region_code[:9] if len(self.region_code) >= 9 else None


class TransitionFact(_Fact):
    """One lifecycle step of a warning."""

    warning_id: str
    from_status: WarningStatus
    to_status: WarningStatus
    at: AwareDatetime


class EscalationFact(_Fact):
    """One missed deadline that escalated a warning."""

    warning_id: str
    deadline: Literal["acknowledge", "resolve"]
    at: AwareDatetime


class PrecisionRow(_Fact):
    """A detector's record on judged outcomes (true vs false alarms)."""

    detector: str
    true_alarms: int
    false_alarms: int
    precision: float | None
    mean_resolve_seconds: float | None


class ReportData(_Fact):
    """Everything between `start` and `end` that a report and its comparison period need.

    `warnings` holds every warning raised in the window and every older one that a
    transition or escalation in the window refers to.
    """

    start: AwareDatetime
    end: AwareDatetime
    warnings: dict[str, WarningFact]
    transitions: tuple[TransitionFact, ...] = ()
    escalations: tuple[EscalationFact, ...] = ()
    precision: tuple[PrecisionRow, ...] = ()
