"""Rolling robust baseline per sensor series: median and MAD of the last N readings."""

from __future__ import annotations

import statistics
from collections import deque

from riskwatch.config.detector_params import SensorBaselineConfig
from riskwatch.config.models import TaxonomyConfig
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import excess_to_score, make_signal
from riskwatch.detectors.wording import Names, direction_zh, unit_suffix

MAD_TO_SIGMA = 1.4826


class SensorBaselineDetector:
    """Flags a reading whose robust z-score against its own recent history is large.

    The baseline is per (device, metric); a reading is scored against the readings before it
    and then joins the window, so a lasting level shift is absorbed after about half a window.
    """

    name = "sensor_baseline"

    def __init__(self, config: SensorBaselineConfig, taxonomy: TaxonomyConfig) -> None:
        self.config = config
        self._names = Names(taxonomy)
        self._history: dict[tuple[str, str], deque[float]] = {}
        self._scale_floor = {
            m.metric: (m.valid_max - m.valid_min) * config.min_scale_fraction for m in taxonomy.sensor_metrics
        }

    def warming_up(self) -> bool:
        """Until some series has `warmup` readings in its baseline."""
        return not any(len(window) >= self.config.warmup for window in self._history.values())

    def accepts(self, event: Event) -> bool:
        return event.source is Source.sensor and event.value is not None and event.device_id is not None

    def observe(self, event: Event) -> list[Signal]:
        assert event.value is not None and event.metric is not None and event.device_id is not None
        key = (event.device_id, event.metric)
        window = self._history.get(key)
        if window is None:
            window = self._history[key] = deque(maxlen=self.config.window)
        signals: list[Signal] = []
        if len(window) >= self.config.warmup:
            median = statistics.median(window)
            mad = statistics.median(abs(v - median) for v in window)
            scale = max(MAD_TO_SIGMA * mad, self._scale_floor.get(event.metric, 0.0), 1e-9)
            z = abs(event.value - median) / scale
            if z >= self.config.z_threshold:
                signals.append(self._signal(event, median, z))
        window.append(event.value)
        return signals

    def _signal(self, event: Event, median: float, z: float) -> Signal:
        direction = direction_zh(event.value < median)  # type: ignore[operator]
        return make_signal(
            self.name,
            SignalKind.anomaly,
            event,
            (event.event_id,),
            score=excess_to_score(z, self.config.z_threshold),
            observed=float(event.value),  # type: ignore[arg-type]
            expected=round(median, 6),
            reason=(
                f"{event.device_id} {self._names.metric(event.metric)} {event.value:g}{unit_suffix(event.unit)}，"
                f"{direction}滚动中位数 {median:.3g}（稳健 z 值 {z:.1f} ≥ {self.config.z_threshold:g}）"
            ),
            evidence=(event.event_id,),
        )
