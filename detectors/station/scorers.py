"""Fitted raw scorers of feature rows for the station detectors: T²+Q (PCA) and PyOD's models.

`fit_scorer(model, x, params)` fits on scaled training rows and returns a picklable callable
giving each row's raw outlier score (higher = more unusual) on the model's own scale; the
detector calibrates it. Every scorer treats rows independently and reduces along contiguous
rows only, so a row scores the same bit for bit alone or in a batch (`update` == `score_frame`).

- ``pca``: the classic process-monitoring statistic. scikit-learn's PCA keeps the components
  that explain `variance` of the training variance; a row scores Hotelling's T² in that
  subspace (distance along the usual directions of variation, in their own spread) plus Q, the
  squared residual off it (a broken correlation between channels), each divided by its
  training median so neither dominates by scale. PyOD's own `PCA` scores a weighted distance to
  the eigenvectors instead, which is not T²+Q, so it is not used here.
- ``ecod``, ``copod``, ``iforest``, ``hbos``: PyOD's models with the univariate adapters'
  batch-independent scorers (`riskwatch.detectors.series.pyod_models`).

PyOD and scikit-learn are imported only when a scorer is fitted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from riskwatch.detectors.series.pyod_models import _DecisionFunction, _EmpiricalCopula, _ForestWalk, build_pyod_model

#: Rows per chunk of a batch, so the (rows × components × features) scratch array stays small.
_CHUNK_ROWS = 2048

Scorer = Callable[[np.ndarray], np.ndarray]


class T2Q:
    """Hotelling's T² in the principal subspace plus the residual Q, each over its training median."""

    def __init__(self, x_train: np.ndarray, variance: float) -> None:
        from sklearn.decomposition import PCA

        n, d = x_train.shape
        varies = bool((np.ptp(x_train, axis=0) > 0).any()) if n else False
        # one row or feature, or nothing varying (a station flat through its warm-up): no subspace, Q only
        pca = PCA(n_components=min(variance, 1.0), svd_solver="full").fit(x_train) if min(n, d) > 1 and varies else None
        if pca is None or pca.n_components_ < 1:
            self.mean = x_train.mean(axis=0)
            self.components = np.zeros((0, d))
            self.eigen = np.zeros(0)
        else:
            self.mean = np.asarray(pca.mean_, dtype=float)
            self.components = np.ascontiguousarray(pca.components_, dtype=float)  # (k, d), orthonormal rows
            self.eigen = np.maximum(np.asarray(pca.explained_variance_, dtype=float), 1e-12)
        self.components_t = np.ascontiguousarray(self.components.T)  # (d, k)
        t2, q = self._parts(x_train)
        self.t2_scale = max(float(np.median(t2)), 1e-12)
        self.q_scale = max(float(np.median(q)), 1e-12)

    def _parts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centred = np.ascontiguousarray(x - self.mean)
        if self.components.shape[0] == 0:
            return np.zeros(x.shape[0]), np.add.reduce(centred * centred, axis=1)
        # projections and reconstructions as reductions along a contiguous last axis: row-independent
        proj = np.add.reduce(centred[:, None, :] * self.components[None, :, :], axis=2)  # (n, k)
        t2 = np.add.reduce(proj * proj / self.eigen, axis=1)
        recon = np.add.reduce(proj[:, None, :] * self.components_t[None, :, :], axis=2)  # (n, d)
        resid = centred - recon
        return t2, np.add.reduce(resid * resid, axis=1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape[0])
        for lo in range(0, x.shape[0], _CHUNK_ROWS):
            t2, q = self._parts(x[lo : lo + _CHUNK_ROWS])
            out[lo : lo + _CHUNK_ROWS] = t2 / self.t2_scale + q / self.q_scale
        return out


def fit_scorer(model: str, x_train: np.ndarray, params: dict[str, Any], seed: int = 0) -> Scorer:
    """A raw scorer of `model` fitted on the scaled training rows `x_train`."""
    if model == "pca":
        return T2Q(x_train, float(params.get("variance", 0.9)))
    if model in ("ecod", "copod"):
        return _EmpiricalCopula(x_train, model)  # PyOD's score of one row against training ∪ {row}
    if model == "iforest":
        forest = build_pyod_model("iforest", {"n_estimators": int(params.get("n_estimators", 100))}, seed=seed)
        forest.fit(x_train)
        return _ForestWalk(forest.detector_)
    if model == "hbos":
        hbos = build_pyod_model("hbos", {"n_bins": int(params.get("n_bins", 10))})
        hbos.fit(x_train)
        return _DecisionFunction(hbos)
    raise ValueError(f"unknown station model {model!r}; known: pca, ecod, copod, iforest, hbos")
