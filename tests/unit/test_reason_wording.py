"""Signal reasons are Chinese for the duty officer: numbers and names stay, English words go."""

from __future__ import annotations

import re

import pytest

from riskwatch.config.loader import CityConfig, load_city_config
from riskwatch.contracts import Signal
from riskwatch.tools.backtest.runner import run_scenario

CHINESE = re.compile(r"[\u4e00-\u9fff]")
#: A device id (WP-410105002-01) or a region code: names, not words.
DEVICE_ID = re.compile(r"\b[A-Z]{2,}-[0-9A-Za-z-]+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.]*[A-Za-z0-9]")
#: Model names the shipped config may name in a reason.
MODELS = {"ecod", "iforest", "copod", "hbos", "knn", "lof", "ensemble", "default", "Prophet"}


@pytest.fixture(scope="module")
def city() -> CityConfig:
    return load_city_config(None)


@pytest.fixture(scope="module")
def replayed(city: CityConfig) -> list[Signal]:
    """Every signal of a scenario whose sensor shapes, reports and faults wake most detectors, and
    of the station scenario (stations report only where a scenario lists them)."""
    return [
        *run_scenario("bench_sensor_shapes", city, progress=False).signals,
        *(s for s in run_scenario("station_fault", city, progress=False).signals if s.detector == "station_anomaly"),
    ]


def allowed_names(city: CityConfig) -> set[str]:
    """Latin tokens a reason may keep: detector, rule and model names, units, metric names."""
    names = set(MODELS)
    for spec in city.detectors.detectors:
        names |= {spec.name, spec.type}
        names |= {str(rule["name"]) for rule in spec.params.get("rules", [])}
    names |= {station.model for station in city.stations.stations}
    for metric in city.taxonomy.sensor_metrics:
        names |= set(LATIN_WORD.findall(metric.unit)) | set(LATIN_WORD.findall(metric.name))
    return names


def english_words(reason: str, allowed: set[str]) -> set[str]:
    """Latin words of two letters or more in `reason` that are none of the allowed names."""
    text = DEVICE_ID.sub(" ", reason)
    return {w for w in LATIN_WORD.findall(text) if w not in allowed and not re.fullmatch(r"\d+(\.\d+)?e[-+]?\d+", w)}


def test_every_default_detector_explains_itself_in_chinese(city: CityConfig, replayed: list[Signal]) -> None:
    allowed = allowed_names(city)
    by_detector: dict[str, list[str]] = {}
    for signal in replayed:
        by_detector.setdefault(signal.detector.split("/")[0], []).append(signal.reason)
    # Prophet's own forecasts need a week of history; its cold start (count_trend/...) speaks here.
    expected = {spec.name for spec in city.detectors.detectors}
    assert expected <= set(by_detector), f"the replay no longer wakes {sorted(expected - set(by_detector))}"
    for detector, reasons in by_detector.items():
        for reason in reasons:
            assert CHINESE.search(reason), f"{detector}: no Chinese in {reason!r}"
            assert not english_words(reason, allowed), f"{detector}: English words in {reason!r}"
            assert re.search(r"\d", reason), f"{detector}: no number in {reason!r}"


def test_the_checker_catches_english() -> None:
    """The check above is not vacuous: an old English reason fails it, a Chinese one passes."""
    allowed = {"ecod", "MPa"}
    assert english_words("0.022 MPa below the critical limit 0.05", allowed) == {"below", "the", "critical", "limit"}
    assert english_words("WP-410105002-01 管网水压 0.21 MPa，ecod 评分 0.9991（≥ 0.999，连续 2 个读数）", allowed) == set()
    assert english_words("泊松 p 值 6.7e-06 ≤ 1e-05", allowed) == set()
