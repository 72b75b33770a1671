"""Which rows of a PyOD training window a refit learns from: the window minus what looked anomalous.

Each row keeps the calibrated score it got when it was scored (the largest over the bank's
models; 0 before the first fit). A calibrated model puts a share of about 1 − q of normal rows
at or above level q, so a window of n rows is expected to hold (1 − q)·n such rows. At a refit,
only the excess over that count is left out, highest scores first: an episode longer than the
refit interval is not learned as normal and keeps scoring high after the refit, while a window
of normal rows keeps its tail. (Leaving out every row at or above q would trim the normal tail
at each refit; the next model, fitted without it, would put more normal rows above q, and the
trimming would grow with every refit.)

If fewer than `min_keep` of the window's rows would remain (at least `min_rows`), the whole
window is used: a lasting change that fills most of the window is then the new normal, and the
model follows it rather than flagging it forever.
"""

from __future__ import annotations

import math

import numpy as np

#: Default level: a row scored at or above it (beyond 99% of the last fit's training scores) is not learned.
DEFAULT_EXCLUDE_ABOVE = 0.99
#: Default share of the window that must remain after exclusion, else the plain window is used.
DEFAULT_MIN_KEEP = 0.5


def training_mask(scores: np.ndarray, exclude_above: float | None, min_keep: float, min_rows: int) -> np.ndarray:
    """Boolean mask of the window's rows to fit on, given the score each row got when it was scored."""
    scores = np.asarray(scores, dtype=float)
    n = scores.shape[0]
    keep = np.ones(n, dtype=bool)
    if exclude_above is None:
        return keep
    excess = int(np.count_nonzero(scores >= exclude_above)) - math.floor((1.0 - exclude_above) * n)
    if excess <= 0:
        return keep
    keep[np.argsort(-scores, kind="stable")[:excess]] = False
    if n - excess < max(min_rows, math.ceil(min_keep * n)):
        return np.ones(n, dtype=bool)
    return keep


def check_exclusion(exclude_above: float | None, min_keep: float) -> None:
    """Fail early on levels outside (0, 1] or a kept share outside [0, 1]."""
    if exclude_above is not None and not 0.0 < exclude_above <= 1.0:
        raise ValueError(f"exclude_above must be in (0, 1] or None, got {exclude_above}")
    if not 0.0 <= min_keep <= 1.0:
        raise ValueError(f"exclude_min_keep must be in [0, 1], got {min_keep}")


class TrainingWindow:
    """The last `capacity` feature rows and the score each got, oldest first, in two fixed arrays.

    A ring over one preallocated (capacity × features) float64 block and one score array, so a
    full window costs its numbers and nothing per row (a deque of row arrays and a deque of
    Python floats cost ~150 bytes more per row: at 10,000 sensors × 576 rows, ~0.9 GB).
    `rows()` and `scores()` give chronological copies, exactly what the deques gave.
    """

    __slots__ = ("capacity", "_rows", "_scores", "_start", "_len")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._rows: np.ndarray | None = None  # allocated on the first rows, when their width is known
        self._scores = np.zeros(capacity)
        self._start = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def extend(self, rows: np.ndarray, scores: np.ndarray) -> None:
        """Append rows (k × features) with their scores; the oldest fall out beyond `capacity`."""
        rows = np.asarray(rows, dtype=float)
        scores = np.asarray(scores, dtype=float)
        if rows.shape[0] != scores.shape[0]:
            raise ValueError(f"{rows.shape[0]} rows but {scores.shape[0]} scores")
        rows, scores = rows[-self.capacity :], scores[-self.capacity :]
        k = rows.shape[0]
        if k == 0:
            return
        if self._rows is None or self._rows.shape[1] != rows.shape[1]:
            if self._len:
                raise ValueError(f"rows of {rows.shape[1]} features after rows of {self._rows.shape[1]}")  # type: ignore[union-attr]
            self._rows = np.empty((self.capacity, rows.shape[1]))
        at = (self._start + self._len + np.arange(k)) % self.capacity
        self._rows[at] = rows
        self._scores[at] = scores
        total = self._len + k
        if total > self.capacity:
            self._start = (self._start + total - self.capacity) % self.capacity
            total = self.capacity
        self._len = total

    def append(self, row: np.ndarray, score: float) -> None:
        """`extend` by one row (the streaming path)."""
        if self._rows is None or self._rows.shape[1] != row.shape[0]:
            self.extend(row[None, :], np.array([score]))
            return
        at = self._start + self._len
        if at >= self.capacity:
            at -= self.capacity
        self._rows[at] = row
        self._scores[at] = score
        if self._len == self.capacity:
            self._start = at + 1 if at + 1 < self.capacity else 0
        else:
            self._len += 1

    def _order(self) -> np.ndarray:
        return (self._start + np.arange(self._len)) % self.capacity

    def rows(self) -> np.ndarray:
        """The rows, oldest first (a copy); (0, 0) when empty."""
        if self._rows is None or not self._len:
            return np.empty((0, 0))
        return self._rows[self._order()]

    def scores(self) -> np.ndarray:
        """The scores of `rows()`, in the same order (a copy)."""
        return self._scores[self._order()]
