"""Warm-up visibility: every detector says it is warming up until it can raise its signals."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from riskwatch.config.detector_params import BurstConfig, SensorHealthConfig, params_of
from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Event, Source
from riskwatch.detectors.alarm_limits import AlarmLimitDetector
from riskwatch.detectors.base import Detector, WarmingUp, is_warming_up, warming_detectors
from riskwatch.detectors.burst import BurstDetector
from riskwatch.detectors.count_surge import CountSurgeDetector
from riskwatch.detectors.registry import build_detectors
from riskwatch.detectors.rules import RulesDetector
from riskwatch.detectors.sensor_baseline import SensorBaselineDetector
from riskwatch.detectors.sensor_health import SensorHealthDetector
from riskwatch.detectors.series_anomaly import SeriesAnomalyDetector
from riskwatch.streams.normalize import Normalizer
from tests.factories import T0, sensor

CONFIG = load_city_config()
NORMALIZER = Normalizer(CONFIG)
STREET = "410102001"


def _reading(i: int, value: float, device: str = "WP-1") -> Event:
    return NORMALIZER.normalize(Source.sensor, sensor(device, T0 + timedelta(minutes=5 * i), value))


def _readings(n: int, device: str = "WP-1", seed: int = 3) -> list[Event]:
    rng = random.Random(seed)
    return [_reading(i, 0.30 + rng.gauss(0, 0.005), device) for i in range(n)]


def _report(n: int, at: datetime, category: str = "water_supply") -> Event:
    return Event(
        event_id=f"hotline:w{n}",
        source=Source.hotline,
        occurred_at=at,
        region_code=STREET,
        district_code=STREET[:6],
        street_code=STREET,
        category=category,
    )


def _feed(detector: Detector, events: list[Event]) -> None:
    for event in events:
        if detector.accepts(event):
            detector.observe(event)


def test_sensor_baseline_warms_up_after_its_warmup_readings() -> None:
    params = params_of(CONFIG.detectors, "sensor_baseline")
    detector = SensorBaselineDetector(params, CONFIG.taxonomy)
    assert detector.warming_up()
    readings = _readings(params.warmup)  # type: ignore[attr-defined]
    _feed(detector, readings[:-1])
    assert detector.warming_up()  # one reading short
    _feed(detector, readings[-1:])
    assert not detector.warming_up()


def test_series_anomaly_warms_up_with_its_first_fit() -> None:
    params = params_of(CONFIG.detectors, "sensor_anomaly")
    detector = SeriesAnomalyDetector(params, CONFIG.taxonomy)  # type: ignore[arg-type]
    assert detector.warming_up()
    warmup = params.model_params["warmup"]  # type: ignore[attr-defined]
    readings = _readings(warmup)
    _feed(detector, readings[:-1])
    assert detector.warming_up()
    _feed(detector, readings[-1:])  # the warm-up's last reading triggers the first fit
    assert not detector.warming_up()


def test_sensor_health_warms_up_once_a_series_has_its_history() -> None:
    detector = SensorHealthDetector(SensorHealthConfig(min_history=10))
    assert detector.warming_up()
    _feed(detector, _readings(5))
    assert detector.warming_up()
    _feed(detector, _readings(30)[5:])
    assert not detector.warming_up()


def test_count_surge_warms_up_after_warmup_buckets() -> None:
    params = params_of(CONFIG.detectors, "count_surge")
    detector = CountSurgeDetector(params)  # type: ignore[arg-type]
    assert detector.warming_up()
    bucket = params.bucket  # type: ignore[attr-defined]
    warmup = params.warmup_buckets  # type: ignore[attr-defined]
    _feed(detector, [_report(i, T0 + i * bucket) for i in range(warmup)])  # buckets 0 … warmup − 1
    assert detector.warming_up()
    _feed(detector, [_report(warmup, T0 + warmup * bucket)])
    assert not detector.warming_up()


def test_burst_warms_up_once_the_stream_covers_its_warmup() -> None:
    config = BurstConfig(window=timedelta(minutes=30), warmup=timedelta(hours=2))
    detector = BurstDetector(config)
    assert detector.warming_up()
    _feed(detector, [_report(i, T0 + timedelta(minutes=10 * i)) for i in range(12)])  # under 2 h
    assert detector.warming_up()
    _feed(detector, [_report(100 + i, T0 + timedelta(hours=2, minutes=10 * i)) for i in range(12)])  # 4 h in
    assert not detector.warming_up()


def test_stateless_detectors_never_warm_up() -> None:
    rules = RulesDetector(params_of(CONFIG.detectors, "rules", CONFIG.taxonomy), CONFIG.taxonomy)  # type: ignore[arg-type]
    limits = AlarmLimitDetector(CONFIG.taxonomy)
    assert not rules.warming_up() and not limits.warming_up()


def test_configured_detectors_pass_warming_up_through_and_are_listed_by_name() -> None:
    detectors = build_detectors(CONFIG.detectors, CONFIG.taxonomy)
    assert all(isinstance(d, WarmingUp) for d in detectors)
    warming = warming_detectors(detectors)
    assert "alarm_limits" not in warming and "rules" not in warming
    assert {"sensor_baseline", "sensor_anomaly", "count_surge", "count_trend", "burst"} <= set(warming)
    by_name = {d.name: d for d in detectors}
    _feed(by_name["sensor_baseline"], _readings(60))
    assert "sensor_baseline" not in warming_detectors(detectors)


@pytest.mark.parametrize("answer", [True, False])
def test_helpers_read_any_object_that_can_say(answer: bool) -> None:
    class Probe:
        name = "probe"

        def warming_up(self) -> bool:
            return answer

    class Silent:
        name = "silent"

    assert is_warming_up(Probe()) is answer and not is_warming_up(Silent())
    assert warming_detectors([Silent(), Probe()]) == (["probe"] if answer else [])
