"""Combining calibrated scores of several detectors into one.

Every function takes `scores` of shape (n_points, n_detectors), each column already on the
common [0, 1] scale, and returns one score per point. Each point's result depends on its own
row only, so combining a whole series at once gives the numbers combining point by point gives.

>>> import numpy as np
>>> s = np.array([[0.2, 0.9, 0.4, 0.5]])
>>> float(average(s)[0]), float(maximum(s)[0]), float(median(s)[0])
(0.5, 0.9, 0.45)
>>> float(average_of_maximum(s, n_buckets=2)[0])  # max(0.2, 0.9) and max(0.4, 0.5), averaged
0.7
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _matrix(scores: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    m = np.ascontiguousarray(scores, dtype=float)
    if m.ndim != 2 or m.shape[1] == 0:
        raise ValueError(f"scores must be (n_points, n_detectors) with at least one detector, got shape {m.shape}")
    return m


def average(scores: np.ndarray, weights: Sequence[float] | None = None) -> np.ndarray:
    """Mean of the detectors' scores, optionally weighted (weights need not sum to 1)."""
    m = _matrix(scores)
    if weights is None:
        return np.add.reduce(m, axis=1) / m.shape[1]
    w = np.asarray(weights, dtype=float)
    if w.shape != (m.shape[1],) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"need {m.shape[1]} non-negative weights with a positive sum, got {list(w)}")
    return np.add.reduce(m * (w / w.sum()), axis=1)


def maximum(scores: np.ndarray) -> np.ndarray:
    """The most alarmed detector's score."""
    return np.maximum.reduce(_matrix(scores), axis=1)


def median(scores: np.ndarray) -> np.ndarray:
    """Median of the detectors' scores: one detector alone can neither raise nor hide a point."""
    return np.median(_matrix(scores), axis=1)


def average_of_maximum(scores: np.ndarray, n_buckets: int = 2) -> np.ndarray:
    """Split the detectors, in order, into `n_buckets` groups; average the groups' maxima.

    Between `average` (n_buckets = n_detectors) and `maximum` (n_buckets = 1): a group fires if
    any of its detectors does, and the groups vote.
    """
    m = _matrix(scores)
    if not 1 <= n_buckets <= m.shape[1]:
        raise ValueError(f"n_buckets must be between 1 and the {m.shape[1]} detectors, got {n_buckets}")
    bounds = np.linspace(0, m.shape[1], n_buckets + 1).round().astype(int)
    maxima = np.column_stack([np.maximum.reduce(m[:, a:b], axis=1) for a, b in zip(bounds[:-1], bounds[1:])])
    return average(maxima)


COMBINERS: dict[str, Callable[..., np.ndarray]] = {
    "average": average,
    "maximum": maximum,
    "median": median,
    "aom": average_of_maximum,
}


def combine(method: str, scores: np.ndarray, **options: Any) -> np.ndarray:
    """Combine by name: one of `COMBINERS` ("average", "maximum", "median", "aom")."""
    try:
        func = COMBINERS[method]
    except KeyError as exc:
        raise ValueError(f"unknown combination {method!r}; known: {sorted(COMBINERS)}") from exc
    return func(scores, **options)
