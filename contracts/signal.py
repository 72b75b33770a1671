"""A detector's finding (topic `riskwatch.signals`)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import AwareDatetime, Field

from riskwatch.contracts.base import Record
from riskwatch.contracts.raw import Source


class SignalKind(str, Enum):
    """What a detector saw."""

    anomaly = "anomaly"
    surge = "surge"
    threshold = "threshold"
    burst = "burst"
    health = "health"  # sensor faults: for maintenance, not for the command center


class Signal(Record):
    """A detector's finding: scored, compared with an expectation and explained."""

    signal_id: str
    detector: str
    kind: SignalKind
    source: Source
    region_code: str
    district_code: str
    category: str
    at: AwareDatetime = Field(description="Event time of the observation that raised it")
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    observed: float
    expected: float | None = None
    reason: str
    hard_rule: str | None = Field(default=None, description="Name of a hard rule that fired, if any")
    evidence: tuple[str, ...] = Field(default=(), description="Event ids behind the signal")
    warming: bool = Field(
        default=False,
        description=(
            "Raised while its detector, or the series it judged, was still warming up (too little history to "
            "trust alone): it corroborates other evidence but never raises a warning on its own"
        ),
    )
