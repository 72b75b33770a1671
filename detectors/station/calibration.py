"""Raw model score → [0, 1] against the training scores, with a tail that does not depend on their number.

Up to the 99th percentile of the training scores (the knee), a raw score maps to its mid-rank
fraction among them (interpolated, stretched so the knee maps to 0.99). Beyond the knee the last 0.01 closes as
z / (1 + z), z being the excess over the knee in units of (knee − median). So a score of 0.995
means "as far beyond the 99th percentile of normal as that percentile is beyond the median",
for any model and any number of training rows — unlike a tail starting at the largest training
score (the univariate `_Calibrator`), whose level moves with the number of rows: a refit on a
longer window, or a station with a longer warm-up, would then make one threshold mean something
else. Only element-wise operations, so a score is the same alone or in a batch.

>>> import numpy as np
>>> c = TailCalibrator(np.arange(101.0))  # median 50, knee 99
>>> c(np.array([50.0, 99.0, 148.0])).round(4).tolist()
[0.5025, 0.99, 0.995]
"""

from __future__ import annotations

import numpy as np

#: Training-score quantile where the empirical part ends and the tail begins.
KNEE = 0.99


class TailCalibrator:
    """Calibrate raw scores against a model's scores of its training rows."""

    def __init__(self, train_scores: np.ndarray) -> None:
        s = np.sort(np.asarray(train_scores, dtype=float)[np.isfinite(train_scores)])
        if s.size == 0:
            raise ValueError("no finite training scores to calibrate against")
        self.xp, counts = np.unique(s, return_counts=True)
        self.fp = (np.cumsum(counts) - counts / 2.0) / s.size
        self.knee = float(np.quantile(s, KNEE))
        median = float(np.median(s))
        # stretch the empirical part so the knee itself maps to KNEE: the score is continuous there;
        # not when most training scores tie at the knee (a station flat in training): they stay mid-rank
        at_knee = float(np.interp(self.knee, self.xp, self.fp))
        self.stretch = KNEE / at_knee if self.knee > median and at_knee > 0 else 1.0
        spread = self.knee - median
        self.tail = max(spread, 1e-9 * max(1.0, abs(self.knee)))

    def excess(self, raw: np.ndarray) -> np.ndarray:
        """z of each raw score: its excess over the knee in units of (knee − median); 0 at or below the knee."""
        raw = np.where(np.isnan(raw), -np.inf, np.asarray(raw, dtype=float))
        return np.maximum(raw - self.knee, 0.0) / self.tail

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.where(np.isnan(raw), -np.inf, np.asarray(raw, dtype=float))
        inside = np.minimum(np.interp(raw, self.xp, self.fp, left=0.0, right=1.0) * self.stretch, KNEE)
        z = np.maximum(raw - self.knee, 0.0) / self.tail
        beyond = KNEE + (1.0 - KNEE) * (z / (1.0 + z))
        return np.minimum(np.maximum(np.where(raw > self.knee, beyond, inside), 0.0), 1.0)
