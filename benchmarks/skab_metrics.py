"""The SKAB leaderboard metrics, written here from the definitions in SKAB's evaluation library `tsad`.

SKAB (waico/SKAB) scores its leaderboard with ``tsad.evaluating.chp_score`` (a copy lives in
SKAB's ``core/metrics.py``); its notebooks call it on the test part of every file (every row
after the first 400) as::

    chp_score(true_outlier, predicted_outlier, metric="binary")
    chp_score(true_cp, predicted_cp, metric="nab", window_width="60s", anomaly_window_destination="righter")

What that computes, and what this module reproduces:

* **binary** — the confusion counts are summed over all files (so files weigh by their length),
  then ``F1 = TP / (TP + (FN + FP) / 2)``, ``FAR = 100 * FP / (FP + TN)`` and
  ``MAR = 100 * FN / (FN + TP)`` (per cent); tsad rounds them to 2 decimals, we do not.
* **nab** — every labelled changepoint at time ``t`` opens a detection window ``[t, t + 60 s]``
  (``righter``, both ends included); when a window reaches into the next one, the next one starts
  where this one ends (tsad's default ``intersection_mode="cut right window"``). Per window, the
  first detection inside earns ``A_TP`` at the window's start falling to ``A_FP`` at its end along
  a tanh curve (tsad's "improved" scale function, ``koef=1``: position quantised to 1000 steps,
  ``y = (A_TP - A_FP) / 2 * (1 - tanh(x) / tanh(pi / 2)) + A_FP`` for ``x`` from ``-pi/2`` to
  ``pi/2``); later detections in a window cost nothing; a window without a detection costs
  ``A_FN``; every detection outside all windows costs a flat ``A_FP``. Scores, null scores
  (``A_FN`` per window) and perfect scores (``A_TP`` per window) are summed over files and
  normalised to 0 (null) … 100 (perfect), with the profiles of `nab_common`.

Detected changepoints: SKAB's notebooks take ``abs(prediction.diff())`` (with the first row's
flag kept), i.e. both the first row of each flagged run and the row after it ends — SKAB's
labels mark onsets and ends (and phase changes inside an anomaly) alike. This harness reports NAB
from the **starts of flagged runs** (`run_starts`, an alarm is raised once when a run begins) and,
for comparison with the published table, from SKAB's transitions (`transitions`).

Range metrics come from TSB-AD (``TSB-AD==1.5``, installed with ``--no-deps``; only its
``TSB_AD.evaluation.basic_metrics`` is imported, which needs numpy and scikit-learn):
**VUS-PR** is the ``avg_ap_3d`` output of its ``generate_curve`` (the range-PR area averaged over
buffer widths 0…window) and **R-AUC-PR** the ``AP_range`` of ``basic_metricor().RangeAUC(...,
AUC_type="window", plot_ROC=True)`` at one buffer width. Labels must be passed as integers:
``range_convers_new`` takes ``np.diff`` of them, which numpy 2 refuses for booleans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from nab_common import PROFILES, normalised

TSB_AD_INSTALL = "pip install --no-deps TSB-AD==1.5"

#: tsad's scale function samples the window at this many positions.
NAB_STEPS = 1000


# --------------------------------------------------------------------------------------------
# binary (outlier detection)


@dataclass(frozen=True)
class Confusion:
    """Row counts of one flagging against the labels (summed over files when added)."""

    tp: int = 0
    tn: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(self.tp + other.tp, self.tn + other.tn, self.fp + other.fp, self.fn + other.fn)


def confusion(labels: np.ndarray, flags: np.ndarray) -> Confusion:
    """TP, TN, FP, FN of ``flags`` against ``labels`` (both 0/1 per row)."""
    y = np.asarray(labels).astype(bool)
    p = np.asarray(flags).astype(bool)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and flags {p.shape} differ in shape")
    return Confusion(int(np.sum(y & p)), int(np.sum(~y & ~p)), int(np.sum(~y & p)), int(np.sum(y & ~p)))


@dataclass(frozen=True)
class Binary:
    """SKAB's outlier-detection figures: F1, false-alarm rate and missed-alarm rate (per cent)."""

    f1: float
    far: float
    mar: float
    counts: Confusion


def binary_metrics(counts: Confusion) -> Binary:
    """F1, FAR % and MAR % as tsad computes them from summed counts (NaN where a denominator is 0)."""
    f1_den = counts.tp + (counts.fn + counts.fp) / 2
    f1 = counts.tp / f1_den if f1_den else math.nan
    far = 100.0 * counts.fp / (counts.fp + counts.tn) if counts.fp + counts.tn else math.nan
    mar = 100.0 * counts.fn / (counts.fn + counts.tp) if counts.fn + counts.tp else math.nan
    return Binary(f1, far, mar, counts)


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(best F1, its threshold) over every distinct score, flagging ``score >= threshold``.

    Uses the labels to choose the threshold, so the F1 is an oracle (an upper bound for any
    threshold fixed in advance). Flagging nothing (threshold above every score) scores 0.
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        return 0.0, math.inf
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    tp = np.cumsum(y[order])
    fp = np.cumsum(~y[order])
    last_of_value = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # all rows with that score are flagged together
    tp, fp, thr = tp[last_of_value], fp[last_of_value], s_sorted[last_of_value]
    fn = int(y.sum()) - tp
    f1 = tp / np.maximum(tp + (fn + fp) / 2, 1e-12)
    best = int(np.argmax(f1))
    if f1[best] <= 0:
        return 0.0, math.inf
    return float(f1[best]), float(thr[best])


# --------------------------------------------------------------------------------------------
# detected changepoints


def run_starts(flags: np.ndarray) -> np.ndarray:
    """True at the first row of every run of flagged rows (a flagged first row starts a run)."""
    f = np.asarray(flags).astype(bool)
    out = f.copy()
    out[1:] &= ~f[:-1]
    return out


def transitions(flags: np.ndarray) -> np.ndarray:
    """SKAB's detected changepoints: ``abs(diff)`` of the flags with the first row's flag kept.

    True at each run's first row and at the row after each run ends.
    """
    f = np.asarray(flags).astype(int)
    out = np.zeros(f.shape, dtype=bool)
    if f.size:
        out[0] = bool(f[0])
        out[1:] = np.diff(f) != 0
    return out


# --------------------------------------------------------------------------------------------
# NAB (changepoint detection), SKAB's variant


def nab_windows(changepoint_times: np.ndarray, width: float) -> list[tuple[float, float]]:
    """``[t, t + width]`` after each changepoint time (seconds), a window cut where the previous ends."""
    windows: list[tuple[float, float]] = []
    for t in np.sort(np.asarray(changepoint_times, dtype=float)):
        start, end = float(t), float(t) + width
        if windows and windows[-1][1] >= start:
            start = windows[-1][1]
        windows.append((start, end))
    return windows


def tp_reward(detected: float, start: float, end: float, a_tp: float, a_fp: float) -> float:
    """What the first detection at ``detected`` in ``[start, end]`` earns: ``a_tp`` at the start, ``a_fp`` at the end."""
    step = int((detected - start) / (end - start) * NAB_STEPS) if end > start else 0
    step = min(max(step, 0), NAB_STEPS - 1)
    x = -math.pi / 2 + math.pi * step / (NAB_STEPS - 1)
    return (a_tp - a_fp) / 2 * (1 - math.tanh(x) / math.tanh(math.pi / 2)) + a_fp


@dataclass(frozen=True)
class NabTally:
    """One file's (or a corpus's) detections against its windows: enough to score every profile."""

    positions: tuple[float, ...] = ()  # where in its window (0 = start, 1 = end) each detected window was first hit
    false_positives: int = 0
    missed: int = 0

    @property
    def windows(self) -> int:
        return len(self.positions) + self.missed

    def __add__(self, other: NabTally) -> NabTally:
        return NabTally(
            self.positions + other.positions, self.false_positives + other.false_positives, self.missed + other.missed
        )


def nab_tally(times: np.ndarray, changepoints: np.ndarray, detections: np.ndarray, width: float = 60.0) -> NabTally:
    """Count one file: ``times`` in seconds, ``changepoints`` and ``detections`` 0/1 per row."""
    t = np.asarray(times, dtype=float)
    windows = nab_windows(t[np.asarray(changepoints).astype(bool)], width)
    detected_at = np.sort(t[np.asarray(detections).astype(bool)])
    inside = np.zeros(detected_at.shape, dtype=bool)
    positions: list[float] = []
    missed = 0
    for start, end in windows:
        hit = (detected_at >= start) & (detected_at <= end)
        inside |= hit
        if hit.any():
            first = float(detected_at[hit][0])
            positions.append((first - start) / (end - start) if end > start else 0.0)
        else:
            missed += 1
    return NabTally(tuple(positions), int((~inside).sum()), missed)


def nab_scores(tally: NabTally) -> dict[str, float]:
    """Normalised NAB score per profile (0 = null detector, 100 = perfect) of a corpus tally."""
    out: dict[str, float] = {}
    for profile, (a_tp, a_fp, a_fn) in PROFILES.items():
        raw = a_fp * tally.false_positives + a_fn * tally.missed
        raw += sum(tp_reward(p, 0.0, 1.0, a_tp, a_fp) for p in tally.positions)
        out[profile] = normalised(raw, a_fn * tally.windows, a_tp * tally.windows)
    return out


# --------------------------------------------------------------------------------------------
# range metrics (TSB-AD)


class TsbAdMissing(RuntimeError):
    """TSB-AD's metrics module is not installed."""


def _tsb_ad() -> tuple[Any, Any]:
    """TSB-AD's ``basic_metricor`` and ``generate_curve``, or a clear error saying how to install them."""
    try:
        from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
    except ImportError as exc:
        raise TsbAdMissing(
            f"VUS-PR and R-AUC-PR need TSB-AD's metrics; install them with `{TSB_AD_INSTALL}` "
            f"(--no-deps: only numpy and scikit-learn are needed, not torch) ({exc})"
        ) from exc
    return basic_metricor, generate_curve


def require_tsb_ad() -> None:
    """Fail early (`TsbAdMissing`) when TSB-AD's metrics cannot be imported."""
    _tsb_ad()


def _checked(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {s.shape} must be equal 1-d shapes")
    return y, s


def range_pr(labels: np.ndarray, scores: np.ndarray, window: int) -> tuple[float, float]:
    """(VUS-PR, R-AUC-PR) from one TSB-AD ``generate_curve`` volume over label buffers 0…``window`` rows.

    VUS-PR is the volume's mean range-PR area (``avg_ap_3d``). R-AUC-PR is the range-PR area of
    the volume's last slice (buffer = ``window``), summed the way TSB-AD sums each slice. Not
    ``basic_metricor().RangeAUC``: in TSB-AD 1.5 it raises ZeroDivisionError for any buffer > 0
    (its second ``range_convers_new`` finds ranges only where the label steps by exactly 1, and
    ``RangeAUC`` hands it labels already extended with fractional ramps, so it finds none).
    """
    _, generate_curve = _tsb_ad()
    y, s = _checked(labels, scores)
    if not y.any():
        return math.nan, math.nan
    _, _, tpr, _, precision, _, _, avg_ap = generate_curve(y, s, window)
    tpr_w = np.asarray(tpr).reshape(window + 1, -1)[-1]
    precision_w = np.asarray(precision).reshape(window + 1, -1)[-1]
    r_auc_pr = float(np.dot(tpr_w[1:-1] - tpr_w[:-2], precision_w[1:]))
    return float(avg_ap), r_auc_pr


def concat(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The per-file arrays end to end (SKAB scores the test parts of all files as one)."""
    return np.concatenate(list(parts)) if parts else np.array([])
