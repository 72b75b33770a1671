"""Stations in the simulator: correlated channels read together, faults that stay inside every
single-sensor limit, and nothing changed for scenarios that do not ask for stations."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from riskwatch.config.loader import ConfigError, load_city_config
from riskwatch.contracts import HotlineRecord, SensorRecord, Source
from riskwatch.simulator.generate import CST, simulate
from riskwatch.simulator.scenario import Scenario, check_scenario, load_scenario
from riskwatch.simulator.writer import Simulation

PUMP = "PS-410103001"
FAULT_START = datetime(2026, 11, 24, 6, 0, tzinfo=CST)


@pytest.fixture(scope="module")
def city():
    return load_city_config()


@pytest.fixture(scope="module")
def fault(city) -> Simulation:
    return simulate(load_scenario("station_fault", city), city)


def _series(sim: Simulation, device: str, incident: bool | None = None) -> np.ndarray:
    return np.array(
        [
            r.record.value
            for r in sim.records
            if isinstance(r.record, SensorRecord)
            and r.record.device_id == device
            and (incident is None or (r.incident is not None) == incident)
        ]
    )


def test_scenarios_without_stations_get_no_station_devices(city) -> None:
    for name in ("water_main_burst", "gas_leak", "quiet_day"):
        sim = simulate(load_scenario(name, city), city)
        station_devices = {c.device for s in city.stations.stations for c in s.channels}
        assert not station_devices & {d.device_id for d in sim.devices}


def test_a_station_reads_all_its_channels_together(fault, city) -> None:
    pump = city.stations.get(PUMP)
    times: dict[str, set[datetime]] = {}
    for r in fault.records:
        if isinstance(r.record, SensorRecord) and r.record.device_id.startswith(PUMP):
            times.setdefault(r.record.device_id, set()).add(r.record.ts)
    assert set(times) == {c.device for c in pump.channels}
    first = next(iter(times.values()))
    assert all(t == first for t in times.values()), "one RTU samples every channel at the same instants"
    assert len(first) == 33 * 12  # every 5 minutes over 33 hours


def test_channels_move_together_with_the_load(fault) -> None:
    flow, current = _series(fault, f"{PUMP}-FL", False), _series(fault, f"{PUMP}-CU", False)
    inlet = _series(fault, f"{PUMP}-PI", False)
    assert np.corrcoef(flow, current)[0, 1] > 0.9
    assert np.corrcoef(flow, inlet)[0, 1] < -0.5, "suction pressure sags as the pump draws more"
    assert flow.max() > 1.6 * flow.min(), "the daily water-demand rhythm shows"


def test_a_station_fault_stays_inside_every_single_sensor_limit(fault, city) -> None:
    truth = next(t for t in fault.ground_truth if t.kind == "station_fault")
    assert truth.first_at["sensor"] is None, "no reading of the fault crosses its own alarm limit"
    assert set(truth.devices) == {c.device for c in city.stations.get(PUMP).channels}
    for r in fault.records:
        if r.incident == truth.id and isinstance(r.record, SensorRecord):
            spec = city.taxonomy.metric(r.record.metric)
            assert spec.alarm_low is None or r.record.value > spec.alarm_low
            assert spec.alarm_high is None or r.record.value < spec.alarm_high


def test_a_station_fault_shifts_several_channels_together(fault) -> None:
    def mean_in_fault(device: str) -> float:
        return float(np.mean(_series(fault, device, True)))

    def mean_same_hours_day_before(device: str) -> float:
        values = [
            r.record.value
            for r in fault.records
            if isinstance(r.record, SensorRecord)
            and r.record.device_id == device
            and r.record.ts.astimezone(CST).day == 23
            and 6 <= r.record.ts.astimezone(CST).hour < 9
        ]
        return float(np.mean(values))

    assert mean_in_fault(f"{PUMP}-PI") < mean_same_hours_day_before(f"{PUMP}-PI") - 0.03
    assert mean_in_fault(f"{PUMP}-PO") < mean_same_hours_day_before(f"{PUMP}-PO") - 0.02
    assert mean_in_fault(f"{PUMP}-VB") > mean_same_hours_day_before(f"{PUMP}-VB") + 1.0
    calls = [r for r in fault.records if r.incident and isinstance(r.record, HotlineRecord)]
    assert calls and all(r.category == "water_supply" and r.street_code == "410103001" for r in calls)
    assert min(r.event_time for r in calls) > FAULT_START, "residents notice after the station does"


def test_station_scenario_errors_name_the_field(city) -> None:
    base = load_scenario("station_fault", city)
    incident = base.incidents[0]
    unknown = base.model_copy(update={"stations": ["PS-NOPE"]})
    with pytest.raises(ConfigError) as caught:
        check_scenario(unknown, city, "s.yaml")
    text = str(caught.value)
    assert "stations.0: unknown station 'PS-NOPE'" in text
    assert "incidents.0.station" in text  # its station is no longer simulated
    wrong_street = base.model_copy(update={"incidents": [incident.model_copy(update={"street": "410103002"})]})
    with pytest.raises(ConfigError, match=r"incidents.0.street: station PS-410103001 is in street 410103001"):
        check_scenario(wrong_street, city, "s.yaml")
    not_a_station_kind = Scenario.model_validate(
        {
            **base.model_dump(),
            "incidents": [{**incident.model_dump(), "kind": "sensor_spike"}],
        }
    )
    with pytest.raises(ConfigError, match="only a station_fault names a station"):
        check_scenario(not_a_station_kind, city, "s.yaml")


def test_station_records_are_valid_sensor_records(fault) -> None:
    sensors = [r for r in fault.records if r.source is Source.sensor and r.record.device_id.startswith(("PS-", "GR-"))]
    assert sensors
    for r in sensors[:200]:
        assert SensorRecord.model_validate_json(r.record.model_dump_json()) == r.record
