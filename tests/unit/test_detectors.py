"""First detectors: robust sensor baseline, count surge, alarm limits."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import timedelta

from riskwatch.config.detector_params import params_of
from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Source
from riskwatch.detectors.alarm_limits import AlarmLimitDetector
from riskwatch.detectors.base import Detector, excess_to_score
from riskwatch.detectors.count_surge import CountSurgeDetector
from riskwatch.detectors.registry import build_detectors
from riskwatch.detectors.sensor_baseline import SensorBaselineDetector
from riskwatch.streams.normalize import Normalizer
from tests.factories import T0, hotline, sensor

CONFIG = load_city_config()
NORMALIZER = Normalizer(CONFIG)
BASELINE = params_of(CONFIG.detectors, "sensor_baseline")
SURGE = params_of(CONFIG.detectors, "count_surge")


def _reading(i: int, value: float):
    return NORMALIZER.normalize(Source.sensor, sensor("WP-1", T0 + timedelta(minutes=5 * i), value))


def test_registry_builds_every_enabled_detector_meeting_the_contract() -> None:
    detectors = build_detectors(CONFIG.detectors, CONFIG.taxonomy)
    assert [d.name for d in detectors] == [s.name for s in CONFIG.detectors.detectors if s.enabled]
    assert all(isinstance(d, Detector) for d in detectors)


def test_configured_names_label_signals_and_watch_filters_events() -> None:
    detectors = {d.name: d for d in build_detectors(CONFIG.detectors, CONFIG.taxonomy)}
    reading = _reading(0, 0.01)
    assert detectors["alarm_limits"].accepts(reading)
    assert not detectors["count_surge"].accepts(reading)  # watches hotline and police only
    signal = detectors["alarm_limits"].observe(reading)[0]
    assert signal.detector == "alarm_limits" and signal.hard_rule == "critical_limit"


def test_score_is_half_at_threshold_and_monotone() -> None:
    assert excess_to_score(4.0, 4.0) == 0.5
    assert excess_to_score(0.0, 4.0) == 0.0
    assert excess_to_score(8.0, 4.0) > excess_to_score(5.0, 4.0) > 0.5


def test_sensor_baseline_flags_a_drop_but_not_noise() -> None:
    rng = random.Random(7)
    detector = SensorBaselineDetector(BASELINE, CONFIG.taxonomy)
    quiet = [s for i in range(100) for s in detector.observe(_reading(i, 0.30 + rng.gauss(0, 0.005)))]
    assert quiet == []
    signals = detector.observe(_reading(100, 0.10))
    assert len(signals) == 1
    assert signals[0].expected is not None and abs(signals[0].expected - 0.30) < 0.02
    assert signals[0].score > 0.8 and "管网水压 0.1 MPa，低于滚动中位数" in signals[0].reason


def test_sensor_baseline_is_causal() -> None:
    """Scores of past readings do not change when future readings are appended."""
    values = [0.3, 0.31, 0.29, 0.3, 0.3, 0.32, 0.28, 0.3, 0.31, 0.3, 0.29, 0.3, 0.3, 0.05, 0.3, 0.3]
    short = SensorBaselineDetector(BASELINE, CONFIG.taxonomy)
    first = [short.observe(_reading(i, v)) for i, v in enumerate(values[:14])]
    longer = SensorBaselineDetector(BASELINE, CONFIG.taxonomy)
    second = [longer.observe(_reading(i, v)) for i, v in enumerate(values)]
    assert first == second[:14]
    assert first[13]  # the drop was flagged


def test_alarm_limits_carry_hard_rules() -> None:
    detector = AlarmLimitDetector(CONFIG.taxonomy)
    assert detector.observe(_reading(0, 0.3)) == []
    assert detector.observe(_reading(1, 0.12))[0].hard_rule == "alarm_limit"
    critical = detector.observe(_reading(2, 0.04))[0]
    assert critical.hard_rule == "critical_limit" and critical.expected == 0.05


def test_count_surge_needs_history_and_fires_on_a_surge() -> None:
    detector = CountSurgeDetector(SURGE)
    n = 0

    def call(minutes: float, content: str = "小区停水了") -> list:
        nonlocal n
        n += 1
        return detector.observe(NORMALIZER.normalize(Source.hotline, hotline(f"GD{n}", T0 + timedelta(minutes=minutes), content)))

    # A surge with no history is not scored.
    assert [s for k in range(10) for s in call(k)] == []
    # Twelve quiet hours: one report an hour.
    assert [s for h in range(1, 13) for s in call(60 * h)] == []
    burst = [s for k in range(12) for s in call(13 * 60 + k)]
    assert burst, "twelve reports in half an hour after a quiet day must be a surge"
    assert burst[-1].observed == 12 and burst[-1].region_code == "410105002"
    assert burst[-1].score >= burst[0].score
    # Other categories are separate series.
    assert call(13 * 60 + 20, "楼下噪音扰民") == []


def test_heavy_libraries_load_only_when_a_detector_needs_them() -> None:
    """Importing the registries and building every shipped detector but the PyOD one loads no
    Prophet, PyOD, scikit-learn or pandas: Prophet waits for its first fit, PyOD for its model."""
    code = (
        "import sys\n"
        "from riskwatch.config.loader import load_city_config\n"
        "from riskwatch.detectors.registry import build_detector\n"
        "from riskwatch.detectors.series.registry import known_series_detectors\n"
        "config = load_city_config()\n"
        "known_series_detectors()\n"
        "built = [build_detector(i, spec, config.taxonomy) for i, spec in enumerate(config.detectors.detectors)\n"
        "         if spec.type != 'series_anomaly']\n"
        "assert {d.inner.name for d in built} >= {'prophet_trend', 'burst', 'rules'}, built\n"
        "sys.exit(sorted({'prophet', 'pyod', 'sklearn', 'pandas'} & set(sys.modules)) or None)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
