"""The series detector contract shared by every univariate model.

A series detector sees one series (one sensor's metric, one benchmark CSV) in time order. For
each point it returns a score in [0, 1] computed from that point and the points before it
only, then learns from it: appending future points never changes past scores. Thresholds are
not its business; the event-level detectors and the grader decide what score is a signal.

State can be saved and restored (a restarted worker resumes without a cold start), and a whole
array can be scored at once for throughput; both must give exactly what `update` gives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

import numpy as np


class SeriesDetector(ABC):
    """Score-then-learn over one time-ordered univariate series."""

    #: Registry name used in config and by `riskwatch score --detector`.
    name: str = ""

    @abstractmethod
    def update(self, ts: datetime, value: float) -> float:
        """Score `value` at `ts` against the past, then learn it; return the score in [0, 1]."""

    def score_series(self, ts: list[datetime], values: np.ndarray) -> np.ndarray:
        """Scores of a whole series in order; the same numbers `update` gives one by one.

        Subclasses may override this with a vectorised version for speed.
        """
        return np.array([self.update(t, float(v)) for t, v in zip(ts, values, strict=True)], dtype=float)

    @abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Everything needed to resume: JSON-serialisable or picklable plain data."""

    @abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from `get_state()` output."""

    @property
    def warmed_up(self) -> bool:
        """Whether scores are meaningful yet (before that `update` returns 0)."""
        return True
