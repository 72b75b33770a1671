"""Count trends and surges per (source, category, region) against a Prophet baseline.

Reports are counted in event-time buckets (hourly by default, on the local wall clock so that
days, daily/weekly seasonality and public holidays line up). Once a series has enough history,
a Prophet model (daily and weekly seasonality, Chinese public holidays, linear trend) is fitted
to its counts and a forecast table with prediction intervals is computed for every bucket until
the next refit. Scoring an event is then a dictionary lookup: a bucket whose count rises above
the upper bound of its interval raises a `surge` signal.

Refits are lazy and rare: they run on a fixed grid of event time (local midnight by default),
each triggered by the series' first event after a grid point, never per event, on at most the
last 28 days. At refit time the fitted trend is also compared over the last days, and sustained
growth raises its own `surge` signal, at most once a day per series.

Counts are fitted as √(count + 3/8), so that Prophet's Gaussian noise suits Poisson-like counts,
and the upper bound is never below the Poisson quantile of the expectation.

Until a series has the history Prophet needs (or when a fit fails, or the series is too sparse
for a model to be worth it), the robust rolling baseline of `CountSurgeDetector` answers
instead; its signals are named `prophet_trend/cold_start`.

Prophet and pandas are imported on the first fit only, so the cold-start path and the state
round trip work without them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from riskwatch.config.detector_params import DAY, ProphetTrendConfig
from riskwatch.config.models import TaxonomyConfig
from riskwatch.contracts import Event, Signal, SignalKind, Source, stable_id
from riskwatch.detectors.base import excess_to_score, make_signal, renamed
from riskwatch.detectors.bucket_counts import BucketCounts, CountSeries, SeriesKey
from riskwatch.detectors.count_surge import CountSurgeDetector, region_at_level
from riskwatch.detectors.wording import Names

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from prophet import Prophet

log = logging.getLogger(__name__)


@dataclass
class _Series(CountSeries):
    """One count series: counts by bucket (`CountSeries`), and the forecast table of its last refit."""

    fitted_at: int | None = None  # refit grid point of the last refit (or attempt): trained on buckets before it
    forecast: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # bucket → yhat, lower, upper (counts)
    alerted: dict[int, tuple[float, float]] = field(default_factory=dict)  # bucket → (last score, bound it beat)
    growth_day: int | None = None
    cold: CountSurgeDetector | None = None  # the fallback, alive only while Prophet does not cover the series


@dataclass
class FitRecord:
    """What the last fit did, for diagnostics and measurement."""

    key: SeriesKey
    at_bucket: int
    points: int
    seconds: float
    holidays: tuple[str, ...]
    trend_growth: float | None


_prophet_cls: Any = None


def poisson_quantile(lam: float, q: float) -> int:
    """Smallest k with P(Poisson(lam) <= k) >= q."""
    if lam <= 0:
        return 0
    if lam > 500:  # normal approximation, far from where the exact sum is needed
        return int(math.ceil(lam + _normal_quantile(q) * math.sqrt(lam)))
    term = cdf = math.exp(-lam)
    k = 0
    while cdf < q and k < 10_000:
        k += 1
        term *= lam / k
        cdf += term
    return k


def _normal_quantile(q: float) -> float:
    """Inverse standard normal CDF by bisection (called rarely)."""
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _prophet() -> type[Prophet]:
    """Import Prophet once, keeping its and cmdstanpy's chatter out of the worker's log."""
    global _prophet_cls
    if _prophet_cls is None:
        plot_log = logging.getLogger("prophet.plot")  # "Importing plotly failed" is not our concern
        if plot_log.level == logging.NOTSET:
            plot_log.setLevel(logging.CRITICAL)
        from cmdstanpy.utils import get_logger
        from prophet import Prophet

        # cmdstanpy installs its own INFO handler on first use ("Chain [1] start processing" per
        # fit); let it do so now, then raise the level unless the application set one.
        stan_log = get_logger()
        if stan_log.level <= logging.INFO:
            stan_log.setLevel(logging.WARNING)
        _prophet_cls = Prophet
    return _prophet_cls


class ProphetTrendDetector:
    """Surges above a Prophet prediction interval, and sustained trend growth, per count series."""

    name = "prophet_trend"
    cold_name = "prophet_trend/cold_start"
    MAX_EVIDENCE = 20

    def __init__(self, config: ProphetTrendConfig | None = None, taxonomy: TaxonomyConfig | None = None) -> None:
        self.config = config = config or ProphetTrendConfig()
        self._taxonomy = taxonomy
        self._names = Names(taxonomy)
        self._bucket_s = int(config.resolution.total_seconds())
        self._offset_s = int(config.utc_offset.total_seconds())
        self._per_day = int(DAY.total_seconds()) // self._bucket_s
        self._need = self._buckets(config.history_needed)
        self._cap = self._buckets(config.history_cap)
        self._refit = self._buckets(config.refit_every)
        self._horizon = self._refit + self._buckets(config.forecast_slack) + 1
        self._late = self._buckets(config.late_window)
        self._window = self._buckets(config.growth_window)
        self._growth_need = self._buckets(config.growth_history_needed)
        self._tz = timezone(config.utc_offset)
        self._cold_config = config.cold_start_config()
        self._counts: BucketCounts[_Series] = BucketCounts(
            _Series, max_evidence=self.MAX_EVIDENCE, keep="first", evidence_buckets=self._late
        )
        #: Measurements: refits done, failed, seconds spent fitting + forecasting, the last fit.
        self.fits = 0
        self.fit_failures = 0
        self.fit_seconds = 0.0
        self.last_fit: FitRecord | None = None

    def _buckets(self, span: timedelta) -> int:
        return int(span.total_seconds()) // self._bucket_s

    # ------------------------------------------------------------------ the Detector contract

    def warming_up(self) -> bool:
        """Until some series has a fitted Prophet forecast; the cold-start baseline alone counts
        as warming up (it cannot tell a seasonal peak from a surge)."""
        return not any(series.forecast for series in self._counts.series.values())

    def accepts(self, event: Event) -> bool:
        return event.source in self.config.sources

    def observe(self, event: Event) -> list[Signal]:
        bucket = self.bucket_of(event.occurred_at)
        region = region_at_level(event, self.config.region_level)
        key, series, count, newer = self._counts.add(event, region, bucket)
        if newer:
            self._prune(series)

        signals: list[Signal] = []
        if self._refit_due(series):
            signals.extend(self._refit_series(key, series, event))
        forecast = series.forecast.get(bucket)
        if forecast is not None:
            series.cold = None
            signal = self._score(key, series, event, bucket, count, forecast)
            if signal is not None:
                signals.append(signal)
            return signals
        if series.forecast.get(series.newest) is not None:
            return signals  # Prophet covers the series; a report later than the kept forecasts
        # Cold start (or a failed fit whose forecasts ran out, or a sparse series): the robust
        # rolling baseline, fed only while it answers. It costs more per event than a lookup.
        if series.cold is None:
            series.cold = CountSurgeDetector(self._cold_config, self._taxonomy)
        for cold in series.cold.observe(event):
            # Remember the count that first crossed the cold-start threshold: fits train at it.
            series.alerted.setdefault(bucket, (cold.score, cold.observed))
            # It cannot tell a seasonal peak from a surge: it corroborates, never warns alone.
            signals.append(renamed(cold, self.cold_name).model_copy(update={"warming": True}))
        return signals

    # ------------------------------------------------------------------ buckets and time

    def bucket_of(self, at: datetime) -> int:
        """Bucket index on the local wall clock (UTC offset applied), by event time."""
        return (int(at.timestamp()) + self._offset_s) // self._bucket_s

    def bucket_start(self, bucket: int) -> datetime:
        """Aware local start time of a bucket."""
        return datetime.fromtimestamp(bucket * self._bucket_s - self._offset_s, tz=self._tz)

    def _naive_local(self, buckets: np.ndarray) -> pd.DatetimeIndex:
        import pandas as pd

        return pd.to_datetime(buckets.astype("int64") * self._bucket_s, unit="s")

    # ------------------------------------------------------------------ scoring

    def _score(
        self, key: SeriesKey, series: _Series, event: Event, bucket: int, count: int, forecast: tuple[float, float, float]
    ) -> Signal | None:
        yhat, _lower, upper = forecast
        if count < self.config.min_count or count <= upper:
            return None
        half = max(upper - yhat, 1e-6)
        score = excess_to_score(1.0 + (count - upper) / half, 1.0)  # 0.5 at the bound, → 1 as it grows
        previous = series.alerted.get(bucket)
        if previous is not None and score < previous[0] + self.config.rescore_step:
            return None
        series.alerted[bucket] = (score, upper)
        source, category, region = key
        start = self.bucket_start(bucket)
        end = start + self.config.resolution
        when = f"{start:%H:%M}–{end:%H:%M}" if self.config.resolution < DAY else f"{start:%Y-%m-%d}"
        width = f"{self.config.interval_width * 100:g}%"
        return make_signal(
            self.name,
            SignalKind.surge,
            event,
            (source, category, region, bucket, count),
            region_code=region,
            category=category,
            score=score,
            observed=float(count),
            expected=round(yhat, 3),
            reason=(
                f"{when} {count} 起 {self._names.reports(category, Source(source))}，Prophet 预测 {yhat:.1f} 起"
                f"（{width} 预测区间上限 {upper:.1f}）"
            ),
            evidence=series.evidence.get(bucket, ()),
        )

    # ------------------------------------------------------------------ refits

    def _anchor(self, bucket: int) -> int:
        """The refit grid point at or before `bucket` (local midnights for a 24 h interval)."""
        return bucket // self._refit * self._refit

    def _refit_due(self, series: _Series) -> bool:
        anchor = self._anchor(series.newest)
        if anchor - series.first_bucket < self._need:
            return False
        return series.fitted_at is None or anchor > series.fitted_at

    def _refit_series(self, key: SeriesKey, series: _Series, event: Event) -> list[Signal]:
        """Fit on the buckets before the refit grid point, forecast until after the next one.

        Fits run on a fixed grid of event time (local midnight for a 24 h interval), triggered by
        the first event after a grid point: what a fit sees does not depend on when that event
        came, and a holiday never enters a fit with a few night hours only (it would learn an
        effect for the whole day from them).
        """
        now = self._anchor(series.newest)
        series.fitted_at = now  # also on failure or skip: the next attempt waits for the next grid point
        lo = max(series.first_bucket, now - self._cap)
        buckets = np.arange(lo, now)
        counts = np.array([series.counts.get(int(b), 0) for b in buckets], dtype=float)
        # Buckets already flagged train at the bound they beat, so an incident does not become
        # tomorrow's normal.
        for b, (_score, upper) in series.alerted.items():
            if lo <= b < now:
                counts[b - lo] = min(counts[b - lo], upper)
        days = len(buckets) / self._per_day
        if counts.sum() < self.config.min_events_per_day * days:
            series.forecast = {}
            return []
        started = time.perf_counter()
        try:
            table, trend, holidays = self._fit_and_forecast(key, now, buckets, counts)
        except Exception:  # a bad fit must never stop the agent: the cold-start baseline answers
            self.fit_failures += 1
            log.warning(
                "Prophet fit failed for %s at %s; previous forecasts while they last, then the cold-start baseline",
                key, self.bucket_start(now).isoformat(), exc_info=True,
            )
            series.forecast = {b: v for b, v in series.forecast.items() if b >= now - self._late}
            return []
        seconds = time.perf_counter() - started
        self.fits += 1
        self.fit_seconds += seconds
        kept = {b: v for b, v in series.forecast.items() if now - self._late <= b < now}
        kept.update(table)
        series.forecast = kept
        growth = self._growth(trend)
        self.last_fit = FitRecord(key, now, len(buckets), seconds, holidays, growth)
        signal = self._growth_signal(key, series, event, now, counts, trend, growth)
        return [signal] if signal is not None else []

    def build_model(self) -> Prophet:
        """An unfitted Prophet configured as every series' model."""
        cfg = self.config
        model = _prophet()(
            growth="linear",
            yearly_seasonality=False,
            weekly_seasonality=cfg.weekly_fourier_order if cfg.weekly_seasonality else False,
            daily_seasonality=cfg.daily_fourier_order if cfg.daily_seasonality and cfg.resolution < DAY else False,
            changepoint_prior_scale=cfg.changepoint_prior_scale,
            changepoint_range=cfg.changepoint_range,
            seasonality_prior_scale=cfg.seasonality_prior_scale,
            interval_width=cfg.interval_width,
            uncertainty_samples=cfg.uncertainty_samples,
        )
        if cfg.country_holidays:
            model.add_country_holidays(country_name=cfg.country_holidays)
        return model

    def holidays_between(self, start: datetime, end: datetime) -> pd.DataFrame:
        """The holiday table (ds, holiday) the model would use for local dates in [start, end]."""
        import pandas as pd

        model = self.build_model()
        dates = pd.Series(pd.date_range(start.date(), end.date(), freq="D"))
        table = model.construct_holiday_dataframe(dates)
        if table.empty:
            return table
        return table[(table["ds"] >= dates.iloc[0]) & (table["ds"] <= dates.iloc[-1])].reset_index(drop=True)

    def _fit_and_forecast(
        self, key: SeriesKey, now: int, buckets: np.ndarray, counts: np.ndarray
    ) -> tuple[dict[int, tuple[float, float, float]], tuple[float, float] | None, tuple[str, ...]]:
        import pandas as pd

        cfg = self.config
        model = self.build_model()
        y = np.sqrt(counts + 0.375) if cfg.transform == "sqrt" else counts
        fit_kwargs: dict[str, Any] = {"seed": cfg.seed}
        if cfg.algorithm:
            fit_kwargs["algorithm"] = cfg.algorithm
        model.fit(pd.DataFrame({"ds": self._naive_local(buckets), "y": y}), **fit_kwargs)

        future = np.arange(now, now + self._horizon)
        probes = np.array([now - 1 - self._window, now - 1])  # trend at both ends of the growth window
        wanted = np.concatenate([probes, future])  # in time order: Prophet sorts its input by ds
        frame = pd.DataFrame({"ds": self._naive_local(wanted)})
        # Prophet draws its interval samples from numpy's global generator: seed it per series
        # and refit so forecasts are reproducible, and leave the caller's generator as it was.
        saved = np.random.get_state()
        np.random.seed(int(stable_id(cfg.seed, *key, now), 16) % 2**32)
        try:
            predicted = model.predict(frame)
        finally:
            np.random.set_state(saved)
        # Rows come back sorted by ds, not in input order: key them by their own timestamps.
        seconds = (predicted["ds"] - pd.Timestamp(0)).dt.total_seconds().to_numpy()
        rows = {int(round(sec)) // self._bucket_s: i for i, sec in enumerate(seconds)}

        yhat = predicted["yhat"].to_numpy(dtype=float)
        lower = predicted["yhat_lower"].to_numpy(dtype=float)
        upper = predicted["yhat_upper"].to_numpy(dtype=float)
        trend = predicted["trend"].to_numpy(dtype=float)
        mean, quantile = self._back_mean, self._back_quantile
        tail = (1.0 + cfg.interval_width) / 2
        table: dict[int, tuple[float, float, float]] = {}
        for b in future:
            i = rows[int(b)]
            expected = mean(yhat[i])
            # Counts are at least Poisson-dispersed: the upper bound is never below the Poisson
            # quantile of the expectation (nor below one report above it, for series flat in training).
            bound = max(quantile(upper[i]), poisson_quantile(expected, tail), expected + 1.0)
            table[int(b)] = (round(expected, 3), round(quantile(lower[i]), 3), round(bound, 3))
        trend_pair: tuple[float, float] | None = None
        if probes[0] >= buckets[0]:
            start, end = (trend[rows[int(p)]] for p in probes)
            trend_pair = (mean(start) * self._per_day, mean(end) * self._per_day)
        names = tuple(str(h) for h in (model.train_holiday_names if model.train_holiday_names is not None else ()))
        return table, trend_pair, names

    def _back_mean(self, value: float) -> float:
        """A mean on the fitted scale back to counts per bucket (E[√(Y+3/8)]² ≈ λ + 1/8 for Poisson Y)."""
        value = max(float(value), 0.0)
        return max(value * value - 0.125, 0.0) if self.config.transform == "sqrt" else value

    def _back_quantile(self, value: float) -> float:
        """A quantile on the fitted scale back to counts (the transform is monotone, so exactly)."""
        value = max(float(value), 0.0)
        return max(value * value - 0.375, 0.0) if self.config.transform == "sqrt" else value

    # ------------------------------------------------------------------ sustained growth

    @staticmethod
    def _growth(trend: tuple[float, float] | None) -> float | None:
        if trend is None or trend[0] <= 0:
            return None
        return trend[1] / trend[0] - 1.0

    def _growth_signal(
        self,
        key: SeriesKey,
        series: _Series,
        event: Event,
        now: int,
        counts: np.ndarray,
        trend: tuple[float, float] | None,
        growth: float | None,
    ) -> Signal | None:
        """Sustained growth of the fitted trend, confirmed by the raw totals, at most once a day."""
        cfg = self.config
        if trend is None or growth is None or growth < cfg.growth_threshold:
            return None
        if now - series.first_bucket < self._growth_need or len(counts) < 2 * self._window:
            return None
        days = self._window / self._per_day
        recent = float(counts[-self._window :].sum()) / days
        before = float(counts[-2 * self._window : -self._window].sum()) / days
        if recent <= before or recent < cfg.growth_min_per_day:
            return None
        day = now // self._per_day
        if series.growth_day == day:
            return None
        series.growth_day = day
        source, category, region = key
        span = f"{days:g} 天"
        return make_signal(
            self.name,
            SignalKind.surge,
            event,
            ("growth", source, category, region, day),
            region_code=region,
            category=category,
            score=excess_to_score(growth, cfg.growth_threshold),
            observed=round(recent, 2),
            expected=round(before, 2),
            reason=(
                f"持续增长：{span}内 +{growth * 100:.0f}%（Prophet 趋势；近 {span} {self._names.reports(category, Source(source))}"
                f"日均 {recent:.1f} 起，此前 {span} 日均 {before:.1f} 起）"
            ),
            evidence=series.evidence.get(series.newest, ()),
        )

    # ------------------------------------------------------------------ memory

    def _prune(self, series: _Series) -> None:
        """Drop what no fit or late event can use; runs about once a day per series."""
        if len(series.counts) <= self._cap + self._per_day:
            return
        history_start = series.newest - self._cap
        late_start = series.newest - self._late
        self._counts.forget_before(series, history_start)  # evidence is kept for late buckets only anyway
        series.alerted = {b: v for b, v in series.alerted.items() if b >= history_start}
        series.forecast = {b: v for b, v in series.forecast.items() if b >= late_start}

    # ------------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """Counts history and forecast tables (not the Stan fits): JSON-serialisable plain data.

        A worker restored from it keeps scoring against the saved forecasts until each series'
        next refit is due; a series still on the cold-start baseline keeps that baseline too.
        """
        counts = self._counts
        return {
            "version": 1,
            "stream_start": counts.stream_start_state(),
            "series": [
                {
                    **counts.series_state(key, s),
                    "fitted_at": s.fitted_at,
                    "forecast": [[b, *v] for b, v in sorted(s.forecast.items())],
                    "alerted": [[b, *v] for b, v in sorted(s.alerted.items())],
                    "growth_day": s.growth_day,
                    "cold": None if s.cold is None else s.cold.get_state(),
                }
                for key, s in counts.series.items()
            ],
            "fits": self.fits,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from `get_state()` output (after a JSON round trip too)."""
        if state.get("version") != 1:
            raise ValueError(f"unknown prophet_trend state version {state.get('version')!r}")
        for series, item in self._counts.restore(state["stream_start"], state["series"]):
            series.fitted_at = None if item["fitted_at"] is None else int(item["fitted_at"])
            series.forecast = {int(b): (float(y), float(lo), float(hi)) for b, y, lo, hi in item["forecast"]}
            series.alerted = {int(b): (float(sc), float(up)) for b, sc, up in item["alerted"]}
            series.growth_day = None if item["growth_day"] is None else int(item["growth_day"])
            if item.get("cold") is not None:
                series.cold = CountSurgeDetector(self._cold_config, self._taxonomy)
                series.cold.set_state(item["cold"])
        self.fits = int(state.get("fits", 0))

    # ------------------------------------------------------------------ introspection

    def series_keys(self) -> list[SeriesKey]:
        return list(self._counts.series)

    def forecast_for(self, key: SeriesKey, at: datetime) -> tuple[float, float, float] | None:
        """(yhat, lower, upper) of the bucket holding `at`, if the series has a forecast for it."""
        series = self._counts.series.get(key)
        return None if series is None else series.forecast.get(self.bucket_of(at))

    def uses_prophet(self, key: SeriesKey) -> bool:
        """Whether the series currently has a Prophet forecast (else the cold-start baseline answers)."""
        series = self._counts.series.get(key)
        return bool(series and series.forecast.get(series.newest))


def fit_seconds_per_series(detector: ProphetTrendDetector) -> float:
    """Mean seconds per refit (fit plus forecast) so far; 0 before any."""
    return detector.fit_seconds / detector.fits if detector.fits else 0.0


__all__ = ["FitRecord", "ProphetTrendDetector", "fit_seconds_per_series"]
