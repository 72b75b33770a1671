"""Crediting a warning's outcome to the detectors whose signals raised it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from riskwatch.contracts import WarningStatus

__all__ = ["DetectorPrecision", "Outcome", "outcome_of", "resolve_seconds", "signals_by_detector"]


def signals_by_detector(signals: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Signal ids of a warning grouped by the detector that emitted them, in first-seen order."""
    grouped: dict[str, list[str]] = {}
    for signal in signals:
        ids = grouped.setdefault(str(signal["detector"]), [])
        signal_id = str(signal["signal_id"])
        if signal_id not in ids:
            ids.append(signal_id)
    return grouped


def resolve_seconds(raised_at: datetime | None, settled_at: datetime) -> float | None:
    """Seconds from the warning entering the queue to its outcome; None if the start is unknown."""
    if raised_at is None:
        return None
    return max(0.0, (settled_at - raised_at).total_seconds())


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
