"""Sensor anomalies from a series model per (device, metric): any registered `SeriesDetector`.

The model (the statistical default, a PyOD model or an ensemble, chosen by name in config)
scores each reading causally in [0, 1]; an `anomaly` signal is raised once per episode, when
`persistence` readings in a row score at or above `threshold`, compared with the median of the
readings before them. A new episode of the same series can signal only after `rearm` readings
in a row below the threshold, so a lasting shift is one signal, not one per reading.

A PyOD model's calibrated score is the fraction of its training window's scores below the
reading's; above the largest training score the rest of the way to 1 closes with the excess
(`pyod_models._Calibrator`). With the shipped 2-day window (576 readings) the largest training
score sits at 1 − 1/577 ≈ 0.9983, so a threshold of 0.999 reads "beyond everything this series
did in the last two days, by a clear margin". That is a tail probability below 1/577 per reading
before persistence, which bounds false signals per series by the sampling rate, not by tuning.
The shipped config also sets `exclude_above: 0.999`: a refit leaves out readings scored that high,
so an episode longer than the refit interval keeps scoring high instead of being learned.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import Any

from riskwatch.config.detector_params import SeriesAnomalyParams
from riskwatch.config.models import TaxonomyConfig
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import make_signal
from riskwatch.detectors.series.base import SeriesDetector
from riskwatch.detectors.series.registry import make_series_detector
from riskwatch.detectors.wording import Names, unit_suffix

EXPECTATION_WINDOW = 24


class SeriesAnomalyDetector:
    """One series model per (device, metric), created on the device's first reading."""

    name = "series_anomaly"

    def __init__(self, params: SeriesAnomalyParams, taxonomy: TaxonomyConfig) -> None:
        self.params = params
        self._names = Names(taxonomy)
        self._make = lambda: make_series_detector(params.model, **params.model_params)
        self._make()  # bad model parameter values fail when the worker starts, not on the first reading
        self._models: dict[tuple[str, str], SeriesDetector] = {}
        self._recent: dict[tuple[str, str], deque[float]] = {}
        #: Per series: [anomalous readings in a row, normal readings in a row, armed (1/0)].
        self._episode: dict[tuple[str, str], list[int]] = {}

    def warming_up(self) -> bool:
        """Until some series' model has finished its warm-up (for PyOD: its first fit)."""
        return not any(model.warmed_up for model in self._models.values())

    def accepts(self, event: Event) -> bool:
        return event.source is Source.sensor and event.value is not None and event.device_id is not None

    def observe(self, event: Event) -> list[Signal]:
        key = (event.device_id or "", event.metric or "")
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = self._make()
            self._recent[key] = deque(maxlen=EXPECTATION_WINDOW)
        recent = self._recent[key]
        value = float(event.value)  # type: ignore[arg-type]
        score = float(model.update(event.occurred_at, value))
        fire = self._episode_starts(key, score) and bool(recent)
        expected = statistics.median(recent) if fire else None  # the readings before this one
        recent.append(value)
        if expected is None:
            return []
        return [
            make_signal(
                self.name,
                SignalKind.anomaly,
                event,
                (event.event_id,),
                score=round(min(max(score, 0.0), 1.0), 4),
                observed=value,
                expected=round(expected, 6),
                reason=(
                    f"{event.device_id} {self._names.metric(event.metric)} {value:g}{unit_suffix(event.unit)}，"
                    f"{self.params.model} 评分 {score:.4f}（≥ {self.params.threshold:g}{self._persistence_text()}）；"
                    f"近期中位数 {expected:.3g}"
                ),
                evidence=(event.event_id,),
            )
        ]

    def _episode_starts(self, key: tuple[str, str], score: float) -> bool:
        """Count the reading into its series' episode; True on the reading that makes a signal."""
        run, calm, armed = self._episode.setdefault(key, [0, 0, 1])
        if score >= self.params.threshold:
            run, calm = run + 1, 0
        else:
            run, calm = 0, calm + 1
            armed = 1 if calm >= self.params.rearm else armed
        fire = bool(armed) and run >= self.params.persistence
        self._episode[key] = [run, calm, 0 if fire else armed]
        return fire

    def _persistence_text(self) -> str:
        k = self.params.persistence
        return "" if k == 1 else f"，连续 {k} 个读数"

    def get_state(self) -> dict[str, Any]:
        return {
            "models": {f"{d}\x1f{m}": model.get_state() for (d, m), model in self._models.items()},
            "recent": {f"{d}\x1f{m}": list(values) for (d, m), values in self._recent.items()},
            "episode": {f"{d}\x1f{m}": list(values) for (d, m), values in self._episode.items()},
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._models, self._recent = {}, {}
        for joined, model_state in state["models"].items():
            device, metric = joined.split("\x1f")
            model = self._make()
            model.set_state(model_state)
            self._models[(device, metric)] = model
            self._recent[(device, metric)] = deque(state["recent"].get(joined, []), maxlen=EXPECTATION_WINDOW)
        self._episode = {}
        for joined, values in state.get("episode", {}).items():
            device, metric = joined.split("\x1f")
            self._episode[(device, metric)] = [int(v) for v in values]
