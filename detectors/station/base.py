"""The station detector contract: several channels of one site (a pump station, a gas regulator
station, a bridge) scored jointly, row by row.

A row holds one value per channel at one time (NaN where a channel has no reading yet). For each
row the detector returns a score in [0, 1] computed from that row and the rows before it only,
whether the score crosses the detector's own threshold (no labels are ever used), and how much
each channel contributed, so that a warning can name the channels that moved. Then it learns the
row: appending future rows never changes past results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StationScore:
    """What a station detector says about one row."""

    score: float
    """In [0, 1]; 0 while warming up."""
    is_anomaly: bool
    """The detector's own decision: the score reached its threshold (and, with hysteresis, has not
    yet fallen below its release level, nor settled well below the episode's peak)."""
    contributions: dict[str, float] = field(default_factory=dict)
    """Channel → its share of the row's deviation (non-negative, summing to 1 when any is > 0)."""

    def top_channels(self, k: int = 3, min_share: float = 0.1) -> list[str]:
        """The channels that contributed most, largest first (at most `k`, each ≥ `min_share`)."""
        ranked = sorted(self.contributions.items(), key=lambda item: (-item[1], item[0]))
        return [name for name, share in ranked[:k] if share >= min_share]


class StationDetector(ABC):
    """Score-then-learn over the time-ordered rows of one station's channels."""

    #: Registry name used in config and by `riskwatch score --station --detector`.
    name: str = ""

    def __init__(self, channels: Sequence[str]) -> None:
        if not channels:
            raise ValueError("a station needs at least one channel")
        if len(set(channels)) != len(channels):
            raise ValueError(f"channel names must be unique, got {list(channels)}")
        self.channels: tuple[str, ...] = tuple(channels)

    @abstractmethod
    def update(self, ts: datetime, row: np.ndarray) -> StationScore:
        """Score `row` (one value per channel, NaN for none) at `ts` against the past, then learn it."""

    def score_frame(self, ts: Sequence[datetime], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores and flags of a whole frame (n rows × channels) in order: what `update` gives row by row.

        Subclasses may override this with a vectorised version; it must give the same numbers.
        """
        if rows.ndim != 2 or rows.shape[1] != len(self.channels):
            raise ValueError(f"expected rows of {len(self.channels)} channels, got shape {rows.shape}")
        results = [self.update(t, row) for t, row in zip(ts, rows, strict=True)]
        return (
            np.array([r.score for r in results], dtype=float),
            np.array([r.is_anomaly for r in results], dtype=bool),
        )

    @abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Everything needed to resume: picklable plain data."""

    @abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from `get_state()` output."""

    @property
    def warmed_up(self) -> bool:
        """Whether scores are meaningful yet (before that `update` returns 0 and no anomaly)."""
        return True
