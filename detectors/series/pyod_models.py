"""PyOD models as streaming series detectors: windowed features in, calibrated score out.

Each point becomes a feature row (`FeatureWindow`: value, differences, rolling statistics,
profile residuals, time since change). A PyOD model is fitted on a window of recent rows on a
schedule — first after `warmup` points, then every `refit_every` points on the last
`train_window` rows — never per point. Until the first fit a point scores 0. Between fits,
each point is scored by the model fitted before it, then joins the training window.

Raw PyOD scores are on each model's own scale, so they are calibrated against the scores of
the training rows: a point scores the fraction of training scores below its raw score (ties
counting half, interpolated between training scores), and beyond the largest training score the
remaining gap to 1 closes smoothly with the distance, measured in the spread of the upper half
of training scores. A score of 0.99 means "above 99% of what this model saw as normal",
whichever model produced it.

Features are scaled robustly (median and interquartile range of the training window) before
fitting and scoring. Fitting is seeded, so a run is reproducible, and the fitted models go into
`get_state()` (pickled), so a restored detector gives exactly the scores the original would.

PyOD (and scikit-learn, scipy, numba under it) is imported only when a model is built.

Two PyOD behaviours the adapter works around, so that scoring a series at once gives exactly
the scores of point-by-point updates:

- ECOD and COPOD score a batch *transductively*: `decision_function(X)` ranks the whole batch
  together with the training data, so a point's score depends on the other points in the
  batch (and one call costs milliseconds). Here each point is scored against the training
  rows plus itself alone — what PyOD's `decision_function` gives for a single row — from
  sorted training columns, which is also fast for a batch. PyOD's own `fit` of these two
  (which scores the whole training batch that way) is not needed and skipped.
- Isolation forest scoring through scikit-learn costs ~20 ms per call whatever the batch
  size; here the fitted trees are walked with numpy (same leaves, same path lengths), which
  costs ~0.1 ms for one point.
KNN queries the fitted KD-tree directly (the same distances `decision_function` returns).
LOF and HBOS use PyOD's `decision_function`, which treats rows independently.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import math
import pickle
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import numpy as np

from riskwatch.detectors.series.base import SeriesDetector
from riskwatch.detectors.series.combine import COMBINERS, combine
from riskwatch.detectors.series.features import DEFAULT_WINDOWS, FeatureWindow
from riskwatch.detectors.series.training import (
    DEFAULT_EXCLUDE_ABOVE,
    DEFAULT_MIN_KEEP,
    TrainingWindow,
    check_exclusion,
    training_mask,
)

#: model name → (module, class) in PyOD.
PYOD_MODELS: dict[str, tuple[str, str]] = {
    "ecod": ("pyod.models.ecod", "ECOD"),
    "copod": ("pyod.models.copod", "COPOD"),
    "iforest": ("pyod.models.iforest", "IForest"),
    "hbos": ("pyod.models.hbos", "HBOS"),
    "knn": ("pyod.models.knn", "KNN"),
    "lof": ("pyod.models.lof", "LOF"),
}

#: Parameters each model gets unless overridden by `model_params`.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "ecod": {},
    "copod": {},
    "iforest": {"n_estimators": 100, "max_samples": "auto"},
    # Fixed bins run PyOD's numba kernel: it compiles for seconds on the first fit in a process, then
    # fits fast. n_bins="auto" (Birge-Rozenblac per feature) skips numba but fits ~10x slower.
    "hbos": {"n_bins": 10, "alpha": 0.1, "tol": 0.5},
    # A tree, not brute force: brute-force distances go through BLAS and can differ in the last
    # bit with the batch size, which would break "score a series = update one by one".
    "knn": {"n_neighbors": 10, "method": "mean", "algorithm": "kd_tree"},
    "lof": {"n_neighbors": 20, "algorithm": "kd_tree"},
}

#: Models whose scores of their own training rows leave the row itself out (neighbour-based).
_LEAVE_ONE_OUT = frozenset({"knn", "lof"})

#: Models scored from the training rows alone (`_EmpiricalCopula`): PyOD's own `fit`, which
#: scores every training row against the whole batch and is most of a refit's cost, is skipped.
_SCORED_FROM_ROWS = frozenset({"ecod", "copod"})

#: Fewest training rows a first fit may use.
MIN_TRAIN_ROWS = 16

_CHUNK_ROWS = 2048
_SCALED_CLIP = 1e6
_EPS = float(np.finfo(float).eps)


# --------------------------------------------------------------------------- building blocks


class _RobustScaler:
    """Centre by the median, divide by the interquartile range.

    A column whose IQR is zero falls back to its standard deviation (as an IQR); a column that
    was constant throughout training gets a scale of 0.1% of its value (at least 1e-6), so any
    change from that constant stands out as far as the clip at ±1e6 allows.
    """

    def __init__(self, x: np.ndarray) -> None:
        q25, q50, q75 = np.percentile(x, [25.0, 50.0, 75.0], axis=0)
        scale = q75 - q25
        tiny = 1e-12 * (1.0 + np.abs(q50))
        flat = scale <= tiny
        if flat.any():
            scale[flat] = 1.349 * x[:, flat].std(axis=0)  # the IQR of a normal with that std
            constant = scale <= tiny
            scale[constant] = np.maximum(1e-3 * np.abs(q50[constant]), 1e-6)
        self.center = q50
        self.scale = scale

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum((x - self.center) / self.scale, -_SCALED_CLIP), _SCALED_CLIP)


class _Calibrator:
    """Raw score → [0, 1] against a model's scores of its training rows.

    Up to the largest training score: its mid-rank among the training scores, (below + ties/2
    + 1/2) / (n + 1) — k / (n + 1) for the k-th of n distinct scores, 1/2 when all are tied —
    interpolated linearly between distinct training scores. Beyond the largest: the rest of the
    way to 1 as z / (1 + z), z being the excess over the largest score in units of
    (largest − median). Only + − × ÷, so a score is the same bit for bit whether computed alone
    or in a batch.
    """

    def __init__(self, train_scores: np.ndarray) -> None:
        s = np.sort(np.asarray(train_scores, dtype=float)[np.isfinite(train_scores)])
        if s.size == 0:
            raise ValueError("no finite training scores to calibrate against")
        self.xp, counts = np.unique(s, return_counts=True)
        self.fp = (np.cumsum(counts) - counts / 2.0 + 0.5) / (s.size + 1.0)
        self.top = float(self.fp[-1])
        self.high = float(self.xp[-1])
        spread = self.high - float(np.median(s))
        self.tail = max(spread, 1e-9 * max(1.0, abs(self.high)))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if raw.size == 1:  # one reading: the same arithmetic on a Python float, without array temporaries
            return np.array([self.one(float(raw.reshape(-1)[0]))]).reshape(raw.shape)
        raw = np.where(np.isnan(raw), -np.inf, raw)
        inside = np.interp(raw, self.xp, self.fp, left=0.0, right=self.top)
        z = np.maximum(raw - self.high, 0.0) / self.tail
        beyond = self.top + (1.0 - self.top) * (1.0 - 1.0 / (1.0 + z))
        return np.minimum(np.maximum(np.where(raw > self.high, beyond, inside), 0.0), 1.0)

    def one(self, raw: float) -> float:
        """`__call__` of a single raw score."""
        if raw > self.high:
            z = (raw - self.high) / self.tail
            return min(max(self.top + (1.0 - self.top) * (1.0 - 1.0 / (1.0 + z)), 0.0), 1.0)
        if math.isnan(raw):
            raw = -math.inf
        return min(max(float(np.interp(raw, self.xp, self.fp, left=0.0, right=self.top)), 0.0), 1.0)


class _DecisionFunction:
    """PyOD's own `decision_function` (for models that score rows independently)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.decision_function(x), dtype=float)


class _EmpiricalCopula:
    """ECOD / COPOD score of each row against the training rows plus that row alone.

    Matches PyOD's `decision_function` on a one-row batch: tail probabilities per feature from
    the empirical CDF of training ∪ {row} (ties count as at-or-below), −log of them, the tail
    picked by the sign of the skewness of training ∪ {row}, summed over features.

    A batch counts by binary search per column; one row (every streaming reading) is counted
    with a single search over all columns (`_counts_one`); the rest is the same array
    arithmetic either way, so a row scores the same bit for bit alone or in a batch.
    """

    def __init__(self, x_train: np.ndarray, kind: str) -> None:
        self.kind = kind
        self.n = x_train.shape[0]
        self.mu = x_train.mean(axis=0)
        y = x_train - self.mu
        self.c1 = y.sum(axis=0)
        self.c2 = (y * y).sum(axis=0)
        self.c3 = (y * y * y).sum(axis=0)
        self._build(np.sort(x_train, axis=0).T)

    def _build(self, sorted_cols: np.ndarray) -> None:
        """Keep the sorted training columns only as the one-row path's complex keys (see
        `_counts_one`); `sorted_cols` is a view into them, so the rows are held once."""
        d, n = sorted_cols.shape
        keys = np.empty((d, n), dtype=complex)
        keys.real = np.arange(d, dtype=float)[:, None]
        keys.imag = sorted_cols
        self._keys = keys.ravel()
        self.sorted_cols = keys.imag

    @property
    def neglog(self) -> np.ndarray:
        """−log(k / (n + 1)) for k = 1 … n + 1 rows at or beyond the value (the row itself included)."""
        return _neglog(self.n)

    def __getstate__(self) -> dict[str, Any]:
        # the keys and their view are derived: store the sorted columns once
        return {"kind": self.kind, "n": self.n, "mu": self.mu, "c1": self.c1, "c2": self.c2, "c3": self.c3,
                "sorted_cols": np.ascontiguousarray(self.sorted_cols)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in ("kind", "n", "mu", "c1", "c2", "c3"):
            setattr(self, name, state[name])
        self._build(np.asarray(state["sorted_cols"], dtype=float))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        m, d = x.shape
        if m == 1:  # the streaming path: one reading, counted with one search over all columns
            at_or_below, at_or_above = self._counts_one(x[0])
        else:
            at_or_below = np.empty((m, d), dtype=np.intp)
            at_or_above = np.empty((m, d), dtype=np.intp)
            for j in range(d):
                col = self.sorted_cols[j]
                at_or_below[:, j] = np.searchsorted(col, x[:, j], side="right")
                at_or_above[:, j] = self.n - np.searchsorted(col, x[:, j], side="left")
        u_left = self.neglog[at_or_below]
        u_right = self.neglog[at_or_above]
        # skewness sign of training ∪ {row}, from the training sums centred on their mean
        big_n = self.n + 1.0
        dx = x - self.mu
        shift = (self.c1 + dx) / big_n
        s2 = (self.c2 + dx * dx) / big_n
        m2 = s2 - shift * shift
        m3 = (self.c3 + dx * dx * dx) / big_n - 3.0 * shift * s2 + 2.0 * shift * shift * shift
        flat = m2 <= (_EPS * (self.mu + shift)) ** 2  # scipy's "nearly constant": skew undefined → 0
        sign = np.where(flat, 0.0, np.sign(m3))
        u_skew = np.where(sign < 0, u_left, np.where(sign > 0, u_right, u_left + u_right))
        if self.kind == "ecod":
            outlying = np.maximum(np.maximum(u_left, u_right), u_skew)
        else:
            outlying = np.maximum(u_skew, (u_left + u_right) / 2.0)
        return np.add.reduce(outlying, axis=1)

    def _counts_one(self, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training values at or below and at or above each of one row's values, as (1, d) arrays.

        One `searchsorted` per side over all columns at once: the training values as complex
        keys j + 1j·value, which numpy orders by column, then value (−0.0 equal to 0.0), so
        searching j + 1j·x_j lands exactly where searching column j for x_j would.
        """
        d, n = self.mu.shape[0], self.n
        queries = np.empty(d, dtype=complex)
        queries.real = np.arange(d, dtype=float)
        queries.imag = row
        start = np.arange(d) * n  # where each column's keys begin
        below = np.searchsorted(self._keys, queries, side="right") - start
        above = n - (np.searchsorted(self._keys, queries, side="left") - start)
        return below[None, :], above[None, :]


@functools.lru_cache(maxsize=64)
def _neglog(n: int) -> np.ndarray:
    """−log(k / (n + 1)) for k = 1 … n + 1, shared (read-only) by every model fitted on n rows."""
    table = -np.log(np.arange(1, n + 2, dtype=float) / (n + 1.0))
    table.flags.writeable = False
    return table


class _ForestWalk:
    """Isolation-forest score by walking scikit-learn's fitted trees with numpy.

    Same leaves as `tree.apply` (inputs compared as float32, as scikit-learn does), same path
    length per leaf (depth plus the average path length of the samples left in it), same
    transform to PyOD's score: 2 ** (−mean path / c(max_samples)) + offset.
    """

    def __init__(self, forest: Any) -> None:
        self.forest = forest
        trees = [est.tree_ for est in forest.estimators_]
        n_trees = len(trees)
        width = max(t.node_count for t in trees)
        self.left = np.zeros((n_trees, width), dtype=np.intp)
        self.right = np.zeros((n_trees, width), dtype=np.intp)
        self.feature = np.full((n_trees, width), -1, dtype=np.intp)
        self.threshold = np.zeros((n_trees, width))
        self.path = np.zeros((n_trees, width))
        for i, (tree, features) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
            k = tree.node_count
            leaf = tree.children_left[:k] < 0
            self.left[i, :k] = np.where(leaf, np.arange(k), tree.children_left[:k])
            self.right[i, :k] = np.where(leaf, np.arange(k), tree.children_right[:k])
            feats = np.asarray(tree.feature[:k], dtype=np.intp)
            if len(features) != forest.n_features_in_:  # trees fitted on a column subset
                feats = np.where(leaf, -1, np.asarray(features)[np.maximum(feats, 0)])
            self.feature[i, :k] = np.where(leaf, -1, feats)
            self.threshold[i, :k] = tree.threshold[:k]
            self.path[i, :k] = _node_depths(tree.children_left[:k], tree.children_right[:k]) + _average_path(
                tree.n_node_samples[:k].astype(float)
            )
        self.steps = max(t.max_depth for t in trees)
        self.denominator = n_trees * float(_average_path(np.array([float(forest.max_samples_)]))[0])
        self.offset = float(forest.offset_)

    def __getstate__(self) -> dict[str, Any]:
        return {"forest": self.forest}  # the flattened trees are rebuilt, not stored twice

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["forest"])  # type: ignore[misc]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape[0])
        for lo in range(0, x.shape[0], _CHUNK_ROWS):
            out[lo : lo + _CHUNK_ROWS] = self._score(x[lo : lo + _CHUNK_ROWS])
        return out

    def _score(self, x: np.ndarray) -> np.ndarray:
        x32 = x.astype(np.float32)
        m = x.shape[0]
        tree_ix = np.arange(self.left.shape[0])[None, :]
        row_ix = np.arange(m)[:, None]
        node = np.zeros((m, self.left.shape[0]), dtype=np.intp)
        for _ in range(self.steps):
            feat = self.feature[tree_ix, node]
            value = x32[row_ix, np.maximum(feat, 0)]
            go_left = value <= self.threshold[tree_ix, node]
            node = np.where(go_left, self.left[tree_ix, node], self.right[tree_ix, node])
        depth = np.add.reduce(np.ascontiguousarray(self.path[tree_ix, node]), axis=1)
        if self.denominator == 0:
            return np.ones(m) + self.offset
        return 2.0 ** (-depth / self.denominator) + self.offset


class _TreeNeighbours:
    """KNN distance score from the fitted KD/ball tree (PyOD's `decision_function` without the overhead)."""

    def __init__(self, tree: Any, n_neighbors: int, method: str) -> None:
        self.tree = tree
        self.k = n_neighbors
        self.method = method

    def __call__(self, x: np.ndarray) -> np.ndarray:
        dist, _ = self.tree.query(x, k=self.k)
        if self.method == "largest":
            return dist[:, -1]
        if self.method == "mean":
            return np.add.reduce(np.ascontiguousarray(dist), axis=1) / self.k
        return np.median(dist, axis=1)


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    depth = np.zeros(left.shape[0])
    for node in range(left.shape[0]):  # children always come after their parent
        if left[node] >= 0:
            depth[left[node]] = depth[node] + 1.0
            depth[right[node]] = depth[node] + 1.0
    return depth


def _average_path(n: np.ndarray) -> np.ndarray:
    """Average path length of an unsuccessful search in a binary tree of n points."""
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def build_pyod_model(name: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """An unfitted PyOD model by name, with `MODEL_DEFAULTS` under `params` (imports PyOD)."""
    try:
        module_name, class_name = PYOD_MODELS[name]
    except KeyError as exc:
        raise ValueError(f"unknown PyOD model {name!r}; known: {sorted(PYOD_MODELS)}") from exc
    merged = {**MODEL_DEFAULTS[name], **(params or {})}
    if name == "iforest":
        merged.setdefault("random_state", seed)
    cls = getattr(importlib.import_module(module_name), class_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyOD's KNN warns about its own algorithm parameter
        return cls(**merged)


class _FittedModel:
    """One fitted PyOD model with its raw scorer and its calibration."""

    def __init__(self, name: str, model: Any, x_train: np.ndarray) -> None:
        self.name = name
        self.model = model
        self.scorer = self._scorer(name, model, x_train)
        if name in _LEAVE_ONE_OUT:
            train_scores = np.asarray(model.decision_scores_, dtype=float)
        else:
            train_scores = self.scorer(x_train)
        self.calibrator = _Calibrator(train_scores)
        if isinstance(self.scorer, _EmpiricalCopula):
            # ECOD/COPOD keep the training rows and per-row scratch arrays; the scorer has its own
            # sorted copy of the rows, so drop theirs (a fitted detector's state is ~3x smaller).
            for attr in ("X_train", "U_l", "U_r", "U_skew", "O"):
                if hasattr(model, attr):
                    delattr(model, attr)

    @staticmethod
    def _scorer(name: str, model: Any, x_train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        if name in ("ecod", "copod"):
            return _EmpiricalCopula(x_train, name)
        if name == "iforest":
            return _ForestWalk(model.detector_)
        if name == "knn" and hasattr(getattr(model, "tree_", None), "query") and model.metric == "minkowski":
            if model.p == 2 and model.method in ("largest", "mean", "median"):
                return _TreeNeighbours(model.tree_, model.n_neighbors, model.method)
        return _DecisionFunction(model)

    def raw(self, x_scaled: np.ndarray) -> np.ndarray:
        return self.scorer(x_scaled)

    def score(self, x_scaled: np.ndarray) -> np.ndarray:
        return self.calibrator(self.raw(x_scaled))


class _ModelBank:
    """Training window, refit schedule and fitted models shared by one or more PyOD models.

    Works on feature rows. `run(rows)` scores each row with the models fitted before it, adds
    it to the training window and refits when the schedule says so — a whole array at once or
    one row at a time gives the same result.
    """

    def __init__(
        self,
        models: Sequence[str],
        model_params: Mapping[str, Mapping[str, Any]],
        *,
        warmup: int,
        refit_every: int,
        train_window: int,
        skip_rows: int,
        seed: int,
        exclude_above: float | None = None,
        exclude_min_keep: float = DEFAULT_MIN_KEEP,
    ) -> None:
        self.models = tuple(models)
        self.model_params = {m: dict(model_params.get(m, {})) for m in self.models}
        self.warmup = warmup
        self.refit_every = refit_every
        self.train_window = train_window
        self.skip_rows = skip_rows
        self.seed = seed
        self.exclude_above = exclude_above
        self.exclude_min_keep = exclude_min_keep
        self.n_seen = 0
        self.n_fits = 0
        self.fitted_at: int | None = None
        #: The last rows, each with the calibrated score it got when scored (largest over the models; 0 before the first fit).
        self._window = TrainingWindow(train_window)
        self._scaler: _RobustScaler | None = None
        self._fitted: list[_FittedModel] = []

    @property
    def ready(self) -> bool:
        return bool(self._fitted)

    def next_fit_at(self) -> int:
        """The `n_seen` after which the next fit happens."""
        if self.n_seen < self.warmup:
            return self.warmup
        return self.warmup + ((self.n_seen - self.warmup) // self.refit_every + 1) * self.refit_every

    def run(self, rows: np.ndarray) -> np.ndarray:
        """Calibrated scores (n_rows, n_models), zero before the first fit; learns the rows."""
        out = np.zeros((rows.shape[0], len(self.models)))
        i = 0
        while i < rows.shape[0]:
            due = self.next_fit_at()
            end = min(rows.shape[0], i + due - self.n_seen)
            if self._fitted:
                out[i:end] = self.score(rows[i:end])
            self._learn(rows[i:end], out[i:end].max(axis=1) if out.shape[1] else np.zeros(end - i))
            if self.n_seen == due:
                self.fit()
            i = end
        return out

    def run_one(self, row: np.ndarray) -> list[float]:
        """`run` of a single row (the streaming path): the same scores and learning, without the
        batch's slicing and temporaries."""
        due = self.next_fit_at()
        scores = [0.0] * len(self.models)
        if self._fitted:
            assert self._scaler is not None
            scaled = self._scaler(row[None, :])
            scores = [f.calibrator.one(float(f.raw(scaled)[0])) for f in self._fitted]
        if self.n_seen >= self.skip_rows:  # rows of the first points have partial windows
            self._window.append(row, max(scores) if scores else 0.0)
        self.n_seen += 1
        if self.n_seen == due:
            self.fit()
        return scores

    def score(self, rows: np.ndarray) -> np.ndarray:
        assert self._scaler is not None
        scaled = self._scaler(rows)
        return np.column_stack([f.score(scaled) for f in self._fitted])

    def fit(self) -> None:
        x = self._window.rows()
        if x.shape[0] < MIN_TRAIN_ROWS:
            return  # keep what there is (or nothing) until the window has enough rows
        x = x[training_mask(self._window.scores(), self.exclude_above, self.exclude_min_keep, MIN_TRAIN_ROWS)]
        scaler = _RobustScaler(x)
        xs = scaler(x)
        fitted = []
        for name in self.models:
            model = build_pyod_model(name, self.model_params[name], self.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # flat columns make scipy and scikit-learn chatty
                if name not in _SCORED_FROM_ROWS:
                    model.fit(xs)
                fitted.append(_FittedModel(name, model, xs))
        self._scaler, self._fitted = scaler, fitted
        self.n_fits += 1
        self.fitted_at = self.n_seen

    def _learn(self, rows: np.ndarray, scores: np.ndarray) -> None:
        first = max(0, self.skip_rows - self.n_seen)  # rows of the first points have partial windows
        self._window.extend(rows[first:], scores[first:])
        self.n_seen += rows.shape[0]

    def get_state(self) -> dict[str, Any]:
        return {
            "n_seen": self.n_seen,
            "n_fits": self.n_fits,
            "fitted_at": self.fitted_at,
            "rows": self._window.rows(),
            "row_scores": self._window.scores(),
            "fitted": pickle.dumps((self._scaler, self._fitted), protocol=pickle.HIGHEST_PROTOCOL) if self._fitted else None,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.n_seen = int(state["n_seen"])
        self.n_fits = int(state["n_fits"])
        self.fitted_at = state["fitted_at"]
        rows = np.array(state["rows"], dtype=float)
        # States saved before scores were kept: their rows count as unscored (all learned).
        scores = state.get("row_scores", np.zeros(len(rows)))
        self._window = TrainingWindow(self.train_window)
        if rows.size:
            self._window.extend(rows, scores)
        if state["fitted"] is None:
            self._scaler, self._fitted = None, []
        else:
            self._scaler, self._fitted = pickle.loads(state["fitted"])  # noqa: S301 - our own state


# --------------------------------------------------------------------------- detectors


class _FeatureDetector(SeriesDetector):
    """Feature window + model bank; non-finite values score 0 and are not learned."""

    def __init__(
        self,
        models: Sequence[str],
        *,
        model_params: Mapping[str, Mapping[str, Any]],
        warmup: int,
        refit_every: int,
        train_window: int,
        windows: Sequence[int],
        profiles: bool,
        seed: int,
        exclude_above: float | None,
        exclude_min_keep: float,
    ) -> None:
        check_exclusion(exclude_above, exclude_min_keep)
        for m in models:
            if m not in PYOD_MODELS:
                raise ValueError(f"unknown PyOD model {m!r}; known: {sorted(PYOD_MODELS)}")
        if not models:
            raise ValueError("at least one PyOD model is needed")
        self._features = FeatureWindow(windows, profiles=profiles)
        skip = self._features.windows[-1]
        if warmup - skip < MIN_TRAIN_ROWS:
            raise ValueError(
                f"warmup {warmup} leaves fewer than {MIN_TRAIN_ROWS} training rows after the longest window ({skip})"
            )
        if refit_every < 1:
            raise ValueError(f"refit_every must be at least 1, got {refit_every}")
        if train_window < MIN_TRAIN_ROWS:
            raise ValueError(f"train_window must be at least {MIN_TRAIN_ROWS}, got {train_window}")
        params = {m: dict(model_params.get(m, {})) for m in models}
        for m in models:  # fail on a bad parameter now, not after the warm-up
            probe = build_pyod_model(m, params[m], seed)
            k = getattr(probe, "n_neighbors", None)
            if k is not None and k >= min(warmup - skip, train_window):
                raise ValueError(f"{m}: n_neighbors {k} needs more training rows than warmup/train_window give")
        self._params: dict[str, Any] = {
            "models": list(models),
            "model_params": params,
            "warmup": warmup,
            "refit_every": refit_every,
            "train_window": train_window,
            "windows": list(self._features.windows),
            "profiles": profiles,
            "seed": seed,
        }
        if exclude_above is not None:  # parameters of the plain window stay as they were (old states restore)
            self._params.update(exclude_above=exclude_above, exclude_min_keep=exclude_min_keep)
        self._bank = _ModelBank(
            models,
            params,
            warmup=warmup,
            refit_every=refit_every,
            train_window=train_window,
            skip_rows=skip,
            seed=seed,
            exclude_above=exclude_above,
            exclude_min_keep=exclude_min_keep,
        )

    @property
    def warmed_up(self) -> bool:
        return self._bank.ready

    @property
    def n_fits(self) -> int:
        """How many times the models have been fitted."""
        return self._bank.n_fits

    @property
    def n_seen(self) -> int:
        """Finite points learned so far."""
        return self._bank.n_seen

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._features.feature_names

    def _matrix_one(self, ts: datetime, value: float) -> np.ndarray | None:
        if not math.isfinite(value):
            return None
        return np.array(self._bank.run_one(self._features.push(ts, value)))

    def _matrix_many(self, ts: Sequence[datetime], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices of finite points, their (n, n_models) scores)."""
        vals = np.asarray(values, dtype=float).ravel()
        if len(ts) != vals.size:
            raise ValueError(f"{len(ts)} timestamps for {vals.size} values")
        idx = np.flatnonzero(np.isfinite(vals))
        fts = ts if idx.size == vals.size else [ts[i] for i in idx]
        rows = self._features.push_many(fts, vals[idx])
        return idx, self._bank.run(rows)

    def _base_state(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "params": copy.deepcopy(self._params),
            "features": self._features.get_state(),
            "bank": self._bank.get_state(),
        }

    def _restore_base(self, state: Mapping[str, Any]) -> None:
        if state.get("params") != self._params:
            raise ValueError(
                f"state was saved by a {state.get('detector')!r} detector with {state.get('params')}, this one has {self._params}"
            )
        self._features.set_state(state["features"])
        self._bank.set_state(state["bank"])


class PyODSeriesDetector(_FeatureDetector):
    """One PyOD model, by name, over windowed features of the series.

    Parameters
    ----------
    model
        One of `PYOD_MODELS`: "ecod", "copod", "iforest", "hbos", "knn", "lof".
    warmup
        Points before the first fit; they score 0. Must leave at least 16 rows after the
        longest feature window (rows of the first `max(windows)` points are not trained on).
    refit_every
        Points between fits after the first.
    train_window
        The most recent rows each fit uses.
    windows, profiles
        Passed to `FeatureWindow`.
    seed
        Random state of randomised models (isolation forest).
    model_params
        Model constructor arguments over `MODEL_DEFAULTS[model]`.
    exclude_above, exclude_min_keep
        At a refit, leave out the window's rows scored at or above `exclude_above` (None: learn
        every row), unless fewer than `exclude_min_keep` of the window would remain
        (`riskwatch.detectors.series.training`).

    The defaults suit 5-minute readings: first fit after a day, refit daily on the last week.
    """

    name = "pyod"
    default_model: ClassVar[str] = "iforest"

    def __init__(
        self,
        model: str | None = None,
        *,
        warmup: int = 288,
        refit_every: int = 288,
        train_window: int = 2016,
        windows: Sequence[int] = DEFAULT_WINDOWS,
        profiles: bool = True,
        seed: int = 0,
        model_params: Mapping[str, Any] | None = None,
        exclude_above: float | None = DEFAULT_EXCLUDE_ABOVE,
        exclude_min_keep: float = DEFAULT_MIN_KEEP,
    ) -> None:
        self.model = model or self.default_model
        super().__init__(
            (self.model,),
            model_params={self.model: dict(model_params or {})},
            warmup=warmup,
            refit_every=refit_every,
            train_window=train_window,
            windows=windows,
            profiles=profiles,
            seed=seed,
            exclude_above=exclude_above,
            exclude_min_keep=exclude_min_keep,
        )

    def update(self, ts: datetime, value: float) -> float:
        scores = self._matrix_one(ts, float(value))
        return 0.0 if scores is None else float(scores[0])

    def score_series(self, ts: list[datetime], values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ts))
        idx, scores = self._matrix_many(ts, values)
        out[idx] = scores[:, 0]
        return out

    def get_state(self) -> dict[str, Any]:
        return self._base_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self._restore_base(state)


class _Preset(PyODSeriesDetector):
    """A PyOD model fixed by the subclass: the registry builds it with only keyword params."""

    default_model = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.default_model, **kwargs)


# A preset takes every keyword of the generic adapter but `model`: say so, so config
# validation can check parameter names without building (and importing PyOD).
_Preset.__init__.__signature__ = inspect.signature(PyODSeriesDetector.__init__).replace(  # type: ignore[attr-defined]
    parameters=[p for name, p in inspect.signature(PyODSeriesDetector.__init__).parameters.items() if name != "model"]
)


class ECODDetector(_Preset):
    """ECOD: per-feature empirical tail probabilities; no parameters, no randomness, fast."""

    name = "ecod"
    default_model = "ecod"


class COPODDetector(_Preset):
    """COPOD: empirical-copula tail probabilities, like ECOD with a different tail rule."""

    name = "copod"
    default_model = "copod"


class IForestDetector(_Preset):
    """Isolation forest: 100 trees of up to 256 rows, seeded."""

    name = "iforest"
    default_model = "iforest"


class HBOSDetector(_Preset):
    """Histogram-based: 10 bins per feature (PyOD compiles its kernel with numba on the first fit)."""

    name = "hbos"
    default_model = "hbos"


class KNNDetector(_Preset):
    """Mean distance to the 10 nearest training rows (KD-tree)."""

    name = "knn"
    default_model = "knn"


class LOFDetector(_Preset):
    """Local outlier factor over 20 neighbours (KD-tree, novelty mode)."""

    name = "lof"
    default_model = "lof"


class EnsembleDetector(_FeatureDetector):
    """Several PyOD models over one shared feature window, plus the statistical default.

    The PyOD models share the features, the training window and the refit schedule; the
    statistical default detector (registry name "default") sees the raw values. Their
    calibrated scores are combined per point by `method` ("average", "maximum", "median" or
    "aom" = average of the maxima of `n_buckets` groups, in the order models…, default).
    Points before the PyOD models' first fit score 0, like a single model's.

    Parameters
    ----------
    models
        PyOD model names (see `PYOD_MODELS`).
    include_default
        Add the registry's "default" series detector (built with `default_params`).
    method, n_buckets, weights
        How to combine (see `riskwatch.detectors.series.combine`); `weights` only for "average".
    model_params
        Per model name, constructor arguments over `MODEL_DEFAULTS`.
    warmup, refit_every, train_window, windows, profiles, seed, exclude_above, exclude_min_keep
        As for `PyODSeriesDetector` (the exclusion uses the largest of the PyOD models' scores).
    """

    name = "ensemble"

    def __init__(
        self,
        models: Sequence[str] = ("ecod", "iforest", "knn"),
        *,
        include_default: bool = True,
        default_params: Mapping[str, Any] | None = None,
        method: str = "average",
        n_buckets: int = 2,
        weights: Sequence[float] | None = None,
        warmup: int = 288,
        refit_every: int = 288,
        train_window: int = 2016,
        windows: Sequence[int] = DEFAULT_WINDOWS,
        profiles: bool = True,
        seed: int = 0,
        model_params: Mapping[str, Mapping[str, Any]] | None = None,
        exclude_above: float | None = DEFAULT_EXCLUDE_ABOVE,
        exclude_min_keep: float = DEFAULT_MIN_KEEP,
    ) -> None:
        if len(set(models)) != len(models):
            raise ValueError(f"models listed twice: {list(models)}")
        if unknown := set(model_params or {}) - set(models):
            raise ValueError(f"model_params for models not in the ensemble: {sorted(unknown)}")
        super().__init__(
            tuple(models),
            model_params=dict(model_params or {}),
            warmup=warmup,
            refit_every=refit_every,
            train_window=train_window,
            windows=windows,
            profiles=profiles,
            seed=seed,
            exclude_above=exclude_above,
            exclude_min_keep=exclude_min_keep,
        )
        if method not in COMBINERS:
            raise ValueError(f"unknown combination {method!r}; known: {sorted(COMBINERS)}")
        self._default: SeriesDetector | None = None
        if include_default:
            from riskwatch.detectors.series.registry import make_series_detector

            self._default = make_series_detector("default", **dict(default_params or {}))
        n_columns = len(models) + (1 if self._default is not None else 0)
        self._options: dict[str, Any] = {}
        if method == "aom":
            self._options["n_buckets"] = n_buckets
        if weights is not None:
            if method != "average":
                raise ValueError("weights apply to method 'average' only")
            self._options["weights"] = list(weights)
        combine(method, np.zeros((1, n_columns)), **self._options)  # validate options now
        self.method = method
        self._params.update(
            include_default=include_default,
            default_params=dict(default_params or {}),
            method=method,
            options=self._options,
        )

    @property
    def members(self) -> tuple[str, ...]:
        """Column order of the combination."""
        return self._bank.models + (("default",) if self._default is not None else ())

    def update(self, ts: datetime, value: float) -> float:
        v = float(value)
        ready = self._bank.n_seen >= self._bank.warmup
        scores = self._matrix_one(ts, v)
        if scores is None:
            return 0.0
        columns = [scores]
        if self._default is not None:
            columns.append(np.array([self._default.update(ts, v)]))
        if not ready:
            return 0.0
        return float(combine(self.method, np.concatenate(columns)[None, :], **self._options)[0])

    def score_series(self, ts: list[datetime], values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ts))
        first_fit = self._bank.warmup  # a point is scored once this many points came before it
        seen_before = self._bank.n_seen
        vals = np.asarray(values, dtype=float).ravel()
        idx, scores = self._matrix_many(ts, vals)
        if idx.size == 0:
            return out
        columns = [scores]
        if self._default is not None:
            fts = ts if idx.size == len(ts) else [ts[i] for i in idx]
            columns.append(np.asarray(self._default.score_series(fts, vals[idx]), dtype=float)[:, None])
        combined = combine(self.method, np.hstack(columns), **self._options)
        ready = seen_before + np.arange(idx.size) >= first_fit
        out[idx] = np.where(ready, combined, 0.0)
        return out

    def get_state(self) -> dict[str, Any]:
        state = self._base_state()
        state["default"] = self._default.get_state() if self._default is not None else None
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self._restore_base(state)
        if self._default is not None:
            self._default.set_state(state["default"])
