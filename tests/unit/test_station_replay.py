"""Offline replay of the station scenario: the pump cavitation raises a warning on the station's street
with the station signal in it, before residents call; the same replay without the fault raises no
station signal. The station model is the tests' stand-in, registered under the name stations.yaml uses."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from riskwatch.config.loader import CityConfig, load_city_config
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import Scenario, load_scenario
from riskwatch.simulator.sinks import write_files
from riskwatch.streams.replay import ReplayResult, replay
from tests.station_standin import registered

STREET = "410103001"  # 二七区 淮河路街道, where 淮河路加压泵站 is


def _with_stations_enabled(config: CityConfig) -> CityConfig:
    specs = [s.model_copy(update={"enabled": True}) if s.type == "station_anomaly" else s for s in config.detectors.detectors]
    return dataclasses.replace(config, detectors=config.detectors.model_copy(update={"detectors": specs}))


CITY = _with_stations_enabled(load_city_config())
SCENARIO = load_scenario("station_fault", CITY)


def _replay(scenario: Scenario, directory: Path) -> ReplayResult:
    write_files(scenario, directory, city=CITY)
    with registered("station"):
        return replay(CITY, [str(directory / f"{s}.jsonl") for s in ("hotline", "police", "sensor")])


@pytest.fixture(scope="module")
def with_fault(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    return _replay(SCENARIO, tmp_path_factory.mktemp("fault"))


@pytest.fixture(scope="module")
def without_fault(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    return _replay(SCENARIO.model_copy(update={"incidents": []}), tmp_path_factory.mktemp("quiet"))


def test_the_station_fault_raises_a_warning_on_its_street_with_the_station_signal(with_fault: ReplayResult) -> None:
    [incident] = SCENARIO.incidents
    [warning] = [w for w in with_fault.final_warnings().values() if any(s.detector == "station_anomaly" for s in w.signals)]
    assert warning.region_code == STREET and warning.category == "water_supply"
    station = next(s for s in warning.signals if s.detector == "station_anomaly")
    assert incident.start <= station.at < incident.end
    assert "淮河路加压泵站（PS-410103001）" in station.reason and "联合异常" in station.reason
    assert not any(s.detector == "alarm_limits" for s in warning.signals), "no single channel crossed its limit"


def test_the_station_sees_it_before_residents_call(with_fault: ReplayResult) -> None:
    truth = simulate(SCENARIO, CITY).ground_truth[0]
    first_call = datetime.fromisoformat(truth.first_at["hotline"])
    station_signals = [s for w in with_fault.final_warnings().values() for s in w.signals if s.detector == "station_anomaly"]
    assert min(s.at for s in station_signals) < first_call


def test_without_the_fault_no_station_signal(without_fault: ReplayResult) -> None:
    assert without_fault.pipeline.stats.signals["station_anomaly"] == 0
    [station_detector] = [d for d in without_fault.pipeline.detect.detectors if d.name == "station_anomaly"]
    assert not station_detector.warming_up(), "both stations warmed up: the quiet is the model's verdict"


@pytest.fixture(scope="module")
def shipped_model(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    """The same scenario scored by the station model stations.yaml ships (no stand-in)."""
    directory = tmp_path_factory.mktemp("shipped")
    write_files(SCENARIO, directory, city=CITY)
    return replay(CITY, [str(directory / f"{s}.jsonl") for s in ("hotline", "police", "sensor")])


def test_the_shipped_station_model_finds_the_fault_before_residents_call(shipped_model: ReplayResult) -> None:
    [incident] = SCENARIO.incidents
    first_call = datetime.fromisoformat(simulate(SCENARIO, CITY).ground_truth[0].first_at["hotline"])
    signals = [s for w in shipped_model.final_warnings().values() for s in w.signals if s.detector == "station_anomaly"]
    assert signals, "the shipped station model raised nothing for the cavitation"
    assert {s.region_code for s in signals} == {STREET}
    assert all(incident.start <= s.at < min(incident.end, first_call) for s in signals)
