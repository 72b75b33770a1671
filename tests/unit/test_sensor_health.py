"""Sensor faults: stuck values, flat lines and gaps raise one health signal per episode."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from riskwatch.config.detector_params import SensorHealthConfig
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import Detector
from riskwatch.detectors.sensor_health import SensorHealthDetector
from tests.factories import GRID, T0

STEP = timedelta(minutes=5)


def _reading(i: int, value: float, device: str = "WP-1", at: datetime | None = None) -> Event:
    return Event(
        event_id=f"sensor:{device}:{i}",
        source=Source.sensor,
        occurred_at=at or T0 + i * STEP,
        region_code=GRID,
        district_code=GRID[:6],
        street_code=GRID[:9],
        category="water_supply",
        metric="water_pressure",
        value=value,
        unit="MPa",
        device_id=device,
    )


def _noisy(n: int, seed: int = 1, sd: float = 0.005, start: int = 0) -> list[Event]:
    rng = random.Random(seed)
    return [_reading(start + i, round(0.3 + rng.gauss(0, sd), 4)) for i in range(n)]


def _feed(detector: SensorHealthDetector, events: list[Event]) -> list[Signal]:
    return [s for e in events for s in detector.observe(e)]


def test_is_a_detector_for_sensor_readings_only() -> None:
    detector = SensorHealthDetector()
    assert isinstance(detector, Detector)
    assert detector.accepts(_reading(0, 0.3))
    hotline = Event(
        event_id="hotline:1",
        source=Source.hotline,
        occurred_at=T0,
        region_code=GRID,
        district_code=GRID[:6],
        category="water_supply",
    )
    assert not detector.accepts(hotline)


def test_a_normal_series_raises_nothing() -> None:
    assert _feed(SensorHealthDetector(), _noisy(400)) == []


def test_stuck_value_is_reported_once_with_its_run() -> None:
    detector = SensorHealthDetector()
    assert _feed(detector, _noisy(100)) == []
    stuck = [_reading(100 + i, 0.312) for i in range(30)]
    signals = _feed(detector, stuck)
    assert len(signals) == 1
    signal = signals[0]
    assert signal.kind is SignalKind.health and signal.detector == "sensor_health"
    assert signal.at == stuck[11].occurred_at  # recognised at the 12th identical reading
    assert "WP-1 water_pressure 停滞在 0.312 MPa" in signal.reason and "连续 12 个读数不变" in signal.reason
    assert signal.observed == 0.312 and 0.5 <= signal.score <= 1.0
    assert signal.evidence == (stuck[0].event_id, stuck[11].event_id)
    # it moves again, then sticks again: a second episode
    assert _feed(detector, _noisy(40, seed=2, start=130)) == []
    again = _feed(detector, [_reading(170 + i, 0.299) for i in range(12)])
    assert len(again) == 1 and again[0].signal_id != signal.signal_id


def test_a_series_that_often_repeats_needs_a_longer_run() -> None:
    """A coarse gauge repeats half its readings: 12 in a row is not yet unusual for it."""
    rng = random.Random(3)
    coarse, value = [], 0.3
    for i in range(200):
        if rng.random() < 0.5:
            value = round(0.3 + rng.choice([-0.01, 0.0, 0.01]), 2) if value == 0.3 else 0.3
        coarse.append(_reading(i, value))
    detector = SensorHealthDetector()
    _feed(detector, coarse)
    assert _feed(detector, [_reading(200 + i, 0.25) for i in range(12)]) == []
    assert len(_feed(detector, [_reading(212 + i, 0.25) for i in range(20)])) == 1


def test_flat_line_is_reported_when_the_spread_collapses() -> None:
    detector = SensorHealthDetector()
    assert _feed(detector, _noisy(150, sd=0.01)) == []
    rng = random.Random(5)
    quiet = [_reading(150 + i, 0.3 + (i % 2) * 0.0001 + rng.random() * 1e-5) for i in range(40)]
    signals = _feed(detector, quiet)
    assert len(signals) == 1
    flat = signals[0]
    assert flat.kind is SignalKind.health and "读数趋平" in flat.reason
    assert flat.expected is not None and flat.observed < 0.1 * flat.expected
    assert flat.score >= 0.5


def test_gap_is_noticed_on_the_next_reading() -> None:
    detector = SensorHealthDetector()
    assert _feed(detector, _noisy(20)) == []
    late = _reading(20, 0.3, at=T0 + 19 * STEP + timedelta(minutes=25))
    signals = detector.observe(late)
    assert len(signals) == 1
    gap = signals[0]
    assert gap.observed == 25 * 60 and gap.expected == 5 * 60
    assert gap.at == late.occurred_at and gap.evidence == ("sensor:WP-1:19", late.event_id)
    assert "25 分钟无读数" in gap.reason and "平时每 5 分钟一个读数" in gap.reason
    assert gap.score > 0.5  # five intervals, past the three that make a gap


def test_timer_reports_an_open_gap_once_and_the_late_reading_does_not_repeat_it() -> None:
    detector = SensorHealthDetector()
    _feed(detector, _noisy(20))
    last = T0 + 19 * STEP
    assert detector.check_gaps(last + timedelta(minutes=14)) == []
    first = detector.check_gaps(last + timedelta(minutes=16))
    assert len(first) == 1 and first[0].observed == 16 * 60
    assert detector.check_gaps(last + timedelta(minutes=30)) == []
    assert detector.observe(_reading(20, 0.3, at=last + timedelta(minutes=40))) == []
    # the device reports again, then falls silent again: a new gap
    _feed(detector, _noisy(5, start=21))
    assert len(detector.check_gaps(T0 + 25 * STEP + timedelta(hours=2))) == 1


def test_no_gap_judged_before_the_usual_interval_is_known() -> None:
    detector = SensorHealthDetector()
    _feed(detector, _noisy(3))
    assert detector.check_gaps(T0 + timedelta(days=1)) == []
    assert detector.observe(_reading(3, 0.3, at=T0 + timedelta(days=1))) == []


def test_devices_are_judged_separately_and_replays_give_the_same_signals() -> None:
    events = [e for pair in zip(_noisy(60), [_reading(i, 0.5, device="WP-2") for i in range(60)]) for e in pair]
    events += [_reading(60 + i, 0.4) for i in range(15)]

    def run() -> list[Signal]:
        return _feed(SensorHealthDetector(), events)

    signals = run()
    assert [s.reason.split()[0] for s in signals] == ["WP-1"]  # WP-2 never varies: never "stuck"
    assert run() == signals


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError):
        SensorHealthConfig(min_history=500, history=100)
    with pytest.raises(ValidationError):
        SensorHealthConfig(gap_factor=1.0)
    with pytest.raises(ValidationError):
        SensorHealthConfig(no_such_option=1)
