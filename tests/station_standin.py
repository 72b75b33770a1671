"""A small station model for tests, registered under the config's model name by the tests that need it.

The real station models (PyOD) live on their own branch; this stand-in keeps the station tests
independent of them. It scores a row by its channels' robust z-scores against the warm-up rows:
the median and MAD of each channel over the first `warmup` rows, fixed after that. Contributions
are each channel's share of the summed |z|; a row is anomalous when the root mean square of the
z-scores reaches `threshold` in `onset_rows` rows in a row (and stays anomalous while it does).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np

from riskwatch.detectors.station.base import StationDetector, StationScore
from riskwatch.detectors.station.registry import STATION_DETECTORS

#: "module:Class" of the stand-in, for `STATION_DETECTORS.register`.
TARGET = "tests.station_standin:RobustZStation"


class RobustZStation(StationDetector):
    """Robust z-scores of each channel against the warm-up rows."""

    name = "robust_z_standin"

    def __init__(self, channels: Sequence[str], warmup: int = 288, threshold: float = 4.0, onset_rows: int = 1) -> None:
        super().__init__(channels)
        if warmup < 3 or threshold <= 0 or onset_rows < 1:
            raise ValueError(
                f"warmup must be at least 3, threshold positive and onset_rows at least 1, got {warmup}, {threshold}, {onset_rows}"
            )
        self.warmup, self.threshold, self.onset_rows = warmup, threshold, onset_rows
        self._above = 0
        self._rows: list[list[float]] = []
        self._centre: np.ndarray | None = None
        self._scale: np.ndarray | None = None

    @property
    def warmed_up(self) -> bool:
        return self._centre is not None

    def update(self, ts: datetime, row: np.ndarray) -> StationScore:
        if self._centre is None or self._scale is None:
            self._rows.append([float(v) for v in row])
            if len(self._rows) >= self.warmup:
                seen = np.array(self._rows, dtype=float)
                self._centre = np.nanmedian(seen, axis=0)
                mad = np.nanmedian(np.abs(seen - self._centre), axis=0)
                self._scale = np.maximum(1.4826 * mad, 1e-9 + 1e-6 * np.abs(self._centre))
                self._rows = []
            return StationScore(0.0, False, {})
        z = np.abs(row - self._centre) / self._scale
        z = np.where(np.isnan(z), 0.0, z)
        present = max(1, int(np.sum(~np.isnan(row))))
        rms = float(np.sqrt(np.sum(z**2) / present))
        total = float(np.sum(z))
        shares = {c: (float(v) / total if total > 0 else 0.0) for c, v in zip(self.channels, z, strict=True)}
        score = 1.0 - 0.5 ** (rms / self.threshold)
        self._above = self._above + 1 if rms >= self.threshold else 0
        return StationScore(round(score, 4), self._above >= self.onset_rows, shares)

    def get_state(self) -> dict[str, Any]:
        return {
            "rows": [list(r) for r in self._rows],
            "centre": None if self._centre is None else self._centre.tolist(),
            "scale": None if self._scale is None else self._scale.tolist(),
            "above": self._above,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._rows = [list(r) for r in state["rows"]]
        self._centre = None if state["centre"] is None else np.array(state["centre"], dtype=float)
        self._scale = None if state["scale"] is None else np.array(state["scale"], dtype=float)
        self._above = int(state.get("above", 0))


@contextmanager
def registered(name: str = "station") -> Iterator[None]:
    """The stand-in registered under `name` for the duration (restored afterwards)."""
    previous = STATION_DETECTORS.get(name)
    STATION_DETECTORS.register(name, TARGET)
    try:
        yield
    finally:
        if previous is None:
            STATION_DETECTORS.unregister(name)
        else:
            STATION_DETECTORS.register(name, previous)
