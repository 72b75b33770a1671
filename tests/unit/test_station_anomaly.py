"""station_anomaly: rows closed causally, one signal per episode naming the channels, nothing while
warming up, state that round-trips, a clear failure for an unregistered model, and fusion with
hotline reports in the grader. The station model is the tests' stand-in (`tests/station_standin.py`)."""

from __future__ import annotations

import dataclasses
import math
import pickle
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pytest

from riskwatch.alerts.grading.grader import Grader
from riskwatch.config.detector_params import StationAnomalyParams
from riskwatch.config.loader import CityConfig, load_city_config
from riskwatch.config.stations import Station, StationsConfig
from riskwatch.contracts import Event, Level, Signal, SignalKind, Source
from riskwatch.detectors.station.rows import RowAssembler
from riskwatch.detectors.station_anomaly import StationAnomalyDetector, StationModelError
from riskwatch.streams.pipeline import Pipeline
from tests.factories import T0
from tests.factories import signal as make_signal
from tests.station_standin import registered

CITY = load_city_config()
STREET = "410103001"  # 二七区 淮河路街道
CHANNELS = [
    {"device": "P-PI", "metric": "pump_inlet_pressure"},
    {"device": "P-PO", "metric": "pump_outlet_pressure"},
    {"device": "P-VB", "metric": "pump_vibration"},
]
NORMAL = {"P-PI": 0.20, "P-PO": 0.42, "P-VB": 2.3}
FAULT = {"P-PI": 0.185, "P-PO": 0.39, "P-VB": 2.45}  # each a few noise widths, none near a limit
PERIOD = timedelta(minutes=5)
WARMUP = 12


def _station(**changes: object) -> Station:
    data: dict[str, object] = {
        "id": "PS-T",
        "name": "测试加压泵站",
        "street": STREET,
        "category": "water_supply",
        "channels": CHANNELS,
        "model_params": {"warmup": WARMUP, "threshold": 4.0},
        "sample_period": "PT5M",
    }
    return Station.model_validate({**data, **changes})


@pytest.fixture(autouse=True)
def _standin() -> Iterator[None]:
    with registered("station"):
        yield


def _detector(**params: object) -> StationAnomalyDetector:
    return StationAnomalyDetector(StationAnomalyParams(**params), CITY.taxonomy, StationsConfig(stations=[_station()]))


def _reading(device: str, at: datetime, value: float) -> Event:
    metric = next(c["metric"] for c in CHANNELS if c["device"] == device)
    return Event(
        event_id=f"sensor:{device}:{at.isoformat()}",
        source=Source.sensor,
        occurred_at=at,
        region_code=STREET + "001001",
        district_code=STREET[:6],
        street_code=STREET,
        category="water_supply",
        metric=metric,
        value=value,
        device_id=device,
    )


def _rows(values: list[dict[str, float]], start: datetime = T0) -> list[Event]:
    """One reading per channel per period; a little noise so the stand-in's MAD is not zero."""
    rng = np.random.default_rng(7)
    events = []
    for i, row in enumerate(values):
        at = start + i * PERIOD + timedelta(seconds=20)
        for device, value in row.items():
            events.append(_reading(device, at, round(value * (1 + rng.normal(0, 0.01)), 4)))
    return events


def _feed(detector: StationAnomalyDetector, events: list[Event]) -> list[Signal]:
    return [s for e in events if detector.accepts(e) for s in detector.observe(e)]


# ---------------------------------------------------------------------- rows


def test_a_row_closes_as_soon_as_every_channel_has_reported() -> None:
    rows = RowAssembler(["a", "b"], PERIOD)
    assert rows.add(T0 + timedelta(seconds=10), "a", 1.0, "e1") == []
    [row] = rows.add(T0 + timedelta(seconds=40), "b", 2.0, "e2")
    assert row.start == T0 and list(row.values) == [1.0, 2.0] and row.evidence == ("e1", "e2")


def test_a_silent_channel_is_nan_when_the_next_period_closes_the_row() -> None:
    rows = RowAssembler(["a", "b", "c"], PERIOD)
    rows.add(T0 + timedelta(minutes=1), "a", 1.0)
    rows.add(T0 + timedelta(minutes=2), "a", 1.5)  # the latest reading in the period counts
    rows.add(T0 + timedelta(minutes=3), "c", 3.0)
    [row] = rows.add(T0 + timedelta(minutes=6), "b", 2.0)  # next period: the first row is complete as it is
    assert row.start == T0
    assert row.values[0] == 1.5 and math.isnan(row.values[1]) and row.values[2] == 3.0
    # a period nobody reported in makes no row; the open row closes with the next reading after it
    [row] = rows.add(T0 + timedelta(minutes=21), "a", 9.0)
    assert row.start == T0 + PERIOD and math.isnan(row.values[0]) and row.values[1] == 2.0


def test_a_reading_for_a_closed_period_is_dropped_and_counted() -> None:
    rows = RowAssembler(["a", "b"], PERIOD)
    rows.add(T0, "a", 1.0)
    rows.add(T0, "b", 1.0)
    assert rows.add(T0 + timedelta(minutes=4), "a", 5.0) == [] and rows.late == 1
    rows.add(T0 + timedelta(minutes=7), "a", 1.0)
    assert rows.add(T0 + timedelta(minutes=2), "b", 5.0) == [] and rows.late == 2  # older than the open row


def test_row_state_round_trips_mid_row() -> None:
    rows = RowAssembler(["a", "b"], PERIOD)
    rows.add(T0, "a", 1.0, "e1")
    resumed = RowAssembler(["a", "b"], PERIOD)
    resumed.set_state(pickle.loads(pickle.dumps(rows.get_state())))
    [row] = resumed.add(T0 + timedelta(minutes=1), "b", 2.0, "e2")
    assert list(row.values) == [1.0, 2.0] and row.evidence == ("e1", "e2")


# ---------------------------------------------------------------------- detector


def test_nothing_while_warming_up_and_it_says_so() -> None:
    detector = _detector(persistence=1)
    assert not detector.warming_up()  # no station has reported yet: silent, not warming
    assert _feed(detector, _rows([FAULT] * 3 + [NORMAL] * (WARMUP - 4))) == []
    assert detector.warming_up() and detector.warming_stations() == ["PS-T"]
    _feed(detector, _rows([NORMAL] * 2, T0 + (WARMUP - 1) * PERIOD))
    assert not detector.warming_up()


def test_one_signal_per_episode_naming_the_channels_and_their_values() -> None:
    detector = _detector(persistence=2, rearm=3)
    plan = [NORMAL] * WARMUP + [NORMAL] * 4 + [FAULT] * 6 + [NORMAL] * 2 + [FAULT] * 3 + [NORMAL] * 3 + [FAULT] * 2
    signals = _feed(detector, _rows(plan))
    assert len(signals) == 2, "a lasting fault is one signal; a calm shorter than rearm does not re-arm"
    first = signals[0]
    fault_start = T0 + (WARMUP + 4) * PERIOD
    assert first.at == fault_start + PERIOD + timedelta(seconds=20), "the second flagged row in a row makes the signal"
    assert first.detector == "station_anomaly" and first.kind is SignalKind.anomaly and first.source is Source.sensor
    assert first.region_code == STREET and first.district_code == "410103" and first.category == "water_supply"
    assert 0.5 <= first.score <= 1.0
    assert first.reason.startswith("测试加压泵站（PS-T）：")
    assert "联合异常（得分" in first.reason
    for label in ("水泵振动", "进水压力", "出水压力"):
        assert label in first.reason
    assert "mm/s" in first.reason and "MPa" in first.reason and "站点模型 station" in first.reason
    assert len(first.evidence) == 3 and all(e.startswith("sensor:P-") for e in first.evidence)


def test_a_silent_channel_still_lets_the_others_speak() -> None:
    detector = _detector(persistence=1)
    partial = {k: v for k, v in FAULT.items() if k != "P-PO"}
    events = _rows([NORMAL] * WARMUP + [partial] * 2)
    signals = _feed(detector, events)
    [signal] = signals  # the first partial row closes when the second period's reading arrives
    assert "出水压力" not in signal.reason.split("；")[0]


def test_state_round_trip_gives_the_same_signals() -> None:
    plan = [NORMAL] * WARMUP + [NORMAL] * 3 + [FAULT] * 4 + [NORMAL] * 5 + [FAULT] * 4
    events = _rows(plan)
    whole = _feed(_detector(rearm=3), events)
    assert whole
    for cut in (len(events) // 3, WARMUP * 3 + 10, WARMUP * 3 + 11):
        first = _detector(rearm=3)
        before = _feed(first, events[:cut])
        resumed = _detector(rearm=3)
        resumed.set_state(pickle.loads(pickle.dumps(first.get_state())))
        assert before + _feed(resumed, events[cut:]) == whole


def test_a_station_changed_in_config_starts_fresh_after_restore() -> None:
    first = _detector()
    _feed(first, _rows([NORMAL] * WARMUP))
    changed = StationAnomalyDetector(
        StationAnomalyParams(), CITY.taxonomy, StationsConfig(stations=[_station(sample_period="PT1M")])
    )
    changed.set_state(first.get_state())
    assert not changed.warming_up()  # nothing of the changed station was kept
    _feed(changed, _rows([NORMAL] * 2, T0 + WARMUP * PERIOD))
    assert changed.warming_up() and changed.warming_stations() == ["PS-T"]


def test_readings_of_other_devices_are_not_accepted() -> None:
    detector = _detector()
    assert not detector.accepts(_reading("P-PI", T0, 0.2).model_copy(update={"device_id": "WP-1"}))
    assert not detector.accepts(_reading("P-PI", T0, 0.2).model_copy(update={"metric": "water_pressure"}))


# ---------------------------------------------------------------------- start-up failures


def _enabled(config: CityConfig) -> CityConfig:
    specs = [s.model_copy(update={"enabled": True}) if s.type == "station_anomaly" else s for s in config.detectors.detectors]
    return dataclasses.replace(config, detectors=config.detectors.model_copy(update={"detectors": specs}))


def test_an_unregistered_station_model_stops_the_pipeline_at_start() -> None:
    config = _enabled(CITY)
    # `station` is a built-in name now, so the shipped stations are pointed at a name nobody registered
    unregistered = [s.model_copy(update={"model": "station_not_registered"}) for s in config.stations.stations]
    config = dataclasses.replace(config, stations=config.stations.model_copy(update={"stations": unregistered}))
    with pytest.raises(StationModelError) as caught:
        Pipeline(config)
    message = str(caught.value)
    assert "stations.yaml" in message and "PS-410103001" in message and "淮河路加压泵站" in message
    assert "'station_not_registered'" in message and "not registered" in message


def test_bad_model_params_stop_it_too() -> None:
    stations = StationsConfig(stations=[_station(model_params={"warmup": 1})])
    with pytest.raises(StationModelError, match=r"station PS-T .*rejects model_params \{'warmup': 1\}"):
        StationAnomalyDetector(StationAnomalyParams(), CITY.taxonomy, stations)


# ---------------------------------------------------------------------- grading


def test_a_station_signal_and_low_pressure_calls_on_its_street_fuse_into_one_warning() -> None:
    detector = _detector()
    [station_signal] = _feed(detector, _rows([NORMAL] * WARMUP + [FAULT] * 2))
    grader = Grader(CITY)
    [alert] = grader.process(station_signal)
    calls = make_signal(
        Source.hotline,
        0.75,
        (station_signal.at - T0) / timedelta(minutes=1) + 20,
        region=STREET,
        detector="count_surge",
        reason="水压低来电激增",
    )
    [update] = grader.process(calls)
    assert update.warning_id == alert.warning_id and update.region_code == STREET
    assert {s.detector for s in update.signals} == {"station_anomaly", "count_surge"}
    assert update.level.rank >= alert.level.rank and update.level in (Level.II, Level.III)
    assert update.score > alert.score, "a second, independent source corroborates the station"
