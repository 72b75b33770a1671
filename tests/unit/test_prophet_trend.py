"""Prophet count-trend detector on synthetic hourly counts with a daily and weekly rhythm."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from riskwatch.config.detector_params import ProphetTrendConfig
from riskwatch.contracts import Event, Signal, Source
from riskwatch.detectors.base import Detector
from riskwatch.detectors.prophet_trend import ProphetTrendDetector

pytest.importorskip("prophet")
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

BJ = timezone(timedelta(hours=8))
STREET = "410105002"
SEPT = datetime(2026, 9, 20, tzinfo=BJ)  # 14 days run into National Day (Oct 1–3)
SURGE_AT = datetime(2026, 10, 2, 12, tzinfo=BJ)  # day 13, 12:00–13:00
SURGE_EXTRA = 25
COLD_SURGE_AT = datetime(2026, 9, 22, 10, tzinfo=BJ)  # day 3, before Prophet can be used


def _rate(t: datetime, base: float) -> float:
    """Reports per hour: a daily wave (peak 15:00), quieter weekends and public holidays."""
    hour = t.hour + t.minute / 60
    daily = 1.0 + 0.8 * math.sin((hour - 9) / 24 * 2 * math.pi)
    weekly = 0.75 if t.weekday() >= 5 else 1.0
    holiday = 0.8 if (t.month, t.day) in {(10, 1), (10, 2), (10, 3)} else 1.0
    return base * daily * weekly * holiday


def _events(
    start: datetime,
    days: int,
    seed: int,
    *,
    base: float = 4.0,
    category: str = "water_supply",
    extra: dict[datetime, int] | None = None,
    growth: tuple[int, float] | None = None,
) -> list[Event]:
    """Seeded Poisson counts per hour, spread uniformly inside the hour, in event-time order."""
    rng = np.random.default_rng(seed)
    extra = extra or {}
    out = [_event(f"{category}-anchor", start + timedelta(minutes=1), category)]  # the series starts at day 0, 00:00
    for h in range(days * 24):
        t = start + timedelta(hours=h)
        lam = _rate(t, base)
        if growth and h >= growth[0] * 24:
            lam *= (1 + growth[1]) ** ((h - growth[0] * 24) / 24)
        n = int(rng.poisson(lam)) + extra.get(t, 0)
        for i, second in enumerate(np.sort(rng.uniform(60 if h == 0 else 0, 3600, n))):
            out.append(_event(f"{category}-{h}-{i}", t + timedelta(seconds=float(second)), category))
    return out


def _event(ident: str, at: datetime, category: str) -> Event:
    return Event(
        event_id=f"hotline:{ident}",
        source=Source.hotline,
        occurred_at=at,
        region_code=STREET,
        district_code=STREET[:6],
        street_code=STREET,
        category=category,
    )


def _run(detector: ProphetTrendDetector, events: list[Event]) -> list[Signal]:
    return [signal for event in events if detector.accepts(event) for signal in detector.observe(event)]


@pytest.fixture(scope="module")
def september() -> tuple[ProphetTrendDetector, list[Event], list[Signal], list[int]]:
    """Fourteen days through National Day, a cold-start surge on day 3 and a surge on day 13."""
    detector = ProphetTrendDetector()
    events = _events(SEPT, 14, seed=7, extra={COLD_SURGE_AT: 15, SURGE_AT: SURGE_EXTRA})
    signals: list[Signal] = []
    fit_buckets: list[int] = []
    for event in events:
        signals.extend(detector.observe(event))
        if detector.last_fit and (not fit_buckets or fit_buckets[-1] != detector.last_fit.at_bucket):
            fit_buckets.append(detector.last_fit.at_bucket)
    return detector, events, signals, fit_buckets


def test_meets_the_detector_contract_and_validates_config() -> None:
    detector = ProphetTrendDetector()
    assert isinstance(detector, Detector)
    assert detector.accepts(_event("x", SEPT, "water_supply"))
    with pytest.raises(ValidationError):
        ProphetTrendConfig(resolution=timedelta(minutes=7))  # does not divide a day
    with pytest.raises(ValidationError):
        ProphetTrendConfig(history_needed=timedelta(days=30))  # more than the capped history
    with pytest.raises(ValidationError):
        ProphetTrendConfig(refit_every=timedelta(hours=36))


def test_cold_start_baseline_answers_before_seven_days(september) -> None:
    detector, _events_, signals, _fits = september
    first_fit = min(detector.bucket_start(b) for b in _fits)
    assert first_fit == SEPT + timedelta(days=7)
    early = [s for s in signals if s.at < first_fit]
    assert early and {s.detector for s in early} == {"prophet_trend/cold_start"}
    cold = [s for s in early if COLD_SURGE_AT <= s.at < COLD_SURGE_AT + timedelta(hours=1)]
    assert cold, "the day-3 surge was flagged by the cold-start baseline"
    assert all(s.detector == "prophet_trend" for s in signals if s.at >= first_fit)


def test_warming_up_until_a_series_has_a_prophet_model(september) -> None:
    """The cold-start baseline alone is warming up: it cannot tell a seasonal peak from a surge."""
    fresh = ProphetTrendDetector()
    assert fresh.warming_up()
    cold_only = _events(SEPT, 3, seed=7)
    _run(fresh, cold_only)
    assert fresh.warming_up() and fresh.fits == 0
    detector, *_rest = september
    assert detector.fits > 0 and not detector.warming_up()


def test_refits_run_once_a_day_on_the_local_midnight_grid(september) -> None:
    detector, _events_, _signals, fits = september
    assert detector.fits == 7 == len(fits)  # days 7..13, never per event
    starts = [detector.bucket_start(b) for b in fits]
    assert starts == [SEPT + timedelta(days=d) for d in range(7, 14)]
    assert detector.fit_failures == 0
    assert detector.fit_seconds / detector.fits < 3.0  # ~0.25 s on a 2-core machine


def test_normal_days_stay_quiet_and_the_day_13_surge_is_flagged_in_its_bucket(september) -> None:
    detector, _events_, signals, _fits = september
    prophet = [s for s in signals if s.detector == "prophet_trend" and "持续增长" not in s.reason]
    in_surge = [s for s in prophet if SURGE_AT <= s.at < SURGE_AT + timedelta(hours=1)]
    false_buckets = {detector.bucket_of(s.at) for s in prophet if s not in in_surge}
    assert len(false_buckets) <= 2, [s.reason for s in prophet if s not in in_surge]
    assert in_surge, "the surge was not flagged within its own bucket"
    first, strongest = in_surge[0], max(in_surge, key=lambda s: s.score)
    assert first.score >= 0.5 and strongest.score > 0.75 and strongest.observed > first.observed
    assert first.expected is not None and first.observed > first.expected
    assert first.reason.startswith("12:00–13:00 ") and "起 water_supply 类12345热线，Prophet 预测" in first.reason
    assert "（99% 预测区间上限 " in first.reason
    assert len(first.evidence) >= 1
    # Re-signalled only as the score climbs, not for every report.
    assert len(in_surge) < SURGE_EXTRA / 2
    assert not [s for s in signals if "持续增长" in s.reason]


def test_chinese_public_holidays_are_in_the_model(september) -> None:
    detector, _events_, _signals, _fits = september
    assert detector.last_fit is not None and "National Day" in detector.last_fit.holidays
    table = detector.holidays_between(datetime(2026, 10, 1, tzinfo=BJ), datetime(2026, 10, 8, tzinfo=BJ))
    national = table[table["holiday"] == "National Day"]["ds"].dt.strftime("%Y-%m-%d").tolist()
    assert "2026-10-01" in national


def test_state_round_trip_keeps_forecasting_until_the_next_refit() -> None:
    events = _events(SEPT, 11, seed=3, extra={datetime(2026, 9, 29, 14, tzinfo=BJ): 20})
    cut = datetime(2026, 9, 29, 9, tzinfo=BJ)
    midnight = datetime(2026, 9, 30, tzinfo=BJ)
    before = [e for e in events if e.occurred_at < cut]
    same_day = [e for e in events if cut <= e.occurred_at < midnight]
    next_day = [e for e in events if e.occurred_at >= midnight]

    original = ProphetTrendDetector()
    _run(original, before)
    state = json.loads(json.dumps(original.get_state()))
    restored = ProphetTrendDetector()
    restored.set_state(state)
    assert restored.get_state() == state

    key = ("hotline", "water_supply", STREET)
    assert restored.uses_prophet(key)
    expected = _run(original, same_day)
    got = _run(restored, same_day)
    assert got == expected and any(s.detector == "prophet_trend" for s in got)
    assert restored.fits == original.fits  # no refit was needed to keep scoring

    # After midnight both refit from the same history and seeds: identical forecasts.
    assert _run(restored, next_day) == _run(original, next_day)
    assert restored.fits == original.fits
    later = next_day[-1].occurred_at
    assert restored.forecast_for(key, later) == original.forecast_for(key, later) is not None


def test_sustained_growth_is_signalled_once_a_day_and_not_on_a_flat_series() -> None:
    november = datetime(2026, 11, 1, tzinfo=BJ)
    detector = ProphetTrendDetector()
    flat = _events(november, 18, seed=1, category="power_supply")
    rising = _events(november, 18, seed=1, category="water_supply", growth=(11, 0.2))
    merged = sorted(flat + rising, key=lambda e: e.occurred_at)
    growth = [s for s in _run(detector, merged) if "持续增长" in s.reason]
    assert growth and {s.category for s in growth} == {"water_supply"}
    assert all(s.detector == "prophet_trend" and s.kind.value == "surge" for s in growth)
    days = [s.at.date() for s in growth]
    assert len(days) == len(set(days))
    assert growth[0].at >= november + timedelta(days=14)  # needs two weeks of history
    assert growth[0].reason.startswith("持续增长：3 天内 +")
    assert growth[-1].observed > growth[-1].expected


def test_sparse_series_and_failed_fits_fall_back_to_the_cold_start_baseline(monkeypatch) -> None:
    detector = ProphetTrendDetector()
    sparse = [_event(f"s{i}", SEPT + timedelta(hours=40 * i), "gas_supply") for i in range(12)]
    _run(detector, sparse)
    assert detector.fits == 0 and not detector.uses_prophet(("hotline", "gas_supply", STREET))

    def boom(*_args, **_kwargs):
        raise RuntimeError("stan exploded")

    failing = ProphetTrendDetector()
    monkeypatch.setattr(failing, "_fit_and_forecast", boom)
    events = _events(SEPT, 9, seed=5, extra={datetime(2026, 9, 28, 15, tzinfo=BJ): 25})
    signals = _run(failing, events)
    assert failing.fits == 0 and failing.fit_failures == 2  # one attempt per refit, not per event
    surge = [s for s in signals if s.at >= datetime(2026, 9, 28, 15, tzinfo=BJ) and s.at.hour == 15]
    assert surge and {s.detector for s in surge} == {"prophet_trend/cold_start"}
