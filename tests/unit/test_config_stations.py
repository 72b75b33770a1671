"""stations.yaml: loaded with the city config; bad stations fail at load naming the file, the field and what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskwatch.config.loader import DEFAULT_CONFIG_DIR, ConfigError, load_city_config
from riskwatch.config.stations import STATIONS_FILE

FILES = ("regions.yaml", "taxonomy.yaml", "grading.yaml", "routing.yaml", "detectors.yaml", STATIONS_FILE)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    target.mkdir()
    for name in FILES:
        shutil.copy(DEFAULT_CONFIG_DIR / name, target / name)
    return target


def _edit_station(directory: Path, index: int, **changes: Any) -> None:
    path = directory / STATIONS_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["stations"][index].update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _error(directory: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_city_config(directory)
    return str(caught.value)


def test_shipped_stations_load_with_the_city() -> None:
    config = load_city_config()
    pump = config.stations.get("PS-410103001")
    assert pump is not None and pump.name == "淮河路加压泵站"
    assert pump.district == "410103" and pump.category == "water_supply"
    assert len(pump.channels) >= 2 and pump.model == "station"
    assert pump.channel_keys[0] == "PS-410103001-PI/pump_inlet_pressure"
    streets = {s.code for d in config.regions.districts for s in d.streets}
    metrics = {m.metric for m in config.taxonomy.sensor_metrics}
    for station in config.stations.stations:
        assert station.street in streets
        assert {c.metric for c in station.channels} <= metrics


def test_a_city_without_stations_yaml_has_no_stations(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / STATIONS_FILE).unlink()
    assert load_city_config(directory).stations.stations == []


def test_unknown_metric_names_file_field_and_known_metrics(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit_station(directory, 0, channels=[{"device": "D1", "metric": "water_pressure"}, {"device": "D2", "metric": "pump_rpm"}])
    message = _error(directory)
    assert STATIONS_FILE in message
    assert "stations.0.channels.1.metric" in message
    assert "unknown metric 'pump_rpm'" in message and "water_pressure" in message


def test_unknown_street_and_category_are_both_named(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit_station(directory, 1, street="410199001", category="water")
    message = _error(directory)
    assert "2 invalid field(s)" in message
    assert "stations.1.street: unknown street code '410199001'" in message
    assert "stations.1.category: unknown category 'water'" in message


def test_duplicate_channel_is_an_error(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    channel = {"device": "PS-X-PI", "metric": "pump_inlet_pressure"}
    _edit_station(directory, 0, channels=[channel, dict(channel), {"device": "PS-X-PO", "metric": "pump_outlet_pressure"}])
    message = _error(directory)
    assert STATIONS_FILE in message and "stations.0" in message
    assert "repeated: ['PS-X-PI/pump_inlet_pressure']" in message


def test_a_station_needs_two_channels(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit_station(directory, 2, channels=[{"device": "GR-X-PO", "metric": "gas_outlet_pressure"}])
    message = _error(directory)
    assert "stations.2.channels" in message and "at least 2" in message


def test_a_channel_belongs_to_one_station_and_ids_are_unique(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit_station(
        directory,
        1,
        channels=[
            {"device": "PS-410103001-PI", "metric": "pump_inlet_pressure"},
            {"device": "PS-Y-PO", "metric": "pump_outlet_pressure"},
        ],
    )
    assert "belongs to both station PS-410103001 and station PS-410104003" in _error(directory)
    _edit_station(
        directory,
        1,
        id="PS-410103001",
        channels=[{"device": "A", "metric": "pump_flow"}, {"device": "B", "metric": "pump_current"}],
    )
    assert "station ids must be unique, repeated: ['PS-410103001']" in _error(directory)


def test_sample_period_is_bounded(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit_station(directory, 0, sample_period="PT2H")
    message = _error(directory)
    assert "stations.0" in message and "sample_period must be between 10 s and 1 h" in message
