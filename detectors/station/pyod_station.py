"""Station detectors: a model over all channels' rolling means, fitted after a warm-up, calibrated.

Each row of a station becomes a feature row (`StationFeatures`: each channel's rolling mean
over a short and a long window). The first `warmup` rows score 0; then a model (`scorers`) is
fitted on them, and later refitted every `refit_every` rows on the last `train_window` rows —
never per row. A refit leaves out rows the detector flagged, unless they are most of the
window (then the station has a new normal and the model learns it, so an alarm cannot stick
for ever). Each row is scored by the model fitted before it, then joins the training window.

The raw score is calibrated against the model's scores of its training rows (`TailCalibrator`):
the fraction of training rows scoring below up to their 99th percentile, and beyond it the rest
of the way to 1 with the excess in units of (99th percentile − median), whatever the number of
training rows, so one threshold means the same on every station, model and refit. The detector's own
threshold turns scores into anomalies with hysteresis: an anomaly starts at `threshold` and
lasts while the score stays at or above `release` and its excess beyond the 99th percentile stays
above `settle_drop` × the episode's peak; after an episode ended by settling, a new one needs the
excess to rise `settle_rise` times over the settled level (`_decide`).

Channels with no reading carry their last value forward; feature columns still empty (a channel
not read yet) take the training median. A row's contributions are each channel's share of the
squared standardised deviation of its features from the training rows.

Scoring a frame and updating row by row run the same vectorised steps, whose arithmetic does not
depend on how many rows come together, so `score_frame` equals `update` bit for bit.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import numpy as np

from riskwatch.config.station_params import (
    ECODStationParams,
    HBOSStationParams,
    IForestStationParams,
    PCAStationParams,
    StationParams,
)
from riskwatch.detectors.series.pyod_models import _RobustScaler
from riskwatch.detectors.station.base import StationDetector, StationScore
from riskwatch.detectors.station.calibration import TailCalibrator
from riskwatch.detectors.station.features import StationFeatures
from riskwatch.detectors.station.scorers import Scorer, fit_scorer

_SCALED_CLIP = 1e6


class _StandardScaler:
    """Centre by the mean, divide by the standard deviation (PCA's usual standardisation).

    A column constant in training gets a scale of 0.1% of its value (at least 1e-6), clipped at
    ±1e6 as the robust scaler does, so a change from that constant stands out.
    """

    def __init__(self, x: np.ndarray) -> None:
        self.center = x.mean(axis=0)
        scale = x.std(axis=0)
        constant = scale <= 1e-12 * (1.0 + np.abs(self.center))
        scale[constant] = np.maximum(1e-3 * np.abs(self.center[constant]), 1e-6)
        self.scale = scale

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum((x - self.center) / self.scale, -_SCALED_CLIP), _SCALED_CLIP)


class _Fitted:
    """One fit: how to fill empty features, scale, score raw and calibrate."""

    def __init__(self, model: str, x_train: np.ndarray, params: StationParams) -> None:
        with np.errstate(all="ignore"):
            fill = np.nanmedian(np.where(np.isnan(x_train).all(axis=0), 0.0, x_train), axis=0)
        self.fill = np.nan_to_num(fill, nan=0.0)
        x = self.impute(x_train)
        self.scaler = _StandardScaler(x) if model == "pca" else _RobustScaler(x)
        z = self.scaler(x)
        self.scorer: Scorer = fit_scorer(model, z, params.model_dump(), seed=params.seed)
        self.calibrator = TailCalibrator(self.scorer(z))

    def impute(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), self.fill, x)

    def scaled(self, x: np.ndarray) -> np.ndarray:
        return self.scaler(self.impute(x))

    def score(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated scores of scaled rows, and their excesses beyond the training 99th percentile."""
        raw = self.scorer(z)
        return self.calibrator(raw), self.calibrator.excess(raw)


class PyODStationDetector(StationDetector):
    """A station detector over one model of `scorers`; the registered names are its subclasses."""

    #: Which scorer (`scorers.fit_scorer`) and which params model.
    model: ClassVar[str] = "pca"
    params_model: ClassVar[type[StationParams]] = PCAStationParams

    def __init__(self, channels: Sequence[str], **params: Any) -> None:
        super().__init__(channels)
        self.params: StationParams = self.params_model.model_validate(params)
        self._features = StationFeatures(len(self.channels), self.params.windows)
        self._reset()

    # ------------------------------------------------------------------ contract

    @property
    def warmed_up(self) -> bool:
        return self._fitted is not None

    @property
    def n_seen(self) -> int:
        """Rows scored so far."""
        return self._n_seen

    @property
    def n_fits(self) -> int:
        """Fits so far (the first after warm-up, then one per refit)."""
        return self._n_fits

    def update(self, ts: datetime, row: np.ndarray) -> StationScore:
        row = np.asarray(row, dtype=float)
        if row.shape != (len(self.channels),):
            if row.size != len(self.channels):
                self._features.push_many(row.reshape(1, -1))  # raises: not one value per channel
            row = row.reshape(-1)
        # the steps of `_run` for one row, without a frame's bookkeeping
        feats = self._features.push_one(row)[None, :]
        if self._n_seen >= self._next_fit_at:
            self._fit()
        fitted = self._fitted
        if fitted is None:
            self._learn_one(feats, False)
            return StationScore(0.0, False, {})
        z = fitted.scaled(feats)
        scores, excess = fitted.score(z)
        score = float(scores[0])
        on = self._decide(score, float(excess[0]))
        self._learn_one(feats, on)
        return StationScore(score, on, self._contributions(z[0]))

    def score_frame(self, ts: Sequence[datetime], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=float)
        if rows.ndim != 2 or rows.shape[1] != len(self.channels):
            raise ValueError(f"expected rows of {len(self.channels)} channels, got shape {rows.shape}")
        if len(ts) != rows.shape[0]:
            raise ValueError(f"{len(ts)} timestamps for {rows.shape[0]} rows")
        scores, flags, _ = self._run(rows)
        return scores, flags

    def get_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": list(self.channels),
            "params": self.params.model_dump(mode="json"),
            "features": self._features.get_state(),
            "n_seen": self._n_seen,
            "n_fits": self._n_fits,
            "next_fit_at": self._next_fit_at,
            "alarm": self._alarm,
            "peak": self._peak,
            "above": self._above,
            "settled": self._settled,
            "train_rows": self._train_rows.copy(),
            "train_flags": self._train_flags.copy(),
            "fitted": None if self._fitted is None else pickle.dumps(self._fitted, protocol=pickle.HIGHEST_PROTOCOL),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if list(state["channels"]) != list(self.channels):
            raise ValueError(f"state is of channels {state['channels']}, this detector has {list(self.channels)}")
        if state["params"] != self.params.model_dump(mode="json"):
            raise ValueError(
                f"state was saved with params {state['params']}, this detector has {self.params.model_dump(mode='json')}"
            )
        self._features.set_state(state["features"])
        self._n_seen = int(state["n_seen"])
        self._n_fits = int(state["n_fits"])
        self._next_fit_at = state["next_fit_at"]
        self._alarm = bool(state["alarm"])
        self._peak = float(state["peak"])
        self._above = int(state["above"])
        self._settled = None if state["settled"] is None else float(state["settled"])
        self._train_len = 0
        self._train_end = 0
        self._learn_rows(
            np.array(state["train_rows"], dtype=float).reshape(-1, self._features.n_features),
            np.array(state["train_flags"], dtype=bool),
        )
        self._fitted = None if state["fitted"] is None else pickle.loads(state["fitted"])

    # ------------------------------------------------------------------ internals

    def _reset(self) -> None:
        self._n_seen = 0
        self._n_fits = 0
        self._next_fit_at: float = float(self.params.warmup)
        self._alarm = False
        self._peak = 0.0  # the largest excess of the ongoing anomaly (or of the rows starting one)
        self._above = 0  # rows in a row that would start an anomaly
        self._settled: float | None = None  # the lowest excess since an anomaly ended by settling
        # the training window: the last `train_window` feature rows and flags, in order, kept as
        # the rows [end − len, end) of buffers twice that long, moved back to the front when full
        window = self.params.train_window
        self._train_buf = np.empty((2 * window, self._features.n_features))
        self._flag_buf = np.zeros(2 * window, dtype=bool)
        self._train_len = 0
        self._train_end = 0
        self._fitted: _Fitted | None = None

    def _run(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Scores, flags and the scaled features of the frame's rows (None while warming up: one row)."""
        feats = self._features.push_many(rows)
        n = feats.shape[0]
        scores = np.zeros(n)
        flags = np.zeros(n, dtype=bool)
        z_all: np.ndarray | None = None
        i = 0
        while i < n:
            if self._n_seen >= self._next_fit_at:
                self._fit()
            stop = n if math.isinf(self._next_fit_at) else min(n, i + int(self._next_fit_at) - self._n_seen)
            seg = feats[i:stop]
            seg_flags = np.zeros(stop - i, dtype=bool)
            if self._fitted is not None:
                z = self._fitted.scaled(seg)
                seg_scores, seg_excess = self._fitted.score(z)
                seg_flags = self._hysteresis(seg_scores, seg_excess)
                scores[i:stop] = seg_scores
                flags[i:stop] = seg_flags
                if n == 1:
                    z_all = z
            self._learn(seg, seg_flags)
            i = stop
        return scores, flags, z_all

    def _hysteresis(self, scores: np.ndarray, excess: np.ndarray) -> np.ndarray:
        """`_decide` of each row in turn."""
        decide = self._decide
        return np.array([decide(s, e) for s, e in zip(scores.tolist(), excess.tolist(), strict=True)], dtype=bool)

    def _decide(self, score: float, excess: float) -> bool:
        """Whether a row with this score (and excess z) is anomalous, given the rows before it.

        An anomaly starts after `onset_rows` rows in a row at or above `threshold` and lasts while the score stays at or above `release`
        and its excess above `settle_drop` × the episode's peak excess. An episode ended that way
        (settled, still above the threshold: after a fault the station often settles at a level
        its training never showed, e.g. a warmer fluid) starts a new anomaly only when the excess
        rises to `settle_rise` × the lowest excess since; once the score falls below the
        threshold the station is normal again.
        """
        params = self.params
        if self._alarm:
            self._peak = max(self._peak, excess)
            if score < params.release_level:
                self._alarm, self._settled = False, None
            elif excess < params.settle_drop * self._peak:
                self._alarm, self._settled = False, excess
            return self._alarm
        if self._settled is not None:
            self._settled = None if score < params.threshold else min(self._settled, excess)
        if score >= params.threshold and (self._settled is None or excess >= params.settle_rise * self._settled):
            self._above += 1
            self._peak = max(self._peak, excess) if self._above > 1 else excess
            if self._above >= params.onset_rows:
                self._alarm, self._settled, self._above = True, None, 0
        else:
            self._above = 0
        return self._alarm

    @property
    def _train_rows(self) -> np.ndarray:
        return self._train_buf[self._train_end - self._train_len : self._train_end]

    @property
    def _train_flags(self) -> np.ndarray:
        return self._flag_buf[self._train_end - self._train_len : self._train_end]

    def _learn(self, feats: np.ndarray, flags: np.ndarray) -> None:
        self._learn_rows(feats, flags)
        self._n_seen += feats.shape[0]

    def _learn_one(self, feats: np.ndarray, flag: bool) -> None:
        """`_learn` of one feature row (1 × features)."""
        end = self._train_end
        if end == self._train_buf.shape[0]:
            self._compact()
            end = self._train_end
        self._train_buf[end] = feats[0]
        self._flag_buf[end] = flag
        self._train_end = end + 1
        self._train_len = min(self._train_len + 1, self.params.train_window)
        self._n_seen += 1

    def _learn_rows(self, feats: np.ndarray, flags: np.ndarray) -> None:
        """Append rows to the training window, keeping its last `train_window`."""
        keep = self.params.train_window
        n = feats.shape[0]
        if n >= keep:
            self._train_buf[:keep] = feats[-keep:]
            self._flag_buf[:keep] = flags[-keep:]
            self._train_end = self._train_len = keep
            return
        if self._train_end + n > self._train_buf.shape[0]:
            self._compact()
        end = self._train_end
        self._train_buf[end : end + n] = feats
        self._flag_buf[end : end + n] = flags
        self._train_end = end + n
        self._train_len = min(self._train_len + n, keep)

    def _compact(self) -> None:
        """Move the training window to the front of its buffers."""
        length, end = self._train_len, self._train_end
        self._train_buf[:length] = self._train_buf[end - length : end].copy()
        self._flag_buf[:length] = self._flag_buf[end - length : end].copy()
        self._train_end = length

    def _fit(self) -> None:
        """Fit on the training window, without the flagged rows unless they are most of it."""
        rows = self._train_rows
        normal = ~self._train_flags
        if normal.sum() * 2 >= rows.shape[0]:
            rows = rows[normal]
        self._fitted = _Fitted(self.model, rows, self.params)
        self._n_fits += 1
        every = self.params.refit_every
        self._next_fit_at = float(self._n_seen + every) if every > 0 else math.inf

    def _contributions(self, z: np.ndarray) -> dict[str, float]:
        """Each channel's share of the row's squared standardised feature deviation."""
        per_channel = np.bincount(self._features.channel_of, weights=z * z, minlength=len(self.channels))
        total = float(per_channel.sum())
        if not math.isfinite(total) or total <= 0.0:
            return {name: 0.0 for name in self.channels}
        return {name: float(v) / total for name, v in zip(self.channels, per_channel.tolist(), strict=True)}


class PCAStationDetector(PyODStationDetector):
    """T²+Q over the principal components of the channels' rolling means (classic process monitoring)."""

    name = "station_pca"
    model = "pca"
    params_model = PCAStationParams


class DefaultStationDetector(PCAStationDetector):
    """The default station detector: T²+Q, best on SKAB of the models here (docs/detectors.md)."""

    name = "station"


class ECODStationDetector(PyODStationDetector):
    """PyOD's ECOD: summed empirical tail probabilities of each feature."""

    name = "station_ecod"
    model = "ecod"
    params_model = ECODStationParams


class COPODStationDetector(PyODStationDetector):
    """PyOD's COPOD: empirical copula tail probabilities."""

    name = "station_copod"
    model = "copod"
    params_model = ECODStationParams


class IForestStationDetector(PyODStationDetector):
    """PyOD's isolation forest."""

    name = "station_iforest"
    model = "iforest"
    params_model = IForestStationParams


class HBOSStationDetector(PyODStationDetector):
    """PyOD's histogram-based outlier score."""

    name = "station_hbos"
    model = "hbos"
    params_model = HBOSStationParams
