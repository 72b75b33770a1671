"""Sensor faults, for maintenance: stuck values, flat lines and gaps in reporting.

Per (device, metric) series it learns how the series normally behaves — how often a reading
repeats the one before, how much it varies over a short window, how often it reports — and
raises a `health` signal when that breaks down:

- **stuck**: the same value many times in a row, when the series' own repeat rate makes such
  a run unlikely (a counter that often repeats is not called stuck as fast as a pressure
  gauge that never does);
- **flat line**: the spread over the last few readings collapses against its usual spread,
  though the readings still differ (an exactly constant run is "stuck");
- **gap**: no reading for `gap_factor` × the device's usual interval — noticed on the next
  reading, or earlier by `check_gaps(now)` from a timer.

One signal per episode: a stuck run or flat stretch is reported once, when it is first
recognised, and a gap once, whether the timer or the late reading notices it first (both give
the same signal id). Out-of-range readings never get here: normalization dead-letters them.

Scores follow `excess_to_score`: 0.5 at the configured threshold, closer to 1 the further past it.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from riskwatch.config.detector_params import SensorHealthConfig
from riskwatch.config.models import TaxonomyConfig
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import excess_to_score, make_signal
from riskwatch.detectors.wording import Names, duration_zh, unit_suffix


@dataclass
class _Series:
    """What one (device, metric) series has shown so far."""

    changes: deque[bool]  # for past consecutive pairs outside stuck runs: did the value change?
    spreads: deque[float]  # past spreads of the recent window, outside flat stretches
    recent: deque[float]
    intervals: deque[float]  # seconds between consecutive readings
    last: Event | None = None
    run_value: float | None = None
    run_length: int = 0
    run_start: Event | None = None
    stuck_reported: bool = False
    flat_start: Event | None = None
    gap_reported_after: str | None = None  # event id of the last reading before a reported gap


class SensorHealthDetector:
    """Emits `SignalKind.health` signals for stuck, flat-lined and silent sensors."""

    name = "sensor_health"

    def __init__(self, config: SensorHealthConfig | None = None, taxonomy: TaxonomyConfig | None = None) -> None:
        self.config = config or SensorHealthConfig()
        self._names = Names(taxonomy)
        self._series: dict[tuple[str, str], _Series] = {}

    def warming_up(self) -> bool:
        """Until some series has the `min_history` readings that stuck and flat are judged on."""
        return not any(len(s.changes) >= self.config.min_history for s in self._series.values())

    def accepts(self, event: Event) -> bool:
        return (
            event.source is Source.sensor
            and event.value is not None
            and event.device_id is not None
            and event.metric is not None
            and math.isfinite(event.value)
        )

    def observe(self, event: Event) -> list[Signal]:
        assert event.value is not None and event.device_id is not None and event.metric is not None
        key = (event.device_id, event.metric)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series()
        signals: list[Signal] = []
        gap = self._check_interval(series, event)
        if gap is not None:
            signals.append(gap)
        stuck = self._check_stuck(series, event)
        if stuck is not None:
            signals.append(stuck)
        flat = self._check_flat(series, event)
        if flat is not None:
            signals.append(flat)
        if series.last is None or event.occurred_at >= series.last.occurred_at:
            series.last = event
        return signals

    def check_gaps(self, now: datetime) -> list[Signal]:
        """Gaps open at `now`: series silent for `gap_factor` × their usual interval (each reported once)."""
        signals = []
        for series in self._series.values():
            last = series.last
            if last is None or series.gap_reported_after == last.event_id:
                continue
            usual = self._usual_interval(series)
            silence = (now - last.occurred_at).total_seconds()
            if usual is not None and silence >= self.config.gap_factor * usual:
                series.gap_reported_after = last.event_id
                signals.append(self._gap_signal(last, now, silence, usual))
        return signals

    # ------------------------------------------------------------------ checks

    def _new_series(self) -> _Series:
        c = self.config
        return _Series(
            changes=deque(maxlen=c.history),
            spreads=deque(maxlen=c.history),
            recent=deque(maxlen=c.flat_window),
            intervals=deque(maxlen=c.history),
        )

    def _usual_interval(self, series: _Series) -> float | None:
        if len(series.intervals) < self.config.min_intervals:
            return None
        usual = statistics.median(series.intervals)
        return usual if usual > 0 else None

    def _check_interval(self, series: _Series, event: Event) -> Signal | None:
        last = series.last
        if last is None or event.occurred_at <= last.occurred_at:
            return None  # first reading, or a late one: it says nothing about the interval
        interval = (event.occurred_at - last.occurred_at).total_seconds()
        usual = self._usual_interval(series)
        series.intervals.append(interval)
        if usual is None or interval < self.config.gap_factor * usual or series.gap_reported_after == last.event_id:
            return None
        series.gap_reported_after = last.event_id
        return self._gap_signal(last, event.occurred_at, interval, usual, closing=event)

    def _check_stuck(self, series: _Series, event: Event) -> Signal | None:
        value = float(event.value)  # type: ignore[arg-type]
        if series.run_value is not None and value == series.run_value:
            series.run_length += 1
        else:
            self._end_run(series)
            series.run_value, series.run_length, series.run_start = value, 1, event
            series.stuck_reported = False
            return None
        c = self.config
        if series.stuck_reported or series.run_length < c.stuck_readings or len(series.changes) < c.min_history:
            return None
        repeats = len(series.changes) - sum(series.changes)
        repeat_rate = (repeats + 1) / (len(series.changes) + 2)  # smoothed: never exactly 0 or 1
        log10_p = (series.run_length - 1) * math.log10(repeat_rate)
        threshold = -math.log10(c.stuck_probability)
        if -log10_p < threshold:
            return None
        series.stuck_reported = True
        start = series.run_start or event
        return self._health_signal(
            "stuck",
            start,
            event,
            at=event.occurred_at,
            score=excess_to_score(-log10_p, threshold),
            observed=value,
            expected=None,
            reason=(
                f"{event.device_id} {self._names.metric(event.metric)} 停滞在 {value:g}{unit_suffix(event.unit)}，"
                f"自 {start.occurred_at:%Y-%m-%d %H:%M} 起连续 {series.run_length} 个读数不变；平时重复读数占 {repeat_rate:.0%}"
            ),
            evidence=(start.event_id, event.event_id),
        )

    def _end_run(self, series: _Series) -> None:
        """Fold the finished run into the repeat-rate history (a stuck run is left out of it)."""
        if series.run_value is None:
            return
        if series.run_length < self.config.stuck_readings or not series.stuck_reported:
            series.changes.extend([False] * (series.run_length - 1))
        series.changes.append(True)

    def _check_flat(self, series: _Series, event: Event) -> Signal | None:
        c = self.config
        series.recent.append(float(event.value))  # type: ignore[arg-type]
        if len(series.recent) < c.flat_window:
            return None
        if 2 * len(set(series.recent)) < c.flat_window:
            return None  # mostly repeats of a few values: a stuck run (or its edge), the stuck check's business
        spread = _spread(series.recent)
        usual = statistics.median(series.spreads) if len(series.spreads) >= c.min_history else None
        flat = usual is not None and usual > 0 and 0 < spread < c.flat_ratio * usual
        if not flat:
            series.flat_start = None
            if spread > 0:  # an exactly constant window is a stuck run, not the usual spread
                series.spreads.append(spread)
            return None
        assert usual is not None
        if series.flat_start is not None:
            return None  # already reported this flat stretch
        series.flat_start = event
        return self._health_signal(
            "flat",
            event,
            event,
            at=event.occurred_at,
            score=excess_to_score(math.log(usual / spread), math.log(1 / c.flat_ratio)),
            observed=round(spread, 9),
            expected=round(usual, 9),
            reason=(
                f"{event.device_id} {self._names.metric(event.metric)} 读数趋平：近 {c.flat_window} 个读数离散度 "
                f"{spread:.3g}{unit_suffix(event.unit)}，平时为 {usual:.3g}（低于其 {c.flat_ratio:.0%}）"
            ),
            evidence=(event.event_id,),
        )

    def _gap_signal(
        self, last: Event, at: datetime, silence: float, usual: float, closing: Event | None = None
    ) -> Signal:
        evidence = (last.event_id,) if closing is None else (last.event_id, closing.event_id)
        return self._health_signal(
            "gap",
            last,
            last,
            at=at,
            score=excess_to_score(silence / usual, self.config.gap_factor),
            observed=silence,
            expected=usual,
            reason=(
                f"{last.device_id} {self._names.metric(last.metric)}：{last.occurred_at:%Y-%m-%d %H:%M} 后 "
                f"{duration_zh(silence)}无读数（平时每 {duration_zh(usual)}一个读数）"
            ),
            evidence=evidence,
        )

    def _health_signal(
        self,
        check: str,
        first: Event,
        where: Event,
        *,
        at: datetime,
        score: float,
        observed: float,
        expected: float | None,
        reason: str,
        evidence: tuple[str, ...],
    ) -> Signal:
        """A maintenance signal of one check, identified by the check and the reading it began at
        (`first`), placed where the sensor (`where`) is."""
        return make_signal(
            self.name,
            SignalKind.health,
            where,
            (check, first.event_id),
            at=at,
            score=score,
            observed=observed,
            expected=expected,
            reason=reason,
            evidence=evidence,
        )


def _spread(values: deque[float]) -> float:
    """Population standard deviation of a short window, in floats.

    `statistics.pstdev` is exact through fractions and cost most of this detector's time per
    reading; compensated float sums agree with it to the last bit or two, far below any
    threshold this detector compares the spread with.
    """
    n = len(values)
    mean = math.fsum(values) / n
    return math.sqrt(math.fsum((v - mean) * (v - mean) for v in values) / n)
